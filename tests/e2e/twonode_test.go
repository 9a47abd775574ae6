package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nodeOpts configures one roost node of a multi-node test.
type nodeOpts struct {
	// mailLocation is mail_location; "" is sqlite in the node's directory.
	mailLocation string
	// passdb is the passdb section's body; "" is the passwd-file with
	// alice and bob.
	passdb string
	// extra is appended to the configuration.
	extra string
}

// node is a roost server with IMAP, POP3 and LMTP on loopback ports.
type node struct {
	*server
	lmtpPort int
}

// startNode starts `roost serve` with IMAP (imap, imaps), POP3 and LMTP on
// free 127.0.0.1 ports. Several nodes may share one PostgreSQL database
// (o.mailLocation). Cleanup stops it with SIGTERM unless the test killed it.
func startNode(t *testing.T, o nodeOpts) *node {
	t.Helper()
	if refServer {
		t.Skip("roost's own multi-node and SQL setup; no Dovecot equivalent in the reference config")
	}
	s := &server{t: t, dir: t.TempDir()}
	n := &node{server: s}
	s.cfg = filepath.Join(s.dir, "roost.conf")
	s.users = filepath.Join(s.dir, "users")
	if err := os.WriteFile(s.users, []byte("alice:{PLAIN}"+alicePass+"\nbob:"+bobHash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.mu.Lock()
		running := s.cmd != nil
		s.mu.Unlock()
		if running {
			s.stop()
		}
		if t.Failed() || os.Getenv("ROOST_E2E_LOG") != "" {
			s.mu.Lock()
			t.Logf("node stderr (%s):\n%s", s.dir, s.stderr.String())
			s.mu.Unlock()
		}
	})
	for attempt := 1; ; attempt++ {
		s.pop3Port, s.pop3sPort, s.imapPort, s.imapsPort, n.lmtpPort = freePort(t), freePort(t), freePort(t), freePort(t), freePort(t)
		if err := os.WriteFile(s.cfg, []byte(n.config(o)), 0o600); err != nil {
			t.Fatal(err)
		}
		err := s.tryStart()
		if err == nil {
			break
		}
		s.mu.Lock()
		inUse := strings.Contains(s.stderr.String(), "address already in use")
		s.mu.Unlock()
		if !inUse || attempt == 3 {
			t.Fatal(err)
		}
	}
	n.waitLMTP()
	return n
}

func (n *node) config(o nodeOpts) string {
	ml := o.mailLocation
	if ml == "" {
		ml = "sqlite:" + filepath.Join(n.dir, "mail")
	}
	passdb := o.passdb
	if passdb == "" {
		passdb = "driver = passwd-file\n  args = " + n.users
	}
	return fmt.Sprintf(`protocols = imap pop3 lmtp
listen = 127.0.0.1
mail_location = %s
default_internal_user = root
auth_penalty = no
auth_failure_delay = 0
ssl = yes
ssl_cert = <%s
ssl_key = <%s
passdb {
  %s
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
service lmtp {
  inet_listener lmtp {
    port = %d
  }
}
%s`, ml, certFile, keyFile, passdb, n.imapPort, n.imapsPort, n.pop3Port, n.pop3sPort, n.lmtpPort, o.extra)
}

// waitLMTP waits until the LMTP port accepts.
func (n *node) waitLMTP() {
	n.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.lmtpPort), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("lmtp port %d: %v", n.lmtpPort, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
