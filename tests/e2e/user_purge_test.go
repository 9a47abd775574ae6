package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestUserDelPurge: `roost user del --purge` removes a user and its mail.
// With the server running it refuses while the user is logged in, and with
// --force kicks the session first; the account's directory is gone, the
// name no longer logs in or receives mail, and a user added again under
// the name starts empty. With the server stopped it purges directly. A
// plain del says where the mail is kept, and a later --purge of the
// removed name still removes it.
func TestUserDelPurge(t *testing.T) {
	skipReference(t)
	s := startServer(t, serverOpts{imap: true})
	msg := []byte("From: x@example.net\nSubject: purge me\n\nbody\n")
	s.deliver("alice", msg)
	s.deliver("alice", msg)
	aliceDir := filepath.Join(s.dir, "mail", "accounts", "alice")
	if _, err := os.Stat(aliceDir); err != nil {
		t.Fatal(err)
	}

	// alice is logged in over IMAP: a purge without --force changes nothing.
	c := s.dialIMAP(t, false)
	c.login()
	c.ok("SELECT INBOX")
	out, e, code := s.cli(nil, "user", "del", "-c", s.cfg, "--purge", "alice")
	if code != 1 || !strings.Contains(string(e), "alice has 1 session(s) (imap from 127.0.0.1") ||
		!strings.Contains(string(e), "use --force") {
		t.Fatalf("del --purge with a session: exit %d\nstdout: %s\nstderr: %s", code, out, e)
	}
	if _, err := os.Stat(aliceDir); err != nil {
		t.Fatalf("alice's mail after a refused purge: %v", err)
	}
	if u := c.ok("NOOP"); len(u) != 0 {
		t.Errorf("session after a refused purge: %q", u)
	}

	// --force: the session is disconnected, then entry and mail go.
	out, e, code = s.cli(nil, "user", "del", "-c", s.cfg, "--purge", "--force", "alice")
	if code != 0 {
		t.Fatalf("del --purge --force: exit %d\nstdout: %s\nstderr: %s", code, out, e)
	}
	want := "user alice deleted\n1 session(s) of alice disconnected\nmail of account alice removed (" + aliceDir + ")\n"
	if string(out) != want {
		t.Errorf("del --purge --force said:\n%s\nwant:\n%s", out, want)
	}
	if line, err := c.tryReadLine(5 * time.Second); err == nil && !strings.HasPrefix(line, "* BYE") {
		t.Errorf("kicked session read %q, want * BYE or EOF", line)
	}
	if _, err := os.Stat(aliceDir); !os.IsNotExist(err) {
		t.Errorf("alice's account directory after purge: %v", err)
	}
	if code, out := s.deliverCode("alice", msg); code != 67 {
		t.Errorf("deliver to a purged user: exit %d, want 67\n%s", code, out)
	}
	if b, _ := os.ReadFile(s.users); strings.Contains(string(b), "alice:") {
		t.Errorf("users file after purge:\n%s", b)
	}

	// The name added again is a new, empty account.
	if _, e, code := s.cli([]byte("new-pw\n"), "user", "add", "-c", s.cfg, "alice", "--password-stdin"); code != 0 {
		t.Fatalf("user add: exit %d\n%s", code, e)
	}
	c = s.dialIMAP(t, false)
	c.ok("LOGIN alice new-pw")
	if u := c.ok("SELECT INBOX"); !slices.Contains(u, "* 0 EXISTS") {
		t.Errorf("re-added alice's INBOX: %q, want 0 EXISTS", u)
	}
	c.ok("LOGOUT")

	// Without --purge the mail stays, and the output says where.
	s.deliver("bob", msg)
	bobDir := filepath.Join(s.dir, "mail", "accounts", "bob")
	out, e, code = s.cli(nil, "user", "del", "-c", s.cfg, "bob")
	if code != 0 || !strings.Contains(string(out), "the mail of account bob is kept in "+bobDir) {
		t.Fatalf("del without --purge: exit %d\nstdout: %s\nstderr: %s", code, out, e)
	}
	if _, err := os.Stat(bobDir); err != nil {
		t.Fatalf("bob's mail after del without --purge: %v", err)
	}

	// Server stopped: --purge of the removed name removes the mail left.
	s.stop()
	out, e, code = s.cli(nil, "user", "del", "-c", s.cfg, "--purge", "bob")
	if code != 0 || string(out) != "mail of account bob removed ("+bobDir+")\n" {
		t.Fatalf("offline purge of a removed user: exit %d\nstdout: %s\nstderr: %s", code, out, e)
	}
	if _, err := os.Stat(bobDir); !os.IsNotExist(err) {
		t.Errorf("bob's account directory after offline purge: %v", err)
	}
	// Nothing left to purge: unknown user.
	if _, e, code := s.cli(nil, "user", "del", "-c", s.cfg, "--purge", "bob"); code != 67 {
		t.Errorf("purge of nothing: exit %d, want 67\n%s", code, e)
	}
	// A user that never got mail: nothing to remove, and it says so.
	if _, e, code := s.cli([]byte("pw\n"), "user", "add", "-c", s.cfg, "carol", "--password-stdin"); code != 0 {
		t.Fatalf("user add: exit %d\n%s", code, e)
	}
	out, e, code = s.cli(nil, "user", "del", "-c", s.cfg, "--purge", "carol")
	if code != 0 || string(out) != "user carol deleted\nno mail was stored for account carol\n" {
		t.Errorf("purge of a user without mail: exit %d\nstdout: %s\nstderr: %s", code, out, e)
	}
	// Offline purge of an existing user with mail.
	s.deliver("alice", msg)
	out, e, code = s.cli(nil, "user", "del", "-c", s.cfg, "--purge", "alice")
	if code != 0 || !strings.Contains(string(out), "mail of account alice removed") {
		t.Fatalf("offline purge: exit %d\nstdout: %s\nstderr: %s", code, out, e)
	}
	if _, err := os.Stat(aliceDir); !os.IsNotExist(err) {
		t.Errorf("alice's account directory after offline purge: %v", err)
	}
	s.start()
}
