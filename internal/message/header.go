package message

import "strings"

// Field is one raw header field.
type Field struct {
	// Name is the field name as given, without trailing white space.
	Name string
	// Value is everything after the colon up to (not including) the line
	// break that ends the field, with folding line breaks kept.
	Value string
}

// Header is a part's header fields in order.
type Header []Field

// Get returns the unfolded, trimmed value of the first field named name
// (case-insensitive), or "".
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return strings.TrimSpace(unfold(f.Value))
		}
	}
	return ""
}

// Has reports whether a field named name is present.
func (h Header) Has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Values returns the unfolded, trimmed values of all fields named name.
func (h Header) Values(name string) []string {
	var vs []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			vs = append(vs, strings.TrimSpace(unfold(f.Value)))
		}
	}
	return vs
}

// raw returns the raw value of the first field named name and whether it
// exists.
func (h Header) raw(name string) (string, bool) {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value, true
		}
	}
	return "", false
}

// unfold removes CR and LF characters (RFC 5322 2.2.3: unfolding removes the
// CRLF that precedes folding white space).
func unfold(s string) string {
	if strings.IndexAny(s, "\r\n") < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '\n':
		case s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n':
		case s[i] == '\r':
			// A bare CR is not a line break but separates tokens, as
			// in Dovecot's RFC 822 tokenizer (it counts as white space).
			b.WriteByte(' ')
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String()
}
