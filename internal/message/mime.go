package message

import (
	"strconv"
	"strings"
)

// setContent fills the MIME fields of pt from its header. Like Dovecot, the
// Content-* fields of a part are used even without MIME-Version; the first
// field of each name wins.
func setContent(pt *Part, digest bool) {
	var ct, cte, cd, cl bool
	for _, f := range pt.Header {
		if !hasPrefixFold(f.Name, "content-") {
			continue
		}
		name := strings.ToLower(f.Name[len("content-"):])
		v := f.Value
		switch name {
		case "type":
			if ct {
				continue
			}
			ct = true
			parseContentType(pt, v)
		case "transfer-encoding":
			if cte {
				continue
			}
			cte = true
			t := newTokenizer(v)
			t.skipCFWS()
			if tok, ok := t.mimeToken(); ok {
				pt.Encoding = tok
			}
		case "id":
			if pt.ID == "" {
				pt.ID = trimValue(v)
			}
		case "description":
			if pt.Description == "" {
				pt.Description = trimValue(v)
			}
		case "md5":
			if pt.MD5 == "" {
				pt.MD5 = trimValue(v)
			}
		case "location":
			if pt.Location == "" {
				pt.Location = trimValue(v)
			}
		case "disposition":
			if cd {
				continue
			}
			cd = true
			t := newTokenizer(v)
			t.skipCFWS()
			if tok, ok := t.mimeToken(); ok {
				pt.Disposition = tok
				pt.DispositionParams = t.params()
			}
		case "language":
			if cl {
				continue
			}
			cl = true
			pt.Language = parseLanguage(v)
		}
	}
	if pt.Type == "" {
		if digest {
			pt.Type, pt.Subtype = "message", "rfc822"
		} else {
			pt.Type, pt.Subtype = "text", "plain"
		}
	}
	if strings.EqualFold(pt.Type, "multipart") && pt.Param("boundary") != "" {
		pt.multipart = true
	}
}

// trimValue is the value of an unstructured Content-* field as Dovecot keeps
// it: leading white space removed.
func trimValue(v string) string {
	return strings.TrimLeft(v, " \t")
}

func parseContentType(pt *Part, v string) {
	t := newTokenizer(v)
	t.skipCFWS()
	typ, ok := t.mimeToken()
	if !ok {
		return
	}
	t.skipCFWS()
	if !t.consume('/') {
		return
	}
	t.skipCFWS()
	sub, ok := t.mimeToken()
	if !ok {
		return
	}
	pt.hasContentType = true
	pt.Type, pt.Subtype = typ, sub
	pt.Params = t.params()
}

func parseLanguage(v string) []string {
	t := newTokenizer(v)
	var langs []string
	t.skipCFWS()
	for {
		a, ok := t.atom()
		if !ok {
			break
		}
		langs = append(langs, a)
		t.skipCFWS()
		if !t.consume(',') {
			break
		}
		t.skipCFWS()
	}
	return langs
}

// tokenizer is a small RFC 5322/2045 lexer.
type tokenizer struct {
	s string
	i int
}

func newTokenizer(s string) *tokenizer { return &tokenizer{s: s} }

func (t *tokenizer) eof() bool { return t.i >= len(t.s) }

func (t *tokenizer) peek() byte {
	if t.i < len(t.s) {
		return t.s[t.i]
	}
	return 0
}

func (t *tokenizer) consume(c byte) bool {
	if t.i < len(t.s) && t.s[t.i] == c {
		t.i++
		return true
	}
	return false
}

// skipCFWS skips white space, line breaks and (nested) comments.
func (t *tokenizer) skipCFWS() {
	for t.i < len(t.s) {
		switch t.s[t.i] {
		case ' ', '\t', '\r', '\n':
			t.i++
		case '(':
			t.comment()
		default:
			return
		}
	}
}

