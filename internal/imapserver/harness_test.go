package imapserver

// Test harness for the IMAP server, shared by every test in this package.
//
// A testServer is a real Server on 127.0.0.1:0 (real TCP) over a fresh
// SQLite store in t.TempDir() and a real auth.Service reading a
// passwd-file with two users, alice (alicePass) and bob (bobPass). Tests
// read like sessions:
//
//	ts := newTestServer(t)
//	c := ts.login("alice")                       // dial, greeting, LOGIN
//	c.do(`a1 CREATE Foo`).ok()
//	c.do(`a2 LIST "" F*`).untagged(`* LIST (\HasNoChildren) "/" Foo`).ok()
//	c.do(`a3 SELECT Nope`).no("NONEXISTENT")
//
//	c2 := ts.login("alice")                      // a second session watching
//	ts.deliver("alice", "INBOX", testMsg("hi"))  // or c.append(...)
//	c2.do(`b1 NOOP`).untagged(`* 1 EXISTS`).ok()
//
// do sends one command line (CRLF added; the tag is its first word) and
// reads every response up to the tagged one; server literals ({n}) are read
// into the line. The returned *response checks the untagged lines (exactly:
// untagged, or some of them: contains / lacks / untaggedPrefix) and the
// tagged status (ok, no, bad, with an optional response code, or tagged
// for the exact text).
//
// Lower level, for pipelining, continuations and bad input:
//
//	c.send("a1 NOOP\r\na2 NOOP\r\n")   // raw bytes, one write
//	c.expect("a1 OK Noop completed.")  // one exact line
//	c.readLine()                       // one line without CRLF
//	c.readUntilTagged("a2")            // lines up to and including a2's reply
//	c.expectClosed()                   // server closed the connection
//
// Options: newTestServer(t, withTLS()) offers STARTTLS (c.startTLS() does
// the client side), withOptions(func(*Options)) changes server options,
// withAuth(func(*auth.Options)) changes authentication. ts.dialFrom("127.0.0.2")
// connects from another loopback address: an insecure connection, where
// LOGINDISABLED applies. ts.logs holds the server log (printed when a test
// fails). ts.shutdown() cancels the server context as netserver does on
// shutdown; ts.waitEnded(n) waits for n sessions to end.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

var testPasswords = map[string]string{"alice": alicePass, "bob": bobPass}

// testServer is an IMAP server on a fresh SQLite store, listening on
// 127.0.0.1.
type testServer struct {
	t      testing.TB
	dir    string
	store  mailstore.Store // SQLite, or PostgreSQL with ROOST_TEST_STORE=postgres (pgstore)
	auth   *auth.Service
	srv    *Server
	addr   string
	tls    *tls.Config     // server side; nil: no STARTTLS
	ctx    context.Context // cancelled by shutdown
	cancel context.CancelFunc
	logger *slog.Logger
	logs   *syncBuffer
	writes atomic.Int64 // Write calls on server-side connections
	// written counts the bytes of those calls; bytes sent with sendfile
	// (fetch_sendfile.go) bypass them.
	written atomic.Int64
	wg      sync.WaitGroup
	ended   chan struct{} // one value per finished session

	mu      sync.Mutex
	clients []*testClient
}

type testConfig struct {
	tls   bool
	opts  func(*Options)
	auth  func(*auth.Options)
	store func(*sqlite.Options)
}

// withStore adjusts the store options (Dir and Logger are set already).
func withStore(f func(*sqlite.Options)) func(*testConfig) { return func(c *testConfig) { c.store = f } }

// withTLS offers STARTTLS.
func withTLS() func(*testConfig) { return func(c *testConfig) { c.tls = true } }

// withOptions adjusts the server options.
func withOptions(f func(*Options)) func(*testConfig) { return func(c *testConfig) { c.opts = f } }

// withAuth adjusts the authentication options.
func withAuth(f func(*auth.Options)) func(*testConfig) { return func(c *testConfig) { c.auth = f } }

