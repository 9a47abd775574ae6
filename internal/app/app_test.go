package app

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/config"
)

func TestEmbeddedDefault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	e, err := PrepareEmbedded(dir, Ports{IMAP: 0, IMAPS: 0, POP3: freePort(t), POP3S: freePort(t)})
	if err != nil {
		t.Fatal(err)
	}
	if !e.Created || e.DemoPassword == "" {
		t.Fatalf("first run did not create the demo account: %+v", e)
	}
	for name, mode := range map[string]os.FileMode{"": 0o700, "key.pem": 0o600, "users": 0o600, "roost.conf": 0o600, "demo-password": 0o600} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}
	cfg, err := config.Load(e.ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cfg.Validate() {
		if p.Severity == config.Error {
			t.Errorf("generated config: %s", p)
		}
	}

	// The generated config serves POP3S with the generated certificate,
	// and the demo account logs in.
	a, err := Start(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a.Shutdown(ctx)
	}()
	addr := a.Addr("pop3")
	if addr == nil {
		t.Fatal("no pop3 listener")
	}
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	expect := func(send, prefix string) {
		t.Helper()
		if send != "" {
			c.Write([]byte(send + "\r\n"))
		}
		line, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(line, prefix) {
			t.Fatalf("after %q: got %q, %v; want %q", send, line, err, prefix)
		}
	}
	expect("", "+OK")
	expect("USER demo", "+OK")
	expect("PASS "+e.DemoPassword, "+OK")
	expect("STAT", "+OK 0 ")

	// A second call finds the directory and changes nothing.
	e2, err := PrepareEmbedded(dir, e.Ports)
	if err != nil || e2.Created {
		t.Fatalf("second run: %+v, %v", e2, err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestUIDLFormat(t *testing.T) {
	f, err := uidlFunc("%08Xu%08Xv")
	if err != nil {
		t.Fatal(err)
	}
	if got := f(1, 0x507c7b3c); got != "00000001507c7b3c" {
		t.Errorf("uidl = %q", got)
	}
	if _, err := uidlFunc("%m"); err == nil {
		t.Error("%m accepted though the store has no header MD5")
	}
}

// ssl_min_protocol reaches the listeners: with TLSv1.3 a TLS 1.2 client is
// refused; with the default (TLSv1.2) a TLS 1.1 client is refused.
func TestSSLMinProtocol(t *testing.T) {
	for _, c := range []struct {
		setting  string
		refused  uint16
		accepted uint16
	}{
		{"ssl_min_protocol = TLSv1.3\n", tls.VersionTLS12, tls.VersionTLS13},
		{"", tls.VersionTLS11, tls.VersionTLS12},
		// Proves the client side of the row above can speak TLS 1.1.
		{"ssl_min_protocol = TLSv1.1\n", 0, tls.VersionTLS11},
	} {
		dir := t.TempDir()
		if err := writeSelfSigned(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "users"), []byte("alice:{PLAIN}pw\n"), 0o600)
		conf := fmt.Sprintf("protocols = pop3\nlisten = 127.0.0.1\nmail_location = sqlite:%s/mail\n"+
			"ssl_cert = <%s/cert.pem\nssl_key = <%s/key.pem\n%s"+
			"passdb {\n driver = passwd-file\n args = %s/users\n}\n"+
			"service pop3-login {\n inet_listener pop3 {\n port = 0\n }\n inet_listener pop3s {\n port = %d\n }\n}\n",
			dir, dir, dir, c.setting, dir, freePort(t))
		cfg, err := config.Parse(filepath.Join(dir, "roost.conf"), []byte(conf), os.ReadFile)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Start(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		addr := a.Addr("pop3s").String()
		dial := func(v uint16) error {
			conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v})
			if err == nil {
				conn.Close()
			}
			return err
		}
		if c.refused != 0 {
			if err := dial(c.refused); err == nil {
				t.Errorf("%q: TLS version %x accepted", c.setting, c.refused)
			}
		}
		if err := dial(c.accepted); err != nil {
			t.Errorf("%q: TLS version %x refused: %v", c.setting, c.accepted, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		a.Shutdown(ctx)
		cancel()
	}
}

func TestEmbeddedIdentity(t *testing.T) {
	yes := func() bool { return true }
	no := func() bool { return false }
	if got := embeddedIdentity(1000, no); got != "" {
		t.Errorf("not root: %q, want nothing", got)
	}
	if got := embeddedIdentity(0, yes); got != "" {
		t.Errorf("root with a roost user: %q, want the default (drop to roost)", got)
	}
	got := embeddedIdentity(0, no)
	cfg, err := config.Parse("roost.conf", []byte(got), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DefaultInternalUser != "root" {
		t.Errorf("root without a roost user: default_internal_user = %q, want root", cfg.DefaultInternalUser)
	}
}
