// Package storetest is the conformance suite every mailstore backend must
// pass. A backend's tests call Run (and RunPersistence if the backend keeps
// data across reopen, which every real backend does).
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// MaxMessageSize is the message size limit that stores given to Run must
// be configured with.
const MaxMessageSize = 1 << 20

// wakeTimeout bounds the wait for a Watch wake-up.
const wakeTimeout = 5 * time.Second

// Run runs the conformance suite. open must return a new, empty store
// whose size limit is MaxMessageSize; the suite closes it.
func Run(t *testing.T, open func(t *testing.T) mailstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"DefaultMailboxes", testDefaultMailboxes},
		{"MailboxNames", testMailboxNames},
		{"CreateMailbox", testCreateMailbox},
		{"DeleteMailbox", testDeleteMailbox},
		{"RenameMailbox", testRenameMailbox},
		{"RenameInbox", testRenameInbox},
		{"Subscriptions", testSubscriptions},
		{"Append", testAppend},
		{"AppendErrors", testAppendErrors},
		{"TooBig", testTooBig},
		{"UIDsAndModSeqs", testUIDsAndModSeqs},
		{"Changes", testChanges},
		{"StoreFlags", testStoreFlags},
		{"Keywords", testKeywords},
		{"UnchangedSince", testUnchangedSince},
		{"Expunge", testExpunge},
		{"Copy", testCopy},
		{"Move", testMove},
		{"Status", testStatus},
		{"NotFound", testNotFound},
		{"LockMaildrop", testLockMaildrop},
		{"Watch", testWatch},
		{"SharedAccount", testSharedAccount},
		{"Users", testUsers},
		{"ConcurrentAppends", testConcurrentAppends},
		{"View", testView},
		{"Metas", testMetas},
		{"SearchMeta", testSearchMeta},
		{"SearchFields", testSearchFields},
		{"HeaderFields", testHeaderFields},
		{"SearchSystemFlags", testSearchSystemFlags},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := open(t)
			t.Cleanup(func() { st.Close() })
			tc.fn(t, &suite{t: t, st: st, ctx: context.Background()})
		})
	}
}

// RunPersistence checks what must survive closing and reopening a store.
// open(t, id) must return a store on the data identified by id: the same id
// gives the same data, a new id an empty store.
func RunPersistence(t *testing.T, open func(t *testing.T, id string) mailstore.Store) {
	ctx := context.Background()
	t.Run("Reopen", func(t *testing.T) {
		st := open(t, "reopen")
		s := &suite{t: t, st: st, ctx: ctx}
		acc := s.account("alice")
		inbox := s.mailbox(acc, "INBOX")
		u1 := s.append(acc, "INBOX", msg(1), `\Seen`, "$Work")
		u2 := s.append(acc, "INBOX", msg(2))
		if _, err := acc.Expunge(ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{u2}}); err != nil {
			t.Fatal(err)
		}
		before := s.mailbox(acc, "INBOX")
		created, err := acc.CreateMailbox(ctx, "Projects/Roost", "")
		if err != nil {
			t.Fatal(err)
		}
		acc.Close()
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}

		st2 := open(t, "reopen")
		defer st2.Close()
		s2 := &suite{t: t, st: st2, ctx: ctx}
		acc2 := s2.account("alice")
		after := s2.mailbox(acc2, "INBOX")
		if after.UIDValidity != before.UIDValidity || after.UIDNext != before.UIDNext || after.HighestModSeq != before.HighestModSeq || after.ID != before.ID {
			t.Fatalf("INBOX changed across reopen: %+v -> %+v", before, after)
		}
		if m := s2.mailbox(acc2, "Projects/Roost"); m.UIDValidity != created.UIDValidity {
			t.Fatalf("UIDVALIDITY changed across reopen: %d -> %d", created.UIDValidity, m.UIDValidity)
		}
		metas := s2.messages(acc2, after.ID)
		if len(metas) != 1 || metas[0].UID != u1 || !slices.Equal(metas[0].Flags, []string{"$Work", `\Seen`}) {
			t.Fatalf("messages after reopen: %+v", metas)
		}
		s2.checkBody(acc2, after.ID, u1, msg(1))
		u3 := s2.append(acc2, "INBOX", msg(3))
		if u3 <= u2 {
			t.Fatalf("UID %d reused or lower after reopen (expunged %d)", u3, u2)
		}
		c := s2.changes(acc2, after.ID, before.HighestModSeq)
		if len(c.Updated) != 1 || c.Updated[0].UID != u3 || c.Updated[0].ModSeq <= before.HighestModSeq {
			t.Fatalf("changes after reopen: %+v", c)
		}
		c = s2.changes(acc2, after.ID, 0)
		if !slices.Equal(c.Expunged, []mailstore.UID{u2}) {
			t.Fatalf("tombstones after reopen: %v", c.Expunged)
		}
		// A mailbox deleted and re-created gets a new, greater UIDVALIDITY.
		if err := acc2.DeleteMailbox(ctx, "Projects/Roost"); err != nil {
			t.Fatal(err)
		}
		again, err := acc2.CreateMailbox(ctx, "Projects/Roost", "")
		if err != nil {
			t.Fatal(err)
		}
		if again.UIDValidity <= created.UIDValidity {
			t.Fatalf("re-created mailbox UIDVALIDITY %d not above %d", again.UIDValidity, created.UIDValidity)
		}
		acc2.Close()
	})
}

// suite carries the store of one subtest and helpers that fail the test.
type suite struct {
	t   *testing.T
	st  mailstore.Store
	ctx context.Context
}

func (s *suite) account(user string) mailstore.Account {
	s.t.Helper()
	acc, err := s.st.Account(s.ctx, user)
	if err != nil {
		s.t.Fatalf("open account %s: %v", user, err)
	}
	s.t.Cleanup(func() { acc.Close() })
	return acc
}

func (s *suite) mailbox(acc mailstore.Account, name string) mailstore.Mailbox {
	s.t.Helper()
	m, err := acc.Mailbox(s.ctx, name)
	if err != nil {
		s.t.Fatalf("mailbox %s: %v", name, err)
	}
	return m
}

func (s *suite) create(acc mailstore.Account, name string) mailstore.Mailbox {
	s.t.Helper()
	m, err := acc.CreateMailbox(s.ctx, name, "")
	if err != nil {
		s.t.Fatalf("create %s: %v", name, err)
	}
	return m
}

func (s *suite) append(acc mailstore.Account, mbox string, body string, flags ...string) mailstore.UID {
	s.t.Helper()
	_, uid, err := acc.Append(s.ctx, mbox, mailstore.NewMessage{Flags: flags}, strings.NewReader(body))
	if err != nil {
		s.t.Fatalf("append to %s: %v", mbox, err)
	}
	return uid
}

func (s *suite) messages(acc mailstore.Account, id mailstore.MailboxID) []mailstore.MessageMeta {
	s.t.Helper()
	m, err := acc.Messages(s.ctx, id)
	if err != nil {
		s.t.Fatalf("messages: %v", err)
	}
	return m
}

func (s *suite) changes(acc mailstore.Account, id mailstore.MailboxID, since mailstore.ModSeq) mailstore.Changes {
	s.t.Helper()
	c, err := acc.Changes(s.ctx, id, since)
	if err != nil {
		s.t.Fatalf("changes since %d: %v", since, err)
	}
	return c
}

func (s *suite) status(acc mailstore.Account, name string) mailstore.Status {
	s.t.Helper()
	st, err := acc.Status(s.ctx, name)
	if err != nil {
		s.t.Fatalf("status %s: %v", name, err)
	}
	return st
}

