package e2e

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// lmtpConn is a raw LMTP client that keeps a transcript.
type lmtpConn struct {
	t   *testing.T
	c   net.Conn
	r   *bufio.Reader
	log strings.Builder
}

func dialLMTP(t *testing.T, port int) *lmtpConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	l := &lmtpConn{t: t, c: c, r: bufio.NewReader(c)}
	l.expect("220 ")
	return l
}

// send writes one line (CRLF added).
func (l *lmtpConn) send(line string) {
	l.t.Helper()
	fmt.Fprintf(&l.log, "C: %s\n", line)
	l.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := l.c.Write([]byte(line + "\r\n")); err != nil {
		l.t.Fatalf("write %q: %v\n%s", line, err, l.log.String())
	}
}

// expect reads one reply (all its lines) and requires its last line to
// start with prefix.
func (l *lmtpConn) expect(prefix string) string {
	l.t.Helper()
	l.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		line, err := l.r.ReadString('\n')
		if err != nil {
			l.t.Fatalf("read: %v\n%s", err, l.log.String())
		}
		line = strings.TrimRight(line, "\r\n")
		fmt.Fprintf(&l.log, "S: %s\n", line)
		if len(line) > 3 && line[3] == '-' {
			continue
		}
		if !strings.HasPrefix(line, prefix) {
			l.t.Fatalf("got %q, want %q...\n%s", line, prefix, l.log.String())
		}
		return line
	}
}

// TestLMTPRecipientIsLoginAccount: with auth_username_format = %Ln (the
// domain is dropped, as on a site whose passwd-file has bare names) and a
// passwd-file entry whose "user" field renames the account, LMTP RCPT and
// roost deliver -d save into (and roost import -u imports into) the
// account that IMAP login opens, as Dovecot
// saves into the userdb lookup's user. Before the fix the mail went to an
// account named after the address that nobody could log in to.
func TestLMTPRecipientIsLoginAccount(t *testing.T) {
	skipReference(t)
	s := startServer(t, serverOpts{imap: true})
	s.stop()
	port := freePort(t)
	users := "alice:{PLAIN}" + alicePass + "\n" +
		"dave:{PLAIN}d4ve::::::user=dave@example.org\n"
	if err := os.WriteFile(s.users, []byte(users), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "protocols = pop3 imap\n", "protocols = pop3 imap lmtp\n", 1) +
		"auth_username_format = %Ln\n" +
		fmt.Sprintf("service lmtp {\n  inet_listener lmtp {\n    port = %d\n  }\n}\n", port)
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()

	l := dialLMTP(t, port)
	l.send("LHLO mta.test")
	l.expect("250 ")
	l.send("MAIL FROM:<sender@example.net>")
	l.expect("250 ")
	l.send("RCPT TO:<Alice@Example.ORG>")
	l.expect("250 ")
	l.send("RCPT TO:<dave+lists@example.net>")
	l.expect("250 ")
	l.send("RCPT TO:<carol@example.org>")
	l.expect("550 5.1.1 ")
	l.send("DATA")
	l.expect("354 ")
	l.send("From: sender@example.net\r\nSubject: names\r\n\r\nhello\r\n.")
	l.expect("250 2.0.0 <Alice@Example.ORG>")
	l.expect("250 2.0.0 <dave+lists@example.net>")
	l.send("QUIT")
	l.expect("221 ")

	// dovecot-lda's -d goes through the same lookup, and so does roost import -u.
	s.deliver("ALICE@example.com", []byte("From: x@example.net\nSubject: lda\n\nhi\n"))
	src := filepath.Join(s.dir, "Maildir")
	writeDovecotMaildir(t, src, []string{"imported"})
	if out, e, code := s.cli(nil, "import", "-c", s.cfg, "-u", "alice@example.org", "maildir", src); code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, e)
	}

	// Login names go through the same format: alice@example.org is alice.
	c := s.dialIMAP(t, false)
	c.ok("LOGIN alice@example.org " + alicePass)
	if u := c.ok("SELECT INBOX"); !slices.Contains(u, "* 3 EXISTS") {
		t.Errorf("alice's INBOX after LMTP, deliver and import: %q, want 3 EXISTS", u)
	}
	c.ok("LOGOUT")
	c = s.dialIMAP(t, false)
	c.ok("LOGIN dave d4ve")
	if u := c.ok("SELECT INBOX"); !slices.Contains(u, "* 1 EXISTS") {
		t.Errorf("dave's INBOX after LMTP: %q, want 1 EXISTS", u)
	}
	c.ok("LOGOUT")

	// Exactly the two login accounts exist in the store: none named after
	// an address.
	ents, err := os.ReadDir(filepath.Join(s.dir, "mail", "accounts"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if want := []string{"alice", "dave@example.org"}; !slices.Equal(names, want) {
		t.Errorf("account directories %q, want %q", names, want)
	}
}
