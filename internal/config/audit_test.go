package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each dangerous setting is reported by name, as Dangerous, with what it
// exposes and what to use instead; safe values are not reported.
func TestDangerousSettings(t *testing.T) {
	fsys, base := validBase(t)
	cases := []struct {
		name string
		in   string // appended to base; "" for the clean case
		want []string
	}{
		{"defaults", "", nil},
		{"auth_verbose", "auth_verbose = yes\n", []string{"auth_verbose: yes: every failed login is logged"}},
		{"auth_verbose_passwords plain", "auth_verbose_passwords = plain\n", []string{"auth_verbose_passwords: plain: the passwords of failed logins are written to the log in the clear"}},
		{"auth_verbose_passwords yes", "auth_verbose_passwords = yes\n", []string{"auth_verbose_passwords: plain: the passwords"}},
		{"auth_verbose_passwords sha1:8", "auth_verbose_passwords = sha1:8\n", []string{"auth_verbose_passwords: sha1:8: the unsalted SHA-1"}},
		{"auth_debug", "auth_debug = yes\n", []string{"auth_debug: yes: every authentication step is logged"}},
		{"auth_debug_passwords", "auth_debug_passwords = yes\n", []string{"auth_debug_passwords: yes: every submitted password"}},
		{"anonymous", "auth_mechanisms = plain anonymous\nauth_anonymous_username = guest\n", []string{"auth_mechanisms: anonymous: anyone can log in without a password, as auth_anonymous_username = guest"}},
		{"anonymous username alone", "auth_anonymous_username = guest\n", nil},
		{"ssl no", "ssl = no\n", []string{"ssl: ssl = no: passwords and mail cross the network unencrypted", "inet_listener imap on 0.0.0.0, :: port 143 has no TLS", "inet_listener pop3 on"}},
		{"disable_plaintext_auth no", "disable_plaintext_auth = no\n", []string{"disable_plaintext_auth: no: passwords are accepted on unencrypted connections", "port 143 offers STARTTLS", "port 110 offers STARTTLS"}},
		{"disable_plaintext_auth no, ssl required", "disable_plaintext_auth = no\nssl = required\n", []string{"disable_plaintext_auth: no"}},
		{"disable_plaintext_auth no on loopback", "disable_plaintext_auth = no\nlisten = 127.0.0.1, ::1\n", []string{"disable_plaintext_auth: no"}},
		{"plain listener with own address", "ssl = no\nlisten = 127.0.0.1\nservice imap-login {\n inet_listener imap {\n  address = 192.0.2.7\n }\n}\n",
			[]string{"ssl: ssl = no", "roost.conf:11: inet_listener: inet_listener imap on 192.0.2.7 port 143 has no TLS"}},
		{"lmtp public", "protocols = lmtp\nservice lmtp {\n inet_listener lmtp {\n  port = 24\n }\n}\n", []string{"roost.conf:10: inet_listener: inet_listener lmtp on 0.0.0.0, :: port 24: anyone who can reach it can deliver mail"}},
		{"lmtp loopback", "protocols = lmtp\nservice lmtp {\n inet_listener lmtp {\n  address = 127.0.0.1\n  port = 24\n }\n}\n", nil},
		{"greeting dovecot", "login_greeting = Dovecot ready.\n", []string{`login_greeting: "Dovecot ready." tells every client`}},
		{"greeting version", "login_greeting = Roost 0.3 ready\n", []string{`login_greeting: "Roost 0.3 ready" tells`}},
		{"greeting neutral", "login_greeting = Mail server ready.\n", nil},
		{"tls 1.0", "ssl_min_protocol = TLSv1\n", []string{"ssl_min_protocol: TLS versions below 1.2 are deprecated"}},
		{"tls 1.3", "ssl_min_protocol = TLSv1.3\n", nil},
		{"no failure delay", "auth_failure_delay = 0\n", []string{"auth_failure_delay: 0 secs makes password guessing fast"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base + tc.in
			if !strings.Contains(in, "protocols") {
				in += "protocols = imap pop3\n"
			}
			c, err := Parse("/etc/roost/roost.conf", []byte(in), fsys.read)
			if err != nil {
				t.Fatal(err)
			}
			var got []Problem
			for _, p := range c.Validate() {
				if p.Severity == Error {
					t.Fatalf("unexpected error: %s", p)
				}
				if p.Dangerous {
					got = append(got, p)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d dangerous warnings, want %d:\n%s", len(got), len(tc.want), problemStrings(got))
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i].String(), w) {
					t.Errorf("warning %d:\n got %s\nwant ...%s...", i, got[i], w)
				}
				if !strings.Contains(got[i].Msg, "Use ") && !strings.Contains(got[i].Msg, "Set ") && !strings.Contains(got[i].Msg, "Remove ") && !strings.Contains(got[i].Msg, "Turn it off") {
					t.Errorf("warning %d does not say what to use instead: %s", i, got[i])
				}
			}
		})
	}
}