// TestMain stops the private PostgreSQL cluster of a ROOST_TEST_STORE=postgres
// run, if one was started.
func TestMain(m *testing.M) { pgtest.Main(m) }

// newTestServer starts a server. Cleanup stops it and waits for every
// session.
func newTestServer(t testing.TB, cfgs ...func(*testConfig)) *testServer {
	t.Helper()
	var cfg testConfig
	for _, f := range cfgs {
		f(&cfg)
	}
	ts := &testServer{t: t, dir: t.TempDir(), logs: &syncBuffer{}, ended: make(chan struct{}, 1000)}
	logger := slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	so := sqlite.Options{Dir: filepath.Join(ts.dir, "mail"), Logger: logger}
	if cfg.store != nil {
		cfg.store(&so)
	}
	st, err := pgstore.Open(t, so)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	ts.store = st

	users := filepath.Join(ts.dir, "users")
	pw := "alice:{PLAIN}" + alicePass + "\nbob:{PLAIN}" + bobPass + "\n"
	if err := os.WriteFile(users, []byte(pw), 0o600); err != nil {
		t.Fatal(err)
	}
	ao := auth.Options{
		Passdbs:              []auth.PassdbConfig{{Driver: "passwd-file", Path: users}},
		Mechanisms:           []string{"PLAIN", "LOGIN"},
		DisablePlaintextAuth: true,
		Logger:               logger,
	}
	if cfg.auth != nil {
		cfg.auth(&ao)
	}
	if ts.auth, err = auth.New(ao); err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	if cfg.tls {
		ts.tls = tlsutil.TestServerConfig()
	}
	opts := Options{Store: st, Auth: ts.auth, Logger: logger, TempDir: t.TempDir()}
	if cfg.opts != nil {
		cfg.opts(&opts)
	}
	ts.srv = New(opts)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	ts.ctx, ts.cancel, ts.logger = ctx, cancel, logger
	ts.wg.Add(1)
	go func() {
		defer ts.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := netserver.NewConn(countingConn{nc, &ts.writes, &ts.written}, ts.tls, false, logger)
			ts.wg.Add(1)
			go func() {
				defer ts.wg.Done()
				defer c.Close()
				ts.srv.ServeConn(ctx, c)
				select {
				case ts.ended <- struct{}{}:
				default: // nobody counts (a fuzz run with many sessions)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ts.mu.Lock()
		for _, c := range ts.clients {
			c.conn.Close()
		}
		ts.mu.Unlock()
		cancel()
		ln.Close()
		ts.wg.Wait()
		st.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs.String())
		}
	})
	return ts
}

// shutdown cancels the server context, as netserver does on shutdown.
func (ts *testServer) shutdown() { ts.cancel() }

// waitEnded waits until n more sessions have finished.
func (ts *testServer) waitEnded(n int) {
	ts.t.Helper()
	for range n {
		select {
		case <-ts.ended:
		case <-time.After(ioTimeout):
			ts.t.Fatal("session did not end")
		}
	}
}

// dialFrom connects from the given local IP without reading the greeting.
// From 127.0.0.1 the connection is secure (remote IP == local IP); from
// 127.0.0.2 it is not.
func (ts *testServer) dialFrom(ip string) *testClient {
	ts.t.Helper()
	return ts.dialAs(ts.t, ip)
}

// dialAs is dialFrom reporting failures to t (a subtest or fuzz target).
func (ts *testServer) dialAs(t testing.TB, ip string) *testClient {
	t.Helper()
	d := net.Dialer{Timeout: ioTimeout}
	if ip != "127.0.0.1" {
		// Binding the source address costs ephemeral ports (no reuse of
		// TIME_WAIT ones): only when it matters.
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)}
	}
	conn, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", ip, err)
	}
	c := &testClient{t: t, conn: conn, r: bufio.NewReader(conn)}
	ts.mu.Lock()
	ts.clients = append(ts.clients, c)
	ts.mu.Unlock()
	return c
}

