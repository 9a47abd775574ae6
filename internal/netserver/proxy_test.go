package netserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/proxyproto"
	"github.com/roost-mail/roost/internal/testutil"
)

// whoEcho is a LoginHandler that greets with what the server knows of the
// client, then works as loginEcho: "LOGIN" logs in, other lines are
// echoed.
type whoEcho struct{ loginEcho }

func (whoEcho) ServeConn(ctx context.Context, c *Conn) {
	c.Write([]byte("* OK remote=" + c.Remote().String() + " local=" + c.Local().String() +
		" secure=" + yesNo(c.Secure()) + " tls=" + yesNo(c.TLS()) + "\r\n"))
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if line == "LOGIN\r\n" {
			c.Authenticated()
		}
		c.Write([]byte("echo " + line))
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// startProxied runs a HAProxy listener (haproxy = yes) with whoEcho.
func startProxied(t *testing.T, opts Options, implicitTLS bool) (string, *testutil.LogBuffer) {
	t.Helper()
	buf := &testutil.LogBuffer{}
	opts.Logger = slog.New(slog.NewTextHandler(buf, nil))
	s := New(opts)
	l := Listener{Name: "imap", Protocol: "imap", Address: "127.0.0.1:0", HAProxy: true, ImplicitTLS: implicitTLS, Handler: whoEcho{}}
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

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func v1(src, dst string) []byte {
	return proxyproto.Header{Source: netip.MustParseAddrPort(src), Destination: netip.MustParseAddrPort(dst)}.AppendV1(nil)
}

// TestProxyHeaders: a trusted balancer's v1 and v2 headers name the
// client; what the session sees follows them.
func TestProxyHeaders(t *testing.T) {
	addr, _ := startProxied(t, Options{HAProxyTrusted: loopback}, false)
	ssl := proxyproto.Header{Source: netip.MustParseAddrPort("198.51.100.4:40001"),
		Destination: netip.MustParseAddrPort("203.0.113.1:993"), TLS: &proxyproto.TLSInfo{Client: true, Version: "TLSv1.3"}}
	for _, tc := range []struct {
		name   string
		header []byte
		greet  string
	}{
		{"v1 tcp4", v1("192.0.2.7:51234", "203.0.113.1:143"),
			"* OK remote=192.0.2.7:51234 local=203.0.113.1:143 secure=no tls=no\r\n"},
		{"v1 tcp6", v1("[2001:db8::7]:51234", "[2001:db8::1]:143"),
			"* OK remote=[2001:db8::7]:51234 local=[2001:db8::1]:143 secure=no tls=no\r\n"},
		// The same-address rule does not apply behind a balancer (as in
		// Dovecot 2.3: checked side by side).
		{"v1 same address", v1("203.0.113.1:51234", "203.0.113.1:143"),
			"* OK remote=203.0.113.1:51234 local=203.0.113.1:143 secure=no tls=no\r\n"},
		{"v2 with SSL TLV: the balancer terminated TLS", ssl.AppendV2(nil),
			"* OK remote=198.51.100.4:40001 local=203.0.113.1:993 secure=yes tls=no\r\n"},
		{"v2 without SSL", proxyproto.Header{Source: ssl.Source, Destination: ssl.Destination}.AppendV2(nil),
			"* OK remote=198.51.100.4:40001 local=203.0.113.1:993 secure=no tls=no\r\n"},
		{"v2 SSL TLV without the client flag", proxyproto.Header{Source: ssl.Source, Destination: ssl.Destination,
			TLS: &proxyproto.TLSInfo{}}.AppendV2(nil),
			"* OK remote=198.51.100.4:40001 local=203.0.113.1:993 secure=no tls=no\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialFrom(t, "127.0.0.9", addr)
			// The client's first line comes in the same segment as the
			// header: it must survive the header parsing.
			c.Write(append(tc.header, "hello\r\n"...))
			if got := c.line(t); got != tc.greet {
				t.Fatalf("greeting %q, want %q", got, tc.greet)
			}
			if got := c.line(t); got != "echo hello\r\n" {
				t.Fatalf("first line: %q", got)
			}
		})
	}
	// A v2 LOCAL header (HAProxy's health check) and a v1 UNKNOWN keep
	// the real peer; from the server's own address that is still not
	// secure on a HAProxy listener.
	for _, h := range [][]byte{proxyproto.Header{Command: proxyproto.Local}.AppendV2(nil), []byte("PROXY UNKNOWN\r\n")} {
		for _, src := range []string{"127.0.0.9", "127.0.0.1"} {
			c := dialFrom(t, src, addr)
			c.Write(h)
			if got := c.line(t); !strings.HasPrefix(got, "* OK remote="+src+":") || !strings.Contains(got, "local=127.0.0.1:") ||
				!strings.Contains(got, "secure=no") {
				t.Fatalf("%q from %s: greeting %q", h, src, got)
			}
		}
	}
}

// TestProxyRefusals: an untrusted peer, a peer that sends no header, a
// malformed header: each is closed without a byte, with a log line.
func TestProxyRefusals(t *testing.T) {
	addr, logs := startProxied(t, Options{HAProxyTrusted: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")},
		HAProxyTimeout: 300 * time.Millisecond}, false)
	closed := func(c *client) {
		t.Helper()
		// A reset is a close too: the server closed with the client's
		// bytes unread.
		b, err := io.ReadAll(c)
		if (err != nil && !errors.Is(err, syscall.ECONNRESET)) || len(b) != 0 {
			t.Fatalf("want a silent close, got %q, %v", b, err)
		}
	}

	// Not in haproxy_trusted_networks: even a well-formed header is
	// refused, so no one else can claim an address.
	c := dialFrom(t, "127.0.0.3", addr)
	c.Write(v1("192.0.2.7:1", "203.0.113.1:143"))
	closed(c)
	waitFor(t, func() bool { return strings.Contains(logs.String(), "haproxy_trusted_networks") })
	if !strings.Contains(logs.String(), "remote=127.0.0.3") {
		t.Fatalf("log does not name the peer:\n%s", logs)
	}

	// Trusted, but a plain IMAP client (balancer without send-proxy).
	c = dialFrom(t, "127.0.0.2", addr)
	c.Write([]byte("a1 LOGIN alice secret\r\n"))
	closed(c)

	// Trusted, but silent: closed after haproxy_timeout.
	start := time.Now()
	c = dialFrom(t, "127.0.0.2", addr)
	closed(c)
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Fatalf("silent peer closed after %v, want about 300ms", d)
	}

	// Trusted, connects and closes at once (a TCP health check): no
	// warning.
	c = dialFrom(t, "127.0.0.2", addr)
	c.Close()
	time.Sleep(100 * time.Millisecond)

	// Trusted, malformed.
	c = dialFrom(t, "127.0.0.2", addr)
	c.Write([]byte("PROXY TCP4 192.0.2.7 203.0.113.1 99999 143\r\n"))
	closed(c)
	waitFor(t, func() bool { return strings.Contains(logs.String(), "invalid port") })
	if n := strings.Count(logs.String(), "no valid PROXY header"); n != 3 {
		t.Fatalf("%d warnings, want 3 (the empty connection is not one):\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "invalid port") || !strings.Contains(logs.String(), "i/o timeout") {
		t.Fatalf("log lacks the reasons:\n%s", logs)
	}

	// And the listener still serves a good header.
	c = dialFrom(t, "127.0.0.2", addr)
	c.Write(v1("192.0.2.7:1", "203.0.113.1:143"))
	if got := c.line(t); !strings.HasPrefix(got, "* OK remote=192.0.2.7:1 ") {
		t.Fatalf("greeting %q", got)
	}
}

// TestProxyPerIPCap: login_max_preauth_per_ip counts forwarded clients,
// not the balancer.
func TestProxyPerIPCap(t *testing.T) {
	addr, _ := startProxied(t, Options{HAProxyTrusted: loopback, MaxPreauthPerIP: 1}, false)
	a := dialFrom(t, "127.0.0.2", addr)
	a.Write(v1("192.0.2.7:1", "203.0.113.1:143"))
	if got := a.line(t); !strings.HasPrefix(got, "* OK remote=192.0.2.7:1 ") {
		t.Fatalf("a: %q", got)
	}
	// Another client through the same balancer.
	b := dialFrom(t, "127.0.0.2", addr)
	b.Write(v1("192.0.2.8:1", "203.0.113.1:143"))
	if got := b.line(t); !strings.HasPrefix(got, "* OK remote=192.0.2.8:1 ") {
		t.Fatalf("b: %q", got)
	}
	// A second connection of the first client is over its cap: told so
	// through the balancer.
	a2 := dialFrom(t, "127.0.0.2", addr)
	a2.Write(v1("192.0.2.7:2", "203.0.113.1:143"))
	if got := a2.line(t); got != "* BYE Too many connections from your IP address.\r\n" {
		t.Fatalf("a2: %q", got)
	}
	// Once a has logged in, its address has room again.
	if got := a.send(t, "LOGIN"); got != "echo LOGIN\r\n" {
		t.Fatalf("a LOGIN: %q", got)
	}
	waitFor(t, func() bool {
		a3 := dialFrom(t, "127.0.0.2", addr)
		a3.Write(v1("192.0.2.7:3", "203.0.113.1:143"))
		return strings.HasPrefix(a3.line(t), "* OK remote=192.0.2.7:3 ")
	})
}

// TestProxyImplicitTLS: haproxy = yes on an ssl = yes listener (the
// balancer passes TLS through): header first, then the TLS handshake.
func TestProxyImplicitTLS(t *testing.T) {
	addr, _ := startProxied(t, Options{HAProxyTrusted: loopback, TLSConfig: testTLSConfig(t)}, true)
	nc := dialFrom(t, "127.0.0.2", addr)
	nc.Write(proxyproto.Header{Source: netip.MustParseAddrPort("[2001:db8::7]:4000"),
		Destination: netip.MustParseAddrPort("[2001:db8::1]:993")}.AppendV2(nil))
	tc := tls.Client(nc.Conn, &tls.Config{InsecureSkipVerify: true})
	r := bufio.NewReader(tc)
	got, err := r.ReadString('\n')
	if err != nil || got != "* OK remote=[2001:db8::7]:4000 local=[2001:db8::1]:993 secure=yes tls=yes\r\n" {
		t.Fatalf("greeting %q, %v", got, err)
	}
}

// TestProxyShutdown: a connection still waiting for its header does not
// hold up Shutdown.
func TestProxyShutdown(t *testing.T) {
	s := New(Options{HAProxyTrusted: loopback, HAProxyTimeout: time.Minute})
	l := Listener{Name: "imap", Protocol: "imap", Address: "127.0.0.1:0", HAProxy: true, Handler: whoEcho{}}
	ln, err := s.Listen(l)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln, l)
	c := dialFrom(t, "127.0.0.2", ln.Addr().String())
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("pending connection after Shutdown: %v", err)
	}
}

var _ net.Conn = (*bufferedConn)(nil)