func (s *suite) storeFlags(acc mailstore.Account, id mailstore.MailboxID, uids []mailstore.UID, op mailstore.FlagOp, flags ...string) []mailstore.MessageMeta {
	s.t.Helper()
	upd, failed, err := acc.StoreFlags(s.ctx, id, uids, op, flags, 0)
	if err != nil {
		s.t.Fatalf("store flags: %v", err)
	}
	if len(failed) != 0 {
		s.t.Fatalf("store flags failed for %v without UNCHANGEDSINCE", failed)
	}
	return upd
}

func (s *suite) checkBody(acc mailstore.Account, id mailstore.MailboxID, uid mailstore.UID, want string) {
	s.t.Helper()
	b, err := acc.Open(s.ctx, id, uid)
	if err != nil {
		s.t.Fatalf("open uid %d: %v", uid, err)
	}
	defer b.Close()
	got, err := io.ReadAll(b)
	if err != nil {
		s.t.Fatalf("read uid %d: %v", uid, err)
	}
	if string(got) != want {
		s.t.Fatalf("uid %d: read back %q, want %q", uid, got, want)
	}
	if b.Size() != int64(len(want)) {
		s.t.Fatalf("uid %d: Size %d, want %d", uid, b.Size(), len(want))
	}
}

// wantKind fails the test unless err has kind k.
func wantKind(t *testing.T, err error, k mailstore.Kind, what string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, k)
	}
	if got := mailstore.KindOf(err); got != k {
		t.Fatalf("%s: error %v (kind %v), want kind %v", what, err, got, k)
	}
}

// msg returns a small distinct CRLF message.
func msg(n int) string {
	return fmt.Sprintf("From: Alice <alice@example.org>\r\nTo: bob@example.org\r\nSubject: message %d\r\n"+
		"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\nMessage-ID: <%d@example.org>\r\n\r\nBody of message %d.\r\n", n, n, n)
}

func uids(m []mailstore.MessageMeta) []mailstore.UID {
	var out []mailstore.UID
	for _, x := range m {
		out = append(out, x.UID)
	}
	return out
}

