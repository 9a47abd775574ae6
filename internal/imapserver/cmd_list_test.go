package imapserver

import (
	"strings"
	"testing"
)

var defaultList = []string{
	`* LIST (\HasNoChildren) "/" INBOX`,
	`* LIST (\HasNoChildren \Archive) "/" Archive`,
	`* LIST (\HasNoChildren \Drafts) "/" Drafts`,
	`* LIST (\HasNoChildren \Junk) "/" Junk`,
	`* LIST (\HasNoChildren \Sent) "/" Sent`,
	`* LIST (\HasNoChildren \Trash) "/" Trash`,
}

func TestListBasic(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c.do(`a1 LIST "" *`).untagged(defaultList...).tagged("OK List completed.")
	// RFC 9051 6.3.9: an empty pattern returns the delimiter and root.
	c.do(`a2 LIST "" ""`).untagged(`* LIST (\Noselect) "/" ""`).ok()
	c.do(`a3 LIST "Archive/" ""`).untagged(`* LIST (\Noselect) "/" ""`).ok()
	// INBOX is case-insensitive.
	c.do(`a4 LIST "" inbox`).untagged(`* LIST (\HasNoChildren) "/" INBOX`).ok()
	c.do(`a5 LIST "" nomatch`).untagged().ok()

	c.do(`a6 CREATE Work/Clients/Acme`).ok()
	c.do(`a7 CREATE Work/Notes`).ok()
	// % does not cross the hierarchy separator; * does.
	c.do(`a8 LIST "" Work/%`).untagged(
		`* LIST (\HasChildren) "/" Work/Clients`,
		`* LIST (\HasNoChildren) "/" Work/Notes`,
	).ok()
	c.do(`a9 LIST "" Work/*`).untagged(
		`* LIST (\HasChildren) "/" Work/Clients`,
		`* LIST (\HasNoChildren) "/" Work/Clients/Acme`,
		`* LIST (\HasNoChildren) "/" Work/Notes`,
	).ok()
	// The reference is prepended to the pattern.
	c.do(`b1 LIST "Work/" %`).untagged(
		`* LIST (\HasChildren) "/" Work/Clients`,
		`* LIST (\HasNoChildren) "/" Work/Notes`,
	).ok()
	c.do(`b2 LIST "" %`).contains(`* LIST (\HasChildren) "/" Work`).lacks(`* LIST (\HasNoChildren) "/" Work/Notes`).ok()
	c.do(`b3 LIST "" W%k/%/A*`).untagged(`* LIST (\HasNoChildren) "/" Work/Clients/Acme`).ok()
}

func TestListExtended(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c.do(`a1 CREATE Lists/Go`).ok()
	c.do(`a2 DELETE Lists`).ok()
	// Basic LIST (IMAP4rev1 style) shows a missing parent as \Noselect;
	// the extended syntax as \NonExistent (RFC 5258).
	c.do(`a3 LIST "" Lists`).untagged(`* LIST (\Noselect \HasChildren) "/" Lists`).ok()
	c.do(`a4 LIST () "" Lists`).untagged(`* LIST (\NonExistent \HasChildren) "/" Lists`).ok()
	// Several patterns (RFC 5258 3): each mailbox once, in order.
	c.do(`a5 LIST "" (Sent Drafts Sent*)`).untagged(
		`* LIST (\HasNoChildren \Drafts) "/" Drafts`,
		`* LIST (\HasNoChildren \Sent) "/" Sent`,
	).ok()
	// SPECIAL-USE selection (RFC 6154 3).
	c.do(`a6 LIST (SPECIAL-USE) "" *`).untagged(defaultList[1:]...).ok()
	c.do(`a7 LIST "" * RETURN (SPECIAL-USE)`).contains(defaultList...).ok()
	// RECURSIVEMATCH alone is an error (RFC 5258 3.1).
	c.do(`a8 LIST (RECURSIVEMATCH) "" *`).bad()
}

func TestListStatus(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c.appendMsg("a1", "Sent", testMsg("x")).ok()
	c.do(`a2 CREATE Gone/Child`).ok()
	c.do(`a3 DELETE Gone`).ok()
	r := c.do(`a4 LIST "" (Sent Gone Gone/Child) RETURN (STATUS (MESSAGES UNSEEN))`).untagged(
		`* LIST (\NonExistent \HasChildren) "/" Gone`,
		`* LIST (\HasNoChildren) "/" Gone/Child`,
		`* STATUS Gone/Child (MESSAGES 0 UNSEEN 0)`,
		`* LIST (\HasNoChildren \Sent) "/" Sent`,
		`* STATUS Sent (MESSAGES 1 UNSEEN 1)`,
	).ok()
	_ = r
	c.do(`a5 LIST "" Sent RETURN (STATUS (HIGHESTMODSEQ))`).untagged(
		`* LIST (\HasNoChildren \Sent) "/" Sent`,
		`* STATUS Sent (HIGHESTMODSEQ 2)`,
	).ok()
}

func TestListRev2UsesExtendedAttributes(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	caps := capsOf(t, c.do("a0 CAPABILITY").ok().lines()[0])
	if !caps["IMAP4rev2"] {
		t.Skip("IMAP4rev2 not advertised yet (needs every extension it folds in)")
	}
	c.do("a1 ENABLE IMAP4rev2").untagged("* ENABLED IMAP4rev2").ok()
	c.do(`a2 CREATE "Ä/b"`).ok()
	c.do(`a3 DELETE "Ä"`).ok()
	// RFC 9051: UTF-8 names, \NonExistent for missing parents.
	c.do(`a4 LIST "" "Ä*"`).untagged(`* LIST (\NonExistent \HasChildren) "/" "Ä"`, `* LIST (\HasNoChildren) "/" "Ä/b"`).ok()
}

func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "a/b/c", true},
		{"%", "a", true},
		{"%", "a/b", false},
		{"a/%", "a/b", true},
		{"a/%", "a/b/c", false},
		{"a*c", "a/b/c", true},
		{"a%c", "a/b/c", false},
		{"a%c", "abc", true},
		{"", "", true},
		{"", "a", false},
		{"a", "", false},
		{"INBOX", "INBOX", true},
		{"*b", "a/b", true},
		{"%/%", "a/b", true},
		{"%/%", "a/b/c", false},
		{strings.Repeat("%a", 60) + "b", strings.Repeat("a", 200), false},
	} {
		if got := matchPattern(canonicalPattern("", tc.pattern), tc.name); got != tc.want {
			t.Errorf("matchPattern(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct{ ref, pattern, want string }{
		{"", "inbox/x", "INBOX/x"},
		{"", "inboxes", "inboxes"},
		{"Work/", "%", "Work/%"},
		{"", "a**%b", "a*b"},
		{"", "a%%b", "a%b"},
		{"", "a%*b", "a*b"},
	} {
		if got := canonicalPattern(tc.ref, tc.pattern); got != tc.want {
			t.Errorf("canonicalPattern(%q, %q) = %q, want %q", tc.ref, tc.pattern, got, tc.want)
		}
	}
}
