package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// validBase is a configuration Validate accepts without errors.
func validBase(t *testing.T) (memFS, string) {
	cert, key := testKeyPair(t)
	fsys := memFS{"/etc/roost/cert.pem": cert, "/etc/roost/key.pem": key}
	return fsys, "mail_location = sqlite:/var/lib/roost\n" +
		"ssl_cert = </etc/roost/cert.pem\nssl_key = </etc/roost/key.pem\n" +
		"passdb {\n  driver = passwd-file\n  args = /etc/roost/users\n}\n"
}

func TestValidateClean(t *testing.T) {
	fsys, base := validBase(t)
	c, err := Parse("/etc/roost/roost.conf", []byte(base), fsys.read)
	if err != nil {
		t.Fatal(err)
	}
	if ps := c.Validate(); len(ps) != 1 || !strings.Contains(ps[0].Msg, "lmtp is enabled but has no listener") {
		t.Fatalf("unexpected problems:\n%s", problemStrings(ps))
	}
}

func TestValidate(t *testing.T) {
	fsys, base := validBase(t)
	cert := fsys["/etc/roost/cert.pem"]
	fsys["/etc/roost/other-cert.pem"], _ = testKeyPair(t)
	fsys["/etc/roost/empty.pem"] = ""
	_ = cert
	cases := []struct {
		name string
		in   string // appended to base (line numbers start at 8)
		want []string
	}{
		{"default config", "", nil},
		{"no mail_location", "mail_location =\n", []string{"error: /etc/roost/roost.conf:8: mail_location: not set"}},
		{"no cert", "ssl_cert =\n", []string{"error: /etc/roost/roost.conf: ssl_cert: ssl = yes needs ssl_cert = </path/to/file.pem (not set), or set ssl = no"}},
		{"no key names ssl line", "ssl = required\nssl_key =\n", []string{"error: /etc/roost/roost.conf:8: ssl_key: ssl = required needs ssl_key"}},
		{"empty cert file", "ssl_cert = </etc/roost/empty.pem\n", []string{"error: /etc/roost/roost.conf: ssl_cert: ssl = yes needs ssl_cert = </path/to/file.pem (/etc/roost/empty.pem is empty)"}},
		{"mismatched pair", "ssl_cert = </etc/roost/other-cert.pem\n", []string{"error: /etc/roost/roost.conf:8: ssl_cert: /etc/roost/other-cert.pem and /etc/roost/key.pem do not form a usable certificate and key"}},
		{"no cert needed without listeners", "ssl_cert =\nssl_key =\nprotocols = none\n", []string{"warning: /etc/roost/roost.conf:10: protocols: none"}},
		{"ssl no public", "ssl = no\nssl_cert =\n", []string{"warning: /etc/roost/roost.conf:8: ssl: ssl = no: passwords and mail cross the network unencrypted",
			"warning: /etc/roost/roost.conf: inet_listener: inet_listener imap on 0.0.0.0, :: port 143 has no TLS (ssl = no)",
			"warning: /etc/roost/roost.conf: inet_listener: inet_listener pop3 on 0.0.0.0, :: port 110 has no TLS"}},
		{"ssl no loopback quiet", "ssl = no\nlisten = 127.0.0.1, ::1\n", nil},
		{"ssl no drops explicit ssl listener", "ssl = no\nlisten = 127.0.0.1\nservice imap-login {\n inet_listener imaps {\n  port = 993\n }\n}\n",
			[]string{"warning: /etc/roost/roost.conf:11: ssl: inet_listener imaps has ssl = yes but ssl = no, so it is not started"}},
		{"old tls", "ssl_min_protocol = TLSv1.1\n", []string{"warning: /etc/roost/roost.conf:8: ssl_min_protocol: TLS versions below 1.2"}},
		{"mechanism", "auth_mechanisms = plain cram-md5\n", []string{"error: /etc/roost/roost.conf:8: auth_mechanisms: auth mechanism cram-md5 is not supported"}},
		{"no mechanism", "auth_mechanisms =\n", []string{"error: /etc/roost/roost.conf:8: auth_mechanisms: no mechanisms"}},
		{"plaintext", "disable_plaintext_auth = no\n", []string{"warning: /etc/roost/roost.conf:8: disable_plaintext_auth: no: passwords are accepted",
			"warning: /etc/roost/roost.conf: inet_listener: inet_listener imap on 0.0.0.0, :: port 143 offers STARTTLS, but disable_plaintext_auth = no",
			"warning: /etc/roost/roost.conf: inet_listener: inet_listener pop3 on 0.0.0.0, :: port 110 offers STARTTLS"}},
		{"no delay", "auth_failure_delay = 0\n", []string{"warning: /etc/roost/roost.conf:8: auth_failure_delay: 0 secs makes password guessing fast"}},
		{"no penalty", "auth_penalty = no\n", []string{"warning: /etc/roost/roost.conf:8: auth_penalty: no: repeated failed logins"}},
		{"pam", "passdb {\n driver = pam\n}\n", []string{"error: /etc/roost/roost.conf:8: passdb: driver pam is not supported"}},
		{"bad option", "passdb {\n driver = passwd-file\n args = cache=yes /x\n}\n", []string{"error: /etc/roost/roost.conf:8: passdb: args option cache= makes no sense for passwd-file"}},
		{"userdb passwd", "userdb {\n driver = passwd\n}\n", []string{"warning: /etc/roost/roost.conf:8: userdb: driver passwd is not supported"}},
		{"duplicate port", "service pop3-login {\n inet_listener pop3 {\n  port = 143\n }\n}\n",
			[]string{"error: /etc/roost/roost.conf:9: inet_listener: pop3 pop3 listens on 0.0.0.0:143, already used by imap imap", "error: /etc/roost/roost.conf:9: inet_listener: pop3 pop3 listens on [::]:143"}},
		{"ignored", "ssl_dh = </usr/share/dovecot/dh.pem\nservice auth {\n client_limit = 10\n}\nplugin {\n a = 1\n b = 2\n}\n", []string{
			"warning: /etc/roost/roost.conf:8: ssl_dh: accepted but has no effect in Roost: Go's TLS uses ECDHE",
			"warning: /etc/roost/roost.conf:10: service auth/client_limit: accepted but has no effect in Roost: Roost runs all services in one process",
			"warning: /etc/roost/roost.conf:13: plugin: section accepted but has no effect in Roost",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := base + tc.in
			if !strings.Contains(in, "protocols") {
				in += "protocols = imap pop3\n" // no lmtp warning
			}
			c, err := Parse("/etc/roost/roost.conf", []byte(in), fsys.read)
			if err != nil {
				t.Fatal(err)
			}
			got := problemStrings(c.Validate())
			lines := strings.Split(strings.TrimSpace(got), "\n")
			if got == "" {
				lines = nil
			}
			if len(lines) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(tc.want), got)
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d:\n got %s\nwant %s...", i, lines[i], w)
				}
			}
		})
	}
}

