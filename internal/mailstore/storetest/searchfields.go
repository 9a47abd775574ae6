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

// testSearchFields checks the optional mailstore.HeaderSearcher with
// testKeptReader: for each message, appended or imported, the fields it
// gives equal mailstore.SearchFieldsOf of the message's header read back
// through Open; UIDs not asked for, expunged or in another mailbox are
// skipped; a copy has the fields of its original; an unknown mailbox is
// KindNotFound; an error from fn stops the read and comes back as it is.
// A backend without the interface passes by not having it.
func testSearchFields(t *testing.T, s *suite) {
	acc := s.account("alice")
	hs, ok := acc.(mailstore.HeaderSearcher)
	if !ok {
		t.Log("backend does not implement mailstore.HeaderSearcher (optional)")
		return
	}
	testKeptReader(t, s, acc, keptReader[[mailstore.NumSearchFields][]string]{
		method:    "SearchFields",
		corpus:    searchFieldsCorpus,
		importKey: "test",
		read: func(mbox mailstore.MailboxID, uids []mailstore.UID, fn func(mailstore.UID, [mailstore.NumSearchFields][]string) error) error {
			return hs.SearchFields(s.ctx, mbox, uids, func(uid mailstore.UID, f *mailstore.SearchFields) error {
				if f == nil {
					t.Errorf("uid %d: no fields kept for a %d-message corpus of small headers", uid, len(searchFieldsCorpus))
					return fn(uid, [mailstore.NumSearchFields][]string{})
				}
				return fn(uid, fieldStrings(f))
			})
		},
		fromHeader: func(hdr []byte) [mailstore.NumSearchFields][]string {
			sf := mailstore.SearchFieldsOf(hdr)
			return fieldStrings(&sf)
		},
		equal:   sameFields,
		present: func(v [mailstore.NumSearchFields][]string) bool { return v[mailstore.SearchSubject] != nil },
		spot: func(got map[mailstore.UID][mailstore.NumSearchFields][]string, all []mailstore.UID) {
			// Spot checks that SearchFieldsOf itself decodes (the
			// comparison with fromHeader would pass with any function
			// applied on both sides).
			if s := got[all[0]][mailstore.SearchSubject]; !slices.Equal(s, []string{" über straßecafé"}) {
				t.Errorf("encoded Subject kept as %q", s)
			}
			if s := got[all[0]][mailstore.SearchTo]; len(s) != 2 {
				t.Errorf("two To fields kept as %q", s)
			}
		},
	})
}

// keptReader describes a reader of kept header data (HeaderSearcher,
// HeaderFieldsReader) for testKeptReader; V is the value it gives per
// message, as plain data that outlives the callback.
type keptReader[V any] struct {
	method    string   // in messages
	corpus    []string // the messages, appended and (if the backend imports) imported
	importKey string   // prefix of the import source keys
	// read calls the method with fn on each value.
	read func(mbox mailstore.MailboxID, uids []mailstore.UID, fn func(mailstore.UID, V) error) error
	// fromHeader is the value of a message's header, made without the
	// store.
	fromHeader func(hdr []byte) V
	equal      func(a, b V) bool
	// present reports whether a value was given for a message of the
	// corpus asked for in the sparse read.
	present func(V) bool
	// spot checks what fromHeader itself gives, got holding the values
	// of all, the appended messages' UIDs then the imported ones'.
	spot func(got map[mailstore.UID]V, all []mailstore.UID)
}

