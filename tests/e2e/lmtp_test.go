package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// startLMTP starts a server like startServer with LMTP enabled on a
// loopback port, and returns the port.
func startLMTP(t *testing.T) (*server, int) {
	t.Helper()
	s := startServer(t, serverOpts{})
	if s.ref {
		t.Skip("the Dovecot reference config has no passdb lookup for user@domain recipients yet")
	}
	s.stop()
	port := freePort(t)
	b, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "protocols = pop3\n", "protocols = pop3 lmtp\n", 1)
	cfg += fmt.Sprintf("service lmtp {\n  inet_listener lmtp {\n    port = %d\n  }\n}\n", port)
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	s.start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
			return s, port
		}
		if time.Now().After(deadline) {
			t.Fatalf("lmtp port %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// swaks runs swaks in LMTP mode and returns its transcript.
func (s *server) swaks(port int, msg string, args ...string) (string, int) {
	s.t.Helper()
	bin := requireTool(s.t, "swaks", "swaks")
	file := filepath.Join(s.dir, "swaks-msg")
	// swaks sends CRLF "." CRLF after the file's contents: a final line end
	// in the file would add an empty line to the message.
	if err := os.WriteFile(file, []byte(strings.TrimSuffix(msg, "\r\n")), 0o600); err != nil {
		s.t.Fatal(err)
	}
	args = append([]string{"--protocol", "LMTP", "--server", fmt.Sprintf("127.0.0.1:%d", port),
		"--helo", "mta.test", "--data", "@" + file}, args...)
	stdout, stderr, code := runCmd(s.t, nil, bin, args...)
	return string(stdout) + string(stderr), code
}

// TestLMTPDeliverPOP3: swaks delivers to two users and an unknown one over
// LMTP; the unknown one is refused at RCPT, the others are saved, and POP3
// returns the message byte-exact behind Dovecot-style trace fields.
func TestLMTPDeliverPOP3(t *testing.T) {
	s, port := startLMTP(t)
	body := "From: sender@example.org\r\nSubject: lmtp e2e\r\n\r\n.a line starting with a dot\r\nbody\r\n"

	out, code := s.swaks(port, body, "--from", "sender@example.org",
		"--to", "alice@example.com,nobody@example.com,bob@example.com")
	if !strings.Contains(out, "<** 550 5.1.1 <nobody@example.com> User doesn't exist") ||
		!regexp.MustCompile(`<-  250 2\.0\.0 <alice@example\.com> \S+ Saved`).MatchString(out) ||
		!regexp.MustCompile(`<-  250 2\.0\.0 <bob@example\.com> \S+ Saved`).MatchString(out) {
		t.Fatalf("swaks exit %d, transcript:\n%s", code, out)
	}
	out, code = s.swaks(port, body, "--from", "<>", "--to", "Alice+Tag@example.com")
	if code != 0 || !strings.Contains(out, "250 2.0.0 <Alice+Tag@example.com>") {
		t.Fatalf("swaks exit %d, transcript:\n%s", code, out)
	}

	res := s.popFetch("ssl")
	if len(res.Msgs) != 2 {
		t.Fatalf("alice has %d messages over POP3, want 2", len(res.Msgs))
	}
	date := `[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}`
	multi := regexp.MustCompile(`^Return-Path: <sender@example\.org>\r\n` +
		`Received: from mta\.test \(\[127\.0\.0\.1\]\)\r\n\tby \S+ with LMTP\r\n\tid \S+\r\n\t\(envelope-from <sender@example\.org>\); ` + date + "\r\n")
	single := regexp.MustCompile(`^Return-Path: <>\r\nDelivered-To: Alice\+Tag@example\.com\r\n` +
		`Received: from mta\.test \(\[127\.0\.0\.1\]\)\r\n\tby \S+ with LMTP\r\n\tid \S+\r\n\t\(envelope-from <>\)\r\n\tfor <Alice\+Tag@example\.com>; ` + date + "\r\n")
	for i, re := range []*regexp.Regexp{multi, single} {
		got := string(res.Msgs[i])
		loc := re.FindStringIndex(got)
		if loc == nil {
			t.Fatalf("message %d: trace fields wrong:\n%q", i+1, got)
		}
		if rest := got[loc[1]:]; rest != body {
			t.Errorf("message %d body:\n%q\nwant\n%q", i+1, rest, body)
		}
	}
	bob := s.poplib(popReq{Mode: "ssl", Action: "fetch", User: "bob", Password: bobPass})
	if len(bob.Msgs) != 1 || !strings.HasSuffix(string(bob.Msgs[0]), "\r\n\r\n"+strings.SplitN(body, "\r\n\r\n", 2)[1]) {
		t.Errorf("bob's messages: %q", bob.Msgs)
	}
}