func testDefaultMailboxes(t *testing.T, s *suite) {
	acc := s.account("alice")
	if acc.User() != "alice" {
		t.Fatalf("User() = %q", acc.User())
	}
	mbs, err := acc.Mailboxes(s.ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	uvs := map[mailstore.UIDValidity]bool{}
	for _, m := range mbs {
		names = append(names, m.Name)
		if !m.Subscribed {
			t.Errorf("%s not subscribed", m.Name)
		}
		if m.UIDNext != 1 || m.HighestModSeq < 1 || m.UIDValidity == 0 || m.ID == 0 {
			t.Errorf("%s: bad initial state %+v", m.Name, m)
		}
		if uvs[m.UIDValidity] {
			t.Errorf("%s: UIDVALIDITY %d not unique", m.Name, m.UIDValidity)
		}
		uvs[m.UIDValidity] = true
	}
	want := []string{"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"}
	if !slices.Equal(names, want) {
		t.Fatalf("mailboxes %v, want %v", names, want)
	}
	for _, d := range mailstore.DefaultMailboxes {
		if m := s.mailbox(acc, d.Name); m.SpecialUse != d.SpecialUse {
			t.Errorf("%s: special-use %q, want %q", d.Name, m.SpecialUse, d.SpecialUse)
		}
	}
	subs, err := acc.Subscriptions(s.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(subs, []string{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"}) {
		t.Fatalf("subscriptions %v", subs)
	}
	// Opening again does not create anything twice.
	acc2 := s.account("alice")
	mbs2, err := acc2.Mailboxes(s.ctx)
	if err != nil || len(mbs2) != len(want) {
		t.Fatalf("second open: %v, %v", mbs2, err)
	}
}

func testMailboxNames(t *testing.T, s *suite) {
	acc := s.account("alice")
	bad := []string{"", "/", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", "a*", "a%b", "a\x01b", "a\nb", "a\x7fb",
		"\xff\xfe", strings.Repeat("x", 256), strings.Repeat("abcdefghi/", 101) + "x"}
	for _, name := range bad {
		_, err := acc.CreateMailbox(s.ctx, name, "")
		wantKind(t, err, mailstore.KindInvalid, fmt.Sprintf("create %q", name))
		_, err = acc.Mailbox(s.ctx, name)
		wantKind(t, err, mailstore.KindInvalid, fmt.Sprintf("get %q", name))
		err = acc.RenameMailbox(s.ctx, "Drafts", name)
		wantKind(t, err, mailstore.KindInvalid, fmt.Sprintf("rename to %q", name))
		err = acc.SetSubscribed(s.ctx, name, true)
		wantKind(t, err, mailstore.KindInvalid, fmt.Sprintf("subscribe %q", name))
		_, _, err = acc.Append(s.ctx, name, mailstore.NewMessage{}, strings.NewReader(msg(1)))
		wantKind(t, err, mailstore.KindInvalid, fmt.Sprintf("append to %q", name))
	}
	// Allowed: spaces, '&', '.', UTF-8, a long but legal name.
	for _, name := range []string{"a b", "R&D", "a.b/.c", "Ünïcødé/日本", strings.Repeat("y", 255)} {
		if _, err := acc.CreateMailbox(s.ctx, name, ""); err != nil {
			t.Errorf("create %q: %v", name, err)
		}
	}
	// INBOX is case-insensitive, also as the first level.
	inbox := s.mailbox(acc, "INBOX")
	for _, name := range []string{"inbox", "Inbox", "iNbOx"} {
		if m := s.mailbox(acc, name); m.ID != inbox.ID || m.Name != "INBOX" {
			t.Errorf("%s: got %+v", name, m)
		}
		_, err := acc.CreateMailbox(s.ctx, name, "")
		wantKind(t, err, mailstore.KindExists, "create "+name)
	}
	child, err := acc.CreateMailbox(s.ctx, "inbox/Child", "")
	if err != nil {
		t.Fatal(err)
	}
	if child.Name != "INBOX/Child" {
		t.Fatalf("created %q, want INBOX/Child", child.Name)
	}
	if m := s.mailbox(acc, "Inbox/Child"); m.ID != child.ID {
		t.Fatalf("Inbox/Child: %+v", m)
	}
	// Other names are case-sensitive.
	s.create(acc, "Work")
	if _, err := acc.Mailbox(s.ctx, "work"); mailstore.KindOf(err) != mailstore.KindNotFound {
		t.Fatalf("work: %v, want not found", err)
	}
	s.create(acc, "work")
}

func testCreateMailbox(t *testing.T, s *suite) {
	acc := s.account("alice")
	before, _ := acc.Mailboxes(s.ctx)
	var maxUV mailstore.UIDValidity
	for _, m := range before {
		maxUV = max(maxUV, m.UIDValidity)
	}
	m := s.create(acc, "Projects/2026/Q1")
	if m.Name != "Projects/2026/Q1" || m.UIDNext != 1 || m.UIDValidity <= maxUV || m.HighestModSeq < 1 {
		t.Fatalf("created %+v (max earlier UIDVALIDITY %d)", m, maxUV)
	}
	if got := s.mailbox(acc, "Projects/2026/Q1"); got != m {
		t.Fatalf("Mailbox after create: %+v, want %+v", got, m)
	}
	// Parents were created.
	p1 := s.mailbox(acc, "Projects")
	p2 := s.mailbox(acc, "Projects/2026")
	if p1.UIDValidity == p2.UIDValidity || p1.UIDValidity == m.UIDValidity {
		t.Fatal("UIDVALIDITY shared between mailboxes")
	}
	_, err := acc.CreateMailbox(s.ctx, "Projects/2026/Q1", "")
	wantKind(t, err, mailstore.KindExists, "create existing")
	_, err = acc.CreateMailbox(s.ctx, "Projects", "")
	wantKind(t, err, mailstore.KindExists, "create existing parent")
	// Creating a child of an existing mailbox works.
	s.create(acc, "Projects/2026/Q2")
	// Special-use.
	all, err := acc.CreateMailbox(s.ctx, "All Mail", `\all`)
	if err != nil {
		t.Fatal(err)
	}
	if all.SpecialUse != mailstore.SpecialAll || s.mailbox(acc, "All Mail").SpecialUse != mailstore.SpecialAll {
		t.Fatalf("special-use %q", all.SpecialUse)
	}
	_, err = acc.CreateMailbox(s.ctx, "Weird", `\Bogus`)
	wantKind(t, err, mailstore.KindInvalid, "bad special-use")
	// Sorted, INBOX first.
	mbs, _ := acc.Mailboxes(s.ctx)
	var names []string
	for _, m := range mbs {
		names = append(names, m.Name)
	}
	if names[0] != "INBOX" || !slices.IsSorted(names[1:]) {
		t.Fatalf("not sorted: %v", names)
	}
	// New mailboxes are not subscribed.
	if m.Subscribed || s.mailbox(acc, "Projects").Subscribed {
		t.Fatal("new mailbox subscribed")
	}
}

func testDeleteMailbox(t *testing.T, s *suite) {
	acc := s.account("alice")
	wantKind(t, acc.DeleteMailbox(s.ctx, "INBOX"), mailstore.KindNoPerm, "delete INBOX")
	wantKind(t, acc.DeleteMailbox(s.ctx, "inbox"), mailstore.KindNoPerm, "delete inbox")
	wantKind(t, acc.DeleteMailbox(s.ctx, "Nope"), mailstore.KindNotFound, "delete missing")
	parent := s.create(acc, "P")
	child := s.create(acc, "P/C")
	s.append(acc, "P", msg(1))
	s.append(acc, "P", msg(2))
	if err := acc.SetSubscribed(s.ctx, "P", true); err != nil {
		t.Fatal(err)
	}
	if err := acc.DeleteMailbox(s.ctx, "P"); err != nil {
		t.Fatal(err)
	}
	_, err := acc.Mailbox(s.ctx, "P")
	wantKind(t, err, mailstore.KindNotFound, "deleted mailbox")
	if m := s.mailbox(acc, "P/C"); m.ID != child.ID {
		t.Fatal("child not kept")
	}
	_, err = acc.Messages(s.ctx, parent.ID)
	wantKind(t, err, mailstore.KindNotFound, "messages of deleted mailbox")
	_, err = acc.Open(s.ctx, parent.ID, 1)
	wantKind(t, err, mailstore.KindNotFound, "open in deleted mailbox")
	// RFC 9051 6.3.9: subscriptions are not removed.
	subs, _ := acc.Subscriptions(s.ctx)
	if !slices.Contains(subs, "P") {
		t.Fatalf("subscription removed: %v", subs)
	}
	// Re-created: new identity, new UIDVALIDITY, empty.
	again := s.create(acc, "P")
	if again.ID == parent.ID || again.UIDValidity <= parent.UIDValidity {
		t.Fatalf("re-created %+v, old %+v", again, parent)
	}
	if len(s.messages(acc, again.ID)) != 0 {
		t.Fatal("re-created mailbox not empty")
	}
	if !again.Subscribed {
		t.Fatal("re-created mailbox does not show its kept subscription")
	}
	// A message copied elsewhere survives deletion of its original mailbox.
	s.append(acc, "P", msg(3))
	res, err := acc.Copy(s.ctx, again.ID, []mailstore.UID{1}, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if err := acc.DeleteMailbox(s.ctx, "P"); err != nil {
		t.Fatal(err)
	}
	s.checkBody(acc, s.mailbox(acc, "INBOX").ID, res.Dest[0], msg(3))
}

func testRenameMailbox(t *testing.T, s *suite) {
	acc := s.account("alice")
	a := s.create(acc, "A")
	ab := s.create(acc, "A/B")
	s.create(acc, "AB") // not a child of A
	u := s.append(acc, "A/B", msg(1), `\Flagged`)
	if err := acc.SetSubscribed(s.ctx, "A/B", true); err != nil {
		t.Fatal(err)
	}
	if err := acc.RenameMailbox(s.ctx, "A", "X/Y"); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"A", "A/B"} {
		_, err := acc.Mailbox(s.ctx, gone)
		wantKind(t, err, mailstore.KindNotFound, "old name "+gone)
	}
	xy := s.mailbox(acc, "X/Y")
	xyb := s.mailbox(acc, "X/Y/B")
	s.mailbox(acc, "X") // parent created
	if xy.ID != a.ID || xy.UIDValidity != a.UIDValidity || xyb.ID != ab.ID || xyb.UIDValidity != ab.UIDValidity {
		t.Fatalf("rename changed identity: %+v %+v", xy, xyb)
	}
	if s.mailbox(acc, "AB").Name != "AB" {
		t.Fatal("AB renamed")
	}
	if m := s.messages(acc, xyb.ID); len(m) != 1 || m[0].UID != u {
		t.Fatalf("messages after rename: %+v", m)
	}
	s.checkBody(acc, xyb.ID, u, msg(1))
	if !xyb.Subscribed {
		t.Fatal("subscription did not follow the rename")
	}
	// Errors.
	wantKind(t, acc.RenameMailbox(s.ctx, "Nope", "Z"), mailstore.KindNotFound, "rename missing")
	wantKind(t, acc.RenameMailbox(s.ctx, "AB", "X/Y"), mailstore.KindExists, "rename onto existing")
	wantKind(t, acc.RenameMailbox(s.ctx, "AB", "inbox"), mailstore.KindExists, "rename onto INBOX")
	wantKind(t, acc.RenameMailbox(s.ctx, "X", "X/Y/Z"), mailstore.KindInvalid, "rename below itself")
	// A conflict on a child name fails the whole rename.
	s.create(acc, "Q")
	s.create(acc, "Q/B")
	wantKind(t, acc.RenameMailbox(s.ctx, "X/Y", "Q"), mailstore.KindExists, "rename with conflicting child")
	s.mailbox(acc, "X/Y/B")
}

func testRenameInbox(t *testing.T, s *suite) {
	acc := s.account("alice")
	inbox := s.mailbox(acc, "INBOX")
	s.create(acc, "INBOX/Kid")
	u1 := s.append(acc, "INBOX", msg(1), `\Seen`)
	u2 := s.append(acc, "INBOX", msg(2))
	before := s.mailbox(acc, "INBOX")
	if err := acc.RenameMailbox(s.ctx, "inbox", "INBOX/Old"); err != nil {
		t.Fatal(err)
	}
	after := s.mailbox(acc, "INBOX")
	if after.ID != inbox.ID || after.UIDValidity != inbox.UIDValidity {
		t.Fatalf("INBOX identity changed: %+v -> %+v", inbox, after)
	}
	if len(s.messages(acc, after.ID)) != 0 {
		t.Fatal("INBOX not empty after rename")
	}
	if after.UIDNext < before.UIDNext || after.HighestModSeq <= before.HighestModSeq {
		t.Fatalf("INBOX counters went back: %+v -> %+v", before, after)
	}
	c := s.changes(acc, after.ID, before.HighestModSeq)
	if !slices.Equal(c.Expunged, []mailstore.UID{u1, u2}) {
		t.Fatalf("INBOX changes after rename: %+v", c)
	}
	old := s.mailbox(acc, "INBOX/Old")
	metas := s.messages(acc, old.ID)
	if len(metas) != 2 || !metas[0].HasFlag(`\Seen`) {
		t.Fatalf("renamed messages: %+v", metas)
	}
	s.checkBody(acc, old.ID, metas[1].UID, msg(2))
	s.mailbox(acc, "INBOX/Kid") // children of INBOX stay
	u3 := s.append(acc, "INBOX", msg(3))
	if u3 <= u2 {
		t.Fatalf("INBOX reused UID %d after rename", u3)
	}
	st := s.status(acc, "INBOX")
	if st.Messages != 1 {
		t.Fatalf("INBOX status %+v", st)
	}
}

func testSubscriptions(t *testing.T, s *suite) {
	acc := s.account("alice")
	for _, n := range []string{"Sent", "Trash", "Archive", "Drafts", "Junk"} {
		if err := acc.SetSubscribed(s.ctx, n, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := acc.SetSubscribed(s.ctx, "Does/Not/Exist", true); err != nil {
		t.Fatal(err)
	}
	if err := acc.SetSubscribed(s.ctx, "inbox", true); err != nil { // already subscribed: no-op
		t.Fatal(err)
	}
	subs, err := acc.Subscriptions(s.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(subs, []string{"Does/Not/Exist", "INBOX"}) {
		t.Fatalf("subscriptions %v", subs)
	}
	if s.mailbox(acc, "Sent").Subscribed || !s.mailbox(acc, "INBOX").Subscribed {
		t.Fatal("Subscribed field wrong")
	}
	if err := acc.SetSubscribed(s.ctx, "Does/Not/Exist", false); err != nil {
		t.Fatal(err)
	}
	if err := acc.SetSubscribed(s.ctx, "Never", false); err != nil {
		t.Fatal(err)
	}
	subs, _ = acc.Subscriptions(s.ctx)
	if !slices.Equal(subs, []string{"INBOX"}) {
		t.Fatalf("subscriptions %v", subs)
	}
}

func testAppend(t *testing.T, s *suite) {
	acc := s.account("alice")
	body := "From: a@example.org\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n" +
		"preamble\r\n--XX\r\nContent-Type: text/plain\r\n\r\nhello\r\n--XX\r\nContent-Type: application/octet-stream\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n--XX--\r\n"
	date := time.Date(2026, 3, 2, 10, 11, 12, 0, time.FixedZone("", -5*3600))
	mb, uid, err := acc.Append(s.ctx, "inbox", mailstore.NewMessage{Flags: []string{`\SEEN`, "$Label1", `\flagged`, `\Seen`}, InternalDate: date},
		strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if uid != 1 || mb.Name != "INBOX" || mb.UIDNext != 2 || mb.HighestModSeq < 2 {
		t.Fatalf("append returned %+v, uid %d", mb, uid)
	}
	if got := s.mailbox(acc, "INBOX"); got.UIDNext != mb.UIDNext || got.HighestModSeq != mb.HighestModSeq {
		t.Fatalf("mailbox %+v, append said %+v", got, mb)
	}
	metas := s.messages(acc, mb.ID)
	if len(metas) != 1 {
		t.Fatalf("%d messages", len(metas))
	}
	m := metas[0]
	if m.UID != uid || m.Size != int64(len(body)) || m.ModSeq != mb.HighestModSeq {
		t.Fatalf("meta %+v", m)
	}
	if !slices.Equal(m.Flags, []string{"$Label1", `\Flagged`, `\Seen`}) {
		t.Fatalf("flags %v", m.Flags)
	}
	if !m.InternalDate.Equal(date) {
		t.Fatalf("internal date %v, want %v", m.InternalDate, date)
	}
	if _, off := m.InternalDate.Zone(); off != -5*3600 {
		t.Fatalf("internal date zone offset %d, want %d", off, -5*3600)
	}
	// The bytes come back exactly, through every Body method.
	s.checkBody(acc, mb.ID, uid, body)
	b, err := acc.Open(s.ctx, mb.ID, uid)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := b.ReadAt(buf, int64(strings.Index(body, "hello"))); err != nil || string(buf) != "hello" {
		t.Fatalf("ReadAt: %q, %v", buf, err)
	}
	if _, err := b.Seek(-8, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	tail, _ := io.ReadAll(b)
	if string(tail) != "--XX--\r\n" {
		t.Fatalf("tail %q", tail)
	}
	b.Close()
	// The cache was computed at delivery.
	cache, err := acc.Cache(s.ctx, mb.ID, []mailstore.UID{uid, 99})
	if err != nil {
		t.Fatal(err)
	}
	if len(cache) != 1 || cache[0].UID != uid {
		t.Fatalf("cache %+v", cache)
	}
	c := cache[0]
	if c.HeaderSize != int64(strings.Index(body, "\r\n\r\n")+4) {
		t.Fatalf("header size %d", c.HeaderSize)
	}
	if !strings.HasPrefix(c.Envelope, "(") || !strings.Contains(c.Envelope, "example.org") {
		t.Fatalf("envelope %q", c.Envelope)
	}
	if !strings.Contains(strings.ToLower(c.BodyStructure), "mixed") || !strings.Contains(strings.ToLower(c.Body), "mixed") ||
		len(c.BodyStructure) <= len(c.Body) || len(c.Parts) == 0 {
		t.Fatalf("bodystructure %q body %q parts %d", c.BodyStructure, c.Body, len(c.Parts))
	}
	// A zero internal date means now.
	_, uid2, err := acc.Append(s.ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(msg(2)))
	if err != nil {
		t.Fatal(err)
	}
	metas = s.messages(acc, mb.ID)
	if d := time.Since(metas[1].InternalDate); metas[1].UID != uid2 || d < -time.Minute || d > time.Minute || metas[1].Flags != nil && len(metas[1].Flags) != 0 {
		t.Fatalf("second message %+v", metas[1])
	}
	// An empty message is a message.
	_, uid3, err := acc.Append(s.ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	s.checkBody(acc, mb.ID, uid3, "")
	// Large bodies stream through.
	big := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n", 10000)
	_, uid4, err := acc.Append(s.ctx, "Sent", mailstore.NewMessage{}, strings.NewReader("Subject: big\r\n\r\n"+big))
	if err != nil {
		t.Fatal(err)
	}
	s.checkBody(acc, s.mailbox(acc, "Sent").ID, uid4, "Subject: big\r\n\r\n"+big)
}

func testAppendErrors(t *testing.T, s *suite) {
	acc := s.account("alice")
	_, _, err := acc.Append(s.ctx, "Nope", mailstore.NewMessage{}, strings.NewReader(msg(1)))
	wantKind(t, err, mailstore.KindNotFound, "append to missing mailbox")
	for _, f := range []string{`\Recent`, `\Bogus`, "a b", "(x", "x)", "x{", "*", "%", `"q"`, "x]", "", "ü", "a\x01"} {
		_, _, err := acc.Append(s.ctx, "INBOX", mailstore.NewMessage{Flags: []string{f}}, strings.NewReader(msg(1)))
		wantKind(t, err, mailstore.KindInvalid, fmt.Sprintf("append with flag %q", f))
	}
	if st := s.status(acc, "INBOX"); st.Messages != 0 || st.UIDNext != 1 {
		t.Fatalf("failed appends left traces: %+v", st)
	}
}

// limitedReader fails the test when read past limit.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func testTooBig(t *testing.T, s *suite) {
	acc := s.account("alice")
	exact := "Subject: x\r\n\r\n" + strings.Repeat("a", MaxMessageSize-14)
	if len(exact) != MaxMessageSize {
		t.Fatalf("test bug: %d", len(exact))
	}
	if _, _, err := acc.Append(s.ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(exact)); err != nil {
		t.Fatalf("append of exactly the limit: %v", err)
	}
	cr := &countingReader{r: strings.NewReader(exact + strings.Repeat("b", 3*MaxMessageSize))}
	_, _, err := acc.Append(s.ctx, "INBOX", mailstore.NewMessage{}, cr)
	wantKind(t, err, mailstore.KindTooBig, "append over the limit")
	if cr.n > 2*MaxMessageSize {
		t.Fatalf("read %d bytes of an oversized message", cr.n)
	}
	if st := s.status(acc, "INBOX"); st.Messages != 1 || st.UIDNext != 2 {
		t.Fatalf("status after TooBig: %+v", st)
	}
}

func testUIDsAndModSeqs(t *testing.T, s *suite) {
	acc := s.account("alice")
	inbox := s.mailbox(acc, "INBOX")
	last := inbox.HighestModSeq
	var lastUID mailstore.UID
	step := func(what string) {
		t.Helper()
		m := s.mailbox(acc, "INBOX")
		if m.HighestModSeq <= last {
			t.Fatalf("%s: HIGHESTMODSEQ %d not above %d", what, m.HighestModSeq, last)
		}
		last = m.HighestModSeq
	}
	for i := range 5 {
		u := s.append(acc, "INBOX", msg(i))
		if u <= lastUID {
			t.Fatalf("UID %d after %d", u, lastUID)
		}
		lastUID = u
		step("append")
	}
	s.storeFlags(acc, inbox.ID, []mailstore.UID{2}, mailstore.FlagsAdd, `\Seen`)
	step("store")
	metas := s.messages(acc, inbox.ID)
	if metas[1].ModSeq != last {
		t.Fatalf("changed message MODSEQ %d, mailbox %d", metas[1].ModSeq, last)
	}
	if _, err := acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{4, 5}}); err != nil {
		t.Fatal(err)
	}
	step("expunge")
	u := s.append(acc, "INBOX", msg(9))
	if u != 6 {
		t.Fatalf("UID after expunging the highest: %d, want 6", u)
	}
	step("append after expunge")
	// A no-op store does not bump MODSEQ.
	s.storeFlags(acc, inbox.ID, []mailstore.UID{2}, mailstore.FlagsAdd, `\Seen`)
	if m := s.mailbox(acc, "INBOX"); m.HighestModSeq != last {
		t.Fatalf("no-op store changed HIGHESTMODSEQ %d -> %d", last, m.HighestModSeq)
	}
	// Other mailboxes are independent.
	if u := s.append(acc, "Sent", msg(1)); u != 1 {
		t.Fatalf("first UID in Sent %d", u)
	}
}

func testChanges(t *testing.T, s *suite) {
	acc := s.account("alice")
	inbox := s.mailbox(acc, "INBOX")
	for i := range 6 {
		s.append(acc, "INBOX", msg(i))
	}
	all := s.changes(acc, inbox.ID, 0)
	if len(all.Updated) != 6 || all.Expunged != nil || all.UIDNext != 7 {
		t.Fatalf("changes since 0: %+v", all)
	}
	mark := all.HighestModSeq
	if c := s.changes(acc, inbox.ID, mark); len(c.Updated) != 0 || len(c.Expunged) != 0 || c.HighestModSeq != mark {
		t.Fatalf("changes since HIGHESTMODSEQ: %+v", c)
	}
	s.storeFlags(acc, inbox.ID, []mailstore.UID{5, 2}, mailstore.FlagsAdd, `\Answered`)
	if _, err := acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{3, 1}}); err != nil {
		t.Fatal(err)
	}
	u7 := s.append(acc, "INBOX", msg(7))
	c := s.changes(acc, inbox.ID, mark)
	if !slices.Equal(uids(c.Updated), []mailstore.UID{2, 5, u7}) {
		t.Fatalf("updated %v", uids(c.Updated))
	}
	if !slices.Equal(c.Expunged, []mailstore.UID{1, 3}) {
		t.Fatalf("expunged %v", c.Expunged)
	}
	if !c.Updated[0].HasFlag(`\answered`) || c.Updated[2].HasFlag(`\Answered`) {
		t.Fatalf("updated flags %+v", c.Updated)
	}
	for _, m := range c.Updated {
		if m.ModSeq <= mark || m.ModSeq > c.HighestModSeq {
			t.Fatalf("MODSEQ %d out of (%d, %d]", m.ModSeq, mark, c.HighestModSeq)
		}
	}
	if c.UIDNext != u7+1 {
		t.Fatalf("UIDNext %d", c.UIDNext)
	}
	// Since a point in the middle: only the later changes.
	mid := s.mailbox(acc, "INBOX").HighestModSeq
	s.storeFlags(acc, inbox.ID, []mailstore.UID{4}, mailstore.FlagsAdd, `\Deleted`)
	c = s.changes(acc, inbox.ID, mid)
	if !slices.Equal(uids(c.Updated), []mailstore.UID{4}) || len(c.Expunged) != 0 {
		t.Fatalf("changes since mid: %+v", c)
	}
	// Expunge tombstones keep the expunge's MODSEQ.
	before := s.mailbox(acc, "INBOX").HighestModSeq
	if _, err := acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{OnlyDeleted: true}); err != nil {
		t.Fatal(err)
	}
	c = s.changes(acc, inbox.ID, before)
	if !slices.Equal(c.Expunged, []mailstore.UID{4}) || len(c.Updated) != 0 {
		t.Fatalf("changes after expunge: %+v", c)
	}
	if c2 := s.changes(acc, inbox.ID, c.HighestModSeq); len(c2.Expunged) != 0 {
		t.Fatalf("tombstone newer than HIGHESTMODSEQ: %+v", c2)
	}
}

func testStoreFlags(t *testing.T, s *suite) {
	acc := s.account("alice")
	inbox := s.mailbox(acc, "INBOX")
	for i := range 4 {
		s.append(acc, "INBOX", msg(i), `\Draft`)
	}
	upd := s.storeFlags(acc, inbox.ID, []mailstore.UID{3, 1, 99}, mailstore.FlagsAdd, `\seen`, `\FLAGGED`)
	if !slices.Equal(uids(upd), []mailstore.UID{1, 3}) {
		t.Fatalf("updated %v", uids(upd))
	}
	for _, m := range upd {
		if !slices.Equal(m.Flags, []string{`\Draft`, `\Flagged`, `\Seen`}) {
			t.Fatalf("flags %v", m.Flags)
		}
	}
	upd = s.storeFlags(acc, inbox.ID, []mailstore.UID{1, 2}, mailstore.FlagsRemove, `\Draft`, `\Seen`)
	if !slices.Equal(upd[0].Flags, []string{`\Flagged`}) || upd[1].Flags != nil && len(upd[1].Flags) != 0 {
		t.Fatalf("after -FLAGS: %+v", upd)
	}
	upd = s.storeFlags(acc, inbox.ID, []mailstore.UID{1, 2, 3, 4}, mailstore.FlagsReplace, `\Answered`, "Foo")
	for _, m := range upd {
		if !slices.Equal(m.Flags, []string{"Foo", `\Answered`}) {
			t.Fatalf("after FLAGS: %v", m.Flags)
		}
	}
	// Unchanged messages are reported with their old MODSEQ.
	ms := s.mailbox(acc, "INBOX").HighestModSeq
	upd = s.storeFlags(acc, inbox.ID, []mailstore.UID{1, 2}, mailstore.FlagsAdd, `\Answered`)
	if len(upd) != 2 || upd[0].ModSeq > ms || upd[1].ModSeq > ms {
		t.Fatalf("no-op store: %+v", upd)
	}
	upd = s.storeFlags(acc, inbox.ID, []mailstore.UID{1, 2}, mailstore.FlagsReplace)
	if len(upd) != 2 || len(upd[0].Flags) != 0 || upd[0].ModSeq <= ms || upd[0].ModSeq != upd[1].ModSeq {
		t.Fatalf("clearing flags: %+v", upd)
	}
	metas := s.messages(acc, inbox.ID)
	if len(metas[0].Flags) != 0 || !slices.Equal(metas[2].Flags, []string{"Foo", `\Answered`}) {
		t.Fatalf("stored flags: %+v", metas)
	}
	for _, bad := range []string{`\Recent`, `\Whatever`, "a(b", ""} {
		_, _, err := acc.StoreFlags(s.ctx, inbox.ID, []mailstore.UID{1}, mailstore.FlagsAdd, []string{bad}, 0)
		wantKind(t, err, mailstore.KindInvalid, fmt.Sprintf("store %q", bad))
	}
	_, _, err := acc.StoreFlags(s.ctx, 987654, []mailstore.UID{1}, mailstore.FlagsAdd, []string{`\Seen`}, 0)
	wantKind(t, err, mailstore.KindNotFound, "store in missing mailbox")
	upd, failed, err := acc.StoreFlags(s.ctx, inbox.ID, nil, mailstore.FlagsAdd, []string{`\Seen`}, 0)
	if err != nil || len(upd) != 0 || len(failed) != 0 {
		t.Fatalf("empty store: %v %v %v", upd, failed, err)
	}
}

func testKeywords(t *testing.T, s *suite) {
	acc := s.account("alice")
	inbox := s.mailbox(acc, "INBOX")
	s.append(acc, "INBOX", msg(1), "$Important")
	s.append(acc, "INBOX", msg(2))
	// The first spelling wins; later spellings compare equal.
	upd := s.storeFlags(acc, inbox.ID, []mailstore.UID{1, 2}, mailstore.FlagsAdd, "$IMPORTANT", "$important", "NonJunk")
	for _, m := range upd {
		if !slices.Equal(m.Flags, []string{"$Important", "NonJunk"}) {
			t.Fatalf("flags %v", m.Flags)
		}
		if !m.HasFlag("$iMpOrTaNt") {
			t.Fatal("HasFlag is case-sensitive")
		}
	}
	if upd[0].ModSeq == upd[1].ModSeq && upd[0].ModSeq == 0 {
		t.Fatal("no modseq")
	}
	ms := s.mailbox(acc, "INBOX").HighestModSeq
	s.storeFlags(acc, inbox.ID, []mailstore.UID{1}, mailstore.FlagsAdd, "nonjunk")
	if s.mailbox(acc, "INBOX").HighestModSeq != ms {
		t.Fatal("adding an existing keyword in other case changed the message")
	}
	upd = s.storeFlags(acc, inbox.ID, []mailstore.UID{1}, mailstore.FlagsRemove, "NONJUNK")
	if !slices.Equal(upd[0].Flags, []string{"$Important"}) {
		t.Fatalf("after removal %v", upd[0].Flags)
	}
	upd = s.storeFlags(acc, inbox.ID, []mailstore.UID{1}, mailstore.FlagsRemove, "NeverUsed")
	if !slices.Equal(upd[0].Flags, []string{"$Important"}) {
		t.Fatalf("after removing unknown keyword %v", upd[0].Flags)
	}
	// Append with another spelling gets the first spelling too.
	u := s.append(acc, "INBOX", msg(3), "$IMPORTANT", `\Seen`)
	metas := s.messages(acc, inbox.ID)
	if metas[2].UID != u || !slices.Equal(metas[2].Flags, []string{"$Important", `\Seen`}) {
		t.Fatalf("appended %+v", metas[2])
	}
}

func testUnchangedSince(t *testing.T, s *suite) {
	acc := s.account("alice")
	inbox := s.mailbox(acc, "INBOX")
	for i := range 3 {
		s.append(acc, "INBOX", msg(i))
	}
	mark := s.mailbox(acc, "INBOX").HighestModSeq
	s.storeFlags(acc, inbox.ID, []mailstore.UID{2}, mailstore.FlagsAdd, `\Flagged`)
	upd, failed, err := acc.StoreFlags(s.ctx, inbox.ID, []mailstore.UID{1, 2, 3}, mailstore.FlagsAdd, []string{`\Seen`}, mark)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(failed, []mailstore.UID{2}) || !slices.Equal(uids(upd), []mailstore.UID{1, 3}) {
		t.Fatalf("UNCHANGEDSINCE: updated %v failed %v", uids(upd), failed)
	}
	metas := s.messages(acc, inbox.ID)
	if metas[1].HasFlag(`\Seen`) || !metas[0].HasFlag(`\Seen`) {
		t.Fatalf("flags %+v", metas)
	}
	// UNCHANGEDSINCE equal to the message's MODSEQ passes.
	upd, failed, err = acc.StoreFlags(s.ctx, inbox.ID, []mailstore.UID{2}, mailstore.FlagsAdd, []string{`\Seen`}, metas[1].ModSeq)
	if err != nil || len(failed) != 0 || len(upd) != 1 || !upd[0].HasFlag(`\Seen`) {
		t.Fatalf("UNCHANGEDSINCE = MODSEQ: %+v %v %v", upd, failed, err)
	}
}

func testExpunge(t *testing.T, s *suite) {
	acc := s.account("alice")
	inbox := s.mailbox(acc, "INBOX")
	for i := range 6 {
		s.append(acc, "INBOX", msg(i))
	}
	s.storeFlags(acc, inbox.ID, []mailstore.UID{2, 4, 5}, mailstore.FlagsAdd, `\Deleted`)
	// Keep a body open across its expunge.
	b, err := acc.Open(s.ctx, inbox.ID, 4)
	if err != nil {
		t.Fatal(err)
	}
	got, err := acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{5, 4, 1}, OnlyDeleted: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []mailstore.UID{4, 5}) {
		t.Fatalf("expunged %v", got)
	}
	data, err := io.ReadAll(b)
	b.Close()
	if err != nil || string(data) != msg(3) {
		t.Fatalf("open body after expunge: %q, %v", data, err)
	}
	_, err = acc.Open(s.ctx, inbox.ID, 4)
	wantKind(t, err, mailstore.KindExpunged, "open expunged")
	if c, err := acc.Cache(s.ctx, inbox.ID, []mailstore.UID{4, 1}); err != nil || len(c) != 1 || c[0].UID != 1 {
		t.Fatalf("cache after expunge: %+v %v", c, err)
	}
	got, err = acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{OnlyDeleted: true})
	if err != nil || !slices.Equal(got, []mailstore.UID{2}) {
		t.Fatalf("expunge all deleted: %v %v", got, err)
	}
	ms := s.mailbox(acc, "INBOX").HighestModSeq
	got, err = acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{OnlyDeleted: true})
	if err != nil || len(got) != 0 || s.mailbox(acc, "INBOX").HighestModSeq != ms {
		t.Fatalf("empty expunge: %v %v", got, err)
	}
	got, err = acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{}})
	if err != nil || len(got) != 0 {
		t.Fatalf("expunge of empty set: %v %v", got, err)
	}
	got, err = acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{})
	if err != nil || !slices.Equal(got, []mailstore.UID{1, 3, 6}) {
		t.Fatalf("expunge all: %v %v", got, err)
	}
	if st := s.status(acc, "INBOX"); st.Messages != 0 || st.Size != 0 || st.Unseen != 0 || st.Deleted != 0 {
		t.Fatalf("status after expunging everything: %+v", st)
	}
	_, err = acc.Expunge(s.ctx, 987654, mailstore.ExpungeOptions{})
	wantKind(t, err, mailstore.KindNotFound, "expunge in missing mailbox")
}

