package netserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/testutil"
)

// loginEcho is a LoginHandler: "LOGIN" logs in, anything else is echoed.
// Like the IMAP and POP3 sessions it sets a fresh read deadline of its
// own, here before every single byte (the most generous a session could
// be), and says BYE when a read times out.
type loginEcho struct{}

func (loginEcho) Refusal(text string) []byte { return []byte("* BYE " + text + "\r\n") }

func (loginEcho) ServeConn(ctx context.Context, c *Conn) {
	c.Write([]byte("* OK hello\r\n"))
	var line []byte
	b := make([]byte, 1)
	for {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		if _, err := c.Read(b); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				c.Write([]byte("* BYE Disconnected for inactivity.\r\n"))
			}
			return
		}
		line = append(line, b[0])
		if b[0] != '\n' {
			continue
		}
		if string(line) == "LOGIN\r\n" {
			c.Authenticated()
			c.Authenticated() // twice: released once
		}
		c.Write(append([]byte("echo "), line...))
		line = line[:0]
	}
}

func startLogin(t *testing.T, opts Options) (string, *testutil.LogBuffer) {
	t.Helper()
	buf := &testutil.LogBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(buf, nil))
	s := New(opts)
	l := Listener{Name: "imap", Protocol: "imap", Address: "127.0.0.1:0", Handler: loginEcho{}}
	ln, err := s.Listen(l)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln, l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Shutdown(ctx)
	})
	return ln.Addr().String(), buf
}

// client is one test connection from a chosen loopback address.
type client struct {
	net.Conn
	r *bufio.Reader
}

func dialFrom(t *testing.T, src, addr string) *client {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{nc, bufio.NewReader(nc)}
}

func (c *client) line(t *testing.T) string {
	t.Helper()
	l, err := c.r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, l)
	}
	return l
}

func (c *client) send(t *testing.T, s string) string {
	t.Helper()
	if _, err := c.Write([]byte(s + "\r\n")); err != nil {
		t.Fatal(err)
	}
	return c.line(t)
}

func TestPreauthPerIPCap(t *testing.T) {
	addr, _ := startLogin(t, Options{MaxPreauthPerIP: 3})
	var cs []*client
	for range 3 {
		c := dialFrom(t, "127.0.0.2", addr)
		if got := c.line(t); got != "* OK hello\r\n" {
			t.Fatalf("greeting %q", got)
		}
		cs = append(cs, c)
	}
	// The fourth from the same address is refused politely, before any
	// greeting, and closed.
	c4 := dialFrom(t, "127.0.0.2", addr)
	if got := c4.line(t); got != "* BYE Too many connections from your IP address.\r\n" {
		t.Fatalf("over the cap: %q", got)
	}
	if _, err := c4.r.ReadString('\n'); err != io.EOF {
		t.Fatalf("refused connection not closed: %v", err)
	}
	// Another address is not affected.
	if got := dialFrom(t, "127.0.0.3", addr).line(t); got != "* OK hello\r\n" {
		t.Fatalf("other IP: %q", got)
	}
	// A logged-in connection frees its slot (and keeps working); so does
	// a closed one.
	if got := cs[0].send(t, "LOGIN"); got != "echo LOGIN\r\n" {
		t.Fatalf("login: %q", got)
	}
	if got := dialFrom(t, "127.0.0.2", addr).line(t); got != "* OK hello\r\n" {
		t.Fatalf("after a login: %q", got)
	}
	if got := dialFrom(t, "127.0.0.2", addr).line(t); !strings.HasPrefix(got, "* BYE") {
		t.Fatalf("cap not enforced again: %q", got)
	}
	cs[1].Close()
	waitFor(t, func() bool {
		c := dialFrom(t, "127.0.0.2", addr)
		return c.line(t) == "* OK hello\r\n"
	})
}

// waitFor retries f (a connection close is noticed by the server
// asynchronously).
func waitFor(t *testing.T, f func() bool) {
	t.Helper()
	for range 100 {
		if f() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("condition not reached")
}

func TestPreauthTotalCap(t *testing.T) {
	addr, logs := startLogin(t, Options{MaxPreauth: 2, MaxPreauthPerIP: -1})
	dialFrom(t, "127.0.0.2", addr).line(t)
	dialFrom(t, "127.0.0.3", addr).line(t)
	for range 3 {
		if got := dialFrom(t, "127.0.0.4", addr).line(t); got != "* BYE Too many connections, try again later.\r\n" {
			t.Fatalf("over the total cap: %q", got)
		}
	}
	// Three refusals, one log line.
	if n := strings.Count(logs.String(), "connection refused"); n != 1 {
		t.Errorf("%d log lines for 3 refusals, want 1:\n%s", n, logs)
	}
}

func TestPreauthTimeoutSlowloris(t *testing.T) {
	addr, _ := startLogin(t, Options{PreauthTimeout: 300 * time.Millisecond})
	c := dialFrom(t, "127.0.0.2", addr)
	c.line(t)
	// Trickle a byte every 20 ms: each read succeeds long before the
	// session's own one-minute deadline, so only the total pre-login
	// deadline can end this.
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; time.Since(start) < 5*time.Second; i++ {
			if _, err := c.Write([]byte{"NOOP"[i%4]}); err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	got := c.line(t)
	if got != "* BYE Disconnected for inactivity.\r\n" {
		t.Fatalf("got %q", got)
	}
	if el := time.Since(start); el > 4*time.Second {
		t.Fatalf("cut off only after %v", el)
	}
	c.Close()
	<-done
}

func TestPreauthTimeoutEndsAtLogin(t *testing.T) {
	addr, _ := startLogin(t, Options{PreauthTimeout: 200 * time.Millisecond})
	c := dialFrom(t, "127.0.0.2", addr)
	c.line(t)
	c.send(t, "LOGIN")
	time.Sleep(400 * time.Millisecond)
	if got := c.send(t, "still here"); got != "echo still here\r\n" {
		t.Fatalf("after login: %q", got)
	}
}

// LMTP-like handlers (not LoginHandlers) are not counted.
func TestPreauthCapOnlyForLoginHandlers(t *testing.T) {
	s := New(Options{MaxPreauthPerIP: 1, PreauthTimeout: 100 * time.Millisecond})
	addr := start(t, s, false)
	var cs []net.Conn
	for range 3 {
		c := dialFrom(t, "127.0.0.2", addr)
		cs = append(cs, c)
	}
	time.Sleep(200 * time.Millisecond)
	for _, c := range cs {
		r := bufio.NewReader(c)
		if got := roundTrip(t, c, r, "x"); !strings.HasSuffix(got, " x\n") && !strings.HasSuffix(got, " x\r\n") {
			t.Fatalf("got %q", got)
		}
	}
}
