package auth

import (
	"fmt"
	"strings"
)

// usernameFormat is a compiled Dovecot username_format template. Supported:
// %u (whole name), %n (part before '@'), %d (part after '@', empty without
// one), the long forms %{user}, %{username}, %{domain}, the case modifiers
// L and U (%Lu, %Ln, %Ud, ...) and %% for a literal '%'.
type usernameFormat struct {
	parts []formatPart
}

type formatPart struct {
	literal string
	v       byte // 'u', 'n', 'd'; 0 for a literal
	mod     byte // 'L', 'U' or 0
}

func parseUsernameFormat(s string) (usernameFormat, error) {
	var f usernameFormat
	for i := 0; i < len(s); {
		if s[i] != '%' {
			j := strings.IndexByte(s[i:], '%')
			if j < 0 {
				j = len(s) - i
			}
			f.parts = append(f.parts, formatPart{literal: s[i : i+j]})
			i += j
			continue
		}
		i++
		if i < len(s) && s[i] == '%' {
			f.parts = append(f.parts, formatPart{literal: "%"})
			i++
			continue
		}
		var p formatPart
		for i < len(s) && (s[i] == 'L' || s[i] == 'U') {
			p.mod = s[i]
			i++
		}
		switch {
		case i < len(s) && (s[i] == 'u' || s[i] == 'n' || s[i] == 'd'):
			p.v = s[i]
			i++
		case i < len(s) && s[i] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return f, fmt.Errorf("username_format %q: unterminated %%{", s)
			}
			switch name := s[i+1 : i+end]; name {
			case "user":
				p.v = 'u'
			case "username":
				p.v = 'n'
			case "domain":
				p.v = 'd'
			default:
				return f, fmt.Errorf("username_format %q: unsupported variable %%{%s}", s, name)
			}
			i += end + 1
		default:
			return f, fmt.Errorf("username_format %q: unsupported variable at offset %d", s, i)
		}
		f.parts = append(f.parts, p)
	}
	return f, nil
}

func (f usernameFormat) apply(user string) string {
	var b strings.Builder
	for _, p := range f.parts {
		if p.v == 0 {
			b.WriteString(p.literal)
			continue
		}
		v := user
		name, domain, hasAt := strings.Cut(user, "@")
		switch p.v {
		case 'n':
			v = name
		case 'd':
			v = ""
			if hasAt {
				v = domain
			}
		}
		switch p.mod {
		case 'L':
			v = strings.ToLower(v)
		case 'U':
			v = strings.ToUpper(v)
		}
		b.WriteString(v)
	}
	return b.String()
}
