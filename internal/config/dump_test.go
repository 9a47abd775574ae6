package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// roundTrip dumps c, parses the dump with the same name and file access,
// and checks that the result equals c. It returns the dump.
func roundTrip(t testing.TB, c *Config, nonDefaultOnly bool, readFile func(string) ([]byte, error)) string {
	t.Helper()
	var b strings.Builder
	if err := c.Dump(&b, nonDefaultOnly); err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(c.File, []byte(b.String()), readFile)
	if err != nil {
		t.Fatalf("dump does not parse: %v\n%s", err, b.String())
	}
	assertSameConfig(t, c, c2)
	return b.String()
}

const richConfig = `
protocols = imap pop3 lmtp
listen = 127.0.0.1, ::1
mail_location = sqlite:data
ssl = required
ssl_cert = <cert.pem
ssl_key = <key.pem
ssl_min_protocol = TLSv1.3
disable_plaintext_auth = no
auth_mechanisms = plain login anonymous
auth_failure_delay = 1500 ms
auth_verbose = yes
auth_verbose_passwords = SHA1:8
auth_debug = yes
auth_debug_passwords = yes
auth_anonymous_username = guest
login_greeting = "Hello \"world\" # $5 \\ ok"
pop3_uidl_format = %08Xv%08Xu
mail_max_userip_connections = 50
base_dir = /run/roost
ssl_dh = </usr/share/dovecot/dh.pem
passdb {
  driver = passwd-file
  args = username_format=%n scheme=BLF-CRYPT users
}
passdb {
  driver = pam
  args = session=yes dovecot
}
userdb {
  driver = static
  args = uid=vmail gid=vmail home=/var/mail/%d/%n
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 192.0.2.1
    port = 9993
  }
  inet_listener "odd name" {
    port = 1993
    ssl = yes
    reuse_port = yes
  }
  process_min_avail = 4
  vsz_limit = 1G
}
service lmtp {
  unix_listener lmtp {
    mode = 0600
  }
  inet_listener lmtp {
    port = 24
  }
}
service auth {
  client_limit = 100
}
namespace inbox {
  inbox = yes
  mailbox "Sent Messages" {
    special_use = \Sent
  }
  mailbox Drafts {
    special_use = \Drafts
  }
}
plugin {
  sieve = file:~/sieve;active=~/.dovecot.sieve
}
log_path = syslog
`

func TestDumpRoundTrip(t *testing.T) {
	cert, key := testKeyPair(t)
	fsys := memFS{"/etc/roost/cert.pem": cert, "/etc/roost/key.pem": key}
	c, err := Parse("/etc/roost/roost.conf", []byte(richConfig), fsys.read)
	if err != nil {
		t.Fatal(err)
	}
	full := roundTrip(t, c, false, fsys.read)
	short := roundTrip(t, c, true, fsys.read)
	if !strings.Contains(full, "protocols = imap pop3 lmtp\n") || strings.Contains(short, "protocols =") {
		t.Errorf("-n must leave out defaults:\n%s", short)
	}
	for _, want := range []string{
		"ssl_cert = </etc/roost/cert.pem\n",
		`login_greeting = "Hello \"world\" # $5 \\ ok"` + "\n",
		"auth_failure_delay = 1500 ms\n",
		"auth_verbose_passwords = sha1:8\n",
		"auth_anonymous_username = guest\n",
		"auth_mechanisms = plain login anonymous\n",
		"  args = scheme=BLF-CRYPT username_format=%n /etc/roost/users\n",
		"  inet_listener \"odd name\" {\n",
		"ssl_dh = </usr/share/dovecot/dh.pem\n",
	} {
		if !strings.Contains(short, want) {
			t.Errorf("dump -n lacks %q:\n%s", want, short)
		}
	}
	if strings.Contains(full, "BEGIN") {
		t.Error("dump contains file contents")
	}
	// The dump of the dump is the same text: Dump is stable.
	c2, err := Parse(c.File, []byte(full), fsys.read)
	if err != nil {
		t.Fatal(err)
	}
	var again strings.Builder
	if err := c2.Dump(&again, false); err != nil {
		t.Fatal(err)
	}
	if again.String() != full {
		t.Errorf("dump not stable:\n%s\n---\n%s", full, again.String())
	}

	roundTrip(t, Default(), false, nil)
	roundTrip(t, Default(), true, nil)
}

