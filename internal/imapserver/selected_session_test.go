package imapserver

// Transcript tests of the selected state with several sessions on one
// mailbox (SELECT, STORE, EXPUNGE, COPY/MOVE, IDLE, CLOSE/UNSELECT). They
// run the real server over loopback TCP against a temporary SQLite store;
// the helpers are prefixed "mb" to stay apart from the core harness.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
	"github.com/roost-mail/roost/internal/netserver"
)

// mbAuth accepts any password for any user.
type mbAuth struct{}

func (mbAuth) PlaintextAllowed(auth.ConnInfo) bool { return true }
func (mbAuth) Mechanisms(auth.ConnInfo) []string   { return nil }
func (mbAuth) Login(ctx context.Context, ci auth.ConnInfo, user, password string) (auth.Principal, error) {
	return auth.Principal{User: user}, nil
}
func (mbAuth) NewSASL(auth.ConnInfo, string) (*auth.SASL, error) { return nil, auth.ErrMechanism }

type mbEnv struct {
	t      *testing.T
	dir    string
	store  *sqlite.Store
	srv    *Server
	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newMBEnv(t *testing.T, opts Options) *mbEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(sqlite.Options{Dir: dir, PollInterval: 50 * time.Millisecond, IdleClose: -1})
	if err != nil {
		t.Fatal(err)
	}
	opts.Store = st
	opts.Auth = mbAuth{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &mbEnv{t: t, dir: dir, store: st, srv: New(opts), ln: ln, ctx: ctx, cancel: cancel}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer nc.Close()
				e.srv.ServeConn(ctx, netserver.NewConn(nc, nil, false, nil))
			}()
		}
	}()
	t.Cleanup(func() {
		cancel()
		ln.Close()
		e.wg.Wait()
		st.Close()
	})
	return e
}

// account opens the user's account directly (as another protocol or the
// CLI would).
func (e *mbEnv) account(user string) mailstore.Account {
	e.t.Helper()
	a, err := e.store.Account(context.Background(), user)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { a.Close() })
	return a
}

func (e *mbEnv) deliver(user, mbox string, flags ...string) mailstore.UID {
	e.t.Helper()
	a := e.account(user)
	msg := "From: a@example.org\r\nSubject: test\r\n\r\nhello\r\n"
	_, uid, err := a.Append(context.Background(), mbox, mailstore.NewMessage{Flags: flags}, strings.NewReader(msg))
	if err != nil {
		e.t.Fatal(err)
	}
	return uid
}

type mbConn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
	n  int
}

// dial connects and logs in as user; rev2 enables IMAP4rev2.
func (e *mbEnv) dial(user string, rev2 bool) *mbConn {
	e.t.Helper()
	nc, err := net.Dial("tcp", e.ln.Addr().String())
	if err != nil {
		e.t.Fatal(err)
	}
	c := &mbConn{t: e.t, nc: nc, br: bufio.NewReader(nc)}
	e.t.Cleanup(func() { nc.Close() })
	if l := c.line(); !strings.HasPrefix(l, "* OK") {
		e.t.Fatalf("greeting %q", l)
	}
	c.ok("LOGIN " + user + " pw")
	if rev2 {
		u := c.ok("ENABLE IMAP4rev2")
		if len(u) != 1 || !strings.EqualFold(u[0], "* ENABLED IMAP4rev2") {
			e.t.Skipf("IMAP4rev2 cannot be enabled yet: %q", u)
		}
	}
	return c
}

