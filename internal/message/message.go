// Package message parses RFC 5322 / MIME messages once, at delivery, into a
// part tree with absolute byte offsets, and renders what IMAP FETCH needs from
// it: ENVELOPE, BODY and BODYSTRUCTURE in wire syntax, section lookup and a
// compact serialization of the tree for the cache.
//
// The parser is streaming: it keeps header fields (bounded) but never body
// bytes, so memory does not grow with the size of a body part. It never fails
// on malformed MIME; it degrades the way Dovecot 2.3 does (a multipart without
// a usable boundary has no children, a header without a blank line has an
// empty body, a broken Content-Type is kept as far as it parses, and so on). The renderings aim to be byte-identical to Dovecot 2.3;
// the known differences are listed in DIFFERENCES.md.
package message

import (
	"strings"
)

// Limits. They follow Dovecot's message parser defaults where it has them.
const (
	// MaxDepth is the deepest nesting of multipart and message/rfc822 parts
	// that is parsed as such; deeper containers are leaves.
	MaxDepth = 100
	// MaxParts is the most parts a message is split into; after that,
	// containers are leaves.
	MaxParts = 10000
	// MaxPartHeader is the most header bytes kept for one part; fields past
	// it are read but dropped.
	MaxPartHeader = 1 << 20
	// MaxHeaderTotal is the most header bytes kept for a whole message; past
	// it only Content-* fields are kept.
	MaxHeaderTotal = 16 << 20
)

// Message is a parsed message.
type Message struct {
	Root *Part
	Size int64 // octets
}

// Part is one MIME part. Offsets are absolute byte offsets in the message.
type Part struct {
	// Start is where the part's header starts, BodyStart where its body
	// starts (after the blank line) and End where the part ends (exclusive).
	// For a child of a multipart, End excludes the line break before the
	// boundary delimiter (RFC 2046 5.1.1).
	Start, BodyStart, End int64

	// Header holds the raw header fields in order. It is not serialized by
	// MarshalParts.
	Header Header

	// Type and Subtype are as given in Content-Type (case kept, as Dovecot
	// renders them), or the default ("text"/"plain", "message"/"rfc822" in a
	// multipart/digest). Use IsType to compare.
	Type, Subtype string
	// Params are the Content-Type parameters.
	Params []Param

	ID, Description, Encoding string

	Disposition       string
	DispositionParams []Param

	Language []string
	Location string
	MD5      string

	// Lines is the number of lines of the body (set for every part; IMAP
	// shows it for text/* and message/rfc822).
	Lines int64

	// Children are the parts of a multipart.
	Children []*Part
	// Message is the embedded message's root part of a message/rfc822 (or
	// message/global) part.
	Message *Part

	// flags
	hasContentType bool // a Content-Type field was present and parsed
	multipart      bool // parsed as a multipart (has a boundary)
	envelope       string
}

// Param is one Content-Type or Content-Disposition parameter.
type Param struct {
	// Name is the attribute name as given (without an RFC 2231 "*N" or "*"
	// suffix).
	Name string
	// Value is the decoded value: quoted-string unquoted, RFC 2231
	// continuations joined and the charset converted to UTF-8 when known.
	Value string
	// Raw is set for RFC 2231 extended parameters: the joined
	// charset'language'percent-encoded value as Dovecot shows it in
	// BODYSTRUCTURE (as the attribute Name+"*").
	Raw string
	// Extended tells that Raw holds an RFC 2231 extended value.
	Extended bool
}

// IsType reports whether the part's media type is typ/sub
// (case-insensitive); sub "" matches any subtype.
func (p *Part) IsType(typ, sub string) bool {
	if !strings.EqualFold(p.Type, typ) {
		return false
	}
	return sub == "" || strings.EqualFold(p.Subtype, sub)
}

// Param returns the value of the named Content-Type parameter (decoded).
func (p *Part) Param(name string) string {
	for _, pa := range p.Params {
		if strings.EqualFold(pa.Name, name) {
			return pa.Value
		}
	}
	return ""
}

// isMessage reports whether the part holds an embedded message.
func (p *Part) isMessage() bool {
	return p.Message != nil
}

// HeaderSize is the size of the top-level header including the blank line.
func (m *Message) HeaderSize() int64 {
	return m.Root.BodyStart - m.Root.Start
}
