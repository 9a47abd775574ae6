package config

import (
	"crypto/tls"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	c := Default()
	checks := []struct {
		name      string
		got, want any
	}{
		{"protocols", c.Protocols, []string{"imap", "pop3", "lmtp"}},
		{"listen", c.Listen, []string{"*", "::"}},
		{"mail_location", c.MailLocation, MailLocation{}},
		{"ssl", c.SSL, "yes"},
		{"ssl_min_protocol", c.SSLMinProtocol, uint16(tls.VersionTLS12)},
		{"disable_plaintext_auth", c.DisablePlaintextAuth, true},
		{"auth_mechanisms", c.AuthMechanisms, []string{"plain"}},
		{"auth_failure_delay", c.AuthFailureDelay, 2 * time.Second},
		{"login_greeting", c.LoginGreeting, "Roost ready."},
		{"pop3_uidl_format", c.POP3UIDLFormat, "%08Xu%08Xv"},
		{"mail_max_userip_connections", c.MailMaxUserIPConnections, 10},
		{"quota_max_mail_size", c.MaxMailSize, int64(100 << 20)},
		{"passdbs", len(c.Passdbs), 0},
	}
	for _, ch := range checks {
		if !reflect.DeepEqual(ch.got, ch.want) {
			t.Errorf("%s = %#v, want %#v", ch.name, ch.got, ch.want)
		}
	}
	// Every table default must be what Default holds, so Dump -n of
	// Default prints nothing.
	var b strings.Builder
	if err := c.Dump(&b, true); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 1 {
		t.Errorf("dump -n of Default prints settings:\n%s", b.String())
	}
	// Default returns independent values.
	c.Services[0].Listeners[0].Port = 1
	if Default().Services[0].Listeners[0].Port != 143 {
		t.Error("Default shares state between calls")
	}
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		check func(c *Config) any // returns the value to compare
		want  any
	}{
		{"protocols", "protocols = imap  lmtp", func(c *Config) any { return c.Protocols }, []string{"imap", "lmtp"}},
		{"protocols none", "protocols = none", func(c *Config) any { return c.Protocols }, []string(nil)},
		{"protocols $self", "protocols = imap\nprotocols = $protocols pop3 imap", func(c *Config) any { return c.Protocols }, []string{"imap", "pop3"}},
		{"protocols $self from none", "protocols = none\nprotocols = $protocols lmtp", func(c *Config) any { return c.Protocols }, []string{"lmtp"}},
		{"listen", "listen = 127.0.0.1, ::1", func(c *Config) any { return c.Listen }, []string{"127.0.0.1", "::1"}},
		{"listen empty", "listen =", func(c *Config) any { return c.Listen }, []string(nil)},
		{"mail_location abs", "mail_location = sqlite:/var/lib/roost/", func(c *Config) any { return c.MailLocation }, MailLocation{Driver: "sqlite", Path: "/var/lib/roost"}},
		{"mail_location rel", "mail_location = sqlite:data", func(c *Config) any { return c.MailLocation }, MailLocation{Driver: "sqlite", Path: "/etc/roost/data"}},
		{"ssl no", "ssl = no", func(c *Config) any { return c.SSL }, "no"},
		{"ssl required", "ssl = required", func(c *Config) any { return c.SSL }, "required"},
		{"tls13", "ssl_min_protocol = TLSv1.3", func(c *Config) any { return c.SSLMinProtocol }, uint16(tls.VersionTLS13)},
		{"tls1", "ssl_min_protocol = TLSv1", func(c *Config) any { return c.SSLMinProtocol }, uint16(tls.VersionTLS10)},
		{"bool upper", "disable_plaintext_auth = NO", func(c *Config) any { return c.DisablePlaintextAuth }, false},
		{"mechs", "auth_mechanisms = PLAIN Login, plain", func(c *Config) any { return c.AuthMechanisms }, []string{"plain", "login"}},
		{"mechs unimplemented kept", "auth_mechanisms = cram-md5", func(c *Config) any { return c.AuthMechanisms }, []string{"cram-md5"}},
		{"delay 2s", "auth_failure_delay = 2s", func(c *Config) any { return c.AuthFailureDelay }, 2 * time.Second},
		{"delay ms", "auth_failure_delay = 500 ms", func(c *Config) any { return c.AuthFailureDelay }, 500 * time.Millisecond},
		{"delay min", "auth_failure_delay = 1 min", func(c *Config) any { return c.AuthFailureDelay }, time.Minute},
		{"delay plain", "auth_failure_delay = 3", func(c *Config) any { return c.AuthFailureDelay }, 3 * time.Second},
		{"delay secs", "auth_failure_delay = 2 secs", func(c *Config) any { return c.AuthFailureDelay }, 2 * time.Second},
		{"greeting quoted", `login_greeting = "  Hi # there  "`, func(c *Config) any { return c.LoginGreeting }, "  Hi # there  "},
		{"greeting comment", `login_greeting = Hi there # comment`, func(c *Config) any { return c.LoginGreeting }, "Hi there"},
		{"uidl", "pop3_uidl_format = %u-%v", func(c *Config) any { return c.POP3UIDLFormat }, "%u-%v"},
		{"userip", "mail_max_userip_connections = 0", func(c *Config) any { return c.MailMaxUserIPConnections }, 0},
		{"later wins", "ssl = no\nssl = required", func(c *Config) any { return c.SSL }, "required"},
		{"passdb", "passdb {\n driver = passwd-file\n args = scheme=SHA512-CRYPT username_format=%n users\n}\npassdb {\n driver = passwd-file\n args = /etc/other\n}",
			func(c *Config) any { return normDBs(c.Passdbs) }, []DB{
				{Driver: "passwd-file", Args: "scheme=SHA512-CRYPT username_format=%n /etc/roost/users", Path: "/etc/roost/users",
					Options: map[string]string{"scheme": "SHA512-CRYPT", "username_format": "%n"}},
				{Driver: "passwd-file", Args: "/etc/other", Path: "/etc/other"},
			}},
		{"userdb static", "userdb {\n driver = static\n args = uid=vmail home=/var/mail/%u\n}",
			func(c *Config) any { return normDBs(c.Userdbs) }, []DB{
				{Driver: "static", Args: "uid=vmail home=/var/mail/%u", Options: map[string]string{"uid": "vmail", "home": "/var/mail/%u"}},
			}},
		{"userdb other driver kept", "userdb {\n driver = passwd\n}",
			func(c *Config) any { return normDBs(c.Userdbs) }, []DB{{Driver: "passwd"}}},
		{"listener port", "service imap-login {\n inet_listener imap {\n  port = 0\n }\n inet_listener imaps {\n  port = 10993\n  address = 127.0.0.1\n }\n}",
			func(c *Config) any { return normalized(c).Services[0].Listeners }, []InetListener{
				{Name: "imap", Port: 0}, {Name: "imaps", Port: 10993, SSL: true, Address: "127.0.0.1"},
			}},
		{"new lmtp listener", "service lmtp {\n inet_listener lmtp {\n  port = 24\n }\n}",
			func(c *Config) any { return normalized(c).Services[2].Listeners }, []InetListener{{Name: "lmtp", Port: 24}}},
		{"new listener without port is off", "service pop3-login {\n inet_listener extra {\n  ssl = yes\n }\n}",
			func(c *Config) any { return normalized(c).Services[1].Listeners[2] }, InetListener{Name: "extra", SSL: true}},
		{"ignored top", "state_dir = /var/lib/dovecot/", func(c *Config) any { return normalized(c).Ignored }, []IgnoredSetting{
			{Key: "state_dir", Value: "/var/lib/dovecot/", Reason: ignoredSettings["state_dir"]}}},
		{"lmtp unix listener", "base_dir = /var/run/dovecot/\nservice lmtp {\n unix_listener lmtp {\n  mode = 0660\n  user = postfix\n  group = mail\n }\n unix_listener /var/spool/postfix/private/dovecot-lmtp {\n }\n}",
			func(c *Config) any {
				ls := c.UnixListeners("lmtp")
				for i := range ls {
					ls[i].File, ls[i].Line = "", 0
				}
				return ls
			}, []UnixListener{
				{Name: "lmtp", Path: "/var/run/dovecot/lmtp", Mode: 0o660, User: "postfix", Group: "mail"},
				{Name: "/var/spool/postfix/private/dovecot-lmtp", Path: "/var/spool/postfix/private/dovecot-lmtp", Mode: 0o600},
			}},
		{"ignored service", "service auth {\n process_limit = 1\n unix_listener auth-userdb {\n  mode = 0600\n }\n}\nservice imap {\n}",
			func(c *Config) any {
				var keys []string
				for _, ig := range c.Ignored {
					keys = append(keys, ignoredName(ig))
				}
				return keys
			}, []string{"service auth/process_limit", "service auth/unix_listener auth-userdb/mode"}},
		{"plugin and filters", "plugin {\n sieve = file:~/sieve\n}\nprotocol imap {\n}\nprotocol !indexer-worker {\n}\nnamespace inbox {\n mailbox \"Sent Messages\" {\n  special_use = \\Sent\n }\n}",
			func(c *Config) any { return len(c.Ignored) }, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse("/etc/roost/roost.conf", []byte(tc.in+"\n"), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.check(c); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"\nfoo = 1", `roost.conf:2: unknown setting "foo"`},
		{"protocols = imap submission", `roost.conf:1: protocols: protocol "submission" is not supported`},
		{"protocols = $protocols $listen", `roost.conf:1: protocols: variable $listen is not supported`},
		{"mail_location = maildir:~/Maildir", `roost.conf:1: mail_location: driver "maildir" is not supported by Roost`},
		{"mail_location = postgres:", `roost.conf:1: mail_location: postgres: missing connection string`},
		{"mail_location = sqlite:", `roost.conf:1: mail_location: sqlite: missing directory`},
		{"mail_location = /var/mail", `roost.conf:1: mail_location: invalid value "/var/mail"`},
		{"mail_location = sqlite:/x:INDEX=/y", `roost.conf:1: mail_location: options after the directory`},
		{"mail_location = sqlite:/home/%u", `roost.conf:1: mail_location: "/home/%u": variables and ~ are not supported`},
		{"ssl = maybe", `roost.conf:1: ssl: invalid value "maybe"`},
		{"ssl_min_protocol = SSLv3", `roost.conf:1: ssl_min_protocol: SSLv3 is not supported`},
		{"ssl_min_protocol = TLSv9", `roost.conf:1: ssl_min_protocol: invalid value "TLSv9"`},
		{"disable_plaintext_auth = true", `roost.conf:1: disable_plaintext_auth: invalid boolean "true"`},
		{"auth_mechanisms = plain bogus", `roost.conf:1: auth_mechanisms: unknown auth mechanism "bogus"`},
		{"auth_failure_delay = soon", `roost.conf:1: auth_failure_delay: invalid time "soon"`},
		{"auth_failure_delay = 2 fortnights", `roost.conf:1: auth_failure_delay: invalid time "2 fortnights": unknown unit`},
		{"auth_failure_delay = 99999999999999 weeks", `roost.conf:1: auth_failure_delay: invalid time "99999999999999 weeks": too large`},
		{"pop3_uidl_format = %f", `roost.conf:1: pop3_uidl_format: %f (Maildir file name) is not supported`},
		{"mail_max_userip_connections = -1", `roost.conf:1: mail_max_userip_connections: invalid number "-1"`},
		{"service imap-login {\n inet_listener imap {\n  port = 70000\n }\n}", `roost.conf:3: port: invalid number "70000"`},
		{"service imap-login {\n inet_listener imap {\n  ssl = si\n }\n}", `roost.conf:3: ssl: invalid boolean "si"`},
		{"service imap-login {\n inet_listener imap {\n  haproxy = si\n }\n}", `roost.conf:3: haproxy: invalid boolean "si"`},
		{"service imap-login {\n inet_listener imap {\n  bogus = 1\n }\n}", `roost.conf:3: unknown setting "bogus" in inet_listener`},
		{"service imap-login {\n process_limit = lots\n}", `roost.conf:2: process_limit: invalid number "lots"`},
		{"service imap-login {\n vsz_limit = 1 parsec\n}", `roost.conf:2: vsz_limit: invalid size "1 parsec"`},
		{"service imap-login {\n frobnicate = 1\n}", `roost.conf:2: unknown service setting "frobnicate"`},
		{"service imap-logn {\n}", `roost.conf:1: unknown service "imap-logn"`},
		{"service {\n}", `roost.conf:1: service section needs a name`},
		{"service auth {\n unix_listener x {\n  bogus = 1\n }\n}", `roost.conf:3: unknown setting "bogus" in unix_listener`},
		{"passdb {\n args = /etc/users\n}", `roost.conf:1: passdb section without driver`},
		{"passdb {\n driver = magic\n}", `roost.conf:2: unknown passdb driver "magic"`},
		{"passdb {\n driver = passwd-file\n}", `roost.conf:1: args: passwd-file needs a file name`},
		{"passdb {\n driver = passwd-file\n args = a b\n}", `roost.conf:3: args: unexpected "b" after the file name`},
		{"passdb {\n driver = passwd-file\n args = /x\n deny = yes\n}", `roost.conf:4: deny: not supported by Roost in passdb sections`},
		{"userdb {\n driver = static\n args = uid=1 bare\n}", `roost.conf:3: args: "bare" is not key=value`},
		{"protocol imap {\n mail_max_userip_connections = 1\n}", `roost.conf:1: protocol filter sections`},
		{"frob {\n}", `roost.conf:1: unknown section "frob"`},
	}
	for _, tc := range cases {
		_, err := Parse("roost.conf", []byte(tc.in+"\n"), nil)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q:\n got %v\nwant %s", tc.in, err, tc.want)
			continue
		}
		var le *LineError
		if !errors.As(err, &le) || le.File != "roost.conf" || le.Line == 0 {
			t.Errorf("%q: error is not a positioned *LineError: %#v", tc.in, err)
		}
	}
}

