package app

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/auth/password"
	"github.com/roost-mail/roost/internal/tlsutil"
)

// Embedded describes the embedded-default data directory (DESIGN.md section
// 4): one directory holding the generated config, a self-signed certificate,
// the users file and the mail store.
type Embedded struct {
	Dir        string
	ConfigPath string
	Created    bool // the directory was set up by this call
	// DemoUser and DemoPassword are set when Created: a demo account that
	// the caller should fill with sample messages (SampleMessages).
	DemoUser, DemoPassword string
	Ports                  Ports
}

// Ports are the listener ports of the embedded default.
type Ports struct{ IMAP, IMAPS, POP3, POP3S int }

// StandardPorts are used when running as root; UnprivilegedPorts otherwise,
// so that `roost serve` works for any user.
var (
	StandardPorts     = Ports{IMAP: 143, IMAPS: 993, POP3: 110, POP3S: 995}
	UnprivilegedPorts = Ports{IMAP: 1143, IMAPS: 1993, POP3: 1110, POP3S: 1995}
)

// DemoUser is the account created with a new embedded data directory.
const DemoUser = "demo"

// PrepareEmbedded creates the data directory dir on first use (config,
// certificate with SANs localhost/127.0.0.1/::1, users file with a demo
// account) and returns its description. An existing directory is left as it
// is: its roost.conf is the admin's to edit.
func PrepareEmbedded(dir string, ports Ports) (*Embedded, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	e := &Embedded{Dir: abs, ConfigPath: filepath.Join(abs, "roost.conf"), Ports: ports}
	if _, err := os.Stat(e.ConfigPath); err == nil {
		return e, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	if err := writeSelfSigned(filepath.Join(abs, "cert.pem"), filepath.Join(abs, "key.pem")); err != nil {
		return nil, err
	}
	pw, err := randomPassword()
	if err != nil {
		return nil, err
	}
	hash, err := password.Hash("BLF-CRYPT", pw)
	if err != nil {
		return nil, err
	}
	users := filepath.Join(abs, "users")
	if err := os.WriteFile(users, []byte(DemoUser+":"+hash+"::::::\n"), 0o600); err != nil {
		return nil, err
	}
	// Keep the demo password where the admin can find it again; the
	// directory is private (0700) and the account is for trying Roost out.
	if err := os.WriteFile(filepath.Join(abs, "demo-password"), []byte(pw+"\n"), 0o600); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(embeddedConfig, time.Now().UTC().Format(time.RFC3339), embeddedIdentity(os.Geteuid(), lookupRoostUser),
		filepath.Join(abs, "mail"), filepath.Join(abs, "cert.pem"), filepath.Join(abs, "key.pem"), users,
		ports.IMAP, ports.IMAPS, ports.POP3, ports.POP3S)
	// Written last: its presence marks a complete data directory.
	if err := writeFileSync(e.ConfigPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	e.Created, e.DemoUser, e.DemoPassword = true, DemoUser, pw
	return e, nil
}

const embeddedConfig = `# Roost embedded default, generated %s.
# Dovecot syntax and setting names; see the README for the full list.
# Loopback only: change listen (and read docs) before exposing it.
%sprotocols = imap pop3
listen = 127.0.0.1
mail_location = sqlite:%s

ssl = yes
ssl_cert = <%s
ssl_key = <%s

# Cleartext passwords only over TLS, or from this machine to itself.
disable_plaintext_auth = yes
auth_mechanisms = plain login

passdb {
  driver = passwd-file
  args = %s
}

service imap-login {
  inet_listener imap {
    port = %d
  }
  inet_listener imaps {
    port = %d
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = %d
  }
  inet_listener pop3s {
    port = %d
    ssl = yes
  }
}
`

// embeddedIdentity returns the config lines that choose the user a
// root-started embedded default runs as. With a "roost" system user the
// default (default_internal_user = roost) applies and nothing is written.
// Without one, the embedded default must still start from a fresh clone
// with one command (and a data directory under /root would not even be
// reachable by another user), so it stays root, says so, and tells the
// admin how to fix it; `roost config check` reports it as dangerous.
func embeddedIdentity(euid int, roostExists func() bool) string {
	if euid != 0 || roostExists() {
		return ""
	}
	return `# Started as root on a machine without a "roost" user: the embedded default
# keeps running as root (loopback only). To drop privileges, create the user
# (useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin roost),
# chown -R roost this directory's mail/ and users, and delete this line.
default_internal_user = root

`
}

func lookupRoostUser() bool {
	_, err := user.Lookup("roost")
	return err == nil
}

func writeFileSync(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func randomPassword() (string, error) {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// writeSelfSigned writes a self-signed certificate valid for localhost,
// 127.0.0.1, ::1 and the host name, and its key (mode 0600).
func writeSelfSigned(certPath, keyPath string) error {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, _ := os.Hostname(); h != "" && h != "localhost" && !strings.ContainsAny(h, " /") {
		hosts = append(hosts, h)
	}
	certPEM, keyPEM, err := tlsutil.SelfSigned(hosts, 2*365*24*time.Hour)
	if err != nil {
		return err
	}
	if err := writeFileSync(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	return writeFileSync(certPath, certPEM, 0o644)
}