// socketPair serves one session over a Unix socket pair and returns its
// client after reading the greeting. It uses no TCP port (fuzzing makes
// tens of thousands of sessions; TCP would exhaust the ephemeral ports).
// The connection has no IP addresses, so it is not secure: the server
// must allow plaintext authentication for LOGIN to work.
func (ts *testServer) socketPair(t testing.TB) *testClient {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	conns := make([]net.Conn, 2)
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		conns[i], err = net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatalf("socketpair: %v", err)
		}
	}
	sc := netserver.NewConn(conns[1], nil, false, ts.logger)
	ts.wg.Add(1)
	go func() {
		defer ts.wg.Done()
		defer sc.Close()
		ts.srv.ServeConn(ts.ctx, sc)
	}()
	c := &testClient{t: t, conn: conns[0], r: bufio.NewReader(conns[0])}
	ts.mu.Lock()
	ts.clients = append(ts.clients, c)
	ts.mu.Unlock()
	c.greeting = c.readLine()
	return c
}

// dial connects from 127.0.0.1 and reads the greeting.
func (ts *testServer) dial() *testClient {
	ts.t.Helper()
	return ts.dialT(ts.t)
}

// dialT is dial reporting failures to t.
func (ts *testServer) dialT(t testing.TB) *testClient {
	t.Helper()
	c := ts.dialAs(t, "127.0.0.1")
	c.greeting = c.readLine()
	if !strings.HasPrefix(c.greeting, "* OK [CAPABILITY IMAP4rev1 ") || !strings.HasSuffix(c.greeting, "] Roost ready.") {
		t.Fatalf("greeting %q", c.greeting)
	}
	return c
}

// login dials and logs user in with LOGIN (the password from the
// passwd-file).
func (ts *testServer) login(user string) *testClient {
	ts.t.Helper()
	c := ts.dial()
	c.login(user, testPasswords[user])
	return c
}

// deliver appends msg to user's mailbox through the store (as LMTP would)
// and returns its UID.
func (ts *testServer) deliver(user, mailbox, msg string) mailstore.UID {
	ts.t.Helper()
	ctx := context.Background()
	acct, err := ts.store.Account(ctx, user)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer acct.Close()
	_, uid, err := acct.Append(ctx, mailbox, mailstore.NewMessage{}, strings.NewReader(msg))
	if err != nil {
		ts.t.Fatalf("deliver: %v", err)
	}
	return uid
}

// account opens user's account in the store for direct checks; closed at
// cleanup.
func (ts *testServer) account(user string) mailstore.Account {
	ts.t.Helper()
	acct, err := ts.store.Account(context.Background(), user)
	if err != nil {
		ts.t.Fatal(err)
	}
	ts.t.Cleanup(func() { acct.Close() })
	return acct
}

// testMsg builds a small CRLF message.
func testMsg(subject string) string {
	return "From: sender@example.org\r\nTo: alice@example.org\r\nSubject: " + subject + "\r\n\r\nHello " + subject + "\r\n"
}

// testClient is a raw IMAP client: it writes lines and reads responses.
type testClient struct {
	t        testing.TB
	conn     net.Conn
	r        *bufio.Reader
	greeting string
}

// login runs LOGIN and requires OK.
func (c *testClient) login(user, pass string) *testClient {
	c.t.Helper()
	c.do("L1 LOGIN " + user + " " + quote(pass)).ok()
	return c
}

// quote returns s as an IMAP quoted string.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// send writes raw bytes in one write call (no CRLF is added).
func (c *testClient) send(raw string) *testClient {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.conn, raw); err != nil {
		c.t.Fatalf("write %q: %v", raw, err)
	}
	return c
}

