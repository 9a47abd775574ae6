package message

import (
	"sort"
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
			// Dovecot quirk: a later Content-Disposition replaces one that
			// had no parameters.
			if cd && len(pt.DispositionParams) > 0 {
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
	if !pt.hasContentType {
		if digest {
			pt.Type, pt.Subtype = "message", "rfc822"
		} else {
			pt.Type, pt.Subtype = "text", "plain"
		}
	}
	// Like Dovecot, a multipart without a boundary is still a multipart;
	// it just has no children.
	pt.multipart = strings.EqualFold(pt.Type, "multipart")
}

// trimValue is a field value as Dovecot's header parser gives it: the
// white space at the start of the first line is dropped, except that of a
// first line that is only white space, which loses one character.
func trimValue(v string) string {
	eol := strings.IndexAny(v, "\r\n")
	if eol < 0 {
		eol = len(v)
	}
	first := v[:eol]
	if strings.Trim(first, " \t") == "" {
		if len(first) > 0 {
			return v[1:]
		}
		return v
	}
	return strings.TrimLeft(v, " \t")
}

// parseContentType parses type "/" subtype *(";" parameter) like Dovecot
// 2.3: without a "/" the type alone is kept (subtype ""); with a bad or
// missing subtype, or junk after it, both are "" and parameters are not
// read.
func parseContentType(pt *Part, v string) {
	pt.hasContentType = true
	t := newTokenizer(v)
	t.skipCFWS()
	typ, ok := t.mimeToken()
	if !ok {
		return
	}
	t.skipCFWS()
	if !t.consume('/') {
		pt.Type = typ
		return
	}
	t.skipCFWS()
	sub, ok := t.mimeToken()
	t.skipCFWS()
	if !ok || (!t.eof() && t.peek() != ';') {
		return
	}
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
	// lastComment is the text of the last comment skipped.
	lastComment string
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
			t.lastComment = t.comment()
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

// Character classes: tspecials (RFC 2045) and atext (RFC 5322; 8-bit
// bytes count as atext, as in Dovecot).
var tspecial, atext, tokenChar [256]bool

func init() {
	for _, c := range []byte("()<>@,;:\\\"/[]?=") {
		tspecial[c] = true
	}
	for c := 0; c < 256; c++ {
		ctlOrSpace := c <= ' ' || c == 0x7f
		atext[c] = !ctlOrSpace && strings.IndexByte("()<>[]:;@\\,.\"", byte(c)) < 0
		tokenChar[c] = !ctlOrSpace && !tspecial[c]
	}
}

func isTSpecial(c byte) bool { return tspecial[c] }

func isAtext(c byte) bool { return atext[c] }

// mimeToken reads an RFC 2045 token.
func (t *tokenizer) mimeToken() (string, bool) {
	start := t.i
	for t.i < len(t.s) && tokenChar[t.s[t.i]] {
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

// params parses *(";" attribute "=" value) like Dovecot's
// rfc822_parse_content_param: an unquoted value is a MIME token, and the
// first syntax error ends the list (what was read before it is kept).
func (t *tokenizer) params() []Param {
	var raws []rawParam
	for {
		t.skipCFWS()
		if t.eof() || !t.consume(';') {
			break
		}
		t.skipCFWS()
		name, ok := t.mimeToken()
		if !ok {
			break
		}
		t.skipCFWS()
		if !t.consume('=') {
			break
		}
		t.skipCFWS()
		var value string
		if t.peek() == '"' {
			v, ok := t.quotedStrict()
			if !ok {
				break
			}
			value = v
		} else {
			v, ok := t.mimeToken()
			if !ok {
				break
			}
			value = v
		}
		raws = append(raws, rawParam{name: name, value: value})
	}
	return rfc2231(raws)
}

// quotedStrict reads a quoted-string and fails when it is not terminated.
func (t *tokenizer) quotedStrict() (string, bool) {
	start := t.i
	v := t.quoted()
	if t.i > len(t.s) || t.s[t.i-1] != '"' || t.i-start < 2 {
		return "", false
	}
	// An escaped final quote does not terminate.
	if n := t.i - 2; n > start && t.s[n] == '\\' {
		bs := 0
		for k := n; k > start && t.s[k] == '\\'; k-- {
			bs++
		}
		if bs%2 == 1 {
			return "", false
		}
	}
	return v, true
}

// rfc2231 merges RFC 2231 continuations (name*0, name*1*, ...) into one
// parameter and decodes extended values, like Dovecot's rfc2231_parse:
// plain parameters come first in their order, then the merged ones sorted
// by name. An extended parameter keeps its charset'language'%XX value (with
// unencoded sections appended as they are) in Raw.
func rfc2231(raws []rawParam) []Param {
	type section struct {
		n       int
		encoded bool
		value   string
	}
	var out []Param
	byName := map[string][]section{}
	var names []string
	for _, r := range raws {
		star := strings.IndexByte(r.name, '*')
		if star < 0 {
			out = append(out, Param{Name: r.name, Value: r.value})
			continue
		}
		base, rest := r.name[:star], r.name[star+1:]
		encoded := strings.HasSuffix(rest, "*") || rest == ""
		rest = strings.TrimSuffix(rest, "*")
		n := 0
		if rest != "" {
			v, err := strconv.Atoi(rest)
			if err != nil || v < 0 || v > 1000 || (len(rest) > 1 && rest[0] == '0') {
				out = append(out, Param{Name: r.name, Value: r.value})
				continue
			}
			n = v
		}
		if _, seen := byName[base]; !seen {
			names = append(names, base)
		}
		byName[base] = append(byName[base], section{n: n, encoded: encoded, value: r.value})
	}
	sort.SliceStable(names, func(i, j int) bool { return names[i] < names[j] })
	for _, name := range names {
		secs := byName[name]
		sort.SliceStable(secs, func(i, j int) bool { return secs[i].n < secs[j].n })
		extended := secs[0].n == 0 && secs[0].encoded
		var raw, plain strings.Builder
		charset := ""
		for i, s := range secs {
			if s.n != i {
				break // a gap ends the value
			}
			v := s.value
			if i == 0 && extended {
				if a := strings.IndexByte(v, '\''); a >= 0 {
					if b := strings.IndexByte(v[a+1:], '\''); b >= 0 {
						charset = v[:a]
						raw.WriteString(v[:a+1+b+1])
						v = v[a+1+b+1:]
					}
				}
			}
			raw.WriteString(v)
			if extended && s.encoded {
				plain.WriteString(percentDecode(v))
			} else {
				plain.WriteString(v)
			}
		}
		p := Param{Name: name}
		if extended {
			p.Extended = true
			p.Raw = raw.String()
			p.Value = decodeCharset(charset, plain.String())
		} else {
			p.Value = plain.String()
		}
		out = append(out, p)
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