func TestValidateDefault(t *testing.T) {
	got := problemStrings(Default().Validate())
	for _, want := range []string{"mail_location: not set", "ssl_cert: ssl = yes needs ssl_cert", "passdb: no passdb section"} {
		if !strings.Contains(got, want) {
			t.Errorf("Default().Validate() lacks %q:\n%s", want, got)
		}
	}
}

func TestProblemString(t *testing.T) {
	cases := map[string]Problem{
		"roost.conf:12: ssl: bad":   {File: "roost.conf", Line: 12, Setting: "ssl", Msg: "bad"},
		"roost.conf: ssl_cert: bad": {File: "roost.conf", Setting: "ssl_cert", Msg: "bad"},
		"ssl: bad":                  {Setting: "ssl", Msg: "bad"},
		"bad":                       {Msg: "bad"},
	}
	for want, p := range cases {
		if p.String() != want {
			t.Errorf("got %q want %q", p.String(), want)
		}
	}
}

func TestListeners(t *testing.T) {
	cases := []struct {
		name, in, proto string
		want            []string // name=addrs
	}{
		{"defaults imap", "", "imap", []string{"imap=0.0.0.0:143,[::]:143", "imaps=0.0.0.0:993,[::]:993"}},
		{"defaults pop3", "", "pop3", []string{"pop3=0.0.0.0:110,[::]:110", "pop3s=0.0.0.0:995,[::]:995"}},
		{"defaults lmtp none", "", "lmtp", nil},
		{"unknown protocol", "", "smtp", nil},
		{"listen", "listen = 127.0.0.1 [::1]", "imap", []string{"imap=127.0.0.1:143,[::1]:143", "imaps=127.0.0.1:993,[::1]:993"}},
		{"port 0", "service imap-login {\n inet_listener imap {\n port = 0\n }\n}", "imap", []string{"imaps=0.0.0.0:993,[::]:993"}},
		{"address overrides listen", "listen = 127.0.0.1\nservice imap-login {\n inet_listener imaps {\n address = 192.0.2.1, *\n }\n}", "imap",
			[]string{"imap=127.0.0.1:143", "imaps=192.0.2.1:993,0.0.0.0:993"}},
		{"protocol disabled", "protocols = imap lmtp", "pop3", nil},
		{"ssl no skips imaps", "ssl = no", "imap", []string{"imap=0.0.0.0:143,[::]:143"}},
		{"lmtp listener", "listen = 127.0.0.1\nservice lmtp {\n inet_listener lmtp {\n port = 24\n }\n}", "lmtp", []string{"lmtp=127.0.0.1:24"}},
		{"empty listen", "listen =", "imap", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("r.conf", []byte(tc.in+"\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range c.Listeners(tc.proto) {
				got = append(got, l.Name+"="+strings.Join(l.ListenAddrs(), ","))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q want %q", got, tc.want)
			}
			// Listeners returns copies.
			for _, l := range c.Listeners(tc.proto) {
				l.Addresses[0] = "x"
			}
			for _, s := range c.Services {
				for _, l := range s.Listeners {
					if l.Addresses != nil {
						t.Fatal("Listeners changed the Config")
					}
				}
			}
		})
	}
}

func TestLoadRelativeFile(t *testing.T) {
	cert, key := testKeyPair(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"roost.conf": "mail_location = sqlite:data\nssl_cert = <tls/cert.pem\nssl_key = <tls/key.pem\n" +
			"passdb {\n driver = passwd-file\n args = users\n}\n",
		"tls/cert.pem": cert, "tls/key.pem": key,
	})
	c, err := Load(filepath.Join(dir, "roost.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if c.MailLocation.Path != filepath.Join(dir, "data") || c.Passdbs[0].Path != filepath.Join(dir, "users") ||
		c.SSLCert.Path != filepath.Join(dir, "tls/cert.pem") || c.File != filepath.Join(dir, "roost.conf") {
		t.Errorf("paths not resolved against the config directory: %+v", c)
	}
	if _, err := Load(filepath.Join(dir, "nope.conf")); err == nil || !strings.Contains(err.Error(), "nope.conf") {
		t.Errorf("missing file: %v", err)
	}
}

func TestNetwork(t *testing.T) {
	for host, want := range map[string]string{"0.0.0.0": "tcp4", "::": "tcp6", "::1": "tcp6", "127.0.0.1": "tcp4", "mail.example": "tcp"} {
		if got := Network(host); got != want {
			t.Errorf("Network(%q) = %q, want %q", host, got, want)
		}
	}
}