func (c *mbConn) line() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (after %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

func (c *mbConn) write(s string) {
	c.t.Helper()
	if _, err := c.nc.Write([]byte(s)); err != nil {
		c.t.Fatal(err)
	}
}

// do sends a command and returns the untagged lines and the tagged line.
func (c *mbConn) do(cmd string) (untagged []string, tagged string) {
	c.t.Helper()
	c.n++
	tag := fmt.Sprintf("t%d", c.n)
	c.write(tag + " " + cmd + "\r\n")
	return c.until(tag)
}

func (c *mbConn) until(tag string) (untagged []string, tagged string) {
	c.t.Helper()
	for {
		l := c.line()
		if strings.HasPrefix(l, tag+" ") {
			return untagged, strings.TrimPrefix(l, tag+" ")
		}
		untagged = append(untagged, l)
	}
}

// ok runs cmd, requires a tagged OK and returns the untagged lines.
func (c *mbConn) ok(cmd string) []string {
	c.t.Helper()
	u, tagged := c.do(cmd)
	if !strings.HasPrefix(tagged, "OK") {
		c.t.Fatalf("%s: %s (untagged %q)", cmd, tagged, u)
	}
	return u
}

// want checks that got is exactly the lines in want, in order.
func mbWant(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func mbHas(t *testing.T, what string, got []string, re string) {
	t.Helper()
	r := regexp.MustCompile(re)
	for _, l := range got {
		if r.MatchString(l) {
			return
		}
	}
	t.Errorf("%s: no line matches %s in %q", what, re, got)
}

func TestSelectResponses(t *testing.T) {
	e := newMBEnv(t, Options{})
	e.deliver("u", "INBOX", `\Seen`)
	e.deliver("u", "INBOX", `$Label1`)
	mb, _ := e.account("u").Mailbox(context.Background(), "INBOX")

	a := e.dial("u", false)
	u, tagged := a.do("SELECT INBOX")
	mbWant(t, "rev1 SELECT", u,
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 \*)] Flags permitted.`,
		`* 2 EXISTS`,
		`* 2 RECENT`,
		`* OK [UNSEEN 2] First unseen.`,
		fmt.Sprintf(`* OK [UIDVALIDITY %d] UIDs valid.`, mb.UIDValidity),
		`* OK [UIDNEXT 3] Predicted next UID.`)
	if tagged != "OK [READ-WRITE] Select completed." {
		t.Errorf("tagged %q", tagged)
	}

	// \Recent went to the first session only; EXAMINE is read-only and
	// does not claim \Recent.
	e.deliver("u", "INBOX")
	b := e.dial("u", false)
	u, tagged = b.do("EXAMINE INBOX")
	mbHas(t, "EXAMINE", u, `^\* OK \[PERMANENTFLAGS \(\)\]`)
	mbHas(t, "EXAMINE", u, `^\* 1 RECENT$`)
	if tagged != "OK [READ-ONLY] Examine completed." {
		t.Errorf("EXAMINE tagged %q", tagged)
	}
	u = a.ok("NOOP")
	mbWant(t, "A after a delivery", u, `* 3 EXISTS`, `* 3 RECENT`)
	if _, tagged := b.do("STORE 1 +FLAGS (\\Flagged)"); !strings.HasPrefix(tagged, "NO [READ-ONLY]") {
		t.Errorf("STORE on EXAMINE: %q", tagged)
	}
}

func TestSelectRev2(t *testing.T) {
	e := newMBEnv(t, Options{})
	e.deliver("u", "INBOX", `\Seen`)
	e.deliver("u", "INBOX", `$Label1`)
	e.deliver("u", "INBOX")
	mb, _ := e.account("u").Mailbox(context.Background(), "INBOX")
	// IMAP4rev2: LIST, no RECENT nor UNSEEN; reselecting says CLOSED first.
	c := e.dial("u", true)
	u := c.ok("SELECT INBOX")
	mbWant(t, "rev2 SELECT", u,
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Label1 \*)] Flags permitted.`,
		`* 3 EXISTS`,
		fmt.Sprintf(`* OK [UIDVALIDITY %d] UIDs valid.`, mb.UIDValidity),
		`* OK [UIDNEXT 4] Predicted next UID.`,
		`* LIST () "/" INBOX`)
	u = c.ok("SELECT Sent")
	if len(u) == 0 || u[0] != "* OK [CLOSED] Previous mailbox closed." {
		t.Errorf("reselect: %q", u)
	}
	mbHas(t, "SELECT Sent", u, `^\* LIST \(\\Sent\) "/" Sent$`)
}

