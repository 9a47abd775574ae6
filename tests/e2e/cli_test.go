package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func skipReference(t *testing.T) {
	t.Helper()
	if refServer {
		t.Skip("roost CLI only; not applicable to the reference server")
	}
}

// TestUserCommandsWithRunningServer manages users with the CLI while the
// server runs; logins over pop3s follow each change.
func TestUserCommandsWithRunningServer(t *testing.T) {
	skipReference(t)
	t.Parallel()
	s := startServer(t, serverOpts{})
	login := func(user, pass string) string {
		t.Helper()
		return s.poplib(popReq{Mode: "ssl", Action: "probe", User: user, Password: pass}).Login
	}

	if _, e, code := s.cli([]byte("carol-pw\n"), "user", "add", "-c", s.cfg, "carol", "--password-stdin"); code != 0 {
		t.Fatalf("user add: exit %d\n%s", code, e)
	}
	out, e, code := s.cli(nil, "user", "list", "-c", s.cfg)
	if code != 0 {
		t.Fatalf("user list: exit %d\n%s", code, e)
	}
	names := strings.Fields(string(out))
	for _, u := range []string{"alice", "bob", "carol"} {
		if !slices.Contains(names, u) {
			t.Errorf("user list %q lacks %s", out, u)
		}
	}
	if r := login("carol", "carol-pw"); r != "ok" {
		t.Errorf("carol after user add: %q", r)
	}

	if _, e, code := s.cli([]byte("carol-new\n"), "user", "passwd", "-c", s.cfg, "carol", "--password-stdin"); code != 0 {
		t.Fatalf("user passwd: exit %d\n%s", code, e)
	}
	if r := login("carol", "carol-pw"); !strings.HasPrefix(r, "-ERR [AUTH]") {
		t.Errorf("carol's old password after user passwd: %q, want -ERR [AUTH]", r)
	}
	if r := login("carol", "carol-new"); r != "ok" {
		t.Errorf("carol's new password: %q", r)
	}

	// A message for carol, then delete the user: login fails.
	s.deliver("carol", corpus()[0].raw)
	if _, e, code := s.cli(nil, "user", "del", "-c", s.cfg, "carol"); code != 0 {
		t.Fatalf("user del: exit %d\n%s", code, e)
	}
	if r := login("carol", "carol-new"); !strings.HasPrefix(r, "-ERR [AUTH]") {
		t.Errorf("carol after user del: %q, want -ERR [AUTH]", r)
	}
	if code, out := s.deliverCode("carol", corpus()[0].raw); code != 67 {
		t.Errorf("deliver to a deleted user: exit %d, want 67\n%s", code, out)
	}
}

// TestPwHashes: `roost pw` hashes verify with Dovecot's own `doveadm pw -t`
// and log in when written into the passwd-file of a running server.
func TestPwHashes(t *testing.T) {
	skipReference(t)
	t.Parallel()
	s := startServer(t, serverOpts{})
	doveadm, err := exec.LookPath("doveadm")
	if err != nil && os.Getenv("CI") != "" {
		t.Fatalf("doveadm not found (CI must install Debian package dovecot-core)")
	}
	var entries []string
	schemes := []string{"SHA512-CRYPT", "BLF-CRYPT", "SSHA256", "PLAIN", ""}
	for i, scheme := range schemes {
		pw := "pw-" + strings.ToLower(scheme) + "-ü"
		args := []string{"pw", "-p", pw}
		if scheme != "" {
			args = append(args, "-s", scheme)
		}
		out, e, code := s.cli(nil, args...)
		if code != 0 {
			t.Errorf("roost %s: exit %d\n%s", strings.Join(args, " "), code, e)
			continue
		}
		hash := strings.TrimSpace(string(out))
		want := "{" + scheme + "}"
		if scheme == "" {
			want = "{BLF-CRYPT}"
		}
		if !strings.HasPrefix(hash, want) {
			t.Errorf("roost %s printed %q, want a %s... hash", strings.Join(args, " "), hash, want)
		}
		if doveadm != "" {
			if o, e, code := runCmd(t, nil, doveadm, "pw", "-t", hash, "-p", pw); code != 0 || !strings.Contains(string(o)+string(e), "verified") {
				t.Errorf("doveadm pw -t %q -p %q: exit %d: %s%s", hash, pw, code, o, e)
			}
		}
		entries = append(entries, "u"+string(rune('0'+i))+":"+hash+"\n")
	}
	f, err := os.OpenFile(s.users, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(strings.Join(entries, "")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for i, scheme := range schemes {
		user, pw := "u"+string(rune('0'+i)), "pw-"+strings.ToLower(scheme)+"-ü"
		if r := s.poplib(popReq{Mode: "ssl", Action: "probe", User: user, Password: pw}).Login; r != "ok" {
			t.Errorf("login with a roost pw %q hash added to the running server's users file: %q", scheme, r)
		}
	}
}

// TestDeliverExitCodes: 67 for an unknown user, 75 when the store cannot
// be opened, 0 with a missing -m mailbox (delivered to INBOX, as
// dovecot-lda does without autocreate).
func TestDeliverExitCodes(t *testing.T) {
	skipReference(t)
	t.Parallel()
	s := startServer(t, serverOpts{})
	msg := corpus()[0]
	if code, out := s.deliverCode("nosuchuser", msg.raw); code != 67 {
		t.Errorf("deliver to an unknown user: exit %d, want 67\n%s", code, out)
	}
	_, e, code := s.cli(msg.raw, "deliver", "-c", s.cfg, "-d", "alice", "-m", "NoSuchMailbox")
	if code != 0 {
		t.Errorf("deliver -m NoSuchMailbox: exit %d, want 0\n%s", code, e)
	}
	checkPOP(t, "after deliver -m NoSuchMailbox", s.popFetch("ssl"), []corpusMsg{msg})

	// A store that cannot be created: mail_location below a regular file.
	cfg, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(cfg), "mail_location = sqlite:"+s.dir+"/mail",
		"mail_location = sqlite:"+s.users+"/mail", 1)
	if bad == string(cfg) {
		t.Fatal("mail_location not found in the config")
	}
	badCfg := filepath.Join(s.dir, "bad.conf")
	if err := os.WriteFile(badCfg, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, e, code := s.cli(msg.raw, "deliver", "-c", badCfg, "-d", "alice"); code != 75 {
		t.Errorf("deliver with an unusable store: exit %d, want 75\n%s", code, e)
	}
}
