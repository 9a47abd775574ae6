package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/config"
)

// NewAuth passes the auth logging and ANONYMOUS settings to the service.
func TestNewAuthSettings(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte("alice:{PLAIN}secret\nguest:{PLAIN}unused\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	newAuth := func(extra string) (*auth.Service, *bytes.Buffer) {
		t.Helper()
		conf := "mail_location = sqlite:" + dir + "\nssl = no\nauth_failure_delay = 0\npassdb {\n driver = passwd-file\n args = " + users + "\n}\n" + extra
		cfg, err := config.Parse(filepath.Join(dir, "roost.conf"), []byte(conf), nil)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		s, err := NewAuth(cfg, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
		if err != nil {
			t.Fatal(err)
		}
		return s, &buf
	}
	ci := auth.ConnInfo{Protocol: "pop3", Remote: netip.MustParseAddrPort("192.0.2.1:1000"), Local: netip.MustParseAddrPort("192.0.2.2:995"), TLS: true, Secure: true}
	ctx := context.Background()

	s, buf := newAuth("")
	s.Login(ctx, ci, "alice", "wrong-pw-1")
	if _, err := s.NewSASL(ci, "ANONYMOUS"); err == nil {
		t.Error("ANONYMOUS accepted without auth_mechanisms listing it")
	}
	if out := buf.String(); strings.Contains(out, "wrong-pw-1") || strings.Contains(out, "auth failed") {
		t.Errorf("default settings logged the attempt:\n%s", out)
	}

	s, buf = newAuth("auth_verbose_passwords = plain\nauth_mechanisms = plain anonymous\nauth_anonymous_username = guest\n")
	s.Login(ctx, ci, "alice", "wrong-pw-2")
	if !strings.Contains(buf.String(), "password=wrong-pw-2") {
		t.Errorf("auth_verbose_passwords = plain did not log the password:\n%s", buf.String())
	}
	x, err := s.NewSASL(ci, "ANONYMOUS")
	if err != nil {
		t.Fatal(err)
	}
	if _, done, err := x.Next(ctx, []byte("me@example.org")); !done || err != nil || x.Principal().User != "guest" {
		t.Errorf("ANONYMOUS: %v, %v, %q; want guest", done, err, x.Principal())
	}
}
