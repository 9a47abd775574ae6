package pop3server

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// threeMessages delivers three messages to alice and returns them.
func threeMessages(e *env) []string {
	msgs := []string{
		msg("first", "line 1\r\nline 2\r\n"),
		msg("second", ".leading dot\r\n..two dots\r\n.\r\nend\r\n"),
		msg("third", strings.Repeat("x", 1000)+"\r\n"),
	}
	for _, m := range msgs {
		e.deliver("alice", m)
	}
	return msgs
}

func TestStatListUIDL(t *testing.T) {
	e := newEnv(t, envConfig{})
	msgs := threeMessages(e)
	metas := e.inbox("alice")
	total := 0
	for _, m := range msgs {
		total += len(m)
	}
	uidl := func(i int) string {
		mb := e.mailbox("alice")
		return DefaultUIDL(metas[i].UID, mb.UIDValidity)
	}

	c := e.login("alice", alicePass)
	c.Send("STAT").Expect(fmt.Sprintf("+OK 3 %d", total))
	c.Send("LIST").ExpectList("+OK 3 messages:",
		fmt.Sprintf("1 %d", len(msgs[0])), fmt.Sprintf("2 %d", len(msgs[1])), fmt.Sprintf("3 %d", len(msgs[2])))
	c.Send("LIST 2").Expect(fmt.Sprintf("+OK 2 %d", len(msgs[1])))
	c.Send("LIST 4").Expect("-ERR There's no message 4.")
	c.Send("LIST 0").Expect("-ERR There's no message 0.")
	c.Send("LIST x").Expect("-ERR Invalid message number: x")
	c.Send("UIDL").ExpectList("+OK", "1 "+uidl(0), "2 "+uidl(1), "3 "+uidl(2))
	c.Send("UIDL 3").Expect("+OK 3 " + uidl(2))
	c.Send("UIDL 9").Expect("-ERR There's no message 9.")
	c.Send("NOOP").Expect("+OK")
	c.Send("QUIT").Expect("+OK Logging out.")

	// Sizes are the exact stored octet counts.
	for i, m := range metas {
		if m.Size != int64(len(msgs[i])) {
			t.Errorf("message %d: store size %d, appended %d", i+1, m.Size, len(msgs[i]))
		}
	}
	// UIDLs are unique.
	if uidl(0) == uidl(1) {
		t.Errorf("duplicate UIDL %q", uidl(0))
	}
}

// mailbox returns user's INBOX.
func (e *env) mailbox(user string) mailstore.Mailbox {
	e.t.Helper()
	ctx := context.Background()
	acct, err := e.store.Account(ctx, user)
	if err != nil {
		e.t.Fatal(err)
	}
	defer acct.Close()
	mb, err := acct.Mailbox(ctx, "INBOX")
	if err != nil {
		e.t.Fatal(err)
	}
	return mb
}

func TestRetrByteExact(t *testing.T) {
	e := newEnv(t, envConfig{})
	msgs := threeMessages(e)
	c := e.login("alice", alicePass)
	for i, m := range msgs {
		c.Send("RETR " + strconv.Itoa(i+1)).Expect(fmt.Sprintf("+OK %d octets", len(m)))
		if got := c.ReadBody(); !bytes.Equal(got, []byte(m)) {
			t.Errorf("RETR %d:\n got %q\nwant %q", i+1, got, m)
		}
	}
	c.Send("RETR 4").Expect("-ERR There's no message 4.")
	c.Send("RETR").Expect("-ERR Invalid message number: ")
}

// TestRetrDotStuffingOnTheWire checks the raw bytes, not a decoding.
func TestRetrDotStuffingOnTheWire(t *testing.T) {
	e := newEnv(t, envConfig{})
	m := "Subject: dots\r\n\r\n.\r\n..\r\n.x\r\nx.\r\n"
	e.deliver("alice", m)
	c := e.login("alice", alicePass)
	c.Send("RETR 1").Expect(fmt.Sprintf("+OK %d octets", len(m)))
	for _, want := range []string{"Subject: dots", "", "..", "...", "..x", "x.", "."} {
		c.Expect(want)
	}
	c.Send("NOOP").Expect("+OK")
}

func TestRetrAddsFinalCRLF(t *testing.T) {
	e := newEnv(t, envConfig{})
	m := "Subject: no final newline\r\n\r\nlast line"
	e.deliver("alice", m)
	c := e.login("alice", alicePass)
	c.Send("RETR 1").Expect(fmt.Sprintf("+OK %d octets", len(m)))
	c.Expect("Subject: no final newline").Expect("").Expect("last line").Expect(".")
}

