package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// differentialUsers exercises parsing and passdb rules. Dovecot and Roost
// must agree on every case in TestDovecotDifferential.
const differentialUsers = `# comment
alice:{PLAIN}secret
bob:$6$fSjLRMqzZhS.FtCQ$X3qEWYqI5i0lP/5HROHz7SqfxFFg3teGd9NYYsKwUKqd0FEk0kVS.cLnU6af2kIiA5P4fV5ZAVpSx0lgQPcYY/
carol:{SHA256-CRYPT}$5$QxMGxzKPTTpt0pIF$qc7mkISrmscCrBla4Ml8p.frT5B1Xr0b8pdHjZxl721:1000:1000::/home/carol
Dave:{PLAIN}dave
gina:::::::nopassword
hank:{PLAIN}h::::::nopassword
ivan:
jane:{PLAIN}j::::::user=canon@example.org
kate:{PLAIN}k:::::: userdb_quota_rule=*:storage=1G  deny=no
lisa:{NOPE}x
mike:{PLAIN}first
mike:{PLAIN}second
crlf:{PLAIN}c` + "\r\n" + `:{PLAIN}nouser
nina@example.org:{SSHA}3eHq6Ru4/NDMvi4vu+AlqD1OYPgIdMCA
`

// TestDovecotDifferential runs a real Dovecot (auth only, no protocols)
// over the same passwd-file and compares `doveadm auth test` with Login.
// It needs the dovecot and doveadm binaries and permission to start
// Dovecot as the current user; it is skipped when Dovecot cannot start.
func TestDovecotDifferential(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Dovecot")
	}
	dovecot, err1 := exec.LookPath("dovecot")
	doveadm, err2 := exec.LookPath("doveadm")
	if err1 != nil || err2 != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("dovecot/doveadm not found but CI is set: install dovecot-core")
		}
		t.Skip("dovecot/doveadm not found: install dovecot-core for the differential test")
	}
	dir := t.TempDir()
	users := filepath.Join(dir, "users")
	if err := os.WriteFile(users, []byte(differentialUsers), 0o600); err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(u.Gid)
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "dovecot.conf")
	os.MkdirAll(filepath.Join(dir, "run"), 0o755)
	os.MkdirAll(filepath.Join(dir, "state"), 0o755)
	err = os.WriteFile(conf, fmt.Appendf(nil, `base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/log
protocols =
ssl = no
auth_failure_delay = 0
default_internal_user = %[2]s
default_internal_group = %[3]s
default_login_user = %[2]s
passdb {
  driver = passwd-file
  args = %[4]s
}
userdb {
  driver = static
  args = uid=%[5]s gid=%[6]s home=%[1]s/home/%%u
}
`, dir, u.Username, g.Name, users, u.Uid, u.Gid), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dovecot, "-F", "-c", conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start dovecot: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	sock := filepath.Join(dir, "run", "auth-client")
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "log"))
			t.Skipf("dovecot exited at startup (not permitted as this user?): %s\n%s", out.String(), log)
		default:
		}
		if time.Now().After(deadline) {
			t.Skip("dovecot did not create its auth socket in 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The same passdb in Roost, with Dovecot's defaults.
	s, err := New(Options{Passdbs: []PassdbConfig{{Driver: "passwd-file", Path: users}}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ user, pass string }{
		{"alice", "secret"}, {"alice", "Secret"}, {"ALICE", "secret"}, {"Alice", "secret"},
		{"bob", "test"}, {"bob", "secret"},
		{"carol", "secret"}, {"carol", ""},
		{"Dave", "dave"}, {"dave", "dave"},
		{"gina", "anything"}, {"gina", ""},
		{"hank", "h"}, {"hank", "wrong"},
		{"ivan", ""}, {"ivan", "x"},
		{"jane", "j"},
		{"kate", "k"},
		{"lisa", "x"},
		{"mike", "first"}, {"mike", "second"},
		{"crlf", "c"},
		{"nina@example.org", "secret"}, {"Nina@Example.ORG", "secret"}, {"nina", "secret"},
		{"nobody", "secret"},
	}
	for i, c := range cases {
		// Dovecot: exit 0 and "user=NAME" among the extra fields on success.
		res, err := exec.Command(doveadm, "-c", conf, "auth", "test",
			// A remote IP per case: Dovecot's auth penalty (anvil) delays
			// every request from an IP after a failure from it.
			"-x", fmt.Sprintf("rip=192.0.2.%d", i+1), c.user, c.pass).CombinedOutput()
		dovecotOK := err == nil
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) {
			t.Fatalf("doveadm auth test: %v", err)
		}
		dovecotUser := ""
		for line := range strings.Lines(string(res)) {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "user="); ok && dovecotOK {
				dovecotUser = v
			}
		}
		p, ourErr := s.Login(context.Background(), secure, c.user, c.pass)
		if (ourErr == nil) != dovecotOK || p.User != dovecotUser {
			t.Errorf("%q/%q: Roost %q, %v; Dovecot ok=%v user=%q\n%s", c.user, c.pass, p.User, ourErr, dovecotOK, dovecotUser, res)
		}
	}
}
