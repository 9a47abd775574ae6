package imapserver

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/bench/mailgen"
	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// headerCorpus is delivered to alice's INBOX in this order (UIDs 1..6):
// header fields as the SUBJECT, FROM, TO, CC and BCC keys meet them.
var headerCorpus = []string{
	// 1: RFC 2047 Q and B words; two adjacent words (the space between
	// them dropped, the "_" inside one kept as a space); ISO-8859-1.
	"From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <jm@example.de>\r\nTo: =?ISO-8859-1?Q?Ren=E9?= <rene@example.fr>\r\n" +
		"Subject: =?UTF-8?B?R3LDvMOfZQ==?= =?UTF-8?Q?_aus_K=C3=B6ln?=\r\n\r\nbody\r\n",
	// 2: a folded Subject, two To fields, two Cc fields in other case.
	"Subject: a very long\r\n subject line\r\nTo: one@example.org\r\nTo: two@example.org\r\n" +
		"Cc: c1@example.org\r\ncc: C2 <c2@example.org>\r\n\r\nbody\r\n",
	// 3: no Subject, To, Cc or Bcc.
	"From: x@example.org\r\n\r\nSubject: in the body\r\n",
	// 4: raw UTF-8 (RFC 6532) in upper case, Bcc.
	"Subject: ÜBER Straße\r\nFrom: Zoë <zoe@example.org>\r\nBcc: secret@example.com\r\n\r\nbody\r\n",
	// 5: empty Subject and To.
	"Subject:\r\nTo: \r\nFrom: empty@example.org\r\n\r\nbody\r\n",
	// 6: an encoded word in an unknown charset stays as it is.
	"Subject: =?x-unknown?Q?raw?= word\r\nFrom: u@example.org\r\n\r\nbody\r\n",
}

// TestSearchHeaderFields: the header keys on decoded, unfolded,
// case-insensitive text, each field occurrence on its own, "" matching a
// present field (RFC 9051 6.4.4). The store answers them from the fields
// it keeps (mailstore.HeaderSearcher); TestSearchFieldsSamePaths checks
// that every path gives these answers.
func TestSearchHeaderFields(t *testing.T) {
	ts := newTestServer(t)
	for _, m := range headerCorpus {
		ts.deliver("alice", "INBOX", m)
	}
	c := ts.login("alice")
	c.do("s SELECT INBOX").contains("* 6 EXISTS").status("OK")
	c.do("f STORE 2 +FLAGS (\\Seen)").status("OK")
	for _, tc := range []struct{ key, want string }{
		{"SUBJECT " + lit8("grüße aus köln"), "1"},
		{"SUBJECT \"=?UTF-8?\"", ""}, // the raw text is not searched
		{"FROM " + lit8("MÜLLER"), "1"},
		{"TO " + lit8("rené"), "1"},
		{"SUBJECT \"long subject line\"", "2"}, // unfolded
		{"TO two@example", "2"},
		{"TO \"one@example.org two\"", ""}, // never across two fields
		{"CC c2@", "2"},
		{"CC c1@", "2"},
		{"SUBJECT \"\"", "1 2 4 5 6"}, // 3 has none
		{"NOT SUBJECT \"\"", "3"},
		{"TO \"\"", "1 2 5"},
		{"BCC \"\"", "4"},
		{"SUBJECT body", ""}, // only the header
		{"SUBJECT " + lit8("über"), "4"},
		{"SUBJECT " + lit8("über strasse"), ""}, // no ß -> ss folding
		{"FROM " + lit8("ZOË"), "4"},
		{"BCC SECRET", "4"},
		{"SUBJECT \"=?x-unknown?q?raw?= word\"", "6"},
		{"HEADER Subject " + lit8("grüße"), "1"},
		{"HEADER CC c2", "2"},
		{"OR FROM zoe TO rene", "1 4"},
		{"SUBJECT long SEEN", "2"},
		{"SUBJECT long UNSEEN", ""},
		{"NOT FROM example.org", "1 2"}, // 1 is from example.de, 2 has no From
		{"FROM example SUBJECT word", "6"},
	} {
		want := "* SEARCH"
		if tc.want != "" {
			want += " " + tc.want
		}
		c.do("t SEARCH " + tc.key).untagged(want).status("OK")
	}
}

// plainAccount hides the optional interfaces: SEARCH reads each message
// through Cache and Open, the path every backend has.
type plainAccount struct{ mailstore.Account }

// headersAccount keeps only mailstore.HeaderReader.
type headersAccount struct {
	mailstore.Account
	mailstore.HeaderReader
}

// partialFields keeps fields for some messages only, as an account with
// messages stored before the store kept them.
type partialFields struct {
	mailstore.Account
	hs   mailstore.HeaderSearcher
	kept func(mailstore.UID) bool
}

