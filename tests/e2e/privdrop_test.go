package e2e

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// procIDs returns the real, effective, saved and filesystem ids of the
// "Uid:" or "Gid:" line of /proc/PID/status, and its "Groups:" line.
func procIDs(t *testing.T, pid int, field string) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^` + field + `:[ \t]*(.*)$`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("/proc/%d/status has no %s line:\n%s", pid, field, b)
	}
	return strings.Join(strings.Fields(string(m[1])), " ")
}

// TestPrivilegeDrop: started as root with default_internal_user = nobody,
// roost binds its ports, creates the mail directory for nobody and then
// runs as nobody (every id, no root groups); POP3 logins (passwd-file read
// as root before the switch) and LMTP delivery still work.
func TestPrivilegeDrop(t *testing.T) {
	skipReference(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root: the test checks that roost started as root switches to nobody")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	s := startServer(t, serverOpts{internalUser: "nobody"})
	s.stop()
	lmtpPort := freePort(t)
	b, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "protocols = pop3\n", "protocols = pop3 lmtp\n", 1) +
		fmt.Sprintf("service lmtp {\n  inet_listener lmtp {\n    port = %d\n  }\n}\n", lmtpPort)
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()

	// The ports accept (into their backlog) as soon as they are bound,
	// which is before the switch: wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		runs := strings.Split(s.stderr.String(), "----- run ")
		pid := s.cmd.Process.Pid
		s.mu.Unlock()
		if strings.Contains(runs[len(runs)-1], "switched user") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"switched user\" logged by pid %d after 10s", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	pid := s.cmd.Process.Pid
	s.mu.Unlock()
	uid, gid := nobody.Uid, nobody.Gid
	if got, want := procIDs(t, pid, "Uid"), strings.Repeat(uid+" ", 3)+uid; got != want {
		t.Errorf("Uid: %s, want %s", got, want)
	}
	if got, want := procIDs(t, pid, "Gid"), strings.Repeat(gid+" ", 3)+gid; got != want {
		t.Errorf("Gid: %s, want %s", got, want)
	}
	if got := procIDs(t, pid, "Groups"); got != gid {
		t.Errorf("Groups: %q, want only %s", got, gid)
	}
	st, err := os.Stat(filepath.Join(s.dir, "mail"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); fmt.Sprint(sys.Uid) != uid || st.Mode().Perm() != 0o700 {
		t.Errorf("mail directory: uid %d mode %v, want uid %s mode 0700", sys.Uid, st.Mode().Perm(), uid)
	}

	body := "From: a@example.org\r\nSubject: privdrop\r\n\r\nhello\r\n"
	out, code := s.swaks(lmtpPort, body, "--from", "a@example.org", "--to", "alice@example.com")
	if code != 0 || !strings.Contains(out, "250 2.0.0 <alice@example.com>") {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	// roost deliver run as root (as an MTA might) switches to the same
	// user before it writes, so the server can still write what it made.
	bob := "From: a@example.org\r\nSubject: deliver as root\r\n\r\nhi bob\r\n"
	s.deliver("bob", []byte(bob))
	if err := filepath.Walk(filepath.Join(s.dir, "mail"), func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if sys := fi.Sys().(*syscall.Stat_t); fmt.Sprint(sys.Uid) != uid {
			t.Errorf("%s belongs to uid %d, want the server's %s", path, sys.Uid, uid)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	res := s.popFetch("ssl")
	if len(res.Msgs) != 1 || !strings.HasSuffix(string(res.Msgs[0]), body) {
		t.Fatalf("alice's messages over POP3: %q", res.Msgs)
	}
}

// TestPrivilegeDropUnknownUser: started as root with a user that does not
// exist, roost refuses to start and says how to fix it.
func TestPrivilegeDropUnknownUser(t *testing.T) {
	skipReference(t)
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	s := &server{t: t, dir: t.TempDir(), pop3Port: freePort(t), pop3sPort: freePort(t)}
	s.users = filepath.Join(s.dir, "users")
	if err := os.WriteFile(s.users, []byte("alice:{PLAIN}"+alicePass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(s.dir, "roost.conf")
	if err := os.WriteFile(cfg, []byte(s.config(serverOpts{internalUser: "roost-no-such-user"})), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := serveFor(t, cfg)
	if code == 0 || !strings.Contains(stderr, "default_internal_user = roost-no-such-user: no such user") || !strings.Contains(stderr, "useradd") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(s.dir, "mail")); err == nil {
		t.Error("the mail directory was created although roost did not start")
	}
}