func testCopy(t *testing.T, s *suite) {
	acc := s.account("alice")
	inbox := s.mailbox(acc, "INBOX")
	arch := s.mailbox(acc, "Archive")
	s.append(acc, "Archive", msg(100)) // Archive's UIDNEXT is 2
	date := time.Date(2025, 12, 24, 18, 0, 0, 0, time.UTC)
	for i := range 4 {
		if _, _, err := acc.Append(s.ctx, "INBOX", mailstore.NewMessage{Flags: []string{"$K" + fmt.Sprint(i), `\Seen`}, InternalDate: date},
			strings.NewReader(msg(i))); err != nil {
			t.Fatal(err)
		}
	}
	res, err := acc.Copy(s.ctx, inbox.ID, []mailstore.UID{4, 2, 3, 77}, "archive")
	wantKind(t, err, mailstore.KindNotFound, "copy to 'archive' (names are case-sensitive)")
	ms := s.mailbox(acc, "Archive").HighestModSeq
	res, err = acc.Copy(s.ctx, inbox.ID, []mailstore.UID{4, 2, 3, 77}, "Archive")
	if err != nil {
		t.Fatal(err)
	}
	if res.DestUIDValidity != arch.UIDValidity || !slices.Equal(res.Source, []mailstore.UID{2, 3, 4}) || !slices.Equal(res.Dest, []mailstore.UID{2, 3, 4}) {
		t.Fatalf("copy result %+v", res)
	}
	metas := s.messages(acc, arch.ID)
	if len(metas) != 4 {
		t.Fatalf("%d messages in Archive", len(metas))
	}
	for i, m := range metas[1:] {
		if !slices.Equal(m.Flags, []string{fmt.Sprintf("$K%d", i+1), `\Seen`}) || !m.InternalDate.Equal(date) || m.ModSeq <= ms {
			t.Fatalf("copied meta %+v", m)
		}
		s.checkBody(acc, arch.ID, m.UID, msg(i+1))
	}
	if len(s.messages(acc, inbox.ID)) != 4 {
		t.Fatal("copy changed the source")
	}
	// The copy survives expunging the original, and the other way round.
	if _, err := acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{2}}); err != nil {
		t.Fatal(err)
	}
	s.checkBody(acc, arch.ID, 2, msg(1))
	if _, err := acc.Expunge(s.ctx, arch.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{3}}); err != nil {
		t.Fatal(err)
	}
	s.checkBody(acc, inbox.ID, 3, msg(2))
	if c, err := acc.Cache(s.ctx, arch.ID, []mailstore.UID{4}); err != nil || len(c) != 1 || c[0].Envelope == "" {
		t.Fatalf("cache of copy: %+v %v", c, err)
	}
	// Copy into the same mailbox gives new UIDs.
	res, err = acc.Copy(s.ctx, inbox.ID, []mailstore.UID{1}, "INBOX")
	if err != nil || !slices.Equal(res.Dest, []mailstore.UID{5}) {
		t.Fatalf("copy to self: %+v %v", res, err)
	}
	// Nothing to copy.
	res, err = acc.Copy(s.ctx, inbox.ID, []mailstore.UID{99}, "Archive")
	if err != nil || len(res.Source) != 0 || len(res.Dest) != 0 {
		t.Fatalf("empty copy: %+v %v", res, err)
	}
	_, err = acc.Copy(s.ctx, 987654, []mailstore.UID{1}, "Archive")
	wantKind(t, err, mailstore.KindNotFound, "copy from missing mailbox")
	// Copies of the same message can be expunged independently down to none.
	if _, err := acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Expunge(s.ctx, arch.ID, mailstore.ExpungeOptions{}); err != nil {
		t.Fatal(err)
	}
}