func (p partialFields) SearchFields(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID,
	fn func(mailstore.UID, *mailstore.SearchFields) error) error {
	return p.hs.SearchFields(ctx, mbox, uids, func(u mailstore.UID, f *mailstore.SearchFields) error {
		if !p.kept(u) {
			f = nil
		}
		return fn(u, f)
	})
}

type partialFieldsHeaders struct {
	partialFields
	mailstore.HeaderReader
}

// countingAccount forwards everything and counts the reads of messages
// and of their metadata.
type countingAccount struct {
	mailstore.Account
	mailstore.HeaderSearcher
	mailstore.SystemFlagSearcher
	opens, headers, metas int
}

func (c *countingAccount) Metas(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID) ([]mailstore.MessageMeta, error) {
	c.metas++
	return c.Account.Metas(ctx, mbox, uids)
}

func (c *countingAccount) Open(ctx context.Context, mbox mailstore.MailboxID, uid mailstore.UID) (mailstore.Body, error) {
	c.opens++
	return c.Account.Open(ctx, mbox, uid)
}

func (c *countingAccount) Headers(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID, max int64, fn func(mailstore.UID, []byte) error) error {
	c.headers++
	return c.Account.(mailstore.HeaderReader).Headers(ctx, mbox, uids, max, fn)
}

