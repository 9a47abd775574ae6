package pop3server

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
	"github.com/roost-mail/roost/internal/netserver"
	"github.com/roost-mail/roost/internal/testutil"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
	"github.com/roost-mail/roost/internal/testutil/pgtest/pgstore"
	"github.com/roost-mail/roost/internal/tlsutil"
)

// ioTimeout bounds every client read and write in tests so that a wrong
// expectation fails instead of hanging.
const ioTimeout = 10 * time.Second

// Test users in the passwd-file.
const (
	alicePass = "alice-secret-pw"
	bobPass   = "bob pass with spaces"
)

// env is a POP3 server on a fresh SQLite store, listening on 127.0.0.1.
type env struct {
	t       testing.TB
	dir     string
	store   mailstore.Store // SQLite, or PostgreSQL with ROOST_TEST_STORE=postgres (pgstore)
	auth    *auth.Service
	srv     *Server
	addr    string
	tls     *tls.Config // server side; nil: no STLS
	cancel  context.CancelFunc
	logs    *testutil.LogBuffer
	writes  atomic.Int64 // Write calls on server-side connections
	wg      sync.WaitGroup
	clients []*client
	ended   chan struct{} // one value per finished session
}

type envConfig struct {
	tls  bool             // offer STLS
	opts func(o *Options) // adjust server options
	dir  string           // reuse a data directory (UIDL stability test)
}

// TestMain stops the private PostgreSQL cluster of a ROOST_TEST_STORE=postgres
// run, if one was started.
func TestMain(m *testing.M) { pgtest.Main(m) }

// newEnv starts a server. Cleanup stops it and waits for every session.
func newEnv(t testing.TB, cfg envConfig) *env {
	t.Helper()
	e := &env{t: t, dir: cfg.dir, logs: &testutil.LogBuffer{}, ended: make(chan struct{}, 1000)}
	if e.dir == "" {
		e.dir = t.TempDir()
	}
	logger := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	st, err := pgstore.Open(t, sqlite.Options{Dir: filepath.Join(e.dir, "mail"), Logger: logger})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	e.store = st

	users := filepath.Join(e.dir, "users")
	pw := "alice:{PLAIN}" + alicePass + "\nbob:{PLAIN}" + bobPass + "\n"
	if err := os.WriteFile(users, []byte(pw), 0o600); err != nil {
		t.Fatal(err)
	}
	e.auth, err = auth.New(auth.Options{
		Passdbs:              []auth.PassdbConfig{{Driver: "passwd-file", Path: users}},
		Mechanisms:           []string{"PLAIN", "LOGIN"},
		DisablePlaintextAuth: true,
		FailureDelay:         0,
		Logger:               logger,
	})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	if cfg.tls {
		e.tls = selfSignedTLS(t)
	}
	opts := Options{Store: st, Auth: e.auth, Logger: logger}
	if cfg.opts != nil {
		cfg.opts(&opts)
	}
	e.srv = New(opts)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel = cancel
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := netserver.NewConn(countingConn{nc, &e.writes}, e.tls, false, logger)
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer c.Close()
				e.srv.ServeConn(ctx, c)
				e.ended <- struct{}{}
			}()
		}
	}()
	t.Cleanup(func() {
		for _, c := range e.clients {
			c.conn.Close()
		}
		cancel()
		ln.Close()
		e.wg.Wait()
		st.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", e.logs.String())
		}
	})
	return e
}

// waitEnded waits until n more sessions have finished (and released
// their maildrop lock and logged out).
func (e *env) waitEnded(n int) {
	e.t.Helper()
	for range n {
		select {
		case <-e.ended:
		case <-time.After(ioTimeout):
			e.t.Fatal("session did not end")
		}
	}
}

// shutdown cancels the server context, as netserver does on shutdown.
func (e *env) shutdown() { e.cancel() }

// deliver appends a message to user's INBOX and returns its UID.
func (e *env) deliver(user, msg string) mailstore.UID {
	e.t.Helper()
	ctx := context.Background()
	acct, err := e.store.Account(ctx, user)
	if err != nil {
		e.t.Fatal(err)
	}
	defer acct.Close()
	_, uid, err := acct.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(msg))
	if err != nil {
		e.t.Fatalf("append: %v", err)
	}
	return uid
}

// inbox returns the metadata of user's INBOX messages as the store sees it.
func (e *env) inbox(user string) []mailstore.MessageMeta {
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
	return msgs
}

// inboxUIDs returns the UIDs in user's INBOX.
func (e *env) inboxUIDs(user string) []mailstore.UID {
	var uids []mailstore.UID
	for _, m := range e.inbox(user) {
		uids = append(uids, m.UID)
	}
	return uids
}