func testMove(t *testing.T, s *suite) {
	acc := s.account("alice")
	inbox := s.mailbox(acc, "INBOX")
	trash := s.mailbox(acc, "Trash")
	for i := range 5 {
		s.append(acc, "INBOX", msg(i), `\Flagged`)
	}
	before := s.mailbox(acc, "INBOX").HighestModSeq
	res, err := acc.Move(s.ctx, inbox.ID, []mailstore.UID{5, 1, 3}, "Trash")
	if err != nil {
		t.Fatal(err)
	}
	if res.DestUIDValidity != trash.UIDValidity || !slices.Equal(res.Source, []mailstore.UID{1, 3, 5}) || !slices.Equal(res.Dest, []mailstore.UID{1, 2, 3}) {
		t.Fatalf("move result %+v", res)
	}
	if got := uids(s.messages(acc, inbox.ID)); !slices.Equal(got, []mailstore.UID{2, 4}) {
		t.Fatalf("INBOX after move %v", got)
	}
	c := s.changes(acc, inbox.ID, before)
	if !slices.Equal(c.Expunged, []mailstore.UID{1, 3, 5}) || len(c.Updated) != 0 {
		t.Fatalf("INBOX changes after move %+v", c)
	}
	tm := s.messages(acc, trash.ID)
	if len(tm) != 3 || !tm[0].HasFlag(`\Flagged`) {
		t.Fatalf("Trash after move %+v", tm)
	}
	s.checkBody(acc, trash.ID, 3, msg(4))
	_, err = acc.Open(s.ctx, inbox.ID, 5)
	wantKind(t, err, mailstore.KindExpunged, "open moved message at old place")
	if st := s.status(acc, "Trash"); st.Messages != 3 {
		t.Fatalf("Trash status %+v", st)
	}
	if st := s.status(acc, "INBOX"); st.Messages != 2 {
		t.Fatalf("INBOX status %+v", st)
	}
	_, err = acc.Move(s.ctx, inbox.ID, []mailstore.UID{2}, "Nope")
	wantKind(t, err, mailstore.KindNotFound, "move to missing mailbox")
	if len(s.messages(acc, inbox.ID)) != 2 {
		t.Fatal("failed move changed the source")
	}
}

