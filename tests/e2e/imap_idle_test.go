package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// idleWait is how long a change in one session may take to reach an
// idling one: generous, this is no speed test.
const idleWait = 10 * time.Second

// TestIMAPIdleSeesOtherSessions: session A idles on INBOX while session B
// (imaplib), a `deliver` process and a POP3 session change it; A is told
// each change (EXISTS, FETCH FLAGS, EXPUNGE) without asking.
func TestIMAPIdleSeesOtherSessions(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{imap: true})
	c := corpus()
	for _, m := range c[:3] {
		s.deliver("alice", m.raw)
	}

	a := s.dialIMAP(t, true)
	a.login()
	u := a.ok("SELECT INBOX")
	if !containsLine(u, "* 3 EXISTS") {
		t.Fatalf("SELECT INBOX: %q", u)
	}
	idle := func() {
		t.Helper()
		a.tagN++
		a.send("idle1 IDLE\r\n")
		if l := a.readLine(10 * time.Second); !strings.HasPrefix(l, "+") {
			t.Fatalf("IDLE: %q", l)
		}
	}
	done := func() {
		t.Helper()
		a.send("DONE\r\n")
		l, _ := a.waitFor(regexp.MustCompile(`^idle1 `), 10*time.Second)
		if !strings.HasPrefix(l, "idle1 OK") {
			t.Fatalf("IDLE DONE: %q", l)
		}
	}
	idle()

	b := s.imaplib(t, "ssl", "")
	b.ok("login", "alice", alicePass)
	b.ok("append", "INBOX", nil, nil, crlf(c[3].raw))
	a.waitFor(regexp.MustCompile(`^\* 4 EXISTS$`), idleWait)

	b.ok("select", "INBOX")
	b.ok("store", "2", "+FLAGS", `(\Flagged)`)
	a.waitFor(regexp.MustCompile(`^\* 2 FETCH \(.*FLAGS \([^)]*\\Flagged`), idleWait)

	b.ok("store", "1", "+FLAGS", `(\Deleted)`)
	a.waitFor(regexp.MustCompile(`^\* 1 FETCH \(.*FLAGS \([^)]*\\Deleted`), idleWait)
	b.ok("expunge")
	a.waitFor(regexp.MustCompile(`^\* 1 EXPUNGE$`), idleWait)
	b.logout()

	// Another process delivers.
	s.deliver("alice", c[4].raw)
	a.waitFor(regexp.MustCompile(`^\* 4 EXISTS$`), idleWait)
	done()

	// The session still works after DONE, and a command pipelined right
	// after DONE in the same packet is answered (iOS does this).
	idle()
	a.send("DONE\r\nnoop1 NOOP\r\n")
	l, _ := a.waitFor(regexp.MustCompile(`^idle1 `), 10*time.Second)
	if !strings.HasPrefix(l, "idle1 OK") {
		t.Fatalf("IDLE DONE: %q", l)
	}
	if l, _ := a.waitFor(regexp.MustCompile(`^noop1 `), 10*time.Second); !strings.HasPrefix(l, "noop1 OK") {
		t.Fatalf("NOOP pipelined after DONE: %q", l)
	}

	// A POP3 session deletes the first message while A is selected.
	idle()
	res := s.poplib(popReq{Mode: "ssl", Action: "dele", Numbers: []int{1}, Quit: true})
	_ = res
	a.waitFor(regexp.MustCompile(`^\* 1 EXPUNGE$`), idleWait)
	done()
	u = a.ok("FETCH 1:* (FLAGS)")
	if n := countPrefix(u, "* "); n != 3 {
		t.Errorf("after all changes: FETCH 1:* gives %d messages, want 3: %q", n, u)
	}
	a.ok("LOGOUT")
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func countPrefix(lines []string, p string) int {
	n := 0
	for _, l := range lines {
		if strings.HasPrefix(l, p) {
			n++
		}
	}
	return n
}