func TestRetrLargeMessage(t *testing.T) {
	e := newEnv(t, envConfig{})
	m := randomMessage(1<<20, 1)
	e.deliver("alice", m)
	c := e.login("alice", alicePass)
	c.Send("RETR 1").Expect(fmt.Sprintf("+OK %d octets", len(m)))
	if got := c.ReadBody(); !bytes.Equal(got, []byte(m)) {
		t.Fatalf("1 MB message differs after RETR (got %d bytes)", len(got))
	}
	c.Send("STAT").Expect(fmt.Sprintf("+OK 1 %d", len(m)))
}

// randomMessage returns a CRLF message of about size bytes with lines of
// random length, some starting with dots.
func randomMessage(size int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, seed))
	var b strings.Builder
	b.WriteString("From: a@example.org\r\nSubject: big\r\n\r\n")
	for b.Len() < size {
		n := r.IntN(120)
		if r.IntN(10) == 0 {
			b.WriteByte('.')
		}
		for range n {
			b.WriteByte(byte('!' + r.IntN(94)))
		}
		b.WriteString("\r\n")
	}
	return b.String()
}

func TestTop(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.deliver("alice", "Subject: top\r\nX: y\r\n\r\nb1\r\n.b2\r\nb3\r\n")
	c := e.login("alice", alicePass)
	c.Send("TOP 1 0").ExpectList("+OK", "Subject: top", "X: y", "")
	c.Send("TOP 1 2").ExpectList("+OK", "Subject: top", "X: y", "", "b1", ".b2")
	c.Send("TOP 1 100").ExpectList("+OK", "Subject: top", "X: y", "", "b1", ".b2", "b3")
	c.Send("TOP 1 99999999999999999999").Expect("-ERR Size too large: 99999999999999999999")
	c.Send("TOP 1 18446744073709551615").ExpectList("+OK", "Subject: top", "X: y", "", "b1", ".b2", "b3")
	c.Send("TOP 1").Expect("-ERR Missing line count.")
	c.Send("TOP 2 1").Expect("-ERR There's no message 2.")
	c.Send("TOP 1 -1").Expect("-ERR Invalid size: -1")
	c.Send("QUIT").Expect("+OK Logging out.")
	// TOP does not mark the message \Seen.
	if e.inbox("alice")[0].HasFlag(mailstore.FlagSeen) {
		t.Error("TOP set \\Seen")
	}
}

func TestDeleRsetQuit(t *testing.T) {
	e := newEnv(t, envConfig{})
	msgs := threeMessages(e)
	uids := e.inboxUIDs("alice")

	c := e.login("alice", alicePass)
	c.Send("DELE 2").Expect("+OK Marked to be deleted.")
	c.Send("DELE 2").Expect("-ERR Message is deleted.")
	c.Send("RETR 2").Expect("-ERR Message is deleted.")
	c.Send("TOP 2 0").Expect("-ERR Message is deleted.")
	c.Send("LIST 2").Expect("-ERR Message is deleted.")
	c.Send("UIDL 2").Expect("-ERR Message is deleted.")
	// Deleted messages are left out of STAT and the listings; numbers of
	// the others do not change (RFC 1939 section 5).
	c.Send("STAT").Expect(fmt.Sprintf("+OK 2 %d", len(msgs[0])+len(msgs[2])))
	c.Send("LIST").ExpectList("+OK 2 messages:", fmt.Sprintf("1 %d", len(msgs[0])), fmt.Sprintf("3 %d", len(msgs[2])))
	c.ExpectUIDLNumbers("1", "3")
	c.Send("RSET").Expect("+OK")
	c.Send("STAT").Expect(fmt.Sprintf("+OK 3 %d", len(msgs[0])+len(msgs[1])+len(msgs[2])))
	c.Send("DELE 1").Expect("+OK Marked to be deleted.")
	c.Send("DELE 3").Expect("+OK Marked to be deleted.")
	// Nothing is removed before QUIT.
	if got := e.inboxUIDs("alice"); len(got) != 3 {
		t.Fatalf("before QUIT the INBOX has %v", got)
	}
	c.Send("QUIT").Expect("+OK Logging out, messages deleted.")
	c.ExpectClosed()
	e.waitEnded(1)
	if got, want := e.inboxUIDs("alice"), []mailstore.UID{uids[1]}; !slices.Equal(got, want) {
		t.Fatalf("after QUIT the INBOX has %v, want %v", got, want)
	}
	// The next session sees one message, numbered 1.
	c = e.login("alice", alicePass)
	c.Send("LIST").ExpectList("+OK 1 messages:", fmt.Sprintf("1 %d", len(msgs[1])))
	c.Send("QUIT").Expect("+OK Logging out.")
}