func TestDangerousFileModes(t *testing.T) {
	dir := t.TempDir()
	cert, key := testKeyPair(t)
	files := map[string]string{"cert.pem": cert, "key.pem": key, "users": "alice:{PLAIN}x\n"}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	conf := "protocols = imap\nlisten = 127.0.0.1\nmail_location = sqlite:data\nssl_cert = <cert.pem\nssl_key = <key.pem\n" +
		"passdb {\n  driver = passwd-file\n  args = users\n}\n"
	path := filepath.Join(dir, "roost.conf")
	os.WriteFile(path, []byte(conf), 0o600)
	check := func(want ...string) {
		t.Helper()
		c, err := Load(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range c.Validate() {
			if p.Dangerous {
				got = append(got, p.String())
			}
		}
		if len(got) != len(want) {
			t.Fatalf("got %q, want %d warnings like %q", got, len(want), want)
		}
		for i, w := range want {
			if !strings.Contains(got[i], w) {
				t.Errorf("got %q, want ...%s...", got[i], w)
			}
		}
	}
	check()
	os.Chmod(filepath.Join(dir, "users"), 0o644)
	os.Chmod(filepath.Join(dir, "key.pem"), 0o604)
	check("roost.conf:6: passdb: "+filepath.Join(dir, "users")+" is readable by every local user (mode 0644)",
		"ssl_key: "+filepath.Join(dir, "key.pem")+" is readable by every local user (mode 0604)")
	os.Chmod(filepath.Join(dir, "users"), 0o622)
	os.Chmod(filepath.Join(dir, "key.pem"), 0o640)
	check("passdb: " + filepath.Join(dir, "users") + " is writable by every local user (mode 0622)")
}

func TestAuthLoggingSettingsDecode(t *testing.T) {
	for in, want := range map[string]string{
		"no": "no", "yes": "plain", "plain": "plain", "Plain:12": "plain:12", "sha1": "sha1", "sha1:08": "sha1:8",
	} {
		c, err := Parse("x.conf", []byte("auth_verbose_passwords = "+in+"\n"), nil)
		if err != nil || c.AuthVerbosePasswords != want {
			t.Errorf("auth_verbose_passwords = %s: %q, %v; want %q", in, c.AuthVerbosePasswords, err, want)
		}
	}
	for _, bad := range []string{"auth_verbose_passwords = md5", "auth_verbose_passwords = sha1:0", "auth_verbose_passwords = sha1:x",
		"auth_verbose_passwords = no:3", "auth_verbose = maybe", "auth_debug = 2", "auth_anonymous_username ="} {
		if _, err := Parse("x.conf", []byte(bad+"\n"), nil); err == nil || !strings.Contains(err.Error(), "x.conf:1") {
			t.Errorf("%s: err %v, want an error naming x.conf:1", bad, err)
		}
	}
	d := Default()
	if d.AuthVerbose || d.AuthDebug || d.AuthDebugPasswords || d.AuthVerbosePasswords != "no" || d.AuthAnonymousUsername != "anonymous" {
		t.Errorf("defaults: %+v", d)
	}
}
