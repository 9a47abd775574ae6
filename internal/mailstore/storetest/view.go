package storetest

import (
	"reflect"
	"slices"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// testView checks Account.View: UID runs, counters, first unseen UID and
// keywords in use, against Messages.
func testView(t *testing.T, s *suite) {
	acc := s.account("alice")
	mb := s.mailbox(acc, "INBOX")
	v, err := acc.View(s.ctx, mb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Messages != 0 || v.UIDs != nil || v.FirstUnseen != 0 || v.Keywords != nil || v.UIDNext != 1 {
		t.Errorf("empty mailbox view = %+v", v)
	}
	for i := range 8 {
		var flags []string
		switch {
		case i < 2:
			flags = []string{mailstore.FlagSeen}
		case i == 5:
			flags = []string{"$Work", mailstore.FlagSeen}
		case i == 6:
			flags = []string{"$Junk"}
		}
		s.append(acc, "INBOX", msg(i), flags...)
	}
	check := func(what string, runs []mailstore.UIDRange, firstUnseen mailstore.UID, kws []string) {
		t.Helper()
		v, err := acc.View(s.ctx, mb.ID)
		if err != nil {
			t.Fatal(err)
		}
		ms := s.messages(acc, mb.ID)
		var want []mailstore.UID
		for _, r := range v.UIDs {
			for u := r.First; u <= r.Last; u++ {
				want = append(want, u)
			}
		}
		if !slices.Equal(want, uids(ms)) || int(v.Messages) != len(ms) {
			t.Errorf("%s: runs %v (%d messages), messages %v", what, v.UIDs, v.Messages, uids(ms))
		}
		if !reflect.DeepEqual(v.UIDs, runs) || v.FirstUnseen != firstUnseen || !slices.Equal(v.Keywords, kws) {
			t.Errorf("%s: view = %+v, want runs %v, first unseen %d, keywords %v", what, v, runs, firstUnseen, kws)
		}
		c := s.changes(acc, mb.ID, 0)
		if v.HighestModSeq != c.HighestModSeq || v.UIDNext != c.UIDNext {
			t.Errorf("%s: view modseq %d uidnext %d, Changes %d %d", what, v.HighestModSeq, v.UIDNext, c.HighestModSeq, c.UIDNext)
		}
	}
	check("dense", []mailstore.UIDRange{{First: 1, Last: 8}}, 3, []string{"$Junk", "$Work"})
	if _, err := acc.Expunge(s.ctx, mb.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{1, 4, 5, 7}}); err != nil {
		t.Fatal(err)
	}
	check("gaps", []mailstore.UIDRange{{First: 2, Last: 3}, {First: 6, Last: 6}, {First: 8, Last: 8}}, 3, []string{"$Work"})
	s.storeFlags(acc, mb.ID, []mailstore.UID{3, 8}, mailstore.FlagsAdd, mailstore.FlagSeen)
	s.storeFlags(acc, mb.ID, []mailstore.UID{6}, mailstore.FlagsRemove, "$Work")
	check("all seen", []mailstore.UIDRange{{First: 2, Last: 3}, {First: 6, Last: 6}, {First: 8, Last: 8}}, 0, nil)
	s.storeFlags(acc, mb.ID, []mailstore.UID{8}, mailstore.FlagsRemove, mailstore.FlagSeen)
	check("last unseen", []mailstore.UIDRange{{First: 2, Last: 3}, {First: 6, Last: 6}, {First: 8, Last: 8}}, 8, nil)

	if _, err := acc.View(s.ctx, 987654); mailstore.KindOf(err) != mailstore.KindNotFound {
		t.Errorf("View of a missing mailbox: %v, want KindNotFound", err)
	}
}

// testMetas checks Account.Metas against Messages, for dense and sparse
// UID lists and UIDs that name no message.
func testMetas(t *testing.T, s *suite) {
	acc := s.account("alice")
	mb := s.mailbox(acc, "INBOX")
	for i := range 10 {
		s.append(acc, "INBOX", msg(i))
	}
	s.storeFlags(acc, mb.ID, []mailstore.UID{4}, mailstore.FlagsAdd, mailstore.FlagFlagged, "$Work")
	if _, err := acc.Expunge(s.ctx, mb.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{5}}); err != nil {
		t.Fatal(err)
	}
	all := s.messages(acc, mb.ID)
	byUID := map[mailstore.UID]mailstore.MessageMeta{}
	for _, m := range all {
		byUID[m.UID] = m
	}
	for _, ask := range [][]mailstore.UID{
		{3, 4, 5, 6},  // dense, one expunged
		{1, 9},        // sparse
		{2, 4, 6, 8},  // every other
		{10, 11, 500}, // beyond the last
		{1, 2, 3, 4, 6, 7, 8, 9, 10},
	} {
		got, err := acc.Metas(s.ctx, mb.ID, ask)
		if err != nil {
			t.Fatal(err)
		}
		var want []mailstore.MessageMeta
		for _, u := range ask {
			if m, ok := byUID[u]; ok {
				want = append(want, m)
			}
		}
		if len(got) != len(want) {
			t.Errorf("Metas(%v) = %v, want %v", ask, uidsOf(got), uidsOf(want))
			continue
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.UID != w.UID || g.ModSeq != w.ModSeq || !slices.Equal(g.Flags, w.Flags) || g.Size != w.Size || !g.InternalDate.Equal(w.InternalDate) {
				t.Errorf("Metas(%v)[%d] = %+v, want %+v", ask, i, g, w)
			}
		}
	}
	if got, err := acc.Metas(s.ctx, mb.ID, nil); err != nil || got != nil {
		t.Errorf("Metas(nil) = %v, %v", got, err)
	}

	// ScanFlags: the same UIDs, MODSEQs and flags, in order.
	var scanned []mailstore.MessageMeta
	err := acc.ScanFlags(s.ctx, mb.ID, func(uid mailstore.UID, ms mailstore.ModSeq, flags []string) error {
		scanned = append(scanned, mailstore.MessageMeta{UID: uid, ModSeq: ms, Flags: slices.Clone(flags)})
		return nil
	})
	if err != nil || len(scanned) != len(all) {
		t.Fatalf("ScanFlags: %d messages, %v; want %d", len(scanned), err, len(all))
	}
	for i := range all {
		if scanned[i].UID != all[i].UID || scanned[i].ModSeq != all[i].ModSeq || !slices.Equal(scanned[i].Flags, all[i].Flags) {
			t.Errorf("ScanFlags[%d] = %+v, want %+v", i, scanned[i], all[i])
		}
	}
}

func uidsOf(ms []mailstore.MessageMeta) []mailstore.UID { return uids(ms) }
