package imapserver

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/netserver"
)

// Behind netserver, IMAP connections count against the pre-login cap
// until LOGIN succeeds, and one over the cap gets "* BYE" instead of the
// greeting.
func TestPreauthCapBehindNetserver(t *testing.T) {
	ts := newTestServer(t)
	ns := netserver.New(netserver.Options{MaxPreauthPerIP: 1, Logger: ts.logger})
	l := netserver.Listener{Name: "imap", Protocol: "imap", Address: "127.0.0.1:0", Handler: ts.srv}
	ln, err := ns.Listen(l)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Serve(ln, l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ns.Shutdown(ctx)
	})
	dial := func() (net.Conn, *bufio.Reader, string) {
		t.Helper()
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(nc)
		greeting, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return nc, r, greeting
	}
	c1, r1, g := dial()
	if !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("greeting %q", g)
	}
	if _, _, g := dial(); g != "* BYE Too many connections from your IP address.\r\n" {
		t.Fatalf("over the cap: %q", g)
	}
	c1.Write([]byte("a LOGIN alice " + alicePass + "\r\n"))
	if got, _ := r1.ReadString('\n'); !strings.HasPrefix(got, "a OK ") {
		t.Fatalf("login: %q", got)
	}
	if _, _, g := dial(); !strings.HasPrefix(g, "* OK ") {
		t.Fatalf("after login the slot is free, got %q", g)
	}
}

// A client that keeps sending commands without logging in is ended by the
// total pre-login deadline (netserver's PreauthTimeout), although every
// single command arrives well within the login timeout.
func TestPreauthDeadlineBehindNetserver(t *testing.T) {
	ts := newTestServer(t)
	ns := netserver.New(netserver.Options{PreauthTimeout: 400 * time.Millisecond, Logger: ts.logger})
	l := netserver.Listener{Name: "imap", Protocol: "imap", Address: "127.0.0.1:0", Handler: ts.srv}
	ln, err := ns.Listen(l)
	if err != nil {
		t.Fatal(err)
	}
	go ns.Serve(ln, l)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ns.Shutdown(ctx)
	})
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(nc)
	r.ReadString('\n') // greeting
	start := time.Now()
	go func() {
		// One byte every 10 ms: NOOP after NOOP, each complete in 70 ms.
		for i := 0; time.Since(start) < 5*time.Second; i++ {
			if _, err := nc.Write([]byte{"a NOOP\r\n"[i%8]}); err != nil {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("connection ended without BYE after %v: %v", time.Since(start), err)
		}
		if strings.HasPrefix(line, "* BYE") {
			if el := time.Since(start); el > 4*time.Second {
				t.Fatalf("BYE only after %v", el)
			}
			return
		}
		if !strings.HasPrefix(line, "a OK") {
			t.Fatalf("unexpected %q", line)
		}
	}
}
