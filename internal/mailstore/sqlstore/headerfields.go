package sqlstore

import "github.com/roost-mail/roost/internal/mailstore"

// The stored form of a message's kept header lines (the header_fields
// column of its content row, mailstore.HeaderFieldsReader):
//
//	keptFormat, then the lines (mailstore.KeptLinesOf), or
//	keptNone: the lines are longer than mailstore.KeptLinesMax
//
// NULL means not made yet (a row stored before the column existed). A row
// in another format (kept under another mailstore.KeptHeaderFields) is
// treated as not kept. Changing KeptHeaderFields or FilterHeaderFields
// must change keptFormat.
const (
	keptFormat byte = 1
	keptNone   byte = 0x80 | keptFormat
)

// MarshalKeptLines returns the stored form of the kept lines of a
// message's top-level header hdr (whole, blank line included if any).
func MarshalKeptLines(hdr []byte) []byte {
	k := mailstore.KeptLinesOf(hdr)
	if k == nil {
		return []byte{keptNone}
	}
	return append(append(make([]byte, 0, 1+len(k)), keptFormat), k...)
}

// UnmarshalKeptLines returns the kept lines in the stored form b (aliasing
// b), or nil when there are none: b is NULL, in another format, or says
// the lines were too long.
func UnmarshalKeptLines(b []byte) []byte {
	if len(b) < 1 || b[0] != keptFormat {
		return nil
	}
	return b[1:len(b):len(b)]
}

// keptLinesFor returns the stored kept lines of a message whose first
// octets are head and whose top-level header is headerSize octets long, or
// nil (not made) when head does not hold the whole header.
func keptLinesFor(head []byte, headerSize int64) []byte {
	if headerSize < 0 || headerSize > int64(len(head)) {
		return nil
	}
	return MarshalKeptLines(head[:headerSize])
}