func TestDecodeReportsAllErrors(t *testing.T) {
	_, err := Parse("r.conf", []byte("foo = 1\nssl = maybe\nbar = 2\n"), nil)
	if err == nil {
		t.Fatal("no error")
	}
	want := "r.conf:1: unknown setting \"foo\"\nr.conf:2: ssl: invalid value \"maybe\" (use no, yes or required)\nr.conf:3: unknown setting \"bar\""
	if err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "2": 2 * time.Second, "2s": 2 * time.Second, "2 secs": 2 * time.Second,
		"1 sec": time.Second, "500ms": 500 * time.Millisecond, "500 msecs": 500 * time.Millisecond,
		"1m": time.Minute, "3 mins": 3 * time.Minute, "1 hour": time.Hour, "2 days": 48 * time.Hour,
		"1 week": 7 * 24 * time.Hour, "5 SECONDS": 5 * time.Second,
	} {
		got, err := parseDuration(in)
		if err != nil || got != want {
			t.Errorf("%q: got %v, %v; want %v", in, got, err, want)
		}
		if back, err := parseDuration(formatDuration(got)); err != nil || back != got {
			t.Errorf("%q: format %q does not parse back", in, formatDuration(got))
		}
	}
	for _, in := range []string{"", "s", "-1", "1.5s", "2 lightyears", "1e3"} {
		if _, err := parseDuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestMaxMailSize(t *testing.T) {
	for in, want := range map[string]int64{
		"quota_max_mail_size = 0\n":                                   0,
		"quota_max_mail_size = 512\n":                                 512,
		"quota_max_mail_size = 10 k\n":                                10 << 10,
		"quota_max_mail_size = 25M\n":                                 25 << 20,
		"quota_max_mail_size = 1G\n":                                  1 << 30,
		"plugin {\n  quota_max_mail_size = 50M\n  quota = count\n}\n": 50 << 20, // Dovecot 2.3's place for it
	} {
		c, err := Parse("roost.conf", []byte(in), nil)
		if err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		if c.MaxMailSize != want {
			t.Errorf("%q: MaxMailSize = %d, want %d", in, c.MaxMailSize, want)
		}
		// Dump writes it back so that it parses to the same value.
		var b strings.Builder
		if err := c.Dump(&b, true); err != nil {
			t.Fatal(err)
		}
		again, err := Parse("dump.conf", []byte(b.String()), nil)
		if err != nil || again.MaxMailSize != want {
			t.Errorf("%q: dump %q parses to %v, %v", in, b.String(), again, err)
		}
	}
	for _, bad := range []string{"quota_max_mail_size = lots\n", "quota_max_mail_size = 5 parsecs\n", "quota_max_mail_size = 99999999999T\n"} {
		if _, err := Parse("roost.conf", []byte(bad), nil); err == nil || !strings.Contains(err.Error(), "roost.conf:1") {
			t.Errorf("%q: err = %v, want an error at roost.conf:1", bad, err)
		}
	}
	// Other plugin settings are accepted with a warning, not applied.
	c, err := Parse("roost.conf", []byte("plugin {\n  quota_warning = storage=95%% quota-warning 95 %u\n}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) != 1 || !strings.Contains(w[0].String(), "plugin") {
		t.Errorf("warnings = %v, want one about the plugin section", w)
	}
}
