package message

import (
	"strconv"
	"strings"
)

// The IMAP string writers below follow Dovecot 2.3's lib-imap/imap-quote.c
// behaviour so that our wire output is byte-identical to Dovecot's.

// maxQuotedEscapes is how many quoted-specials a quoted string may have
// before a literal is used instead.
const maxQuotedEscapes = 4

// appendNString writes NIL (when !ok), a quoted string or a literal.
func appendNString(b *strings.Builder, s string, ok bool) {
	if !ok {
		b.WriteString("NIL")
		return
	}
	appendString(b, s)
}

// appendString writes s as a quoted string, or as a literal when it has CR,
// LF, 8-bit characters or too many quoted-specials.
func appendString(b *strings.Builder, s string) {
	escapes := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			escapes++
			if escapes > maxQuotedEscapes {
				appendLiteral(b, s)
				return
			}
		case c == '\r' || c == '\n' || c >= 0x80:
			appendLiteral(b, s)
			return
		}
	}
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case 0:
			// A NUL cannot be sent; Dovecot's C strings end there.
			b.WriteByte('"')
			return
		case '"', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
}

func appendLiteral(b *strings.Builder, s string) {
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	b.WriteByte('{')
	b.WriteString(strconv.Itoa(len(s)))
	b.WriteString("}\r\n")
	b.WriteString(s)
}

// appendNStringNoLF writes s with its line breaks removed: a line break
// followed by text that does not start with white space becomes a space.
func appendNStringNoLF(b *strings.Builder, s string, ok bool) {
	if !ok || strings.IndexAny(s, "\r\n") < 0 {
		appendNString(b, s, ok)
		return
	}
	var o strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\r' && c != '\n' {
			o.WriteByte(c)
			continue
		}
		if i+1 < len(s) {
			n := s[i+1]
			if n != ' ' && n != '\t' && n != '\r' && n != '\n' && n != 0 {
				o.WriteByte(' ')
			}
		}
	}
	appendNString(b, o.String(), true)
}

// appendStringForHumans writes s cleaned up for display: line breaks
// removed, runs of white space (tabs included) collapsed to one space,
// leading and trailing white space removed, NUL turned into 0x80. Anything
// changed, or any quoted-special or 8-bit character, makes it a literal.
func appendStringForHumans(b *strings.Builder, s string) {
	modify := false
	removed := 0
	lastLWSP, wsPrefix := true, true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			lastLWSP = false
			modify = true
		case '\t', ' ':
			if c == '\t' {
				modify = true
			}
			if lastLWSP {
				modify = true
				removed++
			}
			lastLWSP = true
		case '\r', '\n':
			removed++
			modify = true
		case '"', '\\':
			modify = true
			lastLWSP = false
		default:
			if c >= 0x80 {
				modify = true
			}
			lastLWSP = false
		}
		if !lastLWSP {
			wsPrefix = false
		}
	}
	if lastLWSP && len(s) > 0 && !wsPrefix {
		modify = true
		removed++
	}
	if !modify {
		b.WriteByte('"')
		b.WriteString(s)
		b.WriteByte('"')
		return
	}
	if len(s) == removed {
		b.WriteString(`""`)
		return
	}
	var o strings.Builder
	lastLWSP, wsPrefix = true, true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case 0:
			o.WriteByte(0x80)
			lastLWSP = false
		case '\t', ' ':
			if !lastLWSP {
				o.WriteByte(' ')
			}
			lastLWSP = true
		case '\r', '\n':
		default:
			lastLWSP = false
			o.WriteByte(c)
		}
		if !lastLWSP {
			wsPrefix = false
		}
	}
	out := o.String()
	if lastLWSP && len(s) > 0 && !wsPrefix {
		out = out[:len(out)-1]
	}
	b.WriteByte('{')
	b.WriteString(strconv.Itoa(len(out)))
	b.WriteString("}\r\n")
	b.WriteString(out)
}
