package message

import (
	"strconv"
	"strings"
)

// Envelope returns the IMAP ENVELOPE (RFC 9051 7.5.2) of the top-level
// message in wire syntax: the parenthesized list, with literals ({n}CRLF...)
// where Dovecot uses them.
func (m *Message) Envelope() string {
	return m.Root.Envelope()
}

// Envelope returns the IMAP ENVELOPE built from p's header (meant for a
// message root: the top-level root or the Message of a message/rfc822
// part), in wire syntax, as a parenthesized list.
func (p *Part) Envelope() string {
	if p.envelope != "" {
		return p.envelope
	}
	var b strings.Builder
	writeEnvelope(&b, p.Header)
	return b.String()
}

var envelopeFields = [...]string{"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id"}

// writeEnvelope writes the envelope of header h like Dovecot: the last
// occurrence of a field wins, Sender and Reply-To default to From.
func writeEnvelope(b *strings.Builder, h Header) {
	var vals [len(envelopeFields)]string
	var have [len(envelopeFields)]bool
	var addrs [6][]Address
	for _, f := range h {
		for i, n := range envelopeFields {
			if strings.EqualFold(f.Name, n) {
				v := trimValue(f.Value)
				vals[i] = v
				have[i] = true
				if i >= 2 && i < 8 {
					// Address fields given more than once are
					// concatenated (Dovecot does the same).
					addrs[i-2] = append(addrs[i-2], ParseAddressList(v)...)
				}
			}
		}
	}
	b.WriteByte('(')
	appendNStringNoLF(b, vals[0], have[0])
	b.WriteByte(' ')
	if have[1] {
		appendStringForHumans(b, vals[1])
	} else {
		b.WriteString("NIL")
	}
	for i := 0; i < 6; i++ {
		b.WriteByte(' ')
		a := addrs[i]
		if (i == 1 || i == 2) && len(a) == 0 {
			a = addrs[0] // Sender and Reply-To default to From
		}
		writeAddresses(b, a)
	}
	b.WriteByte(' ')
	appendNStringNoLF(b, vals[8], have[8])
	b.WriteByte(' ')
	appendNStringNoLF(b, vals[9], have[9])
	b.WriteByte(')')
}

func writeAddresses(b *strings.Builder, list []Address) {
	if len(list) == 0 {
		b.WriteString("NIL")
		return
	}
	b.WriteByte('(')
	for _, a := range list {
		switch {
		case a.GroupStart:
			b.WriteString("(NIL NIL ")
			appendString(b, a.Mailbox)
			b.WriteString(" NIL)")
		case a.GroupEnd:
			b.WriteString("(NIL NIL NIL NIL)")
		default:
			b.WriteByte('(')
			if a.HasName {
				appendStringForHumans(b, a.Name)
			} else {
				b.WriteString("NIL")
			}
			b.WriteByte(' ')
			appendNStringNoLF(b, a.Route, a.Route != "")
			b.WriteByte(' ')
			appendNStringNoLF(b, a.Mailbox, true)
			b.WriteByte(' ')
			appendNStringNoLF(b, a.Host, true)
			b.WriteByte(')')
		}
	}
	b.WriteByte(')')
}

// BodyStructure returns the IMAP BODYSTRUCTURE (extended) or BODY (not
// extended) of the message in wire syntax, as Dovecot 2.3 writes it:
// multipart children are concatenated with no space between them.
func (m *Message) BodyStructure(extended bool) string {
	if plain7bit(m.Root) {
		// Dovecot answers such messages from a cache flag with a fixed
		// text/plain form, whatever the case or extra parameters.
		s := `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ` +
			strconv.FormatInt(m.Root.End-m.Root.BodyStart, 10) + " " + strconv.FormatInt(m.Root.Lines, 10)
		if extended {
			s += " NIL NIL NIL NIL"
		}
		return s + ")"
	}
	var b strings.Builder
	writeBody(&b, m.Root, extended)
	return b.String()
}

// plain7bit is Dovecot's message_part_data_is_plain_7bit for a root part.
func plain7bit(p *Part) bool {
	if p.multipart || p.Message != nil {
		return false
	}
	if p.hasContentType && !strings.EqualFold(p.Type, "text") {
		return false
	}
	if p.Subtype != "" && !strings.EqualFold(p.Subtype, "plain") {
		return false
	}
	if len(p.Params) > 0 {
		first := p.Params[0]
		if first.Extended || !strings.EqualFold(first.Name, "charset") || !strings.EqualFold(first.Value, "us-ascii") {
			return false
		}
	}
	if p.ID != "" || p.Description != "" {
		return false
	}
	if p.Encoding != "" && !strings.EqualFold(p.Encoding, "7bit") {
		return false
	}
	return p.MD5 == "" && p.Disposition == "" && len(p.Language) == 0 && p.Location == ""
}

