package imapserver

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// fakeMailbox is a model of one mailbox in the store: messages with flags
// and MODSEQs, and tombstones. changes answers like Account.Changes.
type fakeMailbox struct {
	modSeq  mailstore.ModSeq
	uidNext mailstore.UID
	msgs    []mailstore.MessageMeta
	tombs   map[mailstore.UID]mailstore.ModSeq
}

func newFakeMailbox() *fakeMailbox {
	return &fakeMailbox{uidNext: 1, tombs: map[mailstore.UID]mailstore.ModSeq{}}
}

func (f *fakeMailbox) append(flags ...string) mailstore.UID {
	f.modSeq++
	u := f.uidNext
	f.uidNext++
	slices.Sort(flags)
	f.msgs = append(f.msgs, mailstore.MessageMeta{UID: u, ModSeq: f.modSeq, Flags: flags,
		InternalDate: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("", 3600)), Size: int64(100 + u)})
	return u
}

func (f *fakeMailbox) setFlags(u mailstore.UID, flags ...string) *mailstore.MessageMeta {
	for i := range f.msgs {
		if f.msgs[i].UID == u {
			f.modSeq++
			slices.Sort(flags)
			f.msgs[i].Flags = flags
			f.msgs[i].ModSeq = f.modSeq
			m := f.msgs[i]
			return &m
		}
	}
	return nil
}

func (f *fakeMailbox) expunge(uids ...mailstore.UID) {
	f.modSeq++
	for _, u := range uids {
		f.msgs = slices.DeleteFunc(f.msgs, func(m mailstore.MessageMeta) bool {
			if m.UID == u {
				f.tombs[u] = f.modSeq
				return true
			}
			return false
		})
	}
}

func (f *fakeMailbox) changes(since mailstore.ModSeq) mailstore.Changes {
	c := mailstore.Changes{HighestModSeq: f.modSeq, UIDNext: f.uidNext}
	for _, m := range f.msgs {
		if m.ModSeq > since {
			m.Flags = slices.Clone(m.Flags)
			c.Updated = append(c.Updated, m)
		}
	}
	for u, ms := range f.tombs {
		if ms > since && since > 0 {
			c.Expunged = append(c.Expunged, u)
		}
	}
	slices.Sort(c.Expunged)
	return c
}

func (f *fakeMailbox) uids() []mailstore.UID {
	var out []mailstore.UID
	for _, m := range f.msgs {
		out = append(out, m.UID)
	}
	return out
}

func (f *fakeMailbox) view(trackRecent bool, recentAbove mailstore.UID) *selected {
	return newSelected(mailstore.Mailbox{ID: 1, Name: "INBOX", UIDValidity: 7}, false, f.changes(0), trackRecent, recentAbove)
}

func (v *selected) uidList() []mailstore.UID {
	if len(v.uids) == 0 {
		return nil
	}
	return slices.Clone(v.uids)
}

// dirtyUIDs takes the unreported flag changes and returns their UIDs.
func (v *selected) dirtyUIDs() []mailstore.UID {
	var out []mailstore.UID
	for _, m := range v.takeDirty() {
		out = append(out, m.UID)
	}
	return out
}

// meta returns the fake store's state of uid.
func (f *fakeMailbox) meta(u mailstore.UID) *mailstore.MessageMeta {
	for i := range f.msgs {
		if f.msgs[i].UID == u {
			m := f.msgs[i]
			return &m
		}
	}
	return nil
}

func rng(a, b uint32) imap.NumRange { return imap.NumRange{Start: a, Stop: b} }

