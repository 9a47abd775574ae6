package imapserver

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

func TestAppend(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c2 := ts.login("alice")
	c2.do("b1 SELECT Drafts").ok()

	m := testMsg("draft")
	uv := ts.account("alice")
	st, err := uv.Status(t.Context(), "Drafts")
	if err != nil {
		t.Fatal(err)
	}
	// A synchronizing literal gets a continuation first.
	c.send(fmt.Sprintf("a1 APPEND Drafts (\\Draft $Label1) \"05-Mar-2026 10:11:12 +0100\" {%d}\r\n", len(m)))
	c.expect("+ Ready for literal data")
	c.send(m + "\r\n")
	r := c.readUntilTagged("a1").ok(fmt.Sprintf("APPENDUID %d 1", st.UIDValidity))
	if r.text() != "Append completed." {
		t.Errorf("text %q", r.text())
	}
	// The watching session sees the new message at its next sync point.
	c2.do("b2 NOOP").contains("* 1 EXISTS").ok()

	msgs := ts.messages("alice", "Drafts")
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	if got := strings.Join(msgs[0].Flags, " "); got != `$Label1 \Draft` && got != `\Draft $Label1` {
		t.Errorf("flags %q", got)
	}
	want := time.Date(2026, 3, 5, 10, 11, 12, 0, time.FixedZone("", 3600))
	if !msgs[0].InternalDate.Equal(want) {
		t.Errorf("internal date %v, want %v", msgs[0].InternalDate, want)
	}
	if got := ts.body("alice", "Drafts", msgs[0].UID); got != m {
		t.Errorf("stored %q, want %q", got, m)
	}

	// Bare LF line ends are stored as CRLF.
	c.appendMsg("a2", "Drafts", "Subject: lf\n\nbody\n").ok(fmt.Sprintf("APPENDUID %d 2", st.UIDValidity))
	if got := ts.body("alice", "Drafts", 2); got != "Subject: lf\r\n\r\nbody\r\n" {
		t.Errorf("stored %q", got)
	}
}

func TestAppendToSelectedMailboxShowsExists(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c.do("a1 SELECT INBOX").contains("* 0 EXISTS").ok()
	c.appendMsg("a2", "INBOX", testMsg("self")).contains("* 1 EXISTS").ok("APPENDUID *")
}

func TestAppendTryCreate(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c.appendMsg("a1", "Nowhere", testMsg("x")).tagged("NO [TRYCREATE] Mailbox does not exist.")
	c.do("a2 CREATE Nowhere").ok()
	c.appendMsg("a3", "Nowhere", testMsg("x")).ok("APPENDUID *")
}

func TestMultiAppend(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c2 := ts.login("alice")
	c2.do("b1 SELECT INBOX").ok()
	m1, m2, m3 := testMsg("one"), testMsg("two"), testMsg("three")
	st, _ := ts.account("alice").Status(t.Context(), "INBOX")
	c.do(fmt.Sprintf("a1 APPEND INBOX (\\Seen) {%d+}\r\n%s {%d+}\r\n%s (\\Flagged) {%d+}\r\n%s",
		len(m1), m1, len(m2), m2, len(m3), m3)).ok(fmt.Sprintf("APPENDUID %d 1:3", st.UIDValidity))
	c2.do("b2 NOOP").contains("* 3 EXISTS").ok()

	// All or nothing (RFC 3502): the third message has a flag that cannot
	// be stored, so the two before it must not stay.
	c.do(fmt.Sprintf("a2 APPEND INBOX {%d+}\r\n%s {%d+}\r\n%s (\\Bogus) {%d+}\r\n%s",
		len(m1), m1, len(m2), m2, len(m3), m3)).no("CANNOT")
	if n := len(ts.messages("alice", "INBOX")); n != 3 {
		t.Fatalf("%d messages after a failed MULTIAPPEND, want 3", n)
	}
	c.do("a3 STATUS INBOX (MESSAGES UIDNEXT)").untagged("* STATUS INBOX (MESSAGES 3 UIDNEXT 6)").ok()
	c.do(fmt.Sprintf("a4 APPEND INBOX {%d+}\r\n%s", len(m1), m1)).ok(fmt.Sprintf("APPENDUID %d 6", st.UIDValidity))
}

func TestAppendLimit(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.AppendLimit = 100 }))
	c := ts.login("alice")
	big := strings.Repeat("x", 101)
	// Synchronizing: refused before the client sends the bytes.
	c.send("a1 APPEND INBOX {101}\r\n")
	c.expect("a1 NO [TOOBIG] Message size exceeds APPENDLIMIT.")
	// Non-synchronizing: the bytes are skipped, the stream stays in sync.
	c.do("a2 APPEND INBOX {101+}\r\n" + big).no("TOOBIG")
	c.do("a3 NOOP").ok()
	c.appendMsg("a4", "INBOX", strings.Repeat("y", 100)).ok("APPENDUID *")
	c.do("a5 STATUS INBOX (MESSAGES APPENDLIMIT)").untagged("* STATUS INBOX (MESSAGES 1 APPENDLIMIT 100)").ok()
}

func TestAppendBadArguments(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	c.do("a1 APPEND INBOX (\\Recent) {3+}\r\nabc").no("CANNOT")
	c.do(`a2 APPEND INBOX "not a date" {3+}` + "\r\nabc").bad()
	c.do("a3 APPEND INBOX").bad()
	if n := len(ts.messages("alice", "INBOX")); n != 0 {
		t.Fatalf("%d messages stored", n)
	}
}

// messages returns the metadata of the messages in user's mailbox.
func (ts *testServer) messages(user, mailbox string) []mailstore.MessageMeta {
	ts.t.Helper()
	acct := ts.account(user)
	mb, err := acct.Mailbox(context.Background(), mailbox)
	if err != nil {
		ts.t.Fatal(err)
	}
	msgs, err := acct.Messages(context.Background(), mb.ID)
	if err != nil {
		ts.t.Fatal(err)
	}
	return msgs
}

// body returns the stored bytes of a message.
func (ts *testServer) body(user, mailbox string, uid mailstore.UID) string {
	ts.t.Helper()
	acct := ts.account(user)
	mb, err := acct.Mailbox(context.Background(), mailbox)
	if err != nil {
		ts.t.Fatal(err)
	}
	b, err := acct.Open(context.Background(), mb.ID, uid)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		ts.t.Fatal(err)
	}
	return string(data)
}
