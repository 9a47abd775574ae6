package probe

import (
	"strconv"
	"strings"
)

// imapResp is one parsed IMAP response line.
type imapResp struct {
	Tag    string // "*", "+" or the command tag
	Status string // OK, NO, BAD, BYE, PREAUTH, or "" for data
	Code   string // response code without brackets: "CAPABILITY IMAP4rev1 ..."
	Text   string // human text after status and code
	Raw    string
}

// parseIMAPResp splits a response line into tag, status, code and text.
func parseIMAPResp(line string) imapResp {
	r := imapResp{Raw: line}
	tag, rest, _ := strings.Cut(line, " ")
	r.Tag = tag
	word, after, _ := strings.Cut(rest, " ")
	switch strings.ToUpper(word) {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		r.Status = strings.ToUpper(word)
		rest = after
		if strings.HasPrefix(rest, "[") {
			if i := strings.IndexByte(rest, ']'); i > 0 {
				r.Code = rest[1:i]
				rest = strings.TrimPrefix(rest[i+1:], " ")
			}
		}
		r.Text = rest
	default:
		r.Text = rest
	}
	return r
}

// codeName is the first word of a response code, upper case.
func (r imapResp) codeName() string {
	w, _, _ := strings.Cut(r.Code, " ")
	return strings.ToUpper(w)
}

// nilValue stands for IMAP NIL in parsed token lists.
type nilValue struct{}

// tokenize parses IMAP data (the part after "* NAME ") into atoms and
// strings (string), NIL (nilValue) and parenthesized lists ([]any). It is
// lenient: a probe reports what it gets and must not fail on odd servers.
func tokenize(s string) []any {
	p := &tokenizer{s: s}
	return p.list(0)
}

type tokenizer struct {
	s string
	i int
}

func (p *tokenizer) list(close byte) []any {
	var out []any
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == ' ' || c == '\r' || c == '\n':
			p.i++
		case c == close && close != 0:
			p.i++
			return out
		case c == '(':
			p.i++
			out = append(out, p.list(')'))
		case c == '"':
			out = append(out, p.quoted())
		case c == '{':
			if v, ok := p.literal(); ok {
				out = append(out, v)
				continue
			}
			out = append(out, p.atom())
		default:
			a := p.atom()
			if strings.EqualFold(a, "NIL") {
				out = append(out, nilValue{})
			} else {
				out = append(out, a)
			}
		}
	}
	return out
}

func (p *tokenizer) quoted() string {
	p.i++ // opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case '\\':
			if p.i < len(p.s) {
				b.WriteByte(p.s[p.i])
				p.i++
			}
		case '"':
			return b.String()
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (p *tokenizer) literal() (string, bool) {
	j := strings.Index(p.s[p.i:], "}\r\n")
	if j < 0 {
		return "", false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(p.s[p.i+1:p.i+j], "+"))
	start := p.i + j + 3
	if err != nil || n < 0 || start+n > len(p.s) {
		return "", false
	}
	p.i = start + n
	return p.s[start : start+n], true
}

func (p *tokenizer) atom() string {
	start := p.i
	depth := 0 // BODY[...] style brackets may hold spaces
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '[' {
			depth++
		} else if c == ']' && depth > 0 {
			depth--
		} else if depth == 0 && (c == ' ' || c == '(' || c == ')' || c == '\r' || c == '\n') {
			break
		}
		p.i++
	}
	if p.i == start { // a stray ')' at top level: skip it
		p.i++
	}
	return p.s[start:p.i]
}

// quoteIMAP renders s as an IMAP quoted string, or as a literal when it
// holds CR, LF or NUL (which a quoted string cannot carry).
func quoteIMAP(s string) string {
	if strings.ContainsAny(s, "\r\n\x00") {
		return "{" + strconv.Itoa(len(s)) + "+}\r\n" + s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
