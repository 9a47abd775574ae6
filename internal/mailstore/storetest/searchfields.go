package storetest

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// searchFieldsCorpus exercises what SearchFieldsOf decodes: RFC 2047
// words (Q and B, adjacent words, unknown charset), folding, repeated
// To/Cc fields, missing and empty fields, raw UTF-8, field names in any
// case, a header without a body and one without a blank line.
var searchFieldsCorpus = []string{
	"From: =?UTF-8?Q?J=C3=BCrgen?= <juergen@example.de>\r\nTo: a@example.org\r\nto: B <b@example.org>\r\n" +
		"CC: c@example.org,\r\n d@example.org\r\nSubject: =?UTF-8?B?w5xiZXIgU3RyYcOfZQ==?= =?ISO-8859-1?Q?caf=E9?=\r\n\r\nbody\r\n",
	"Subject: plain\r\n\tfolded twice\r\n  and again\r\nBcc: hidden@example.com\r\nX-Other: Subject: no\r\n\r\n" +
		"From: not-a-header@example.org\r\n",
	"From: nobody@example.org\r\nSubject:\r\n\r\n", // empty Subject, no To
	"Subject: Grüße aus KÖLN\r\nFrom: \"Ünal\" <u@example.org>\r\nTo: x@example.org\r\n\r\nx\r\n",
	"Subject: =?x-unknown?Q?kept?= as is\r\ncc: one@example.org\r\nCc: two@example.org\r\n\r\n",
	"From: no-blank-line@example.org\r\nSubject: header only",
}

