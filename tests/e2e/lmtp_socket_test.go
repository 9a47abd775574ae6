package e2e

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestLMTPUnixSocket: Postfix-style delivery over a Unix socket
// (service lmtp { unix_listener lmtp { ... } }, the path relative to
// base_dir): the socket gets its mode and, as root, its owner; swaks
// delivers through it, and the message reads back over POP3 with a
// Received field naming no IP address.
func TestLMTPUnixSocket(t *testing.T) {
	skipReference(t)
	s := startServer(t, serverOpts{})
	s.stop()
	run := filepath.Join(s.dir, "run")
	owner := ""
	if os.Geteuid() == 0 {
		owner = "    user = nobody\n"
	}
	b, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "protocols = pop3\n", "protocols = pop3 lmtp\n", 1) +
		fmt.Sprintf("base_dir = %s\nservice lmtp {\n  unix_listener lmtp {\n    mode = 0660\n%s  }\n}\n", run, owner)
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()

	sock := filepath.Join(run, "lmtp")
	st, err := os.Lstat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Type() != os.ModeSocket || st.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want a socket with 0660", st.Mode())
	}
	if owner != "" {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(st.Sys().(*syscall.Stat_t).Uid); got != nobody.Uid {
			t.Errorf("socket owner uid %s, want nobody (%s)", got, nobody.Uid)
		}
	}

	bin := requireTool(t, "swaks", "swaks")
	body := "From: a@example.org\r\nSubject: over a socket\r\n\r\nhello\r\n"
	file := filepath.Join(s.dir, "swaks-msg")
	if err := os.WriteFile(file, []byte(strings.TrimSuffix(body, "\r\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runCmd(t, nil, bin, "--protocol", "LMTP", "--socket", sock, "--helo", "mta.test",
		"--from", "a@example.org", "--to", "alice@example.com", "--data", "@"+file)
	out := string(stdout) + string(stderr)
	if code != 0 || !strings.Contains(out, "250 2.0.0 <alice@example.com>") {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	res := s.popFetch("ssl")
	if len(res.Msgs) != 1 || !strings.HasSuffix(string(res.Msgs[0]), body) ||
		!strings.Contains(string(res.Msgs[0]), "Received: from mta.test\r\n\tby ") {
		t.Fatalf("alice's messages over POP3: %q", res.Msgs)
	}

	// A restart after a crash finds the old socket and replaces it.
	s.kill9()
	s.start()
	stdout, stderr, code = runCmd(t, nil, bin, "--protocol", "LMTP", "--socket", sock, "--helo", "mta.test",
		"--from", "a@example.org", "--to", "alice@example.com", "--data", "@"+file)
	if code != 0 {
		t.Fatalf("after a crash and restart: swaks exit %d:\n%s%s", code, stdout, stderr)
	}
}