func testStatus(t *testing.T, s *suite) {
	acc := s.account("alice")
	inbox := s.mailbox(acc, "INBOX")
	sizes := int64(0)
	for i := range 5 {
		sizes += int64(len(msg(i)))
		s.append(acc, "INBOX", msg(i))
	}
	s.storeFlags(acc, inbox.ID, []mailstore.UID{1, 2}, mailstore.FlagsAdd, `\Seen`)
	s.storeFlags(acc, inbox.ID, []mailstore.UID{2, 3}, mailstore.FlagsAdd, `\Deleted`)
	st := s.status(acc, "inbox")
	if st.Name != "INBOX" || st.Messages != 5 || st.Unseen != 3 || st.Deleted != 2 || st.Size != sizes || st.UIDNext != 6 {
		t.Fatalf("status %+v", st)
	}
	s.storeFlags(acc, inbox.ID, []mailstore.UID{1, 2, 3, 4, 5}, mailstore.FlagsReplace, `\Seen`)
	st = s.status(acc, "INBOX")
	if st.Unseen != 0 || st.Deleted != 0 {
		t.Fatalf("status after FLAGS: %+v", st)
	}
	s.storeFlags(acc, inbox.ID, []mailstore.UID{5}, mailstore.FlagsRemove, `\Seen`)
	if _, err := acc.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{1}}); err != nil {
		t.Fatal(err)
	}
	st = s.status(acc, "INBOX")
	if st.Messages != 4 || st.Unseen != 1 || st.Size != sizes-int64(len(msg(0))) {
		t.Fatalf("status after expunge: %+v", st)
	}
	if st := s.status(acc, "Sent"); st.Messages != 0 || st.Size != 0 {
		t.Fatalf("Sent status %+v", st)
	}
	_, err := acc.Status(s.ctx, "Nope")
	wantKind(t, err, mailstore.KindNotFound, "status of missing mailbox")
}