// comment skips a comment starting at '(' and returns its text.
func (t *tokenizer) comment() string {
	depth := 0
	var b strings.Builder
	for t.i < len(t.s) {
		c := t.s[t.i]
		t.i++
		switch c {
		case '(':
			if depth > 0 {
				b.WriteByte(c)
			}
			depth++
		case ')':
			depth--
			if depth == 0 {
				return b.String()
			}
			b.WriteByte(c)
		case '\\':
			if t.i < len(t.s) {
				b.WriteByte(t.s[t.i])
				t.i++
			}
		case '\r', '\n':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isTSpecial(c byte) bool {
	return strings.IndexByte("()<>@,;:\\\"/[]?=", c) >= 0
}

func isAtext(c byte) bool {
	if c <= ' ' || c == 0x7f {
		return false
	}
	return strings.IndexByte("()<>[]:;@\\,.\"", c) < 0
}

// mimeToken reads an RFC 2045 token.
func (t *tokenizer) mimeToken() (string, bool) {
	start := t.i
	for t.i < len(t.s) {
		c := t.s[t.i]
		if c <= ' ' || c == 0x7f || isTSpecial(c) {
			break
		}
		t.i++
	}
	return t.s[start:t.i], t.i > start
}

// atom reads an RFC 5322 atom.
func (t *tokenizer) atom() (string, bool) {
	start := t.i
	for t.i < len(t.s) && isAtext(t.s[t.i]) {
		t.i++
	}
	return t.s[start:t.i], t.i > start
}

// quoted reads a quoted-string starting at '"' and returns its unescaped
// content (line breaks removed).
func (t *tokenizer) quoted() string {
	t.i++ // '"'
	var b strings.Builder
	for t.i < len(t.s) {
		c := t.s[t.i]
		t.i++
		switch c {
		case '"':
			return b.String()
		case '\\':
			if t.i < len(t.s) {
				b.WriteByte(t.s[t.i])
				t.i++
			}
		case '\r', '\n':
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// rawParam is one parameter before RFC 2231 processing.
type rawParam struct {
	name, value string
}

// params parses ";" attribute "=" value pairs. It is lenient like Dovecot:
// an unquoted value runs to the next ';' or white space.
func (t *tokenizer) params() []Param {
	var raws []rawParam
	for {
		t.skipCFWS()
		if t.eof() {
			break
		}
		if !t.consume(';') {
			// Garbage: skip to the next ';'.
			j := strings.IndexByte(t.s[t.i:], ';')
			if j < 0 {
				break
			}
			t.i += j + 1
		}
		t.skipCFWS()
		name, ok := t.mimeToken()
		if !ok {
			continue
		}
		t.skipCFWS()
		if !t.consume('=') {
			continue
		}
		t.skipCFWS()
		var value string
		if t.peek() == '"' {
			value = t.quoted()
		} else {
			start := t.i
			for t.i < len(t.s) {
				c := t.s[t.i]
				if c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '"' {
					break
				}
				t.i++
			}
			value = t.s[start:t.i]
		}
		raws = append(raws, rawParam{name: name, value: value})
	}
	return rfc2231(raws)
}

// rfc2231 merges RFC 2231 continuations (name*0, name*1*, ...) into one
// parameter, in the position of the first section, and decodes extended
// values. Other parameters are kept as they are.
func rfc2231(raws []rawParam) []Param {
	type cont struct {
		idx      int
		sections map[int]rawParam // section number -> value, name ending in '*' if encoded
	}
	var out []Param
	conts := map[string]*cont{}
	for _, r := range raws {
		name := r.name
		star := strings.IndexByte(name, '*')
		if star < 0 {
			out = append(out, Param{Name: name, Value: r.value})
			continue
		}
		base := name[:star]
		rest := name[star+1:]
		encoded := strings.HasSuffix(rest, "*") || rest == ""
		rest = strings.TrimSuffix(rest, "*")
		section := 0
		if rest != "" {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 || n > 1000 || (len(rest) > 1 && rest[0] == '0') {
				out = append(out, Param{Name: name, Value: r.value})
				continue
			}
			section = n
		}
		key := strings.ToLower(base)
		c := conts[key]
		if c == nil {
			c = &cont{idx: len(out), sections: map[int]rawParam{}}
			conts[key] = c
			out = append(out, Param{Name: base})
		}
		if _, dup := c.sections[section]; !dup {
			enc := ""
			if encoded {
				enc = "*"
			}
			c.sections[section] = rawParam{name: enc, value: r.value}
		}
	}
	for _, c := range conts {
		p := &out[c.idx]
		first, ok := c.sections[0]
		extended := ok && first.name == "*"
		var raw, plain strings.Builder
		charset := ""
		for n := 0; ; n++ {
			s, ok := c.sections[n]
			if !ok {
				break
			}
			v := s.value
			if n == 0 && extended {
				// charset'language'value
				if i := strings.IndexByte(v, '\''); i >= 0 {
					charset = v[:i]
					rest := v[i+1:]
					if j := strings.IndexByte(rest, '\''); j >= 0 {
						raw.WriteString(v[:i+1+j+1])
						v = rest[j+1:]
					}
				}
			}
			if extended {
				if s.name == "*" {
					raw.WriteString(v)
					plain.WriteString(percentDecode(v))
				} else {
					raw.WriteString(percentEncode(v))
					plain.WriteString(v)
				}
			} else {
				raw.WriteString(v)
				plain.WriteString(v)
			}
		}
		if extended {
			p.Extended = true
			p.Raw = raw.String()
			p.Value = decodeCharset(charset, plain.String())
		} else {
			p.Value = plain.String()
		}
	}
	return out
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func percentDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s)+0 && i+2 <= len(s)-1 {
			h, ok1 := unhex(s[i+1])
			l, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b = append(b, h<<4|l)
				i += 2
				continue
			}
		}
		b = append(b, s[i])
	}
	return string(b)
}

func percentEncode(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '%' || c == '*' || c == '\'' || isTSpecial(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