func TestResolve(t *testing.T) {
	f := newFakeMailbox()
	for range 10 {
		f.append()
	}
	f.expunge(2, 3, 7) // UIDs 1 4 5 6 8 9 10 at sequence numbers 1..7
	v := f.view(false, 0)
	if got, want := v.uidList(), []mailstore.UID{1, 4, 5, 6, 8, 9, 10}; !slices.Equal(got, want) {
		t.Fatalf("view = %v, want %v", got, want)
	}
	star := uint32(imap.Star)
	tests := []struct {
		name   string
		ranges []imap.NumRange
		uid    bool
		want   []mailstore.UID
	}{
		{"seq single", []imap.NumRange{rng(2, 2)}, false, []mailstore.UID{4}},
		{"seq range", []imap.NumRange{rng(2, 4)}, false, []mailstore.UID{4, 5, 6}},
		{"seq reversed", []imap.NumRange{rng(4, 2)}, false, []mailstore.UID{4, 5, 6}},
		{"seq star", []imap.NumRange{rng(star, star)}, false, []mailstore.UID{10}},
		{"seq 1:*", []imap.NumRange{rng(1, star)}, false, []mailstore.UID{1, 4, 5, 6, 8, 9, 10}},
		{"seq *:6", []imap.NumRange{rng(star, 6)}, false, []mailstore.UID{9, 10}},
		{"seq out of range", []imap.NumRange{rng(8, 9)}, false, nil},
		{"seq partly out of range", []imap.NumRange{rng(6, 20)}, false, []mailstore.UID{9, 10}},
		{"seq overlapping, unordered", []imap.NumRange{rng(5, 6), rng(1, 1), rng(2, 5), rng(6, 6)}, false, []mailstore.UID{1, 4, 5, 6, 8, 9}},
		{"uid single present", []imap.NumRange{rng(4, 4)}, true, []mailstore.UID{4}},
		{"uid single absent", []imap.NumRange{rng(2, 2)}, true, nil},
		{"uid range with holes", []imap.NumRange{rng(2, 7)}, true, []mailstore.UID{4, 5, 6}},
		{"uid reversed", []imap.NumRange{rng(7, 2)}, true, []mailstore.UID{4, 5, 6}},
		{"uid star", []imap.NumRange{rng(star, star)}, true, []mailstore.UID{10}},
		{"uid 9:*", []imap.NumRange{rng(9, star)}, true, []mailstore.UID{9, 10}},
		{"uid n:* above last", []imap.NumRange{rng(559, star)}, true, []mailstore.UID{10}},
		{"uid beyond", []imap.NumRange{rng(11, 20)}, true, nil},
		{"uid overlapping", []imap.NumRange{rng(8, 10), rng(1, 4), rng(4, 9)}, true, []mailstore.UID{1, 4, 5, 6, 8, 9, 10}},
	}
	for _, tt := range tests {
		got := v.resolve(imap.NumSet{Ranges: tt.ranges}, tt.uid)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: resolve(%v, uid=%v) = %v, want %v", tt.name, tt.ranges, tt.uid, got, tt.want)
		}
	}

	if !v.seqSetValid(imap.NumSet{Ranges: []imap.NumRange{rng(1, star), rng(7, 7)}}) {
		t.Error("seqSetValid(1:*,7) = false")
	}
	if v.seqSetValid(imap.NumSet{Ranges: []imap.NumRange{rng(1, 8)}}) {
		t.Error("seqSetValid(1:8) on 7 messages = true")
	}

	// The saved search result drops messages that are gone.
	v.searchRes = []mailstore.UID{3, 5, 9}
	if got := v.resolve(imap.NumSet{SearchRes: true}, false); !slices.Equal(got, []mailstore.UID{5, 9}) {
		t.Errorf("resolve($) = %v, want [5 9]", got)
	}

	// Lookups.
	if u := v.uidAt(3); u != 5 {
		t.Errorf("uidAt(3) = %d, want 5", u)
	}
	if u := v.uidAt(8); u != 0 {
		t.Errorf("uidAt(8) = %d, want 0", u)
	}
	if s, ok := v.seqOf(8); !ok || s != 5 {
		t.Errorf("seqOf(8) = %d, %v; want 5, true", s, ok)
	}
	if _, ok := v.seqOf(7); ok {
		t.Error("seqOf(7) found an expunged message")
	}
}

func TestResolveEmpty(t *testing.T) {
	v := newFakeMailbox().view(false, 0)
	star := uint32(imap.Star)
	for _, uid := range []bool{false, true} {
		for _, r := range []imap.NumRange{rng(1, star), rng(star, star), rng(1, 1)} {
			if got := v.resolve(imap.NumSet{Ranges: []imap.NumRange{r}}, uid); got != nil {
				t.Errorf("empty mailbox: resolve(%v, uid=%v) = %v, want nothing", r, uid, got)
			}
		}
	}
	if v.seqSetValid(imap.NumSet{Ranges: []imap.NumRange{rng(star, star)}}) {
		t.Error(`seqSetValid("*") in an empty mailbox = true`)
	}
	if v.count() != 0 || v.uidAt(1) != 0 || v.lastUID() != 0 {
		t.Error("empty view is not empty")
	}
}