func testNotFound(t *testing.T, s *suite) {
	acc := s.account("alice")
	const bad mailstore.MailboxID = 987654
	_, err := acc.Mailbox(s.ctx, "Nope")
	wantKind(t, err, mailstore.KindNotFound, "Mailbox")
	_, err = acc.Messages(s.ctx, bad)
	wantKind(t, err, mailstore.KindNotFound, "Messages")
	_, err = acc.Changes(s.ctx, bad, 0)
	wantKind(t, err, mailstore.KindNotFound, "Changes")
	_, err = acc.Cache(s.ctx, bad, []mailstore.UID{1})
	wantKind(t, err, mailstore.KindNotFound, "Cache")
	_, err = acc.Open(s.ctx, bad, 1)
	wantKind(t, err, mailstore.KindNotFound, "Open")
	_, err = acc.Move(s.ctx, bad, []mailstore.UID{1}, "INBOX")
	wantKind(t, err, mailstore.KindNotFound, "Move")
	inbox := s.mailbox(acc, "INBOX")
	_, err = acc.Open(s.ctx, inbox.ID, 1)
	wantKind(t, err, mailstore.KindExpunged, "Open of a UID never used")
	// Errors carry a client-safe text.
	if mailstore.PublicMessage(err) == "" {
		t.Fatal("no public message")
	}
}