// readLine reads one response line without CRLF; every line must end in
// CRLF. A literal at the end of the line ({n}) is read and appended, with
// the rest of the response, so one response is one string.
func (c *testClient) readLine() string {
	c.t.Helper()
	var out strings.Builder
	for {
		c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
		line, err := c.r.ReadString('\n')
		if err != nil {
			c.t.Fatalf("read line: %v (got %q)", err, out.String()+line)
		}
		if !strings.HasSuffix(line, "\r\n") {
			c.t.Fatalf("line %q does not end in CRLF", line)
		}
		line = strings.TrimSuffix(line, "\r\n")
		out.WriteString(line)
		m := literalAtEnd.FindStringSubmatch(line)
		if m == nil || strings.HasPrefix(line, "+ ") {
			return out.String()
		}
		n, _ := strconv.Atoi(m[1])
		buf := make([]byte, n)
		c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
		if _, err := io.ReadFull(c.r, buf); err != nil {
			c.t.Fatalf("read literal of %d bytes: %v", n, err)
		}
		out.WriteString("\r\n")
		out.Write(buf)
	}
}

var literalAtEnd = regexp.MustCompile(`~?\{(\d+)\}$`)

// expect reads one line and requires it to equal want.
func (c *testClient) expect(want string) *testClient {
	c.t.Helper()
	if got := c.readLine(); got != want {
		c.t.Fatalf("got  %q\nwant %q", got, want)
	}
	return c
}

// expectPrefix reads one line, requires the prefix and returns the line.
func (c *testClient) expectPrefix(prefix string) string {
	c.t.Helper()
	got := c.readLine()
	if !strings.HasPrefix(got, prefix) {
		c.t.Fatalf("got %q, want prefix %q", got, prefix)
	}
	return got
}

// expectClosed requires the server to close the connection without sending
// anything more.
func (c *testClient) expectClosed() {
	c.t.Helper()
	testutil.ExpectClosed(c.t, c.conn, c.r, ioTimeout)
}

// startTLS runs the client side of a TLS handshake after STARTTLS's OK.
func (c *testClient) startTLS() {
	c.t.Helper()
	c.conn, c.r = testutil.ClientTLS(c.t, c.conn, c.r, ioTimeout)
}

// response is what the server answered to one command.
type response struct {
	c        *testClient
	cmd      string
	tag      string
	untag    []string // untagged lines ("* ...") and continuations, in order
	taggedLn string   // the tagged line without the tag: "OK Noop completed."
}

// do sends one command line (CRLF is added; the tag is the first word) and
// reads the responses up to its tagged reply.
func (c *testClient) do(line string) *response {
	c.t.Helper()
	tag, _, _ := strings.Cut(line, " ")
	c.send(line + "\r\n")
	return c.readUntilTagged(tag).withCmd(line)
}

// readUntilTagged reads lines up to and including the tagged reply of tag.
func (c *testClient) readUntilTagged(tag string) *response {
	c.t.Helper()
	r := &response{c: c, tag: tag, cmd: tag}
	for {
		l := c.readLine()
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			r.taggedLn = rest
			return r
		}
		r.untag = append(r.untag, l)
	}
}

func (r *response) withCmd(cmd string) *response {
	r.cmd = cmd
	return r
}

func (r *response) String() string {
	return fmt.Sprintf("command %q got:\n  %s\n  %s %s", r.cmd, strings.Join(r.untag, "\n  "), r.tag, r.taggedLn)
}

// untagged requires the untagged responses to be exactly want, in order.
func (r *response) untagged(want ...string) *response {
	r.c.t.Helper()
	if strings.Join(r.untag, "\n") != strings.Join(want, "\n") {
		r.c.t.Fatalf("%s\nwant untagged:\n  %s", r, strings.Join(want, "\n  "))
	}
	return r
}

// contains requires each of want among the untagged responses.
func (r *response) contains(want ...string) *response {
	r.c.t.Helper()
	for _, w := range want {
		found := false
		for _, l := range r.untag {
			found = found || l == w
		}
		if !found {
			r.c.t.Fatalf("%s\nmissing untagged %q", r, w)
		}
	}
	return r
}

