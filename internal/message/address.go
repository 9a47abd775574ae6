package message

import "strings"

// Address is one entry of an IMAP address list (RFC 9051 7.5.2). A group
// start has Group set to the group name (Mailbox in IMAP terms) and no Host;
// a group end has everything empty and End set.
type Address struct {
	Name    string // display name, raw (encoded words kept)
	HasName bool
	Route   string // obsolete source route ("@a,@b"), "" if none
	Mailbox string
	Host    string
	// GroupStart and GroupEnd mark RFC 5322 group syntax.
	GroupStart, GroupEnd bool
}

const (
	missingMailbox = "MISSING_MAILBOX"
	missingDomain  = "MISSING_DOMAIN"
)

// ParseAddressList parses an address-list header value the way Dovecot
// does for ENVELOPE: lenient, groups expanded into start/end markers,
// missing local parts and domains filled with MISSING_MAILBOX and
// MISSING_DOMAIN.
func ParseAddressList(s string) []Address {
	t := newTokenizer(s)
	var out []Address
	for {
		t.skipCFWS()
		if t.eof() {
			break
		}
		if t.consume(',') {
			continue
		}
		start := t.i
		// Group: phrase ":" [mailbox-list] ";"
		if name, ok := t.phrase(); ok {
			t.skipCFWS()
			if t.consume(':') {
				out = append(out, Address{GroupStart: true, Mailbox: name})
				ok := true
				for ok {
					t.skipCFWS()
					if t.eof() || t.consume(';') {
						break
					}
					if t.consume(',') {
						continue
					}
					var a Address
					a, ok = t.mailbox()
					if ok {
						out = append(out, a)
						t.skipCFWS()
						ok = t.eof() || t.peek() == ',' || t.peek() == ';'
					}
				}
				out = append(out, Address{GroupEnd: true})
				if !ok {
					break
				}
				continue
			}
		}
		t.i = start
		a, ok := t.mailbox()
		if !ok {
			break
		}
		out = append(out, a)
		// Like Dovecot, anything but a ',' after an address ends the list.
		t.skipCFWS()
		if !t.eof() && t.peek() != ',' {
			break
		}
	}
	return out
}

// phrase reads words (atoms, quoted strings, dots) joined by single spaces.
func (t *tokenizer) phrase() (string, bool) {
	var words []string
	for {
		t.skipCFWS()
		if t.eof() {
			break
		}
		c := t.peek()
		if c == '"' {
			words = append(words, t.quoted())
			continue
		}
		if c == '.' {
			// obs-phrase allows dots
			t.i++
			if len(words) > 0 {
				words[len(words)-1] += "."
			} else {
				words = append(words, ".")
			}
			continue
		}
		a, ok := t.atom()
		if !ok {
			break
		}
		words = append(words, a)
	}
	if len(words) == 0 {
		return "", false
	}
	return strings.Join(words, " "), true
}

// mailbox parses name-addr or addr-spec.
func (t *tokenizer) mailbox() (Address, bool) {
	start := t.i
	var a Address
	t.lastComment = ""
	t.skipCFWS()
	name, hasName := t.phrase()
	t.skipCFWS()
	if t.consume('<') {
		a.Name, a.HasName = name, hasName
		t.skipCFWS()
		// obs-route
		if t.peek() == '@' {
			var route []string
			for t.peek() == '@' || t.peek() == ',' {
				if t.consume(',') {
					t.skipCFWS()
					continue
				}
				t.i++
				d := t.domain()
				route = append(route, "@"+d)
				t.skipCFWS()
			}
			t.consume(':')
			a.Route = strings.Join(route, ",")
		}
		t.addrSpec(&a)
		t.skipCFWS()
		if !t.consume('>') {
			// Tolerate junk up to '>'.
			if j := strings.IndexByte(t.s[t.i:], '>'); j >= 0 && !strings.ContainsAny(t.s[t.i:t.i+j], ",") {
				t.i += j + 1
			}
		}
		t.skipCFWS()
		if !a.HasName && t.lastComment != "" {
			a.Name, a.HasName = t.lastComment, true
		}
		fill(&a)
		return a, true
	}
	t.i = start
	t.lastComment = ""
	t.skipCFWS()
	before := t.i
	t.addrSpec(&a)
	if t.i == before {
		return a, false
	}
	t.skipCFWS()
	if t.lastComment != "" {
		a.Name, a.HasName = t.lastComment, true
	}
	fill(&a)
	return a, true
}

func fill(a *Address) {
	if a.Mailbox == "" {
		a.Mailbox = missingMailbox
	}
	if a.Host == "" {
		a.Host = missingDomain
	}
}

// addrSpec reads local-part ["@" domain].
func (t *tokenizer) addrSpec(a *Address) {
	var local strings.Builder
	for {
		t.skipCFWS()
		c := t.peek()
		if c == '"' {
			local.WriteString(t.quoted())
			continue
		}
		if c == '.' {
			t.i++
			local.WriteByte('.')
			continue
		}
		w, ok := t.atom()
		if !ok {
			break
		}
		local.WriteString(w)
	}
	a.Mailbox = local.String()
	t.skipCFWS()
	if t.consume('@') {
		a.Host = t.domain()
	}
}

// domain reads a dot-atom or a domain literal.
func (t *tokenizer) domain() string {
	t.skipCFWS()
	if t.peek() == '[' {
		start := t.i
		for t.i < len(t.s) {
			c := t.s[t.i]
			t.i++
			if c == '\\' && t.i < len(t.s) {
				t.i++
				continue
			}
			if c == ']' {
				break
			}
		}
		return t.s[start:t.i]
	}
	var d strings.Builder
	for {
		t.skipCFWS()
		if t.consume('.') {
			d.WriteByte('.')
			continue
		}
		w, ok := t.atom()
		if !ok {
			break
		}
		d.WriteString(w)
		// Atoms continue the domain only through a dot: "example.com
		// Subject" (a bare CR between them) ends at "example.com", as
		// Dovecot's dot-atom parser does.
		t.skipCFWS()
		if t.peek() != '.' {
			break
		}
	}
	return d.String()
}
