package storetest

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// headerFieldsCorpus: kept and other fields, folding, names in any case,
// a continuation after a line that is no field, no blank line, no line
// end, and a message whose kept lines exceed mailstore.KeptLinesMax (the
// last one: none kept).
var headerFieldsCorpus = []string{
	"Received: from x\r\n\tby y\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\nFROM: Bob <bob@example.org>\r\nSubject: folded\r\n  twice\r\nX-Spam: no\r\nto: a@example.org\r\nTo: b@example.org\r\n\r\nbody\r\n",
	"not a field\r\n continued\r\nX-TUID: abc\r\nMessage-ID: <m@example.org>\r\n\r\n",
	"Subject: no blank line\r\nCc: c@example.org\r\n",
	"Subject: no line end",
	"X-Only: other fields\r\n\r\nSubject: in the body\r\n",
	"Subject: long\r\nReferences: " + strings.Repeat("<0123456789abcdef@example.org> ", mailstore.KeptLinesMax/30) + "\r\n\r\nx\r\n",
}

// testHeaderFields checks the optional mailstore.HeaderFieldsReader: for
// each message, appended or imported, the kept lines it gives equal
// mailstore.KeptLinesOf of the header read back through Open (nil for
// the message whose kept lines are too long); UIDs not asked for,
// expunged or in another mailbox are skipped; a copy has its original's
// lines; an unknown mailbox is KindNotFound; an error from fn stops the
// read and comes back as it is. A backend without the interface passes by
// not having it.
func testHeaderFields(t *testing.T, s *suite) {
	acc := s.account("alice")
	hfr, ok := acc.(mailstore.HeaderFieldsReader)
	if !ok {
		t.Log("backend does not implement mailstore.HeaderFieldsReader (optional)")
		return
	}
	inbox := s.mailbox(acc, "INBOX")
	var all []mailstore.UID
	for _, m := range headerFieldsCorpus {
		all = append(all, s.append(acc, "INBOX", m))
	}
	if imp, ok := acc.(mailstore.ImportLedger); ok {
		var items []mailstore.ImportItem
		for i, m := range headerFieldsCorpus {
			items = append(items, mailstore.ImportItem{Src: mailstore.ImportSource{Key: fmt.Sprintf("hf:%d", i)},
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
	// want returns KeptLinesOf the header of uid read from the message.
	want := func(mbox mailstore.MailboxID, uid mailstore.UID) []byte {
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
		return mailstore.KeptLinesOf(hdr)
	}
	read := func(mbox mailstore.MailboxID, uids []mailstore.UID) map[mailstore.UID][]byte {
		t.Helper()
		got := map[mailstore.UID][]byte{}
		var order []mailstore.UID
		err := hfr.HeaderFields(s.ctx, mbox, uids, func(uid mailstore.UID, kept []byte) error {
			order = append(order, uid)
			got[uid] = slices.Clone(kept)
			return nil
		})
		if err != nil {
			t.Fatalf("HeaderFields(%v): %v", uids, err)
		}
		if !slices.IsSorted(order) || len(slices.Compact(slices.Clone(order))) != len(order) {
			t.Errorf("HeaderFields(%v) called fn for %v: not once each, ascending", uids, order)
		}
		return got
	}
	got := read(inbox.ID, all)
	if len(got) != len(all) {
		t.Fatalf("HeaderFields gave %d messages, want %d", len(got), len(all))
	}
	for i, u := range all {
		w, g := want(inbox.ID, u), got[u]
		if (w == nil) != (g == nil) || string(g) != string(w) {
			t.Errorf("message %d (uid %d): kept %q, want %q", i, u, g, w)
		}
	}
	// Spot checks of what KeptLinesOf keeps (the comparison above would
	// pass with any function applied on both sides).
	if g := string(got[all[0]]); g != "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nFROM: Bob <bob@example.org>\r\nSubject: folded\r\n  twice\r\nto: a@example.org\r\nTo: b@example.org\r\n\r\n" {
		t.Errorf("first message kept %q", g)
	}
	if g := got[all[len(headerFieldsCorpus)-1]]; g != nil {
		t.Errorf("kept lines over the cap: kept %d octets, want none", len(g))
	}
	if g := string(got[all[4]]); g != "\r\n" {
		t.Errorf("no kept field: %q, want the blank line alone", g)
	}
	// A sparse request; unknown UIDs are skipped.
	sparse := []mailstore.UID{all[1], all[3], all[len(all)-1] + 100}
	if got := read(inbox.ID, sparse); len(got) != 2 || got[all[1]] == nil || got[all[3]] == nil {
		t.Errorf("sparse read gave %v", got)
	}
	// Expunged: skipped.
	if _, err := acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{all[2]}}); err != nil {
		t.Fatal(err)
	}
	if got := read(inbox.ID, all[:4]); len(got) != 3 || got[all[2]] != nil {
		t.Errorf("after expunge of %d: %v", all[2], got)
	}
	// A copy has its original's lines.
	other := s.create(acc, "Other")
	cr, err := acc.Copy(s.ctx, inbox.ID, []mailstore.UID{all[0], all[3]}, "Other")
	if err != nil {
		t.Fatal(err)
	}
	gotCopy := read(other.ID, cr.Dest)
	for i, u := range cr.Dest {
		if string(gotCopy[u]) != string(got[cr.Source[i]]) || string(gotCopy[u]) != string(want(other.ID, u)) {
			t.Errorf("copy %d: %q, original %q", u, gotCopy[u], got[cr.Source[i]])
		}
	}
	// Errors.
	err = hfr.HeaderFields(s.ctx, 1<<40, all, func(mailstore.UID, []byte) error { return nil })
	wantKind(t, err, mailstore.KindNotFound, "HeaderFields of an unknown mailbox")
	err = hfr.HeaderFields(s.ctx, 1<<40, nil, func(mailstore.UID, []byte) error { return nil })
	wantKind(t, err, mailstore.KindNotFound, "HeaderFields of an unknown mailbox, no UIDs")
	stop := errors.New("stop")
	calls := 0
	err = hfr.HeaderFields(s.ctx, inbox.ID, all, func(mailstore.UID, []byte) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Errorf("fn error: got %v after %d calls, want it as it is after 1", err, calls)
	}
}
