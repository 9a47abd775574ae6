package sqlstore

import (
	"encoding/binary"
	"errors"
	"io"
	"unicode"

	"github.com/roost-mail/roost/internal/mailstore"
)

// The stored form of mailstore.SearchFields (the search_fields column of a
// message's content row):
//
//	format byte (searchFieldsFormat)
//	uvarint length, unicode.Version of the program that stored it
//	for each of the mailstore.NumSearchFields fields, in order:
//	  uvarint count, then count times: uvarint length, text
//
// The text is mailstore.HeaderFieldText of the value, which lower-cases
// with Go's Unicode tables: a row stored under other tables (another
// unicode.Version) or in another format is not used (UnmarshalSearchFields
// reports it as not kept), so a header SEARCH reads that message's header
// and answers exactly as it would without stored fields. A change to
// HeaderFieldText must increment searchFieldsFormat.
const searchFieldsFormat = 1

// SearchHeaderMax is the largest top-level header whose search fields are
// kept at append: the parser keeps this many leading octets of each
// message. Messages with a bigger header (rare: about a thousand Received
// lines) keep none and are searched through their file.
const SearchHeaderMax = 64 << 10

// MarshalSearchFields returns the stored form of sf.
func MarshalSearchFields(sf *mailstore.SearchFields) []byte {
	n := 2 + len(unicode.Version) + int(mailstore.NumSearchFields)
	for _, vs := range sf.Values {
		for _, v := range vs {
			n += binary.MaxVarintLen32 + len(v)
		}
	}
	b := make([]byte, 0, n)
	b = append(b, searchFieldsFormat)
	b = binary.AppendUvarint(b, uint64(len(unicode.Version)))
	b = append(b, unicode.Version...)
	for _, vs := range sf.Values {
		b = binary.AppendUvarint(b, uint64(len(vs)))
		for _, v := range vs {
			b = binary.AppendUvarint(b, uint64(len(v)))
			b = append(b, v...)
		}
	}
	return b
}

var errBadSearchFields = errors.New("malformed stored search fields")

// UnmarshalSearchFields fills sf (reset first, its storage reused) from
// the stored form b; the values alias b. ok is false when b is nil (not
// kept) or was stored in another format or under other Unicode tables: the
// caller must then treat the message as having no kept fields.
func UnmarshalSearchFields(b []byte, sf *mailstore.SearchFields) (ok bool, err error) {
	sf.Reset()
	if len(b) == 0 || b[0] != searchFieldsFormat {
		return false, nil
	}
	b = b[1:]
	next := func() ([]byte, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || n > uint64(len(b)-k) {
			return nil, false
		}
		v := b[k : k+int(n) : k+int(n)]
		b = b[k+int(n):]
		return v, true
	}
	uv, good := next()
	if !good {
		return false, errBadSearchFields
	}
	if string(uv) != unicode.Version {
		return false, nil
	}
	for i := range sf.Values {
		count, k := binary.Uvarint(b)
		if k <= 0 || count > uint64(len(b)) {
			return false, errBadSearchFields
		}
		b = b[k:]
		for range count {
			v, good := next()
			if !good {
				return false, errBadSearchFields
			}
			sf.Values[i] = append(sf.Values[i], v)
		}
	}
	if len(b) != 0 {
		return false, errBadSearchFields
	}
	return true, nil
}

// headCapture passes reads through and keeps the first SearchHeaderMax
// octets read.
type headCapture struct {
	r    io.Reader
	head []byte
}

func (h *headCapture) Read(p []byte) (int, error) {
	n, err := h.r.Read(p)
	if room := SearchHeaderMax - len(h.head); room > 0 && n > 0 {
		h.head = append(h.head, p[:min(n, room)]...)
	}
	return n, err
}

// searchFieldsFor returns the stored search fields of a message whose
// first octets are head and whose top-level header is headerSize octets
// long, or nil when head does not hold the whole header.
func searchFieldsFor(head []byte, headerSize int64) []byte {
	if headerSize < 0 || headerSize > int64(len(head)) {
		return nil
	}
	sf := mailstore.SearchFieldsOf(head[:headerSize])
	return MarshalSearchFields(&sf)
}
