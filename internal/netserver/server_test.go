package netserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/tlsutil"
)

func testTLSConfig(t *testing.T) *tls.Config {
	t.Helper()
	return tlsutil.TestServerConfig()
}

// echo answers every line with "secure=<bool> tls=<bool> <line>", and
// "STARTTLS" with "OK" followed by a handshake.
func echo(ctx context.Context, c *Conn) {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if line == "STARTTLS\r\n" {
			c.Write([]byte("OK\r\n"))
			if err := c.StartTLS(ctx); err != nil {
				return
			}
			r = bufio.NewReader(c)
			continue
		}
		b := "false"
		if c.Secure() {
			b = "true"
		}
		tl := "false"
		if c.TLS() {
			tl = "true"
		}
		c.Write([]byte("secure=" + b + " tls=" + tl + " " + line))
	}
}

func start(t *testing.T, s *Server, implicit bool) string {
	t.Helper()
	l := Listener{Name: "test", Protocol: "test", Address: "127.0.0.1:0", ImplicitTLS: implicit, Handler: HandlerFunc(echo)}
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
	return ln.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, r *bufio.Reader, line string) string {
	t.Helper()
	if _, err := c.Write([]byte(line + "\r\n")); err != nil {
		t.Fatal(err)
	}
	got, err := r.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestSecureRule(t *testing.T) {
	s := New(Options{TLSConfig: testTLSConfig(t)})
	addr := start(t, s, false)

	// Same IP on both ends: secure without TLS (Dovecot's rule).
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got := roundTrip(t, c, r, "a"); got != "secure=true tls=false a\r\n" {
		t.Errorf("loopback same IP: got %q", got)
	}

	// From 127.0.0.2 to 127.0.0.1: not secure until STARTTLS.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
	c2, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	r2 := bufio.NewReader(c2)
	if got := roundTrip(t, c2, r2, "b"); got != "secure=false tls=false b\r\n" {
		t.Errorf("other IP: got %q", got)
	}
	if got := roundTrip(t, c2, r2, "STARTTLS"); got != "OK\r\n" {
		t.Fatalf("starttls: got %q", got)
	}
	tc := tls.Client(c2, &tls.Config{InsecureSkipVerify: true})
	if got := roundTrip(t, tc, bufio.NewReader(tc), "c"); got != "secure=true tls=true c\r\n" {
		t.Errorf("after starttls: got %q", got)
	}
}

func TestImplicitTLS(t *testing.T) {
	s := New(Options{TLSConfig: testTLSConfig(t)})
	addr := start(t, s, true)
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := roundTrip(t, c, bufio.NewReader(c), "x"); got != "secure=true tls=true x\r\n" {
		t.Errorf("got %q", got)
	}
}

func TestImplicitTLSNeedsConfig(t *testing.T) {
	s := New(Options{})
	if _, err := s.Listen(Listener{Name: "imaps", Address: "127.0.0.1:0", ImplicitTLS: true}); err == nil {
		t.Fatal("implicit TLS listener without certificate was accepted")
	}
}

func TestShutdownCancelsSessions(t *testing.T) {
	s := New(Options{})
	ended := make(chan struct{})
	l := Listener{Name: "t", Address: "127.0.0.1:0", Handler: HandlerFunc(func(ctx context.Context, c *Conn) {
		<-ctx.Done()
		c.Write([]byte("BYE\r\n"))
		close(ended)
	})}
	ln, err := s.Listen(l)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln, l)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Wait until the handler runs: the server tracks the connection.
	for i := 0; ; i++ {
		s.mu.Lock()
		n := len(s.conns)
		s.mu.Unlock()
		if n == 1 {
			break
		}
		if i > 1000 {
			t.Fatal("connection not tracked")
		}
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	<-ended
	got, _ := bufio.NewReader(c).ReadString('\n')
	if got != "BYE\r\n" {
		t.Errorf("got %q, want BYE", got)
	}
}

func TestMaxConnections(t *testing.T) {
	s := New(Options{MaxConnections: 1})
	addr := start(t, s, false)
	c1, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	r1 := bufio.NewReader(c1)
	roundTrip(t, c1, r1, "first") // c1 is now tracked
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	c2.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bufio.NewReader(c2).ReadString('\n'); err == nil {
		t.Fatal("second connection was served over the limit")
	}
}
