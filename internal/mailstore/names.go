package mailstore

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Mailbox name limits, checked by NormalizeMailboxName.
const (
	MaxMailboxNameLevel = 255  // octets in one hierarchy level
	MaxMailboxName      = 1000 // octets in a whole name
)

// MaxKeyword is the longest keyword (flag that is not a system flag) a store
// accepts, in octets.
const MaxKeyword = 250

// IsInbox reports whether name means INBOX (case-insensitive).
func IsInbox(name string) bool { return strings.EqualFold(name, "INBOX") }

// NormalizeMailboxName checks a mailbox name and returns it in the form
// stores keep: "INBOX" in any case becomes "INBOX", also as the first level
// ("inbox/x" -> "INBOX/x"). It returns a KindInvalid error for an empty name,
// invalid UTF-8, control characters, the list wildcards '*' and '%', a
// leading or trailing '/', an empty level ("a//b"), a "." or ".." level, or a
// name over the length limits. Backends share it so that every backend
// accepts the same names.
func NormalizeMailboxName(name string) (string, error) {
	if name == "" {
		return "", Errorf(KindInvalid, "empty mailbox name")
	}
	if len(name) > MaxMailboxName {
		return "", Errorf(KindInvalid, "mailbox name too long")
	}
	if !utf8.ValidString(name) {
		return "", Errorf(KindInvalid, "mailbox name is not valid UTF-8")
	}
	for _, r := range name {
		switch {
		case unicode.IsControl(r) || r == utf8.RuneError:
			return "", Errorf(KindInvalid, "mailbox name contains a control character")
		case r == '*' || r == '%':
			return "", Errorf(KindInvalid, "mailbox name contains a wildcard")
		}
	}
	levels := strings.Split(name, string(HierarchySeparator))
	for _, l := range levels {
		switch {
		case l == "":
			return "", Errorf(KindInvalid, "mailbox name has an empty hierarchy level")
		case l == "." || l == "..":
			return "", Errorf(KindInvalid, "mailbox name has a %q level", l)
		case len(l) > MaxMailboxNameLevel:
			return "", Errorf(KindInvalid, "mailbox name level too long")
		}
	}
	if IsInbox(levels[0]) && levels[0] != "INBOX" {
		name = "INBOX" + name[len(levels[0]):]
	}
	return name, nil
}

// ValidKeyword reports whether k can be stored as a keyword: an IMAP atom
// (RFC 9051 section 9: ATOM-CHAR, no atom-specials) that does not start with
// '\' and is at most MaxKeyword octets.
func ValidKeyword(k string) bool {
	if k == "" || len(k) > MaxKeyword {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '(', ')', '{', '%', '*', '"', '\\', ']':
			return false
		}
	}
	return true
}

// NormalizeFlags checks flags and returns them with system flags in
// canonical case and duplicates (compared case-insensitively) removed, in
// the order given. It returns a KindInvalid error for a '\' flag that is not
// a permanent system flag (\Recent cannot be stored) and for a keyword that
// is not a valid atom.
func NormalizeFlags(flags []string) ([]string, error) {
	out := make([]string, 0, len(flags))
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			c := CanonicalFlag(f)
			if c == f && !isSystemFlag(f) {
				return nil, Errorf(KindInvalid, "flag %s cannot be stored", f)
			}
			f = c
		} else if !ValidKeyword(f) {
			return nil, Errorf(KindInvalid, "invalid keyword")
		}
		dup := false
		for _, g := range out {
			if strings.EqualFold(f, g) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, f)
		}
	}
	return out, nil
}

func isSystemFlag(f string) bool {
	for _, s := range SystemFlags {
		if s == f {
			return true
		}
	}
	return false
}
