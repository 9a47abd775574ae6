package e2e

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestIMAPBadInput: malformed and hostile commands over raw TCP get BAD or
// NO with a text, the session goes on, the server never crashes, and a new
// connection is served afterwards.
func TestIMAPBadInput(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{imap: true})
	s.deliver("alice", corpus()[0].raw)

	// Servers hang up after a few invalid commands (Dovecot: 3 before
	// login, 20 after; "* BYE Too many invalid IMAP commands"). Then the
	// test reconnects and restores the state.
	state := 0 // 0 not authenticated, 1 authenticated, 2 INBOX selected
	var c *rawIMAP
	connect := func() {
		t.Helper()
		c = s.dialIMAP(t, false) // loopback: secure by rule
		if state >= 1 {
			c.login()
		}
		if state == 2 {
			c.ok("SELECT INBOX")
		}
	}
	connect()
	refused := func(command string, wantBAD bool) {
		t.Helper()
		untagged, done, err := c.tryCmd(command)
		if err != nil {
			if len(untagged) == 0 || !strings.HasPrefix(untagged[len(untagged)-1], "* BYE") {
				t.Fatalf("%q: connection lost without BYE: %v\ntranscript:\n%s", command, err, c.log.String())
			}
			t.Logf("%q: %q and hang-up", command, untagged[len(untagged)-1])
			c.conn.Close()
			connect()
			return
		}
		switch {
		case wantBAD && !strings.HasPrefix(done, "BAD "):
			t.Errorf("%q: %q, want BAD with a text", command, done)
		case !strings.HasPrefix(done, "BAD ") && !strings.HasPrefix(done, "NO "):
			t.Errorf("%q: %q, want NO or BAD with a text", command, done)
		case len(strings.TrimSpace(done)) < 5:
			t.Errorf("%q: %q has no text", command, done)
		}
	}
	// Not authenticated.
	refused("FROBNICATE", true)
	refused("SELECT INBOX", false)
	refused("FETCH 1 FLAGS", false)
	refused("LOGIN", true)
	refused("LOGIN alice", true)
	refused(`LOGIN "alice`, true)
	c.login()
	state = 1
	// Authenticated, nothing selected.
	refused("FETCH 1 FLAGS", false)
	refused("STORE 1 +FLAGS (\\Seen)", false)
	refused("EXPUNGE", false)
	refused("LOGIN alice "+alicePass, false)
	refused("SELECT", true)
	refused("CREATE", true)
	refused("LIST", true)
	refused("STATUS INBOX (FOO)", true)
	refused("SELECT NoSuchBox", false)
	// Names that look like paths.
	for _, name := range []string{"../x", "../../etc", "/abs", "/", "a//b", "INBOX/../x", "x/..", "./x"} {
		_, done := c.cmd("CREATE " + quoteIMAP(name))
		if strings.HasPrefix(done, "OK") {
			// Allowed as a plain name (no file system meaning) only if
			// it then behaves as one; it must not escape anything.
			t.Logf("CREATE %q: %q", name, done)
			c.ok("SELECT " + quoteIMAP(name))
			c.ok("CLOSE")
			c.ok("DELETE " + quoteIMAP(name))
			continue
		}
		if !strings.HasPrefix(done, "NO ") && !strings.HasPrefix(done, "BAD ") {
			t.Errorf("CREATE %q: %q", name, done)
		}
		refused("SELECT "+quoteIMAP(name), false)
	}

	c.ok("SELECT INBOX")
	state = 2
	refused("FETCH 0 FLAGS", true)
	refused("FETCH 99 FLAGS", false)
	refused("FETCH 4294967296 FLAGS", true)
	refused("FETCH 1:x FLAGS", true)
	refused("FETCH 1 (FLAGS", true)
	// A section number past uint32: Dovecot answers OK (and nothing);
	// any tagged answer will do as long as the session survives.
	if _, done, err := c.tryCmd("FETCH 1 BODY[99999999999999999999]"); err != nil {
		t.Errorf("FETCH 1 BODY[99999999999999999999]: %v", err)
	} else {
		t.Logf("FETCH 1 BODY[99999999999999999999]: %q", done)
	}
	refused("STORE 1 +FLAGS (\\Bogus)", false)
	refused("COPY 1", true)
	refused("SEARCH FROBNICATE", true)
	refused("UID FROB 1", true)
	c.ok("NOOP")

	// An oversize synchronizing literal in a command that takes only
	// short strings is refused before the server reads it (no "+"); the
	// session stays in step.
	// A server may also say BYE and hang up (Dovecot: "* BYE Literal
	// size too large"); bigLiteral then reports false.
	bigLiteral := func(c *rawIMAP, tag, command string) bool {
		t.Helper()
		c.send(tag + " " + command + " {999999999}\r\n")
		l := c.readLine(10 * time.Second)
		if strings.HasPrefix(l, "+") {
			t.Fatalf("%s {999999999}: server asked for the literal: %q", command, l)
		}
		if !strings.HasPrefix(l, tag+" NO") && !strings.HasPrefix(l, tag+" BAD") && !strings.HasPrefix(l, "* BYE") {
			t.Errorf("%s {999999999}: %q, want a tagged NO or BAD", command, l)
		}
		t.Logf("%s {999999999}: %q", command, l)
		if strings.HasPrefix(l, "* BYE") {
			if _, err := c.tryReadLine(5 * time.Second); err == nil {
				t.Errorf("%s {999999999}: BYE, but the connection stays open", command)
			}
			return false
		}
		return true
	}
	if bigLiteral(c, "big0", "CREATE") {
		c.ok("NOOP")
	} else {
		connect()
	}
	pre := s.dialIMAP(t, false)
	if bigLiteral(pre, "big1", "LOGIN") {
		if _, done, err := pre.tryCmd("NOOP"); err != nil || !strings.HasPrefix(done, "OK") {
			t.Errorf("NOOP after a refused pre-login literal: %q %v\ntranscript:\n%s", done, err, pre.log.String())
		}
	}
	// LITERAL+ before login: 4 KB of it, then hang up.
	pre = s.dialIMAP(t, false)
	pre.send("big3 LOGIN {999999999+}\r\n" + strings.Repeat("z", 4096))
	pre.conn.Close()

	// APPEND {999999999}: refused at once if the server has a size limit
	// (roost: quota_max_mail_size, 100M by default, so NO [TOOBIG] without
	// reading a byte; Dovecot has none by default and answers "+"). Then
	// the client gives up in the middle of the literal.
	c.send("big2 APPEND INBOX {999999999}\r\n")
	l := c.readLine(10 * time.Second)
	t.Logf("APPEND {999999999}: %q", l)
	if !refServer && !strings.HasPrefix(l, "big2 NO [TOOBIG]") {
		t.Errorf("APPEND {999999999} to roost: %q, want NO [TOOBIG] before the literal is read", l)
	}
	switch {
	case strings.HasPrefix(l, "+"):
		c.send(strings.Repeat("y", 64<<10))
		c.conn.Close()
	case strings.HasPrefix(l, "big2 NO"), strings.HasPrefix(l, "big2 BAD"):
		c.ok("NOOP")
		if u := c.ok("FETCH 1:* (FLAGS)"); countPrefix(u, "* ") != 1 {
			t.Errorf("after the refused APPEND: %q", u)
		}
		c.ok("LOGOUT")
	default:
		t.Errorf("APPEND {999999999}: %q", l)
	}

	// LITERAL+ (non-synchronizing) oversize append: the server cannot
	// refuse before the bytes come; it may answer and close. Send a few KB
	// and hang up: no crash, nothing stored.
	d := s.dialIMAP(t, true)
	d.login()
	d.send("big2 APPEND INBOX {999999999+}\r\n" + strings.Repeat("x", 4096))
	d.conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	rest, err := io.ReadAll(d.conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Logf("LITERAL+ oversize: connection left open, got %q", rest)
	} else {
		t.Logf("LITERAL+ oversize: got %q then %v", rest, err)
	}
	d.conn.Close()

	// A new connection still works, and nothing was stored.
	e := s.dialIMAP(t, true)
	e.login()
	if u := e.ok("SELECT INBOX"); !containsLine(u, "* 1 EXISTS") {
		t.Errorf("INBOX after the bad appends: %q", u)
	}
	e.ok("LOGOUT")
	if !refServer {
		s.checkNoPanic(t)
	}
}
