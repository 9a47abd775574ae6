package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGINTStopsCleanly: SIGINT (Ctrl-C) stops the server like SIGTERM.
func TestSIGINTStopsCleanly(t *testing.T) {
	skipReference(t)
	t.Parallel()
	s := startServer(t, serverOpts{})
	s.deliver("alice", corpus()[0].raw)
	s.stopWith(syscall.SIGINT)
	s.start()
	checkPOP(t, "after SIGINT and restart", s.popFetch("ssl"), corpus()[:1])
}

// TestServeRefusesBadConfig: `roost serve` exits non-zero, promptly and
// naming the file and line, on an unknown setting; `roost config check`
// exits 1; and serve fails (instead of hanging) when its port is taken.
func TestServeRefusesBadConfig(t *testing.T) {
	skipReference(t)
	t.Parallel()
	s := &server{t: t, dir: t.TempDir(), pop3Port: freePort(t), pop3sPort: freePort(t)}
	s.users = filepath.Join(s.dir, "users")
	if err := os.WriteFile(s.users, []byte("alice:{PLAIN}"+alicePass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := s.config(serverOpts{})
	lines := strings.Count(good, "\n")
	bad := good + "pop3_frobnicate = yes\n"
	cfg := filepath.Join(s.dir, "bad.conf")
	if err := os.WriteFile(cfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := serveFor(t, cfg)
	if code == 0 {
		t.Errorf("serve with an unknown setting: exit 0")
	}
	if want := fmt.Sprintf("%s:%d", cfg, lines+1); !strings.Contains(stderr, want) || !strings.Contains(stderr, "pop3_frobnicate") {
		t.Errorf("serve with an unknown setting: stderr %q does not name %s and the setting", stderr, want)
	}
	if _, e, code := runCmd(t, nil, roostBin, "config", "check", "-c", cfg); code != 1 {
		t.Errorf("config check of a bad config: exit %d, want 1\n%s", code, e)
	}

	// The pop3s port is taken.
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", s.pop3sPort))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := os.WriteFile(cfg, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, e, code := runCmd(t, nil, roostBin, "config", "check", "-c", cfg); code != 0 {
		t.Errorf("config check of a good config: exit %d\n%s", code, e)
	}
	_, stderr, code = serveFor(t, cfg)
	if code == 0 {
		t.Errorf("serve with its port in use: exit 0\n%s", stderr)
	}
}

// serveFor runs `roost serve -c cfg`, expecting it to exit by itself within
// 10 s; it reports the exit code (-1: killed after the 10 s).
func serveFor(t *testing.T, cfg string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, roostBin, "serve", "-c", cfg)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Errorf("roost serve -c %s still running after 10s", cfg)
		return o.String(), e.String(), -1
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return o.String(), e.String(), ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), 0
}