// lacks requires no untagged response to start with any of prefixes.
func (r *response) lacks(prefixes ...string) *response {
	r.c.t.Helper()
	for _, l := range r.untag {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				r.c.t.Fatalf("%s\nunexpected untagged %q", r, l)
			}
		}
	}
	return r
}

// untaggedPrefix returns the untagged responses starting with prefix.
func (r *response) untaggedPrefix(prefix string) []string {
	var out []string
	for _, l := range r.untag {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// lines returns the untagged responses.
func (r *response) lines() []string { return r.untag }

// tagged requires the tagged line (without the tag) to be exactly want.
func (r *response) tagged(want string) *response {
	r.c.t.Helper()
	if r.taggedLn != want {
		r.c.t.Fatalf("%s\nwant tagged %q", r, want)
	}
	return r
}

// status checks the tagged status and, when code is given, the response
// code ("TRYCREATE", or with arguments "APPENDUID 5 1").
func (r *response) status(typ string, code ...string) *response {
	r.c.t.Helper()
	if !strings.HasPrefix(r.taggedLn, typ+" ") {
		r.c.t.Fatalf("%s\nwant %s", r, typ)
	}
	if len(code) > 0 {
		got := r.code()
		if got != code[0] && !(strings.HasSuffix(code[0], "*") && strings.HasPrefix(got, strings.TrimSuffix(code[0], "*"))) {
			r.c.t.Fatalf("%s\nwant code [%s]", r, code[0])
		}
	}
	return r
}

// ok requires a tagged OK (with response code code, if given).
func (r *response) ok(code ...string) *response { r.c.t.Helper(); return r.status("OK", code...) }

// no requires a tagged NO (with response code code, if given).
func (r *response) no(code ...string) *response { r.c.t.Helper(); return r.status("NO", code...) }

// bad requires a tagged BAD (with response code code, if given).
func (r *response) bad(code ...string) *response { r.c.t.Helper(); return r.status("BAD", code...) }

// code returns the response code of the tagged reply, without brackets;
// "" when there is none.
func (r *response) code() string {
	_, rest, _ := strings.Cut(r.taggedLn, " ")
	if !strings.HasPrefix(rest, "[") {
		return ""
	}
	end := strings.IndexByte(rest, ']')
	if end < 0 {
		return ""
	}
	return rest[1:end]
}

// text returns the text of the tagged reply after status and code.
func (r *response) text() string {
	_, rest, _ := strings.Cut(r.taggedLn, " ")
	if strings.HasPrefix(rest, "[") {
		if end := strings.IndexByte(rest, ']'); end >= 0 {
			rest = strings.TrimPrefix(rest[end+1:], " ")
		}
	}
	return rest
}

// appendMsg appends msg to mailbox with a non-synchronizing literal and
// returns the tagged response.
func (c *testClient) appendMsg(tag, mailbox, msg string) *response {
	c.t.Helper()
	return c.do(fmt.Sprintf("%s APPEND %s {%d+}\r\n%s", tag, mailbox, len(msg), msg))
}

// countingConn counts Write calls, to check that pipelined answers are
// flushed together, and their bytes. Its NetConn lets netserver send files
// to the socket below (sendfile), bypassing the counts.
type countingConn struct {
	net.Conn
	n     *atomic.Int64
	bytes *atomic.Int64
}

func (c countingConn) Write(p []byte) (int, error) {
	c.n.Add(1)
	c.bytes.Add(int64(len(p)))
	return c.Conn.Write(p)
}

func (c countingConn) NetConn() net.Conn { return c.Conn }

// syncBuffer is the test log sink. It counts logged session panics as
// they are written (the buffer may be trimmed during long fuzz runs).
type syncBuffer struct {
	testutil.LogBuffer
	panics atomic.Int64
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("panic in imap session")) {
		s.panics.Add(1)
	}
	return s.LogBuffer.Write(p)
}
