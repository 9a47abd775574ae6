package mailstore

import (
	"bytes"
	"context"
	"strings"

	"github.com/roost-mail/roost/internal/message"
)

// HeaderSearcher is an optional interface of Account (type-assert it): a
// backend that implements it keeps, beside each message, the text that the
// SEARCH keys SUBJECT, FROM, TO, CC and BCC match (RFC 9051 6.4.4), made
// once by SearchFieldsOf when the message is stored, so that a search on
// these keys reads no message file. Backends without it are searched
// through HeaderReader or Cache and Open.
type HeaderSearcher interface {
	// SearchFields calls fn once for each message of uids (ascending)
	// that exists in mbox, in ascending UID order, with the message's
	// search fields, or with nil when the store has none for it (a
	// message stored by an older version or under other case-folding
	// tables, unless the backend makes them then from the header; one
	// whose header is too big to keep): the caller must then read that
	// message's header itself. f and the bytes it
	// holds are only valid during the call. Messages not in the mailbox
	// are skipped. KindNotFound if the mailbox does not exist; an error
	// from fn stops the read and is returned as it is. fn may run while
	// the store holds a read transaction: it must not block (no writes
	// to a client).
	SearchFields(ctx context.Context, mbox MailboxID, uids []UID, fn func(uid UID, f *SearchFields) error) error
}

// SearchField is a header field kept for SEARCH.
type SearchField uint8

// The kept fields, in the order of SearchFields.Values.
const (
	SearchSubject SearchField = iota
	SearchFrom
	SearchTo
	SearchCc
	SearchBcc
	NumSearchFields
)

var searchFieldNames = [NumSearchFields]string{"Subject", "From", "To", "Cc", "Bcc"}

// String returns the field name ("Subject", "From", ...).
func (f SearchField) String() string {
	if f < NumSearchFields {
		return searchFieldNames[f]
	}
	return "SearchField(?)"
}

// SearchFieldOf returns the kept field named name, compared as the header
// SEARCH keys compare field names (strings.EqualFold, so Unicode simple
// folding: whatever name matches a field for SEARCH HEADER matches it
// here too).
func SearchFieldOf(name string) (SearchField, bool) {
	for i, n := range searchFieldNames {
		if strings.EqualFold(name, n) {
			return SearchField(i), true
		}
	}
	return 0, false
}

// SearchFields holds, for each kept field, one entry per occurrence of the
// field in the message's top-level header, in header order: the text
// HeaderFieldText makes of its value. A message without the field has no
// entry (so "SUBJECT """ can tell a missing Subject from an empty one).
type SearchFields struct {
	Values [NumSearchFields][][]byte
}

// Contains reports whether an occurrence of field contains needle, which
// must be lower-cased as HeaderFieldText lower-cases (strings.ToLower);
// an empty needle matches when the field is present. This is exactly the
// header SEARCH match on a field (RFC 9051 6.4.4: case-insensitive
// substring).
func (f *SearchFields) Contains(field SearchField, needle string) bool {
	for _, v := range f.Values[field] {
		if needle == "" || bytes.Contains(v, []byte(needle)) {
			return true
		}
	}
	return false
}

// Reset empties f, keeping its storage.
func (f *SearchFields) Reset() {
	for i := range f.Values {
		f.Values[i] = f.Values[i][:0]
	}
}

// HeaderFieldText returns the text a header SEARCH key matches in a raw
// field value (as SplitHeader gives it): RFC 2047 encoded words decoded,
// unfolded, lower-cased with strings.ToLower. The IMAP server matches
// header keys on this text and stores keep it (SearchFieldsOf), so both
// paths answer alike. Changing it requires a new stored format (see
// sqlstore.MarshalSearchFields), or stored rows would answer differently.
func HeaderFieldText(value string) string {
	return strings.ToLower(message.DecodeHeader(value))
}

// SearchFieldsOf computes the search fields of a message from its
// top-level header (the first min(header size, limit) octets of the
// message, as HeaderReader gives them).
func SearchFieldsOf(hdr []byte) SearchFields {
	var sf SearchFields
	for _, fl := range SplitHeader(hdr) {
		if i, ok := SearchFieldOf(fl.Name); ok {
			sf.Values[i] = append(sf.Values[i], []byte(HeaderFieldText(fl.Value)))
		}
	}
	return sf
}

// SplitHeader splits raw header bytes into fields the way header SEARCH
// keys see them: a field is a line with a colon after a non-empty name
// (trailing blanks trimmed from the name), continued by lines that start
// with a space or tab; Value is everything after the colon, line breaks
// and folding kept. Other lines are skipped; an empty line ends the
// header. The header is copied into one string and each Name and Value is
// a substring of it (one allocation for the text, one for the slice; a
// field continued after a skipped line costs one more), so raw may be
// reused by the caller afterwards.
func SplitHeader(raw []byte) []message.Field {
	hdr := string(raw)
	// At most one field per line: one allocation instead of regrowing.
	fields := make([]message.Field, 0, strings.Count(hdr, "\n"))
	// The last field's value is hdr[valStart:valEnd] while its lines are
	// contiguous.
	valStart, valEnd := 0, -1
	for pos := 0; pos < len(hdr); {
		line := hdr[pos:]
		if i := strings.IndexByte(line, '\n'); i >= 0 {
			line = line[:i+1]
		}
		start := pos
		pos += len(line)
		if line == "\n" || line == "\r\n" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			switch {
			case len(fields) == 0:
			case start == valEnd:
				fields[len(fields)-1].Value = hdr[valStart:pos]
				valEnd = pos
			default: // after a skipped line: append this one alone
				fields[len(fields)-1].Value += line
			}
			continue
		}
		i := strings.IndexByte(line, ':')
		if i <= 0 {
			continue
		}
		valStart, valEnd = start+i+1, pos
		fields = append(fields, message.Field{
			Name:  strings.TrimRight(line[:i], " \t"),
			Value: hdr[valStart:pos],
		})
	}
	return fields
}