func TestSelectMissing(t *testing.T) {
	e := newMBEnv(t, Options{})
	e.deliver("u", "INBOX", `\Deleted`)
	a := e.dial("u", false)
	a.ok("SELECT INBOX")
	u, tagged := a.do("SELECT Nope")
	if !strings.HasPrefix(tagged, "NO [NONEXISTENT]") {
		t.Errorf("SELECT missing: %q", tagged)
	}
	mbWant(t, "SELECT missing", u, `* OK [CLOSED] Previous mailbox closed.`)
	// Back in the authenticated state; the old mailbox was not expunged.
	if _, tagged := a.do("CLOSE"); !strings.HasPrefix(tagged, "BAD") {
		t.Errorf("CLOSE after failed SELECT: %q", tagged)
	}
	st, err := e.account("u").Status(context.Background(), "INBOX")
	if err != nil || st.Messages != 1 {
		t.Errorf("INBOX status %+v, %v", st, err)
	}
}

func TestOtherSessionChanges(t *testing.T) {
	e := newMBEnv(t, Options{})
	for range 4 {
		e.deliver("u", "INBOX")
	}
	a := e.dial("u", false)
	b := e.dial("u", false)
	a.ok("SELECT INBOX")
	b.ok("SELECT INBOX")

	b.ok(`STORE 2 +FLAGS (\Seen)`)
	b.ok(`STORE 3 +FLAGS (\Deleted)`)
	u := b.ok("EXPUNGE")
	mbWant(t, "B EXPUNGE", u, `* 3 EXPUNGE`)
	e.deliver("u", "INBOX")

	// A learns everything at NOOP: the expunge first, so the FETCH for
	// UID 2 and the EXISTS use sequence numbers after it.
	u = a.ok("NOOP")
	mbWant(t, "A NOOP", u,
		`* 3 EXPUNGE`,
		`* 2 FETCH (UID 2 FLAGS (\Seen \Recent))`,
		`* 4 EXISTS`,
		`* 4 RECENT`) // A took the new message's \Recent
	u = a.ok("NOOP")
	mbWant(t, "A second NOOP", u)

	// EXPUNGE is withheld during STORE by sequence number and sent at
	// the next command that allows it.
	b.ok(`STORE 1 +FLAGS (\Deleted)`)
	b.ok("EXPUNGE")
	u = a.ok(`STORE 4 +FLAGS (\Flagged)`)
	mbWant(t, "A STORE while expunge pending", u,
		`* 4 FETCH (FLAGS (\Flagged \Recent))`)
	// The expunged message keeps its sequence number until then: STORE on
	// it succeeds and changes nothing.
	u = a.ok(`STORE 1 +FLAGS (\Answered)`)
	mbWant(t, "STORE on expunged", u)
	u = a.ok(`UID STORE 4 +FLAGS (\Draft)`)
	mbWant(t, "UID STORE releases the expunge", u,
		`* 3 FETCH (UID 4 FLAGS (\Draft \Recent))`,
		`* 1 EXPUNGE`)
}

