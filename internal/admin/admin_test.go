package admin

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

type users []string

func (u users) UserExists(_ context.Context, name string) (bool, error) {
	for _, n := range u {
		if n == name {
			return true, nil
		}
	}
	return false, nil
}

// start serves a Service over a socket in a temporary directory and
// returns a connected client.
func start(t *testing.T) (*Client, *Service, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := sqlite.Open(sqlite.Options{Dir: filepath.Join(dir, "mail"), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	svc := &Service{Store: st, Users: users{"alice"}, Sessions: NewRegistry(), KickWait: 2 * time.Second}
	path := SocketPath(dir)
	srv, err := Listen(path, svc, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	c, err := Dial(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		st.Close()
	})
	return c, svc, path
}

func call(t *testing.T, c *Client, req Request, res any) {
	t.Helper()
	if err := c.Call(context.Background(), req, res); err != nil {
		t.Fatalf("%+v: %v", req, err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func TestSocketModeAndStale(t *testing.T) {
	_, svc, path := start(t)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want socket 0600", st.Mode())
	}
	// A second server on the same path is refused while the first runs.
	if _, err := Listen(path, svc, nil); err == nil || !strings.Contains(err.Error(), "running") {
		t.Errorf("second Listen: %v", err)
	}
	// A stale socket file (nobody listening) is replaced.
	stale := filepath.Join(t.TempDir(), SocketName)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if _, err := Dial(context.Background(), stale); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Dial stale socket: %v, want ErrNotRunning", err)
	}
	srv, err := Listen(stale, svc, nil)
	if err != nil {
		t.Fatalf("Listen over stale socket: %v", err)
	}
	srv.Close()
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("socket not removed on Close: %v", err)
	}
	if _, err := Dial(context.Background(), filepath.Join(t.TempDir(), "none.sock")); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Dial missing socket: %v, want ErrNotRunning", err)
	}
}

func TestWhoKick(t *testing.T) {
	c, svc, _ := start(t)
	reg := svc.Sessions
	kicked := map[string]chan struct{}{}
	add := func(proto, user, remote string) (func(string), func()) {
		ch := make(chan struct{})
		kicked[proto+user] = ch
		return reg.Register(proto, user, netip.MustParseAddrPort(remote), func() { close(ch) })
	}
	setMbox, doneA := add("imap", "alice", "192.0.2.1:40000")
	_, doneB := add("pop3", "alice", "[2001:db8::1]:40001")
	_, doneC := add("imap", "bob", "192.0.2.2:40002")
	defer doneC()
	setMbox("INBOX")

	var who []Session
	call(t, c, Request{Cmd: "who"}, &who)
	if len(who) != 3 {
		t.Fatalf("who: %+v", who)
	}
	if w := who[0]; w.User != "alice" || w.Protocol != "imap" || w.Remote != "192.0.2.1" || w.Port != 40000 || w.Mailbox != "INBOX" || w.Since.IsZero() {
		t.Errorf("who[0] = %+v", w)
	}
	if w := who[1]; w.Protocol != "pop3" || w.Remote != "2001:db8::1" || w.Mailbox != "" {
		t.Errorf("who[1] = %+v", w)
	}

	// Sessions end when kicked (here: once the kick func ran).
	go func() { <-kicked["imapalice"]; doneA() }()
	go func() { <-kicked["pop3alice"]; doneB() }()
	var kr KickResult
	call(t, c, Request{Cmd: "kick", User: "alice"}, &kr)
	if kr.Kicked != 2 || kr.Pending != 0 {
		t.Errorf("kick: %+v", kr)
	}
	select {
	case <-kicked["imapbob"]:
		t.Error("bob was kicked too")
	default:
	}
	call(t, c, Request{Cmd: "who"}, &who)
	if len(who) != 1 || who[0].User != "bob" {
		t.Errorf("who after kick: %+v", who)
	}
	// A session that does not end in time is reported as pending.
	svc.KickWait = 50 * time.Millisecond
	call(t, c, Request{Cmd: "kick", User: "bob"}, &kr)
	if kr.Kicked != 1 || kr.Pending != 1 {
		t.Errorf("kick of a stuck session: %+v", kr)
	}
}

func TestMailboxCommands(t *testing.T) {
	c, svc, _ := start(t)
	ctx := context.Background()
	call(t, c, Request{Cmd: "mailbox.create", User: "alice", Mailbox: "Lists/Go"}, nil)
	err := c.Call(ctx, Request{Cmd: "mailbox.create", User: "alice", Mailbox: "Lists/Go"}, nil)
	wantCode(t, err, CodeExists)
	call(t, c, Request{Cmd: "mailbox.rename", User: "alice", Mailbox: "Lists/Go", NewName: "Lists/Golang"}, nil)

	acct, _ := svc.Store.Account(ctx, "alice")
	defer acct.Close()
	for _, flags := range [][]string{{mailstore.FlagSeen}, nil} {
		if _, _, err := acct.Append(ctx, "INBOX", mailstore.NewMessage{Flags: flags}, strings.NewReader("Subject: x\r\n\r\nhi\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	var list []MailboxInfo
	call(t, c, Request{Cmd: "mailbox.list", User: "alice"}, &list)
	var names []string
	for _, m := range list {
		names = append(names, m.Name)
		if m.Name == "INBOX" && (m.Messages != 2 || m.Unseen != 1 || m.Size == 0) {
			t.Errorf("INBOX row %+v", m)
		}
		if m.Name == "Sent" && m.SpecialUse != mailstore.SpecialSent {
			t.Errorf("Sent row %+v", m)
		}
	}
	if got := strings.Join(names, ","); !strings.Contains(got, "Lists/Golang") || strings.Contains(got, "Lists/Go,") {
		t.Errorf("list: %s", got)
	}
	var st MailboxStatus
	call(t, c, Request{Cmd: "mailbox.status", User: "alice", Mailbox: "inbox"}, &st)
	if st.Name != "INBOX" || st.Messages != 2 || st.Unseen != 1 || st.UIDNext != 3 || st.UIDValidity == 0 || st.HighestModSeq == 0 {
		t.Errorf("status %+v", st)
	}
	call(t, c, Request{Cmd: "mailbox.delete", User: "alice", Mailbox: "Lists/Golang"}, nil)
	err = c.Call(ctx, Request{Cmd: "mailbox.status", User: "alice", Mailbox: "Lists/Golang"}, nil)
	wantCode(t, err, CodeNotFound)
	if !strings.HasPrefix(err.Error(), "Lists/Golang: ") {
		t.Errorf("error %q does not name the mailbox", err)
	}
	wantCode(t, c.Call(ctx, Request{Cmd: "mailbox.delete", User: "alice", Mailbox: "INBOX"}, nil), CodeNoPerm)
	wantCode(t, c.Call(ctx, Request{Cmd: "mailbox.list", User: "mallory"}, nil), CodeUnknownUser)
	wantCode(t, c.Call(ctx, Request{Cmd: "mailbox.list"}, nil), CodeUsage)
	wantCode(t, c.Call(ctx, Request{Cmd: "frobnicate"}, nil), CodeUsage)
}

func TestExpunge(t *testing.T) {
	c, svc, _ := start(t)
	ctx := context.Background()
	acct, _ := svc.Store.Account(ctx, "alice")
	defer acct.Close()
	old := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	recent := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	msgs := []struct {
		flags []string
		date  time.Time
		subj  string
	}{
		{[]string{mailstore.FlagSeen}, old, "old seen"},     // 1: matches
		{nil, old, "old unseen"},                            // 2
		{[]string{mailstore.FlagSeen}, recent, "new seen"},  // 3
		{[]string{mailstore.FlagSeen}, old, "hello world"},  // 4: matches
		{[]string{mailstore.FlagFlagged}, old, "flagged x"}, // 5
	}
	for _, m := range msgs {
		body := "Subject: " + m.subj + "\r\nFrom: bob@example.org\r\n\r\nbody\r\n"
		if _, _, err := acct.Append(ctx, "INBOX", mailstore.NewMessage{Flags: m.flags, InternalDate: m.date}, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	var res ExpungeResult
	call(t, c, Request{Cmd: "expunge", User: "alice", Mailbox: "INBOX", Query: "SEEN BEFORE 1-Jan-2026"}, &res)
	if len(res.Expunged) != 2 || res.Expunged[0] != 1 || res.Expunged[1] != 4 {
		t.Fatalf("expunged %v, want [1 4]", res.Expunged)
	}
	// Header keys read the message: only "flagged x" has that subject.
	call(t, c, Request{Cmd: "expunge", User: "alice", Mailbox: "INBOX", Query: `OR SUBJECT "flagged x" SUBJECT nomatch`}, &res)
	if len(res.Expunged) != 1 || res.Expunged[0] != 5 {
		t.Fatalf("expunged %v, want [5]", res.Expunged)
	}
	mbox, _ := acct.Mailbox(ctx, "INBOX")
	left, _ := acct.Messages(ctx, mbox.ID)
	if len(left) != 2 || left[0].UID != 2 || left[1].UID != 3 {
		t.Errorf("left: %+v", left)
	}
	call(t, c, Request{Cmd: "expunge", User: "alice", Mailbox: "INBOX", Query: "DELETED"}, &res)
	if len(res.Expunged) != 0 {
		t.Errorf("expunged %v, want none", res.Expunged)
	}
	wantCode(t, c.Call(ctx, Request{Cmd: "expunge", User: "alice", Mailbox: "INBOX", Query: "SEEN BEFORE yesterday"}, nil), CodeUsage)
	wantCode(t, c.Call(ctx, Request{Cmd: "expunge", User: "alice", Mailbox: "INBOX"}, nil), CodeUsage)
	wantCode(t, c.Call(ctx, Request{Cmd: "expunge", User: "alice", Mailbox: "Nope", Query: "ALL"}, nil), CodeNotFound)
}

func TestParseSearch(t *testing.T) {
	for _, q := range []string{"SEEN BEFORE 1-Jan-2026", "ALL", `OR FROM bob SUBJECT "a b"`, "LARGER 1000 NOT FLAGGED", "CHARSET UTF-8 SUBJECT x", "(SEEN DELETED) 1:*"} {
		if _, k, err := ParseSearch(q); err != nil || k == nil {
			t.Errorf("ParseSearch(%q): %v", q, err)
		}
	}
	for _, q := range []string{"", "BEFORE", "SEEN\r\nx LOGOUT", "FROBNICATE", "RETURN (ALL) SEEN", "{3}\r\nabc"} {
		if _, _, err := ParseSearch(q); err == nil {
			t.Errorf("ParseSearch(%q) accepted", q)
		}
	}
}

func TestLocalWithoutSessions(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlite.Open(sqlite.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := &Service{Store: st, Users: users{"alice"}}
	wantCode(t, Local(context.Background(), svc, Request{Cmd: "who"}, nil), CodeUnavailable)
	var st2 MailboxStatus
	if err := Local(context.Background(), svc, Request{Cmd: "mailbox.status", User: "alice", Mailbox: "INBOX"}, &st2); err != nil || st2.Name != "INBOX" {
		t.Errorf("local status: %+v %v", st2, err)
	}
}
