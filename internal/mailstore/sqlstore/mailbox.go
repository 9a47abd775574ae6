package sqlstore

import (
	"strings"

	"github.com/roost-mail/roost/internal/mailstore"
)

// The checks below run before a store opens its transaction: they depend
// only on the names, not on what the account holds.

// CheckCreate normalizes the arguments of CREATE (RFC 9051 6.3.4) and the
// special-use attribute of RFC 6154 USE (to its registered spelling).
func CheckCreate(name, specialUse string) (string, string, error) {
	name, err := mailstore.NormalizeMailboxName(name)
	if err != nil {
		return "", "", err
	}
	specialUse, err = canonicalSpecialUse(specialUse)
	if err != nil {
		return "", "", err
	}
	return name, specialUse, nil
}

func canonicalSpecialUse(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	for _, u := range []string{mailstore.SpecialAll, mailstore.SpecialArchive, mailstore.SpecialDrafts,
		mailstore.SpecialFlagged, mailstore.SpecialJunk, mailstore.SpecialSent, mailstore.SpecialTrash} {
		if strings.EqualFold(s, u) {
			return u, nil
		}
	}
	return "", mailstore.Errorf(mailstore.KindInvalid, "unknown special-use attribute %s", s)
}

// CheckDelete normalizes the argument of DELETE and refuses INBOX
// (RFC 9051 6.3.5: deleting INBOX is an error).
func CheckDelete(name string) (string, error) {
	name, err := mailstore.NormalizeMailboxName(name)
	if err != nil {
		return "", err
	}
	if name == "INBOX" {
		return "", mailstore.Errorf(mailstore.KindNoPerm, "INBOX cannot be deleted")
	}
	return name, nil
}

// CheckRename normalizes the arguments of RENAME (RFC 9051 6.3.6) and
// refuses renaming to INBOX, to the same name or below itself.
func CheckRename(from, to string) (string, string, error) {
	from, err := mailstore.NormalizeMailboxName(from)
	if err != nil {
		return "", "", err
	}
	to, err = mailstore.NormalizeMailboxName(to)
	if err != nil {
		return "", "", err
	}
	if to == "INBOX" {
		return "", "", mailstore.Errorf(mailstore.KindExists, "INBOX already exists")
	}
	// INBOX is the exception: its children are not renamed with it, so
	// "RENAME INBOX INBOX/old" is fine.
	if to == from || from != "INBOX" && strings.HasPrefix(to, from+string(mailstore.HierarchySeparator)) {
		return "", "", mailstore.Errorf(mailstore.KindInvalid, "cannot rename a mailbox to itself or below itself")
	}
	return from, to, nil
}

// RenamedName is the new name of old, which is from or one of its
// inferiors, when from is renamed to to ("a/b" under RENAME a x is "x/b";
// RFC 9051 6.3.6: inferior names are renamed too).
func RenamedName(from, to, old string) (string, error) {
	return mailstore.NormalizeMailboxName(to + old[len(from):])
}

// Superiors returns the superior names of name, outermost first ("a/b/c":
// "a", "a/b"): those CREATE and RENAME create when missing (RFC 9051
// 6.3.4: "the server SHOULD create any superior hierarchical names").
func Superiors(name string) []string {
	var out []string
	for i := 0; i < len(name); i++ {
		if name[i] == mailstore.HierarchySeparator {
			out = append(out, name[:i])
		}
	}
	return out
}
