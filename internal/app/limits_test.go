package app

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/config"
)

// login_max_preauth_per_ip reaches netserver: with 1, a second connection
// that has not logged in gets "* BYE" instead of the greeting.
func TestLoginMaxPreauthPerIPWired(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "users"), []byte("alice:{PLAIN}pw\n"), 0o600)
	conf := fmt.Sprintf("protocols = imap\nlisten = 127.0.0.1\nmail_location = sqlite:%s/mail\nssl = no\n"+
		"login_max_preauth_per_ip = 1\n"+
		"passdb {\n driver = passwd-file\n args = %s/users\n}\n"+
		"service imap-login {\n inet_listener imap {\n port = %d\n }\n inet_listener imaps {\n port = 0\n }\n}\n",
		dir, dir, freePort(t))
	cfg, err := config.Parse(filepath.Join(dir, "roost.conf"), []byte(conf), os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	}()
	greet := func() string {
		t.Helper()
		c, err := net.Dial("tcp", a.Addr("imap").String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		return line
	}
	if g := greet(); !strings.HasPrefix(g, "* OK") {
		t.Fatalf("first: %q", g)
	}
	if g := greet(); g != "* BYE Too many connections from your IP address.\r\n" {
		t.Fatalf("second: %q", g)
	}
}

// auth_penalty reaches the auth service: with it, a second attempt right
// after a failure from the same address waits (here: longer than the
// context allows); without it, it is answered at once.
func TestAuthPenaltyWired(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	os.WriteFile(users, []byte("alice:{PLAIN}secret\n"), 0o600)
	ci := auth.ConnInfo{Protocol: "imap", Remote: netip.MustParseAddrPort("192.0.2.1:1000"),
		Local: netip.MustParseAddrPort("192.0.2.2:993"), TLS: true, Secure: true}
	for _, on := range []bool{true, false} {
		conf := fmt.Sprintf("mail_location = sqlite:%s\nauth_failure_delay = 0\nauth_penalty = %v\n"+
			"passdb {\n driver = passwd-file\n args = %s\n}\n", dir, map[bool]string{true: "yes", false: "no"}[on], users)
		cfg, err := config.Parse(filepath.Join(dir, "roost.conf"), []byte(conf), nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewAuth(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		s.Login(context.Background(), ci, "alice", "wrong")
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		_, err = s.Login(ctx, ci, "alice", "wrong2")
		cancel()
		if on && !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("auth_penalty = yes: second attempt answered at once: %v", err)
		}
		if !on && !errors.Is(err, auth.ErrFailed) {
			t.Errorf("auth_penalty = no: %v", err)
		}
	}
}
