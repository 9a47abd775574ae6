package pop3server

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/netserver"
)

// Behind netserver, POP3 connections count against the pre-login cap until
// login succeeds; one over the cap gets -ERR [SYS/TEMP] instead of the
// greeting.
func TestPreauthCapBehindNetserver(t *testing.T) {
	e := newEnv(t, envConfig{})
	ns := netserver.New(netserver.Options{MaxPreauthPerIP: 1})
	l := netserver.Listener{Name: "pop3", Protocol: "pop3", Address: "127.0.0.1:0", Handler: e.srv}
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
	if !strings.HasPrefix(g, "+OK") {
		t.Fatalf("greeting %q", g)
	}
	if _, _, g := dial(); g != "-ERR [SYS/TEMP] Too many connections from your IP address.\r\n" {
		t.Fatalf("over the cap: %q", g)
	}
	for _, cmd := range []string{"USER alice", "PASS " + alicePass} {
		c1.Write([]byte(cmd + "\r\n"))
		if got, _ := r1.ReadString('\n'); !strings.HasPrefix(got, "+OK") {
			t.Fatalf("%s: %q", cmd, got)
		}
	}
	if _, _, g := dial(); !strings.HasPrefix(g, "+OK") {
		t.Fatalf("after login the slot is free, got %q", g)
	}
}