// ExpectUIDLNumbers sends UIDL and checks which message numbers are listed.
func (c *client) ExpectUIDLNumbers(want ...string) {
	c.t.Helper()
	var got []string
	for _, l := range c.Send("UIDL").ExpectMulti("+OK") {
		n, _, _ := strings.Cut(l, " ")
		got = append(got, n)
	}
	if !slices.Equal(got, want) {
		c.t.Fatalf("UIDL lists %v, want %v", got, want)
	}
}

func TestDroppedConnectionDeletesNothing(t *testing.T) {
	e := newEnv(t, envConfig{})
	threeMessages(e)
	c := e.login("alice", alicePass)
	c.Send("DELE 1").Expect("+OK Marked to be deleted.")
	c.Send("DELE 2").Expect("+OK Marked to be deleted.")
	c.conn.Close()
	e.waitEnded(1)
	if got := e.inboxUIDs("alice"); len(got) != 3 {
		t.Fatalf("after a dropped connection the INBOX has %v", got)
	}
	// The lock was released: a new session works and sees all three.
	c = e.login("alice", alicePass)
	c.Send("STAT").ExpectPrefix("+OK 3 ")
}

func TestRetrSetsSeen(t *testing.T) {
	e := newEnv(t, envConfig{})
	threeMessages(e)
	c := e.login("alice", alicePass)
	c.Send("RETR 1").ExpectPrefix("+OK ")
	c.ReadBody()
	c.Send("RETR 2").ExpectPrefix("+OK ")
	c.ReadBody()
	c.Send("DELE 2").Expect("+OK Marked to be deleted.")
	c.Send("TOP 3 1").ExpectPrefix("+OK")
	c.ReadBody()
	// \Seen is written at the end of the session, like Dovecot.
	for _, m := range e.inbox("alice") {
		if m.HasFlag(mailstore.FlagSeen) {
			t.Fatalf("uid %d has \\Seen before QUIT", m.UID)
		}
	}
	c.Send("QUIT").Expect("+OK Logging out, messages deleted.")
	c.ExpectClosed()
	e.waitEnded(1)
	metas := e.inbox("alice")
	if len(metas) != 2 || !metas[0].HasFlag(mailstore.FlagSeen) || metas[1].HasFlag(mailstore.FlagSeen) {
		t.Fatalf("flags after QUIT: %+v (want message 1 seen, message 3 not)", metas)
	}
}

func TestRetrSeenSavedOnDisconnect(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.deliver("alice", msg("one", "x\r\n"))
	c := e.login("alice", alicePass)
	c.Send("RETR 1").ExpectPrefix("+OK ")
	c.ReadBody()
	c.Send("DELE 1").Expect("+OK Marked to be deleted.")
	c.conn.Close()
	e.waitEnded(1)
	metas := e.inbox("alice")
	if len(metas) != 1 || !metas[0].HasFlag(mailstore.FlagSeen) {
		t.Fatalf("after disconnect: %+v, want the message kept and seen", metas)
	}
}

func TestRsetForgetsSeen(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.deliver("alice", msg("one", "x\r\n"))
	c := e.login("alice", alicePass)
	c.Send("RETR 1").ExpectPrefix("+OK ")
	c.ReadBody()
	c.Send("RSET").Expect("+OK")
	c.Send("QUIT").Expect("+OK Logging out.")
	c.ExpectClosed()
	e.waitEnded(1)
	if e.inbox("alice")[0].HasFlag(mailstore.FlagSeen) {
		t.Fatal("RSET did not forget the pending \\Seen")
	}
}

func TestMaildropInUse(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.deliver("alice", msg("one", "x\r\n"))
	c1 := e.login("alice", alicePass)
	c2 := e.connect()
	c2.Send("USER alice").Expect("+OK")
	c2.Send("PASS " + alicePass).Expect("-ERR [IN-USE] Mailbox is locked by another POP3 session.")
	// Still in AUTHORIZATION (RFC 1939 section 4): it may retry later.
	c2.Send("STAT").Expect("-ERR Unknown command: STAT")
	c1.Send("DELE 1").Expect("+OK Marked to be deleted.")
	c1.Send("QUIT").Expect("+OK Logging out, messages deleted.")
	c1.ExpectClosed()
	e.waitEnded(1)
	c2.Send("AUTH PLAIN " + b64("\x00alice\x00"+alicePass)).Expect("+OK Logged in.")
	c2.Send("STAT").Expect("+OK 0 0")
}