// BodyStructure returns the BODYSTRUCTURE or BODY of one part.
func (p *Part) BodyStructure(extended bool) string {
	var b strings.Builder
	writeBody(&b, p, extended)
	return b.String()
}

const (
	emptyBody          = `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)`
	emptyBodyStructure = `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)`
)

func writeBody(b *strings.Builder, p *Part, ext bool) {
	b.WriteByte('(')
	if p.multipart {
		writeMultipart(b, p, ext)
	} else {
		writeLeaf(b, p, ext)
	}
	b.WriteByte(')')
}

func writeParams(b *strings.Builder, ps []Param, defaultCharset bool) {
	if !defaultCharset && len(ps) == 0 {
		b.WriteString("NIL")
		return
	}
	b.WriteByte('(')
	seen := false
	for i, p := range ps {
		if i > 0 {
			b.WriteByte(' ')
		}
		name, value := p.Name, p.Value
		if p.Extended {
			name, value = name+"*", p.Raw
		}
		if strings.EqualFold(name, "charset") {
			seen = true
		}
		appendString(b, name)
		b.WriteByte(' ')
		appendString(b, value)
	}
	if defaultCharset && !seen {
		if len(ps) > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(`"charset" "us-ascii"`)
	}
	b.WriteByte(')')
}

func writeMultipart(b *strings.Builder, p *Part, ext bool) {
	if len(p.Children) == 0 {
		if ext {
			b.WriteString(emptyBodyStructure)
		} else {
			b.WriteString(emptyBody)
		}
	}
	for _, c := range p.Children {
		writeBody(b, c, ext)
	}
	b.WriteByte(' ')
	appendString(b, p.Subtype)
	if !ext {
		return
	}
	b.WriteByte(' ')
	writeParams(b, p.Params, false)
	writeExtCommon(b, p)
}

func writeExtCommon(b *strings.Builder, p *Part) {
	b.WriteByte(' ')
	if p.Disposition == "" {
		b.WriteString("NIL")
	} else {
		b.WriteByte('(')
		appendString(b, p.Disposition)
		b.WriteByte(' ')
		writeParams(b, p.DispositionParams, false)
		b.WriteByte(')')
	}
	b.WriteByte(' ')
	if len(p.Language) == 0 {
		b.WriteString("NIL")
	} else {
		b.WriteByte('(')
		for i, l := range p.Language {
			if i > 0 {
				b.WriteByte(' ')
			}
			appendString(b, l)
		}
		b.WriteByte(')')
	}
	b.WriteByte(' ')
	appendNStringNoLF(b, p.Location, p.Location != "")
}

func writeLeaf(b *strings.Builder, p *Part, ext bool) {
	text := false
	if p.Message != nil {
		b.WriteString(`"message" `)
		appendString(b, strings.ToLower(p.Subtype))
	} else {
		text = strings.EqualFold(p.Type, "text")
		appendString(b, p.Type)
		b.WriteByte(' ')
		appendString(b, p.Subtype)
	}
	b.WriteByte(' ')
	writeParams(b, p.Params, text)
	b.WriteByte(' ')
	appendNStringNoLF(b, p.ID, p.ID != "")
	b.WriteByte(' ')
	appendNStringNoLF(b, p.Description, p.Description != "")
	b.WriteByte(' ')
	if p.Encoding != "" {
		appendString(b, p.Encoding)
	} else {
		b.WriteString(`"7bit"`)
	}
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(p.End-p.BodyStart, 10))
	if text {
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(p.Lines, 10))
	} else if p.Message != nil {
		b.WriteByte(' ')
		b.WriteString(p.Message.Envelope())
		b.WriteByte(' ')
		writeBody(b, p.Message, ext)
		b.WriteByte(' ')
		b.WriteString(strconv.FormatInt(p.Lines, 10))
	}
	if !ext {
		return
	}
	b.WriteByte(' ')
	appendNStringNoLF(b, p.MD5, p.MD5 != "")
	writeExtCommon(b, p)
}
