package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// config check names each dangerous setting under its own heading, exits
// 0 with warnings and 1 with --strict.
func TestConfigCheckDangerous(t *testing.T) {
	cases := []struct {
		extra string // appended to testConfig's (pop3 on 127.0.0.1, ssl = no)
		want  string
	}{
		{"auth_verbose = yes\n", "auth_verbose: yes: every failed login is logged"},
		{"auth_verbose_passwords = plain\n", "auth_verbose_passwords: plain: the passwords of failed logins are written to the log in the clear"},
		{"auth_verbose_passwords = sha1:8\n", "auth_verbose_passwords: sha1:8: the unsalted SHA-1"},
		{"auth_debug = yes\n", "auth_debug: yes: every authentication step is logged"},
		{"auth_debug_passwords = yes\n", "auth_debug_passwords: yes: every submitted password"},
		{"auth_mechanisms = plain anonymous\n", "auth_mechanisms: anonymous: anyone can log in without a password, as auth_anonymous_username = anonymous"},
		{"listen = *\n", "ssl: ssl = no: passwords and mail cross the network unencrypted"},
		{"listen = *\n", "inet_listener: inet_listener pop3 on 0.0.0.0 port 110 has no TLS (ssl = no)"},
		{"disable_plaintext_auth = no\n", "disable_plaintext_auth: no: passwords are accepted on unencrypted connections"},
		{"login_greeting = Dovecot ready.\n", `login_greeting: "Dovecot ready." tells every client`},
		{"login_greeting = Roost 1.0\n", `login_greeting: "Roost 1.0" tells every client`},
		{"auth_failure_delay = 0\n", "auth_failure_delay: 0 secs makes password guessing fast"},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) { // not the text: "=" in a temp dir name breaks passwd-file args
			path, _ := testConfig(t, tc.extra)
			code, out, stderr := run(t, "", "config", "check", "-c", path)
			if code != exitOK {
				t.Fatalf("exit %d, want 0 (warnings only)\n%s%s", code, out, stderr)
			}
			head := strings.Index(out, "dangerous settings")
			at := strings.Index(out, tc.want)
			if head < 0 || at < head {
				t.Errorf("output lacks %q under the dangerous settings heading:\n%s", tc.want, out)
			}
			code, out, _ = run(t, "", "config", "check", "--strict", "-c", path)
			if code != exitFailure || !strings.Contains(out, "failing because of -strict") {
				t.Errorf("--strict: exit %d, want 1\n%s", code, out)
			}
		})
	}
}

func TestConfigCheckStrict(t *testing.T) {
	path, dir := testConfig(t, "")
	code, out, _ := run(t, "", "config", "check", "--strict", "-c", path)
	if code != exitOK || strings.Contains(out, "dangerous") && !strings.Contains(out, "(0 dangerous)") {
		t.Errorf("clean config with --strict: exit %d\n%s", code, out)
	}
	// A world-readable users file is dangerous.
	if err := os.Chmod(filepath.Join(dir, "users"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(t, "", "config", "check", "-c", path)
	if code != exitOK || !strings.Contains(out, "is readable by every local user (mode 0644)") {
		t.Errorf("world-readable users file: exit %d\n%s", code, out)
	}
	// An ordinary (not dangerous) warning fails with --strict too.
	path, _ = testConfig(t, "state_dir = /var/lib/roost\n")
	code, out, _ = run(t, "", "config", "check", "-c", path)
	if code != exitOK || !strings.Contains(out, "state_dir: accepted but has no effect") || strings.Contains(out, "dangerous settings") {
		t.Errorf("ignored setting: exit %d\n%s", code, out)
	}
	if code, out, _ = run(t, "", "config", "check", "-strict", "-c", path); code != exitFailure {
		t.Errorf("ignored setting with -strict: exit %d, want 1\n%s", code, out)
	}
	// Errors still exit 1 without --strict.
	path, _ = testConfig(t, "auth_mechanisms = cram-md5\n")
	if code, out, _ = run(t, "", "config", "check", "-c", path); code != exitFailure || !strings.Contains(out, "error: ") {
		t.Errorf("error: exit %d, want 1\n%s", code, out)
	}
}