func TestStoreSilentAndKeywords(t *testing.T) {
	e := newMBEnv(t, Options{})
	e.deliver("u", "INBOX")
	e.deliver("u", "INBOX")
	a := e.dial("u", false)
	b := e.dial("u", false)
	a.ok("SELECT INBOX")
	b.ok("SELECT INBOX")

	u := a.ok(`STORE 1 +FLAGS.SILENT (\Seen)`)
	mbWant(t, "STORE .SILENT", u)
	u = a.ok("NOOP")
	mbWant(t, "NOOP after own silent store", u)

	// A new keyword: FLAGS and PERMANENTFLAGS come before the FETCH.
	u = a.ok(`STORE 2 +FLAGS ($Work)`)
	mbWant(t, "new keyword", u,
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work \*)] Flags permitted.`,
		`* 2 FETCH (FLAGS ($Work \Recent))`)
	// The other session learns the keyword and the flag changes.
	u = b.ok("NOOP")
	mbWant(t, "B sees keyword", u,
		`* FLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work)`,
		`* OK [PERMANENTFLAGS (\Answered \Flagged \Deleted \Seen \Draft $Work \*)] Flags permitted.`,
		`* 1 FETCH (UID 1 FLAGS (\Seen))`,
		`* 2 FETCH (UID 2 FLAGS ($Work))`)

	// .SILENT hides our own change, not another session's.
	b.ok(`STORE 1 +FLAGS (\Flagged)`)
	u = a.ok(`STORE 1 +FLAGS.SILENT (\Answered)`)
	u = append(u, a.ok("NOOP")...)
	mbWant(t, "silent store racing another session", u,
		`* 1 FETCH (UID 1 FLAGS (\Answered \Flagged \Seen \Recent))`)

	if _, tagged := a.do(`STORE 1 +FLAGS (\Recent)`); !strings.HasPrefix(tagged, "BAD") {
		t.Errorf("STORE \\Recent: %q", tagged)
	}
	if _, tagged := a.do(`STORE 3 +FLAGS (\Seen)`); !strings.HasPrefix(tagged, "BAD") {
		t.Errorf("STORE beyond the mailbox: %q", tagged)
	}
}

func TestCloseUnselect(t *testing.T) {
	e := newMBEnv(t, Options{})
	e.deliver("u", "INBOX", `\Deleted`)
	e.deliver("u", "INBOX")
	a := e.dial("u", false)
	a.ok("SELECT INBOX")
	u := a.ok("UNSELECT")
	mbWant(t, "UNSELECT", u)
	u = a.ok("SELECT INBOX")
	mbHas(t, "after UNSELECT", u, `^\* 2 EXISTS$`)
	u = a.ok("CLOSE")
	mbWant(t, "CLOSE sends no EXPUNGE", u)
	u = a.ok("SELECT INBOX")
	mbHas(t, "after CLOSE", u, `^\* 1 EXISTS$`)

	// CLOSE on EXAMINE expunges nothing.
	e.account("u").StoreFlags(context.Background(), 1, []mailstore.UID{2}, mailstore.FlagsAdd, []string{`\Deleted`}, 0)
	a.ok("EXAMINE INBOX")
	a.ok("CLOSE")
	u = a.ok("SELECT INBOX")
	mbHas(t, "after CLOSE on EXAMINE", u, `^\* 1 EXISTS$`)
}

func TestUIDExpunge(t *testing.T) {
	e := newMBEnv(t, Options{})
	for range 3 {
		e.deliver("u", "INBOX", `\Deleted`)
	}
	a := e.dial("u", false)
	a.ok("SELECT INBOX")
	u := a.ok("UID EXPUNGE 2:3")
	mbWant(t, "UID EXPUNGE", u, `* 3 EXPUNGE`, `* 2 EXPUNGE`)
	u = a.ok("UID EXPUNGE 7")
	mbWant(t, "UID EXPUNGE of nothing", u)
}

func TestCopyMove(t *testing.T) {
	e := newMBEnv(t, Options{})
	for range 4 {
		e.deliver("u", "INBOX")
	}
	e.deliver("u", "Archive")
	mbs, _ := e.account("u").Mailbox(context.Background(), "Archive")
	a := e.dial("u", false)
	b := e.dial("u", false)
	a.ok("SELECT INBOX")
	b.ok("SELECT INBOX")

	// The set is given out of order; COPYUID lists both sets ascending
	// and aligned.
	_, tagged := a.do("COPY 4,1:2 Archive")
	if want := fmt.Sprintf("OK [COPYUID %d 1:2,4 2:4] Copy completed.", mbs.UIDValidity); tagged != want {
		t.Errorf("COPY: %q, want %q", tagged, want)
	}
	if _, tagged := a.do("COPY 1 Nope"); !strings.HasPrefix(tagged, "NO [TRYCREATE]") {
		t.Errorf("COPY to missing: %q", tagged)
	}
	// Copy into the selected mailbox: new UIDs, reported as EXISTS.
	u, tagged := a.do("UID COPY 3 INBOX")
	if !strings.Contains(tagged, " 3 5] ") {
		t.Errorf("COPY to self: %q", tagged)
	}
	mbWant(t, "COPY to self", u, `* 5 EXISTS`, `* 5 RECENT`)

	u, tagged = a.do("MOVE 2:3 Archive")
	mbWant(t, "MOVE", u,
		fmt.Sprintf(`* OK [COPYUID %d 2:3 5:6] Moved UIDs.`, mbs.UIDValidity),
		`* 3 EXPUNGE`,
		`* 2 EXPUNGE`)
	if tagged != "OK Move completed." {
		t.Errorf("MOVE tagged %q", tagged)
	}
	u = b.ok("NOOP")
	mbWant(t, "B after A's copies and move", u, `* 3 EXPUNGE`, `* 2 EXPUNGE`, `* 3 EXISTS`, `* 0 RECENT`)

	a.ok("EXAMINE INBOX")
	if _, tagged := a.do("MOVE 1 Archive"); !strings.HasPrefix(tagged, "NO [READ-ONLY]") {
		t.Errorf("MOVE on EXAMINE: %q", tagged)
	}
}

func TestMailboxDeletedWhileSelected(t *testing.T) {
	e := newMBEnv(t, Options{})
	acct := e.account("u")
	if _, err := acct.CreateMailbox(context.Background(), "Work", ""); err != nil {
		t.Fatal(err)
	}
	a := e.dial("u", false)
	a.ok("SELECT Work")
	if err := acct.DeleteMailbox(context.Background(), "Work"); err != nil {
		t.Fatal(err)
	}
	a.write("t9 NOOP\r\n")
	if l := a.line(); l != "* BYE Selected mailbox was deleted, have to disconnect." {
		t.Errorf("after DELETE by another session: %q", l)
	}
}

func TestIdle(t *testing.T) {
	e := newMBEnv(t, Options{})
	e.deliver("u", "INBOX")
	a := e.dial("u", false)
	a.ok("SELECT INBOX")

	a.write("t10 IDLE\r\n")
	if l := a.line(); l != "+ idling" {
		t.Fatalf("IDLE: %q", l)
	}
	// A delivery by another process: a second store on the same
	// directory, as `roost deliver` does. The wake-up comes from polling.
	other, err := sqlite.Open(sqlite.Options{Dir: e.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	oa, err := other.Account(context.Background(), "u")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, _, err := oa.Append(context.Background(), "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	oa.Close()
	if l := a.line(); l != "* 2 EXISTS" {
		t.Fatalf("IDLE wake-up: %q", l)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("IDLE wake-up took %v", d)
	}
	if l := a.line(); l != "* 2 RECENT" {
		t.Fatalf("IDLE wake-up: %q", l)
	}
	// An expunge by this process is sent during IDLE too.
	acct := e.account("u")
	acct.Expunge(context.Background(), 1, mailstore.ExpungeOptions{UIDs: []mailstore.UID{1}})
	if l := a.line(); l != "* 1 EXPUNGE" {
		t.Fatalf("IDLE expunge: %q", l)
	}

	// DONE with a pipelined command in the same write (iOS).
	a.write("DONE\r\nt11 NOOP\r\n")
	_, tagged := a.until("t10")
	if !strings.HasPrefix(tagged, "OK") {
		t.Fatalf("IDLE tagged %q", tagged)
	}
	if _, tagged := a.until("t11"); !strings.HasPrefix(tagged, "OK") {
		t.Fatalf("pipelined NOOP %q", tagged)
	}

	// Anything but DONE ends IDLE with BAD; the session goes on.
	a.write("t12 IDLE\r\n")
	if l := a.line(); l != "+ idling" {
		t.Fatalf("IDLE: %q", l)
	}
	a.write("NOPE\r\n")
	if _, tagged := a.until("t12"); !strings.HasPrefix(tagged, "BAD") {
		t.Errorf("IDLE ended by garbage: %q", tagged)
	}
	a.ok("NOOP")
}

func TestIdleTimeoutAndShutdown(t *testing.T) {
	e := newMBEnv(t, Options{IdleTimeout: 300 * time.Millisecond})
	a := e.dial("u", false)
	a.write("t1 IDLE\r\n")
	if l := a.line(); l != "+ idling" {
		t.Fatalf("IDLE: %q", l)
	}
	if l := a.line(); !strings.HasPrefix(l, "* BYE") {
		t.Errorf("IDLE timeout: %q", l)
	}

	e2 := newMBEnv(t, Options{})
	b := e2.dial("u", false)
	b.ok("SELECT INBOX")
	b.write("t2 IDLE\r\n")
	if l := b.line(); l != "+ idling" {
		t.Fatalf("IDLE: %q", l)
	}
	// Shutdown: the server's context is cancelled.
	e2.cancel()
	if l := b.line(); l != "* BYE Server shutting down." {
		t.Errorf("IDLE at shutdown: %q", l)
	}
}