// TestSnapshot: messages delivered during a session are not part of it
// (RFC 1939 section 8 describes the maildrop as fixed for the session).
func TestSnapshot(t *testing.T) {
	e := newEnv(t, envConfig{})
	m1 := msg("one", "x\r\n")
	e.deliver("alice", m1)
	c := e.login("alice", alicePass)
	m2 := msg("two", "yy\r\n")
	e.deliver("alice", m2)
	c.Send("STAT").Expect(fmt.Sprintf("+OK 1 %d", len(m1)))
	c.Send("RETR 2").Expect("-ERR There's no message 2.")
	c.Send("DELE 1").Expect("+OK Marked to be deleted.")
	c.Send("QUIT").Expect("+OK Logging out, messages deleted.")
	c.ExpectClosed()
	e.waitEnded(1)
	c = e.login("alice", alicePass)
	c.Send("STAT").Expect(fmt.Sprintf("+OK 1 %d", len(m2)))
	c.Send("RETR 1").Expect(fmt.Sprintf("+OK %d octets", len(m2)))
	if got := c.ReadBody(); string(got) != m2 {
		t.Fatalf("got %q", got)
	}
}

// TestExpungedElsewhere: a message removed by another protocol during the
// session gets Dovecot's "Message N expunged." and QUIT still works.
func TestExpungedElsewhere(t *testing.T) {
	e := newEnv(t, envConfig{})
	threeMessages(e)
	uids := e.inboxUIDs("alice")
	c := e.login("alice", alicePass)
	ctx := context.Background()
	acct, err := e.store.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	mb := e.mailbox("alice")
	if _, err := acct.Expunge(ctx, mb.ID, mailstore.ExpungeOptions{UIDs: uids[:1]}); err != nil {
		t.Fatal(err)
	}
	acct.Close()
	c.Send("RETR 1").Expect("-ERR Message 1 expunged.")
	c.Send("LIST 1").ExpectPrefix("+OK 1 ") // the snapshot still lists it
	c.Send("DELE 1").Expect("+OK Marked to be deleted.")
	c.Send("DELE 2").Expect("+OK Marked to be deleted.")
	c.Send("QUIT").Expect("+OK Logging out, messages deleted.")
	c.ExpectClosed()
	e.waitEnded(1)
	if got := e.inboxUIDs("alice"); !slices.Equal(got, uids[2:]) {
		t.Fatalf("INBOX %v, want %v", got, uids[2:])
	}
}

// TestUIDLStableAcrossReopen: UIDLs depend only on stored UID and
// UIDVALIDITY, so they survive closing and reopening the store.
func TestUIDLStableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, envConfig{dir: dir})
	threeMessages(e)
	c := e.login("alice", alicePass)
	first := c.Send("UIDL").ExpectMulti("+OK")
	c.Send("DELE 1").Expect("+OK Marked to be deleted.")
	c.Send("QUIT").Expect("+OK Logging out, messages deleted.")
	c.ExpectClosed()
	e.waitEnded(1)
	if err := e.store.Close(); err != nil {
		t.Fatal(err)
	}

	e2 := newEnv(t, envConfig{dir: dir})
	c = e2.login("alice", alicePass)
	second := c.Send("UIDL").ExpectMulti("+OK")
	if len(first) != 3 || len(second) != 2 {
		t.Fatalf("UIDL before %v, after %v", first, second)
	}
	// Message 2 and 3 became 1 and 2; their unique ids did not change.
	for i, l := range second {
		_, id, _ := strings.Cut(l, " ")
		_, wantID, _ := strings.Cut(first[i+1], " ")
		if id != wantID {
			t.Errorf("UIDL of message %d changed from %q to %q", i+2, wantID, id)
		}
	}
}

func TestCustomUIDLFormat(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *Options) {
		o.UIDL = func(uid mailstore.UID, v mailstore.UIDValidity) string {
			return fmt.Sprintf("u%d v%d", uid, v) // the space is not allowed
		}
	}})
	uid := e.deliver("alice", msg("one", "x\r\n"))
	mb := e.mailbox("alice")
	c := e.login("alice", alicePass)
	c.Send("UIDL 1").Expect(fmt.Sprintf("+OK 1 u%d_v%d", uid, mb.UIDValidity))
}

func TestTransactionCommandsBeforeLogin(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect()
	for _, cmd := range []string{"STAT", "LIST", "RETR 1", "TOP 1 1", "DELE 1", "RSET", "NOOP", "UIDL"} {
		verb, _, _ := strings.Cut(cmd, " ")
		c.Send(cmd).Expect("-ERR Unknown command: " + verb)
	}
}