// TestSearchFieldsSamePaths: header keys give the same UIDs whether the
// store answers them from kept fields, from headers read in batches, from
// each message opened alone, or from a mix (an account with messages from
// before the fields were kept), over the test corpora and 300 generated
// messages (more than one search batch). With kept fields no message is
// read. System flag keys likewise give the same UIDs from the store's
// answer (mailstore.SystemFlagSearcher) as from each message's metadata.
func TestSearchFieldsSamePaths(t *testing.T) {
	ts := newTestServer(t)
	for _, m := range headerCorpus {
		ts.deliver("alice", "INBOX", m)
	}
	for _, m := range searchCorpus {
		ts.deliver("alice", "INBOX", m.msg)
	}
	for i := range 300 {
		ts.deliver("alice", "INBOX", string(bytes.ReplaceAll(mailgen.Generate(7, i).Body, []byte("\n"), []byte("\r\n"))))
	}
	ctx := context.Background()
	acct := ts.account("alice")
	hs, ok := acct.(mailstore.HeaderSearcher)
	if !ok {
		t.Fatalf("the test store (%T) does not keep search fields", acct)
	}
	mbox, err := acct.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	// Flags for the flag keys below (answered by the store where it
	// implements mailstore.SystemFlagSearcher).
	for _, f := range []struct {
		uids  []mailstore.UID
		flags []string
	}{
		{[]mailstore.UID{1, 2, 3, 50, 51, 52, 53, 200}, []string{mailstore.FlagSeen}},
		{[]mailstore.UID{3, 52, 100, 101}, []string{mailstore.FlagDeleted, mailstore.FlagFlagged}},
		{[]mailstore.UID{2, 53, 101, 250}, []string{mailstore.FlagAnswered, "$Work"}},
	} {
		if _, _, err := acct.StoreFlags(ctx, mbox.ID, f.uids, mailstore.FlagsAdd, f.flags, 0); err != nil {
			t.Fatal(err)
		}
	}
	odd := func(u mailstore.UID) bool { return u%2 == 1 }
	paths := map[string]mailstore.Account{
		"open each":     plainAccount{acct},
		"some kept":     partialFields{acct, hs, odd},
		"none kept":     partialFields{acct, hs, func(mailstore.UID) bool { return false }},
		"fields (real)": acct,
	}
	if hr, ok := acct.(mailstore.HeaderReader); ok {
		paths["headers"] = headersAccount{acct, hr}
		paths["some kept, headers"] = partialFieldsHeaders{partialFields{acct, hs, odd}, hr}
	}
	key := func(op, text string) *imap.SearchKey { return &imap.SearchKey{Op: op, Text: text} }
	keys := []*imap.SearchKey{
		key("SUBJECT", "report"), key("SUBJECT", "re:"), key("SUBJECT", ""), key("SUBJECT", "grüße"),
		key("FROM", "smith"), key("FROM", "example.org"), key("FROM", "müller"), key("FROM", ""),
		key("TO", "alice"), key("TO", ""), key("TO", "two@"), key("CC", "c"), key("CC", ""), key("BCC", ""), key("BCC", "dave"),
		{Op: "HEADER", Field: "subject", Text: "lunch"}, {Op: "HEADER", Field: "To", Text: ""},
		{Op: "OR", Children: []*imap.SearchKey{key("SUBJECT", "meeting"), key("FROM", "jones")}},
		{Op: "NOT", Children: []*imap.SearchKey{key("TO", "example")}},
		{Op: "AND", Children: []*imap.SearchKey{key("FROM", "a"), {Op: "UNSEEN"}, {Op: "SMALLER", Number: 4000}}},
		// Date or size answered by the store first, then the fields of
		// those messages only.
		{Op: "AND", Children: []*imap.SearchKey{{Op: "SINCE", Date: time.Date(2023, 1, 3, 0, 0, 0, 0, time.UTC)}, key("SUBJECT", "re")}},
		{Op: "AND", Children: []*imap.SearchKey{{Op: "LARGER", Number: 3000}, {Op: "OR", Children: []*imap.SearchKey{key("FROM", "a"), {Op: "ALL"}}}}},
		{Op: "AND", Children: []*imap.SearchKey{{Op: "ALL"}, {Op: "NOT", Children: []*imap.SearchKey{key("CC", "")}}}},
		// System flags alone: the store's answer (SystemFlagSearcher).
		{Op: "UNSEEN"}, {Op: "SEEN"}, {Op: "ANSWERED"},
		{Op: "AND", Children: []*imap.SearchKey{{Op: "SEEN"}, {Op: "UNDELETED"}}},
		{Op: "AND", Children: []*imap.SearchKey{{Op: "UNSEEN"}, {Op: "NOT", Children: []*imap.SearchKey{{Op: "FLAGGED"}}}}},
		{Op: "AND", Children: []*imap.SearchKey{{Op: "SEEN"}, {Op: "UNSEEN"}}},
		{Op: "NOT", Children: []*imap.SearchKey{{Op: "AND", Children: []*imap.SearchKey{{Op: "SEEN"}, {Op: "DELETED"}}}}},
		{Op: "OR", Children: []*imap.SearchKey{{Op: "ANSWERED"}, {Op: "FLAGGED"}}},
		{Op: "AND", Children: []*imap.SearchKey{{Op: "ANSWERED"}, {Op: "KEYWORD", Text: "$Work"}}},
	}
	for _, k := range keys {
		var want []mailstore.UID
		first := true
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for n := range paths {
				if !yield(n) {
					return
				}
			}
		}) {
			got, err := SearchMailbox(ctx, paths[name], mbox, "", k)
			if err != nil {
				t.Fatalf("%s: %v: %v", name, fmtKey(k), err)
			}
			if first {
				want, first = got, false
				continue
			}
			if !slices.Equal(got, want) {
				t.Errorf("%v: %s gives %v, %s %v", fmtKey(k), name, got, "fields (real)", want)
			}
		}
	}
	// With kept fields, no message is read, and for keys on them alone
	// no metadata either; with a flag key too, metadata but no message.
	ca := &countingAccount{Account: acct, HeaderSearcher: hs}
	got, err := SearchMailbox(ctx, ca, mbox, "", &imap.SearchKey{Op: "OR", Children: []*imap.SearchKey{key("SUBJECT", "e"), key("TO", "x")}})
	if err != nil || len(got) == 0 {
		t.Fatalf("OR SUBJECT e TO x: %v %v", got, err)
	}
	if ca.opens != 0 || ca.headers != 0 || ca.metas != 0 {
		t.Errorf("SUBJECT/TO search with kept fields: %d messages opened, %d header batches, %d metadata batches read", ca.opens, ca.headers, ca.metas)
	}
	*ca = countingAccount{Account: acct, HeaderSearcher: hs}
	if _, err := SearchMailbox(ctx, ca, mbox, "", &imap.SearchKey{Op: "AND", Children: []*imap.SearchKey{key("SUBJECT", "e"), {Op: "UNSEEN"}}}); err != nil {
		t.Fatal(err)
	}
	if ca.opens != 0 || ca.headers != 0 || ca.metas == 0 {
		t.Errorf("SUBJECT UNSEEN with kept fields: %d messages opened, %d header batches, %d metadata batches read", ca.opens, ca.headers, ca.metas)
	}
	// UNDELETED UNSEEN: the store answers, no metadata is read.
	fs, ok := acct.(mailstore.SystemFlagSearcher)
	if !ok {
		t.Fatalf("the test store (%T) does not search system flags", acct)
	}
	*ca = countingAccount{Account: acct, HeaderSearcher: hs, SystemFlagSearcher: fs}
	got, err = SearchMailbox(ctx, ca, mbox, "", &imap.SearchKey{Op: "AND", Children: []*imap.SearchKey{{Op: "UNDELETED"}, {Op: "UNSEEN"}}})
	if err != nil || len(got) != 312-8-2 {
		t.Fatalf("UNDELETED UNSEEN: %d messages, %v; want %d", len(got), err, 312-8-2)
	}
	if ca.metas != 0 || ca.opens != 0 {
		t.Errorf("UNDELETED UNSEEN: %d metadata batches read, %d messages opened", ca.metas, ca.opens)
	}
}

func fmtKey(k *imap.SearchKey) string {
	if len(k.Children) == 0 {
		return fmt.Sprintf("%s %s %q", k.Op, k.Field, k.Text)
	}
	s := k.Op + " ("
	for _, c := range k.Children {
		s += fmtKey(c) + " "
	}
	return s + ")"
}