func TestDumpShowsListenerChanges(t *testing.T) {
	c, err := Parse("r.conf", []byte("service pop3-login {\n inet_listener pop3 {\n  port = 0\n }\n}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := roundTrip(t, c, true, nil)
	want := "service pop3-login {\n  inet_listener pop3 {\n    port = 0\n    ssl = no\n  }\n}\n"
	if !strings.Contains(got, want) || strings.Contains(got, "imap-login") {
		t.Errorf("got\n%s\nwant it to contain\n%s", got, want)
	}
}

// TestDebianStyle loads a configuration laid out like Debian's stock
// /etc/dovecot: a main file that includes protocols.d and conf.d/*.conf,
// with Dovecot-only sections and settings that Roost accepts.
func TestDebianStyle(t *testing.T) {
	cert, key := testKeyPair(t)
	dir := writeFiles(t, t.TempDir(), map[string]string{
		"dovecot.conf": `## Dovecot configuration file
!include_try protocols.d/*.protocol
dict {
  #quota = mysql:/etc/dovecot/dovecot-dict-sql.conf.ext
}
!include conf.d/*.conf
!include_try local.conf
`,
		"protocols.d/imapd.protocol": "protocols = $protocols imap\n",
		"protocols.d/pop3d.protocol": "protocols = $protocols pop3\n",
		"conf.d/10-auth.conf": `#disable_plaintext_auth = yes
auth_mechanisms = plain
#!include auth-system.conf.ext
!include auth-passwdfile.conf.ext
`,
		"conf.d/auth-passwdfile.conf.ext": `passdb {
  driver = passwd-file
  args = scheme=CRYPT username_format=%u /etc/dovecot/users
}
userdb {
  driver = passwd-file
  args = username_format=%u /etc/dovecot/users
}
`,
		"conf.d/10-mail.conf": `mail_location = sqlite:/var/lib/roost
namespace inbox {
  #separator =
  inbox = yes
}
mail_privileged_group = mail
protocol !indexer-worker {
  #mail_vsize_bg_after_count = 0
}
`,
		"conf.d/10-master.conf": `service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    #port = 993
    #ssl = yes
  }
  #service_count = 1
}
service pop3-login {
  inet_listener pop3 {
    #port = 110
  }
  inet_listener pop3s {
    #port = 995
    #ssl = yes
  }
}
service lmtp {
  unix_listener lmtp {
    #mode = 0666
  }
}
service imap {
  #vsz_limit = $default_vsz_limit
  #process_limit = 1024
}
service auth {
  unix_listener auth-userdb {
    #mode = 0666
  }
}
service auth-worker {
  #user = root
}
service dict {
  unix_listener dict {
  }
}
`,
		"conf.d/15-mailboxes.conf": `namespace inbox {
  mailbox Drafts {
    special_use = \Drafts
  }
  mailbox "Sent Messages" {
    special_use = \Sent
  }
}
`,
		"conf.d/20-imap.conf":   "protocol imap {\n  #mail_plugins = $mail_plugins\n}\n",
		"conf.d/90-plugin.conf": "plugin {\n  #setting_name = value\n}\n",
		"private/dovecot.pem":   cert,
		"private/dovecot.key":   key,
	})
	// Debian's 10-ssl.conf, with the certificate paths in the temporary tree.
	writeFiles(t, dir, map[string]string{"conf.d/10-ssl.conf": "ssl = yes\n" +
		"ssl_cert = <" + dir + "/private/dovecot.pem\n" +
		"ssl_key = <" + dir + "/private/dovecot.key\n" +
		"ssl_client_ca_dir = /etc/ssl/certs\n" +
		"ssl_dh = </usr/share/dovecot/dh.pem\n"})

	c, err := Load(filepath.Join(dir, "dovecot.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Protocols, []string{"imap", "pop3", "lmtp"}) {
		t.Errorf("protocols = %q", c.Protocols)
	}
	var names []string
	for _, p := range []string{"imap", "pop3", "lmtp"} {
		for _, l := range c.Listeners(p) {
			names = append(names, l.Name)
		}
	}
	if !reflect.DeepEqual(names, []string{"imaps", "pop3", "pop3s"}) {
		t.Errorf("listeners = %q", names)
	}
	if len(c.Passdbs) != 1 || c.Passdbs[0].Path != "/etc/dovecot/users" || c.Passdbs[0].Options["scheme"] != "CRYPT" {
		t.Errorf("passdb = %+v", c.Passdbs)
	}
	got := problemStrings(c.Validate())
	if strings.Contains(got, "error:") {
		t.Errorf("stock-style config has errors:\n%s", got)
	}
	// Debian's unix_listener lmtp is Roost's too: base_dir/lmtp, mode 0600.
	if ul := c.UnixListeners("lmtp"); len(ul) != 1 || ul[0].Path != "/run/roost/lmtp" || ul[0].Mode != 0o600 {
		t.Errorf("lmtp unix listeners: %+v", ul)
	}
	for _, want := range []string{
		"conf.d/10-mail.conf:4: namespace inbox: section accepted but has no effect",
		"conf.d/10-mail.conf:6: mail_privileged_group: accepted but has no effect",
		"conf.d/10-ssl.conf:5: ssl_dh: accepted but has no effect",
		"conf.d/10-master.conf:21: service lmtp/unix_listener lmtp: ", // empty: no entry
	} {
		if strings.HasSuffix(want, ": ") {
			if strings.Contains(got, want) {
				t.Errorf("empty section reported: %q", want)
			}
			continue
		}
		if !strings.Contains(got, want) {
			t.Errorf("Validate lacks %q:\n%s", want, got)
		}
	}
	roundTrip(t, c, true, os.ReadFile)
}
