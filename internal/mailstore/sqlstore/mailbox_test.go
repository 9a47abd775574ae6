package sqlstore

import (
	"slices"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

func TestCheckRename(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		kind     mailstore.Kind // 0: allowed
	}{
		{"INBOX", "INBOX/old", 0}, // INBOX's children stay: no cycle
		{"inbox", "Old", 0},
		{"a", "a/b", mailstore.KindInvalid},
		{"a", "a", mailstore.KindInvalid},
		{"a", "ab", 0},
		{"a", "inbox", mailstore.KindExists},
	} {
		_, _, err := CheckRename(tc.from, tc.to)
		if tc.kind == 0 && err != nil || tc.kind != 0 && mailstore.KindOf(err) != tc.kind {
			t.Errorf("RENAME %s %s: %v, want kind %v", tc.from, tc.to, err, tc.kind)
		}
	}
	if n, err := RenamedName("a", "x/y", "a/b/c"); n != "x/y/b/c" || err != nil {
		t.Errorf("RenamedName = %q, %v", n, err)
	}
	if got := Superiors("a/b/c"); !slices.Equal(got, []string{"a", "a/b"}) {
		t.Errorf("Superiors(a/b/c) = %q", got)
	}
	if _, err := CheckDelete("Inbox"); mailstore.KindOf(err) != mailstore.KindNoPerm {
		t.Errorf("DELETE Inbox: %v", err)
	}
	if _, u, err := CheckCreate("Junk", `\junk`); u != mailstore.SpecialJunk || err != nil {
		t.Errorf("CREATE Junk (USE (\\junk)): %q, %v", u, err)
	}
}