func TestApplyChanges(t *testing.T) {
	f := newFakeMailbox()
	for range 5 {
		f.append()
	}
	v := f.view(false, 0)

	// Another session: flag change on 2, expunge of 3, a new message 6.
	f.setFlags(2, mailstore.FlagSeen)
	f.expunge(3)
	f.append(`$Forwarded`)
	v.apply(f.changes(v.modSeq), 0)

	// Without allowExpunge: the expunged message keeps its place.
	if got := v.uidList(); !slices.Equal(got, []mailstore.UID{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("view after apply = %v", got)
	}
	if !v.isExpunged(3) || v.isExpunged(2) {
		t.Error("isExpunged wrong")
	}
	if !v.keywordsNew {
		t.Error("a new keyword did not set keywordsNew")
	}
	if got := v.dirtyUIDs(); !slices.Equal(got, []mailstore.UID{2}) {
		t.Errorf("takeDirty = %v, want [2]", got)
	}
	if n, _, changed := v.takeExists(); n != 6 || !changed {
		t.Errorf("takeExists = %d, %v; want 6, true", n, changed)
	}
	if fl := v.flagList(); !slices.Contains(fl, "$Forwarded") || v.keywordsNew {
		t.Errorf("flagList = %v (keywordsNew %v)", fl, v.keywordsNew)
	}

	// A flag change on the expunged message is never reported; a second
	// expunge joins the pending one.
	f.expunge(5)
	v.apply(f.changes(v.modSeq), 0)
	if got := v.dirtyUIDs(); got != nil {
		t.Errorf("takeDirty = %v, want none", got)
	}
	if got := v.takeExpunges(); !slices.Equal(got, []mailstore.SeqNum{5, 3}) {
		t.Errorf("takeExpunges = %v, want [5 3]", got)
	}
	if got := v.uidList(); !slices.Equal(got, []mailstore.UID{1, 2, 4, 6}) {
		t.Errorf("view after expunges = %v", got)
	}
	if n, _, changed := v.takeExists(); n != 4 || changed {
		t.Errorf("takeExists after expunges = %d, %v; want 4, false", n, changed)
	}

	// Our own STORE, noted: the same state coming back from the store is
	// not reported again.
	m := f.setFlags(4, mailstore.FlagFlagged)
	v.noteFlags(m)
	v.apply(f.changes(v.modSeq), 0)
	if got := v.dirtyUIDs(); got != nil {
		t.Errorf("own change reported again: %v", got)
	}
	// A later change by another session is.
	f.setFlags(4, mailstore.FlagFlagged, mailstore.FlagSeen)
	v.apply(f.changes(v.modSeq), 0)
	if got := v.takeDirty(); len(got) != 1 || got[0].UID != 4 || !slices.Equal(got[0].Flags, []string{mailstore.FlagFlagged, mailstore.FlagSeen}) {
		t.Errorf("takeDirty = %v, want 4 with \\Flagged \\Seen", got)
	}
}

func TestApplyRecent(t *testing.T) {
	f := newFakeMailbox()
	f.append()
	f.append()
	v := f.view(true, 1) // message 2 is recent to us
	if v.nRecent != 1 {
		t.Fatalf("nRecent = %d, want 1", v.nRecent)
	}
	if fl := v.flagsOf(f.meta(2)); !slices.Contains(fl, flagRecent) {
		t.Errorf("flags of 2 = %v, want \\Recent", fl)
	}
	if fl := v.flagsOf(f.meta(1)); slices.Contains(fl, flagRecent) {
		t.Errorf("flags of 1 = %v, want no \\Recent", fl)
	}
	f.append()
	f.append()
	v.apply(f.changes(v.modSeq), 3) // another session took 3
	if n, r, changed := v.takeExists(); n != 4 || r != 2 || !changed {
		t.Errorf("takeExists = %d, %d, %v; want 4, 2, true", n, r, changed)
	}

	var rt recentTracker
	if p := rt.claim("u", 1, 5, false); p != 0 {
		t.Errorf("first claim = %d", p)
	}
	if p := rt.claim("u", 1, 5, true); p != 0 {
		t.Errorf("claim after EXAMINE-style peek = %d, want 0", p)
	}
	if p := rt.claim("u", 1, 7, true); p != 5 {
		t.Errorf("second claim = %d, want 5", p)
	}
	if p := rt.claim("u", 2, 7, true); p != 0 {
		t.Errorf("other mailbox claim = %d, want 0", p)
	}
}

// FuzzApply runs random sequences of changes by "another session" and
// syncs against a simple model: a client that applies the reported EXISTS,
// EXPUNGE and FETCH responses must end up with the store's state, and
// sequence numbers never shift while expunges are withheld.
func FuzzApply(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	f.Add(uint64(42), uint64(7))
	f.Fuzz(func(t *testing.T, s1, s2 uint64) {
		r := rand.New(rand.NewPCG(s1, s2))
		mb := newFakeMailbox()
		for range r.IntN(5) {
			mb.append()
		}
		v := mb.view(false, 0)
		// The flag cache (flagcache.go), filled as useFlagCache would.
		v.fc = &flagCache{set: map[string]uint16{}}
		for _, m := range mb.msgs {
			v.fc.idx = append(v.fc.idx, v.fc.intern(m.Flags))
		}
		client := v.uidList() // what the client knows, by position
		clientFlags := map[mailstore.UID][]string{}
		for _, u := range client {
			clientFlags[u] = mb.meta(u).Flags
		}
		flagChoices := [][]string{nil, {mailstore.FlagSeen}, {mailstore.FlagDeleted}, {"$Junk"}}
		for range 40 {
			switch op := r.IntN(5); op {
			case 0:
				mb.append(flagChoices[r.IntN(len(flagChoices))]...)
			case 1:
				if u := mb.uids(); len(u) > 0 {
					mb.setFlags(u[r.IntN(len(u))], flagChoices[r.IntN(len(flagChoices))]...)
				}
			case 2:
				if u := mb.uids(); len(u) > 0 {
					mb.expunge(u[r.IntN(len(u))])
				}
			default:
				allow := op == 4
				before := slices.Clone(client)
				v.apply(mb.changes(v.modSeq), 0)
				var exp []mailstore.SeqNum
				if allow {
					exp = v.takeExpunges()
				}
				for _, s := range exp {
					if int(s) > len(client) || s == 0 {
						t.Fatalf("EXPUNGE %d with %d messages", s, len(client))
					}
					client = slices.Delete(client, int(s)-1, int(s))
				}
				for _, m := range v.takeDirty() {
					u := m.UID
					seq, ok := v.seqOf(u)
					if !ok || client[seq-1] != u {
						t.Fatalf("FETCH for uid %d at seq %d, client has %v", u, seq, client)
					}
					clientFlags[u] = m.Flags
				}
				if n, _, changed := v.takeExists(); changed {
					if int(n) < len(client) {
						t.Fatalf("EXISTS %d shrinks the view (%d)", n, len(client))
					}
					for _, u := range v.uidList()[len(client):n] {
						client = append(client, u)
						// The client fetches the new message's flags.
						if m := mb.meta(u); m != nil {
							clientFlags[u] = m.Flags
						}
					}
				}
				if !allow && !slices.Equal(client[:len(before)], before) {
					t.Fatalf("sequence numbers shifted without EXPUNGE: %v -> %v", before, client)
				}
				if !slices.Equal(client, v.uidList()) {
					t.Fatalf("client %v, view %v", client, v.uidList())
				}
				if allow {
					if !slices.Equal(client, mb.uids()) {
						t.Fatalf("after full sync client %v, store %v", client, mb.uids())
					}
					if len(v.fc.idx) != len(v.uids) {
						t.Fatalf("flag cache has %d entries, view %d", len(v.fc.idx), len(v.uids))
					}
					for i, m := range mb.msgs {
						if fl, ok := v.cachedFlags(i); ok && !slices.Equal(fl, m.Flags) && !(len(fl) == 0 && len(m.Flags) == 0) {
							t.Fatalf("uid %d: cached flags %v, store %v", m.UID, fl, m.Flags)
						}
					}
					for _, m := range mb.msgs {
						if !slices.Equal(clientFlags[m.UID], m.Flags) && !(len(m.Flags) == 0 && len(clientFlags[m.UID]) == 0) {
							t.Fatalf("uid %d: client flags %v, store %v", m.UID, clientFlags[m.UID], m.Flags)
						}
					}
				}
			}
		}
	})
}

func TestCompactSetAndRemoveNow(t *testing.T) {
	for _, tt := range []struct {
		in   []uint32
		want string
	}{
		{[]uint32{1}, "1"},
		{[]uint32{1, 2, 3, 5}, "1:3,5"},
		{[]uint32{4, 7, 8, 9, 11, 12}, "4,7:9,11:12"},
	} {
		if got := compactSet(tt.in); got != tt.want {
			t.Errorf("compactSet(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}

	f := newFakeMailbox()
	for range 5 {
		f.append()
	}
	v := f.view(false, 0)
	f.expunge(1) // by another session: stays pending
	v.apply(f.changes(v.modSeq), 0)
	if got := v.removeNow([]mailstore.UID{4, 2}); !slices.Equal(got, []mailstore.SeqNum{4, 2}) {
		t.Errorf("removeNow = %v, want [4 2]", got)
	}
	if got := v.uidList(); !slices.Equal(got, []mailstore.UID{1, 3, 5}) || !v.isExpunged(1) {
		t.Errorf("view after removeNow = %v (1 expunged: %v)", got, v.isExpunged(1))
	}
	if got := v.takeExpunges(); !slices.Equal(got, []mailstore.SeqNum{1}) {
		t.Errorf("takeExpunges = %v, want [1]", got)
	}
}
