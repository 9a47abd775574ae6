package storetest

import (
	"slices"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// testSearchSystemFlags checks the optional mailstore.SystemFlagSearcher
// against the same conditions evaluated over Metas, after flag changes:
// every combination of one or two flags set or clear, contradictions,
// nothing asked (every message); keywords are KindInvalid, an unknown
// mailbox KindNotFound. A backend without the interface passes by not
// having it.
func testSearchSystemFlags(t *testing.T, s *suite) {
	acc := s.account("alice")
	fs, ok := acc.(mailstore.SystemFlagSearcher)
	if !ok {
		t.Log("backend does not implement mailstore.SystemFlagSearcher (optional)")
		return
	}
	mb := s.mailbox(acc, "INBOX")
	if got, err := fs.SearchSystemFlags(s.ctx, mb.ID, nil, []string{mailstore.FlagSeen}); err != nil || len(got) != 0 {
		t.Fatalf("empty mailbox: %v %v", got, err)
	}
	sys := []string{mailstore.FlagSeen, mailstore.FlagAnswered, mailstore.FlagFlagged, mailstore.FlagDeleted, mailstore.FlagDraft}
	var all []mailstore.UID
	for i := range 40 {
		var fl []string
		for b, f := range sys {
			if i>>b&1 == 1 {
				fl = append(fl, f)
			}
		}
		if i%3 == 0 {
			fl = append(fl, "$Work")
		}
		all = append(all, s.append(acc, "INBOX", msg(i), fl...))
	}
	// Changes after the append: the answer is the current state.
	s.storeFlags(acc, mb.ID, all[:8], mailstore.FlagsAdd, mailstore.FlagSeen)
	s.storeFlags(acc, mb.ID, all[30:], mailstore.FlagsRemove, mailstore.FlagDeleted, mailstore.FlagDraft)
	metas := s.messages(acc, mb.ID)
	want := func(set, clear []string) []mailstore.UID {
		var out []mailstore.UID
		for _, m := range metas {
			ok := true
			for _, f := range set {
				ok = ok && slices.Contains(m.Flags, f)
			}
			for _, f := range clear {
				ok = ok && !slices.Contains(m.Flags, f)
			}
			if ok {
				out = append(out, m.UID)
			}
		}
		return out
	}
	check := func(set, clear []string) {
		t.Helper()
		got, err := fs.SearchSystemFlags(s.ctx, mb.ID, set, clear)
		if err != nil {
			t.Fatalf("set %v clear %v: %v", set, clear, err)
		}
		if w := want(set, clear); !slices.Equal(got, w) {
			t.Errorf("set %v clear %v: %v, want %v", set, clear, got, w)
		}
	}
	check(nil, nil)
	for _, a := range sys {
		check([]string{a}, nil)
		check(nil, []string{a})
		for _, b := range sys {
			check([]string{a}, []string{b}) // a == b: nothing
			check([]string{a, b}, nil)
			check(nil, []string{a, b})
		}
	}
	if got := want([]string{mailstore.FlagSeen}, nil); len(got) == 0 || len(got) == len(all) {
		t.Fatalf("corpus does not separate \\Seen: %v", got)
	}
	_, err := fs.SearchSystemFlags(s.ctx, mb.ID, []string{"$Work"}, nil)
	wantKind(t, err, mailstore.KindInvalid, "keyword")
	_, err = fs.SearchSystemFlags(s.ctx, 1<<40, nil, []string{mailstore.FlagSeen})
	wantKind(t, err, mailstore.KindNotFound, "unknown mailbox")
}