// testSearchFields checks the optional mailstore.HeaderSearcher: for each
// message, appended or imported, the fields it gives equal
// mailstore.SearchFieldsOf of the message's header read back through
// Open; UIDs not asked for, expunged or in another mailbox are skipped;
// a copy has the fields of its original; an unknown mailbox is
// KindNotFound; an error from fn stops the read and comes back as it is.
// A backend without the interface passes by not having it.
func testSearchFields(t *testing.T, s *suite) {
	acc := s.account("alice")
	hs, ok := acc.(mailstore.HeaderSearcher)
	if !ok {
		t.Log("backend does not implement mailstore.HeaderSearcher (optional)")
		return
	}
	inbox := s.mailbox(acc, "INBOX")
	var all []mailstore.UID
	for _, m := range searchFieldsCorpus {
		all = append(all, s.append(acc, "INBOX", m))
	}
	if imp, ok := acc.(mailstore.ImportLedger); ok {
		var items []mailstore.ImportItem
		for i, m := range searchFieldsCorpus {
			items = append(items, mailstore.ImportItem{Src: mailstore.ImportSource{Key: fmt.Sprintf("test:%d", i)},
				Open: func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(m)), nil }})
		}
		res, err := imp.ImportMessages(s.ctx, "INBOX", items)
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		for i, r := range res {
			if r.Err != nil {
				t.Fatalf("import %d: %v", i, r.Err)
			}
			all = append(all, r.UID)
		}
	}
	// want returns SearchFieldsOf the header of uid, as read from the
	// message itself, as strings.
	want := func(mbox mailstore.MailboxID, uid mailstore.UID) [mailstore.NumSearchFields][]string {
		t.Helper()
		cs, err := acc.Cache(s.ctx, mbox, []mailstore.UID{uid})
		if err != nil || len(cs) != 1 {
			t.Fatalf("cache of %d: %v %v", uid, cs, err)
		}
		b, err := acc.Open(s.ctx, mbox, uid)
		if err != nil {
			t.Fatalf("open %d: %v", uid, err)
		}
		defer b.Close()
		hdr := make([]byte, min(cs[0].HeaderSize, b.Size()))
		if _, err := b.ReadAt(hdr, 0); err != nil && err != io.EOF {
			t.Fatalf("read %d: %v", uid, err)
		}
		sf := mailstore.SearchFieldsOf(hdr)
		return fieldStrings(&sf)
	}
	read := func(mbox mailstore.MailboxID, uids []mailstore.UID) map[mailstore.UID][mailstore.NumSearchFields][]string {
		t.Helper()
		got := map[mailstore.UID][mailstore.NumSearchFields][]string{}
		var order []mailstore.UID
		err := hs.SearchFields(s.ctx, mbox, uids, func(uid mailstore.UID, f *mailstore.SearchFields) error {
			order = append(order, uid)
			if f == nil {
				t.Errorf("uid %d: no fields kept for a %d-message corpus of small headers", uid, len(searchFieldsCorpus))
				return nil
			}
			got[uid] = fieldStrings(f)
			return nil
		})
		if err != nil {
			t.Fatalf("SearchFields(%v): %v", uids, err)
		}
		if !slices.IsSorted(order) || len(slices.Compact(slices.Clone(order))) != len(order) {
			t.Errorf("SearchFields(%v) called fn for %v: not once each, ascending", uids, order)
		}
		return got
	}
	got := read(inbox.ID, all)
	if len(got) != len(all) {
		t.Fatalf("SearchFields gave %d messages, want %d", len(got), len(all))
	}
	for i, u := range all {
		if w, g := want(inbox.ID, u), got[u]; !sameFields(g, w) {
			t.Errorf("message %d (uid %d, corpus %d): fields %q, want %q", i, u, i%len(searchFieldsCorpus), got[u], w)
		}
	}
	// Spot checks that SearchFieldsOf itself decodes (the comparison above
	// would pass with any function applied on both sides).
	if s := got[all[0]][mailstore.SearchSubject]; !slices.Equal(s, []string{" über straßecafé"}) {
		t.Errorf("encoded Subject kept as %q", s)
	}
	if s := got[all[0]][mailstore.SearchTo]; len(s) != 2 {
		t.Errorf("two To fields kept as %q", s)
	}

	// A sparse request: only the UIDs asked for, in order; unknown UIDs
	// are skipped.
	sparse := []mailstore.UID{all[1], all[3], all[len(all)-1] + 100}
	if got := read(inbox.ID, sparse); len(got) != 2 || got[all[1]][mailstore.SearchSubject] == nil || got[all[3]][mailstore.SearchSubject] == nil {
		t.Errorf("sparse read gave %v", got)
	}
	// Expunged: skipped.
	if _, err := acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{all[2]}}); err != nil {
		t.Fatal(err)
	}
	if got := read(inbox.ID, all[:4]); len(got) != 3 || slices.Contains(slices.Collect(maps.Keys(got)), all[2]) {
		t.Errorf("after expunge of %d: %v", all[2], got)
	}
	// A copy shares the original's fields; the source UIDs mean nothing
	// in the other mailbox.
	other := s.create(acc, "Other")
	cr, err := acc.Copy(s.ctx, inbox.ID, []mailstore.UID{all[0], all[3]}, "Other")
	if err != nil {
		t.Fatal(err)
	}
	gotCopy := read(other.ID, cr.Dest)
	for i, u := range cr.Dest {
		if w := want(other.ID, u); !sameFields(gotCopy[u], w) {
			t.Errorf("copy %d: %q, want %q", u, gotCopy[u], w)
		}
		if !sameFields(gotCopy[u], got[cr.Source[i]]) {
			t.Errorf("copy %d differs from its original %d", u, cr.Source[i])
		}
	}
	// Errors.
	err = hs.SearchFields(s.ctx, 1<<40, all, func(mailstore.UID, *mailstore.SearchFields) error { return nil })
	wantKind(t, err, mailstore.KindNotFound, "SearchFields of an unknown mailbox")
	err = hs.SearchFields(s.ctx, 1<<40, nil, func(mailstore.UID, *mailstore.SearchFields) error { return nil })
	wantKind(t, err, mailstore.KindNotFound, "SearchFields of an unknown mailbox, no UIDs")
	stop := errors.New("stop")
	calls := 0
	err = hs.SearchFields(s.ctx, inbox.ID, all, func(mailstore.UID, *mailstore.SearchFields) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("fn error: got %v after %d calls, want it as it is after 1", err, calls)
	}
}

func fieldStrings(f *mailstore.SearchFields) [mailstore.NumSearchFields][]string {
	var out [mailstore.NumSearchFields][]string
	for i, vs := range f.Values {
		for _, v := range vs {
			out[i] = append(out[i], string(v))
		}
	}
	return out
}

func sameFields(a, b [mailstore.NumSearchFields][]string) bool {
	return slices.EqualFunc(a[:], b[:], slices.Equal)
}