// testKeptReader appends and imports r.corpus, then checks that r.read
// gives each message the value r.fromHeader makes of its header read
// back through Open, calling fn once per UID in ascending order; that
// r.spot holds; that a sparse read gives only the UIDs asked for that
// exist; that an expunged message is skipped; that a copy has the value
// of its original and of its own header; that an unknown mailbox is
// KindNotFound, with or without UIDs; and that fn's error stops the read
// and comes back as it is.
func testKeptReader[V any](t *testing.T, s *suite, acc mailstore.Account, r keptReader[V]) {
	t.Helper()
	inbox := s.mailbox(acc, "INBOX")
	var all []mailstore.UID
	for _, m := range r.corpus {
		all = append(all, s.append(acc, "INBOX", m))
	}
	if imp, ok := acc.(mailstore.ImportLedger); ok {
		var items []mailstore.ImportItem
		for i, m := range r.corpus {
			items = append(items, mailstore.ImportItem{Src: mailstore.ImportSource{Key: fmt.Sprintf("%s:%d", r.importKey, i)},
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
	// want returns fromHeader of the header of uid, as read from the
	// message itself.
	want := func(mbox mailstore.MailboxID, uid mailstore.UID) V {
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
		return r.fromHeader(hdr)
	}
	read := func(mbox mailstore.MailboxID, uids []mailstore.UID) map[mailstore.UID]V {
		t.Helper()
		got := map[mailstore.UID]V{}
		var order []mailstore.UID
		err := r.read(mbox, uids, func(uid mailstore.UID, v V) error {
			order = append(order, uid)
			got[uid] = v
			return nil
		})
		if err != nil {
			t.Fatalf("%s(%v): %v", r.method, uids, err)
		}
		if !slices.IsSorted(order) || len(slices.Compact(slices.Clone(order))) != len(order) {
			t.Errorf("%s(%v) called fn for %v: not once each, ascending", r.method, uids, order)
		}
		return got
	}
	got := read(inbox.ID, all)
	if len(got) != len(all) {
		t.Fatalf("%s gave %d messages, want %d", r.method, len(got), len(all))
	}
	for i, u := range all {
		if w, g := want(inbox.ID, u), got[u]; !r.equal(g, w) {
			t.Errorf("message %d (uid %d, corpus %d): %q, want %q", i, u, i%len(r.corpus), any(g), any(w))
		}
	}
	r.spot(got, all)

	// A sparse request: only the UIDs asked for, in order; unknown UIDs
	// are skipped.
	sparse := []mailstore.UID{all[1], all[3], all[len(all)-1] + 100}
	if got := read(inbox.ID, sparse); len(got) != 2 || !r.present(got[all[1]]) || !r.present(got[all[3]]) {
		t.Errorf("sparse read gave %v", got)
	}
	// Expunged: skipped.
	if _, err := acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{all[2]}}); err != nil {
		t.Fatal(err)
	}
	if got := read(inbox.ID, all[:4]); len(got) != 3 || slices.Contains(slices.Collect(maps.Keys(got)), all[2]) {
		t.Errorf("after expunge of %d: %v", all[2], got)
	}
	// A copy has its original's value; the source UIDs mean nothing in
	// the other mailbox.
	other := s.create(acc, "Other")
	cr, err := acc.Copy(s.ctx, inbox.ID, []mailstore.UID{all[0], all[3]}, "Other")
	if err != nil {
		t.Fatal(err)
	}
	gotCopy := read(other.ID, cr.Dest)
	for i, u := range cr.Dest {
		if w := want(other.ID, u); !r.equal(gotCopy[u], w) {
			t.Errorf("copy %d: %q, want %q", u, any(gotCopy[u]), any(w))
		}
		if !r.equal(gotCopy[u], got[cr.Source[i]]) {
			t.Errorf("copy %d: %q, original %d: %q", u, any(gotCopy[u]), cr.Source[i], any(got[cr.Source[i]]))
		}
	}
	// Errors.
	err = r.read(1<<40, all, func(mailstore.UID, V) error { return nil })
	wantKind(t, err, mailstore.KindNotFound, r.method+" of an unknown mailbox")
	err = r.read(1<<40, nil, func(mailstore.UID, V) error { return nil })
	wantKind(t, err, mailstore.KindNotFound, r.method+" of an unknown mailbox, no UIDs")
	stop := errors.New("stop")
	calls := 0
	err = r.read(inbox.ID, all, func(mailstore.UID, V) error { calls++; return stop })
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