func testLockMaildrop(t *testing.T, s *suite) {
	acc := s.account("alice")
	acc2 := s.account("alice")
	release, err := acc.LockMaildrop(s.ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = acc2.LockMaildrop(s.ctx)
	wantKind(t, err, mailstore.KindInUse, "second lock from another session")
	_, err = acc.LockMaildrop(s.ctx)
	wantKind(t, err, mailstore.KindInUse, "second lock from the same account handle")
	// Another user is independent.
	other := s.account("bob")
	rb, err := other.LockMaildrop(s.ctx)
	if err != nil {
		t.Fatal(err)
	}
	rb()
	release()
	release2, err := acc2.LockMaildrop(s.ctx)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	release() // idempotent: must not release acc2's lock
	_, err = acc.LockMaildrop(s.ctx)
	wantKind(t, err, mailstore.KindInUse, "lock after a stale release")
	release2()
}

func waitWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(wakeTimeout):
		t.Fatalf("no wake-up after %s", what)
	}
}

// drain empties ch of wake-ups already sent (wake-ups may be spurious).
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

func testWatch(t *testing.T, s *suite) {
	acc := s.account("alice")
	inbox := s.mailbox(acc, "INBOX")
	ch, stop := s.st.Watch("alice")
	defer stop()
	ch2, stop2 := s.st.Watch("alice")
	drain(ch)
	drain(ch2)
	other := s.account("alice") // another session
	s.append(other, "INBOX", msg(1))
	waitWake(t, ch, "append")
	waitWake(t, ch2, "append (second watcher)")
	stop2()
	stop2() // idempotent
	drain(ch)
	s.storeFlags(other, inbox.ID, []mailstore.UID{1}, mailstore.FlagsAdd, `\Seen`)
	waitWake(t, ch, "store")
	drain(ch)
	if _, err := other.Expunge(s.ctx, inbox.ID, mailstore.ExpungeOptions{}); err != nil {
		t.Fatal(err)
	}
	waitWake(t, ch, "expunge")
	// Many changes without reading: the sender never blocks.
	for i := range 5 {
		s.append(other, "INBOX", msg(i))
	}
	waitWake(t, ch, "several appends")
	// Watching a user whose account does not exist yet works too.
	chb, stopb := s.st.Watch("bob")
	defer stopb()
	bob := s.account("bob")
	drain(chb)
	s.append(bob, "INBOX", msg(1))
	waitWake(t, chb, "append for a user watched before the account existed")
}

func testSharedAccount(t *testing.T, s *suite) {
	a1 := s.account("alice")
	a2 := s.account("alice")
	s.create(a1, "Shared")
	s.mailbox(a2, "Shared")
	u := s.append(a2, "Shared", msg(1))
	if err := a2.Close(); err != nil {
		t.Fatal(err)
	}
	a2.Close() // idempotent
	s.checkBody(a1, s.mailbox(a1, "Shared").ID, u, msg(1))
	a1.Close()
	a3 := s.account("alice")
	s.checkBody(a3, s.mailbox(a3, "Shared").ID, u, msg(1))
}

func testUsers(t *testing.T, s *suite) {
	users := []string{"alice", "Alice", "ALICE", "../alice", "alice/..", ".hidden", "a b", "a%41", "aA", "user@example.org", "ü"}
	ids := map[string]mailstore.UID{}
	for i, u := range users {
		acc := s.account(u)
		if acc.User() != u {
			t.Fatalf("User() = %q, want %q", acc.User(), u)
		}
		for range i + 1 {
			ids[u] = s.append(acc, "INBOX", msg(i))
		}
	}
	for i, u := range users {
		acc := s.account(u)
		if st := s.status(acc, "INBOX"); st.Messages != uint32(i+1) {
			t.Fatalf("user %q has %d messages, want %d: accounts are not separate", u, st.Messages, i+1)
		}
	}
	_, err := s.st.Account(s.ctx, "")
	wantKind(t, err, mailstore.KindInvalid, "empty user name")
}

func testConcurrentAppends(t *testing.T, s *suite) {
	const workers, per = 8, 15
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[mailstore.UID]bool{}
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			acc, err := s.st.Account(s.ctx, "alice")
			if err != nil {
				errs <- err
				return
			}
			defer acc.Close()
			for i := range per {
				body := msg(w*1000 + i)
				_, uid, err := acc.Append(s.ctx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(body)))
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				dup := seen[uid]
				seen[uid] = true
				mu.Unlock()
				if dup {
					errs <- fmt.Errorf("UID %d given twice", uid)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	acc := s.account("alice")
	st := s.status(acc, "INBOX")
	if st.Messages != workers*per || len(seen) != workers*per || st.UIDNext != workers*per+1 {
		t.Fatalf("status %+v, %d UIDs", st, len(seen))
	}
	metas := s.messages(acc, st.ID)
	for i := 1; i < len(metas); i++ {
		if metas[i].UID <= metas[i-1].UID || metas[i].ModSeq == metas[i-1].ModSeq {
			t.Fatalf("UIDs/MODSEQs not distinct and ascending at %d: %+v %+v", i, metas[i-1], metas[i])
		}
	}
}
