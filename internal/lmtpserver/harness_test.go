package lmtpserver

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/delivery"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
	"github.com/roost-mail/roost/internal/netserver"
	"github.com/roost-mail/roost/internal/testutil"
)

// ioTimeout bounds every client read and write so that a wrong expectation
// fails instead of hanging.
const ioTimeout = 10 * time.Second

// users is a fixed user list; fail makes every lookup fail (a passdb that
// cannot be read).
type users struct {
	names []string
	fail  error
}

func (u *users) LookupUser(_ context.Context, name string) (string, bool, error) {
	if u.fail != nil {
		return "", false, u.fail
	}
	for _, n := range u.names {
		if n == name {
			return n, true, nil
		}
	}
	return "", false, nil
}

// env is an LMTP server on a fresh SQLite store, listening on 127.0.0.1.
type env struct {
	t     testing.TB
	store *sqlite.Store
	users *users
	net   *netserver.Server
	addr  string
	logs  *testutil.LogBuffer
	done  chan struct{}
}

// newEnv starts a server; adjust may change its options (the Deliverer is
// set already).
func newEnv(t testing.TB, adjust func(*Options)) *env {
	t.Helper()
	return newEnvStore(t, sqlite.Options{}, adjust)
}

// newEnvStore is newEnv with store options (Dir and Logger are set here).
func newEnvStore(t testing.TB, so sqlite.Options, adjust func(*Options)) *env {
	t.Helper()
	e := &env{t: t, users: &users{names: []string{"alice", "bob@example.com"}}, logs: &testutil.LogBuffer{}, done: make(chan struct{})}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if _, ok := t.(*testing.B); ok {
		logger = slog.New(slog.DiscardHandler)
	}
	so.Dir, so.Logger = filepath.Join(t.TempDir(), "mail"), logger
	st, err := sqlite.Open(so)
	if err != nil {
		t.Fatal(err)
	}
	e.store = st
	opts := Options{
		Deliverer: delivery.New(delivery.Options{Store: st, Users: e.users, Logger: logger}),
		Users:     e.users,
		Store:     st,
		Hostname:  "mx.test",
		Logger:    logger,
	}
	if adjust != nil {
		adjust(&opts)
	}
	e.net = netserver.New(netserver.Options{Logger: logger})
	l := netserver.Listener{Name: "lmtp", Protocol: "lmtp", Address: "127.0.0.1:0", Handler: New(opts)}
	ln, err := e.net.Listen(l)
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	go func() {
		defer close(e.done)
		e.net.Serve(ln, l)
	}()
	t.Cleanup(func() {
		e.shutdown()
		st.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

var shutdownOnce sync.Map

// shutdown stops the server (once) and waits for every session.
func (e *env) shutdown() {
	if _, dup := shutdownOnce.LoadOrStore(e, true); dup {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := e.net.Shutdown(ctx); err != nil {
		e.t.Errorf("shutdown: %v", err)
	}
	<-e.done
}

// client is a raw LMTP client.
type client struct {
	t  testing.TB
	nc net.Conn
	r  *bufio.Reader
}

// dial connects and checks the greeting.
func (e *env) dial() *client {
	e.t.Helper()
	nc, err := net.DialTimeout("tcp", e.addr, ioTimeout)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { nc.Close() })
	c := &client{t: e.t, nc: nc, r: bufio.NewReader(nc)}
	if g := c.line(); !strings.HasPrefix(g, "220 mx.test ") {
		e.t.Fatalf("greeting %q", g)
	}
	return c
}

// send writes raw bytes.
func (c *client) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// line reads one reply line without CRLF.
func (c *client) line() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
	l, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read reply: %v (got %q)", err, l)
	}
	if !strings.HasSuffix(l, "\r\n") {
		c.t.Fatalf("reply %q does not end in CRLF", l)
	}
	return strings.TrimSuffix(l, "\r\n")
}

// reply reads one (possibly multi-line) reply and returns its lines.
func (c *client) reply() []string {
	c.t.Helper()
	var ls []string
	for {
		l := c.line()
		ls = append(ls, l)
		if len(l) < 4 || l[3] != '-' {
			return ls
		}
	}
}

// do sends one command and returns the last line of its reply.
func (c *client) do(cmd string) string {
	c.t.Helper()
	c.send(cmd + "\r\n")
	r := c.reply()
	return r[len(r)-1]
}

// expect sends cmd and requires the reply to start with prefix.
func (c *client) expect(cmd, prefix string) string {
	c.t.Helper()
	got := c.do(cmd)
	if !strings.HasPrefix(got, prefix) {
		c.t.Fatalf("%s: got %q, want %q...", cmd, got, prefix)
	}
	return got
}

// expectLine reads a line that must start with prefix.
func (c *client) expectLine(prefix string) string {
	c.t.Helper()
	got := c.line()
	if !strings.HasPrefix(got, prefix) {
		c.t.Fatalf("got %q, want %q...", got, prefix)
	}
	return got
}

// inbox returns the bodies stored in user's INBOX, in UID order.
func (e *env) inbox(user string) [][]byte {
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
	msgs, err := acct.Messages(ctx, mb.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var out [][]byte
	for _, m := range msgs {
		b, err := acct.Open(ctx, mb.ID, m.UID)
		if err != nil {
			e.t.Fatal(err)
		}
		data, err := io.ReadAll(b)
		b.Close()
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

func dialQuick(addr string) (net.Conn, error) {
	return net.DialTimeout("tcp", addr, time.Second)
}