// dial connects from 127.0.0.1: remote IP == local IP, a secure connection.
func (e *env) dial() *client { return e.dialFrom("127.0.0.1") }

// dialInsecure connects from 127.0.0.2, so the connection is not secure
// (remote IP differs from local IP) until STLS.
func (e *env) dialInsecure() *client { return e.dialFrom("127.0.0.2") }

func (e *env) dialFrom(ip string) *client {
	e.t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: ioTimeout}
	conn, err := d.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatalf("dial from %s: %v", ip, err)
	}
	c := &client{t: e.t, conn: conn, r: bufio.NewReader(conn)}
	e.clients = append(e.clients, c)
	return c
}

// connect dials and reads the greeting.
func (e *env) connect() *client {
	e.t.Helper()
	c := e.dial()
	c.Expect("+OK Roost ready.")
	return c
}

// login connects and logs in with USER/PASS.
func (e *env) login(user, pass string) *client {
	e.t.Helper()
	c := e.connect()
	c.Send("USER " + user).Expect("+OK")
	c.Send("PASS " + pass).Expect("+OK Logged in.")
	return c
}

// client is a test POP3 client that reads and writes lines.
type client struct {
	t    testing.TB
	conn net.Conn
	r    *bufio.Reader
}

// Send writes one command line.
func (c *client) Send(line string) *client {
	c.t.Helper()
	c.Write(line + "\r\n")
	return c
}

// Write writes raw bytes, in one write call.
func (c *client) Write(raw string) *client {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.conn, raw); err != nil {
		c.t.Fatalf("write %q: %v", raw, err)
	}
	return c
}

// ReadLine reads one response line without CRLF; every line must end in
// CRLF.
func (c *client) ReadLine() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	line, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read line: %v (got %q)", err, line)
	}
	if !strings.HasSuffix(line, "\r\n") {
		c.t.Fatalf("line %q does not end in CRLF", line)
	}
	return strings.TrimSuffix(line, "\r\n")
}

// Expect reads one line and requires it to equal want exactly.
func (c *client) Expect(want string) *client {
	c.t.Helper()
	if got := c.ReadLine(); got != want {
		c.t.Fatalf("got %q, want %q", got, want)
	}
	return c
}

// ExpectPrefix reads one line, requires the prefix and returns the line.
func (c *client) ExpectPrefix(prefix string) string {
	c.t.Helper()
	got := c.ReadLine()
	if !strings.HasPrefix(got, prefix) {
		c.t.Fatalf("got %q, want prefix %q", got, prefix)
	}
	return got
}

// ExpectMulti reads a multi-line response: the status line must equal
// first; it returns the unstuffed lines before the terminator.
func (c *client) ExpectMulti(first string) []string {
	c.t.Helper()
	c.Expect(first)
	var lines []string
	for {
		l := c.ReadLine()
		if l == "." {
			return lines
		}
		if strings.HasPrefix(l, ".") {
			l = l[1:]
		}
		lines = append(lines, l)
	}
}

// ExpectList reads a multi-line response and compares all its lines.
func (c *client) ExpectList(first string, want ...string) *client {
	c.t.Helper()
	got := c.ExpectMulti(first)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		c.t.Fatalf("after %q got lines\n%s\nwant\n%s", first, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	return c
}

// ReadBody reads the raw bytes of a multi-line response body up to and
// including the terminator, and returns the unstuffed body.
func (c *client) ReadBody() []byte {
	c.t.Helper()
	var raw []byte
	for {
		c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
		line, err := c.r.ReadSlice('\n')
		raw = append(raw, line...)
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil {
			c.t.Fatalf("read body: %v", err)
		}
		if bytes.HasSuffix(raw, []byte("\r\n.\r\n")) || string(raw) == ".\r\n" {
			return unstuff(c.t, raw)
		}
	}
}

// ExpectClosed requires the server to close the connection without sending
// anything more.
func (c *client) ExpectClosed() {
	c.t.Helper()
	testutil.ExpectClosed(c.t, c.conn, c.r, ioTimeout)
}

// StartTLS runs the client side of a TLS handshake after STLS.
func (c *client) StartTLS() {
	c.t.Helper()
	c.conn, c.r = testutil.ClientTLS(c.t, c.conn, c.r, ioTimeout)
}

// countingConn counts Write calls, to check that pipelined answers are
// flushed together.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	return c.Conn.Write(p)
}

// selfSignedTLS returns a server TLS config with a fresh self-signed
// certificate for localhost.
func selfSignedTLS(t testing.TB) *tls.Config {
	t.Helper()
	return tlsutil.TestServerConfig()
}

// msg builds a small CRLF message.
func msg(subject, body string) string {
	return "From: sender@example.org\r\nTo: alice@example.org\r\nSubject: " + subject + "\r\n\r\n" + body
}
