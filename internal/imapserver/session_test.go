package imapserver

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/imap"
)

func TestGreetingAndLogout(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.do("a1 NOOP").untagged().tagged("OK Noop completed.")
	c.do("a2 LOGOUT").untagged("* BYE Logging out").tagged("OK Logout completed.")
	c.expectClosed()
}

func TestCustomGreeting(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.Greeting = "Mail\r\nhere" }))
	c := ts.dialFrom("127.0.0.1")
	line := c.readLine()
	if !strings.HasSuffix(line, "] Mail  here") {
		t.Fatalf("greeting %q: a configured greeting must stay on one line", line)
	}
}

// capsOf returns the capabilities of a "* CAPABILITY ..." line or a
// "[CAPABILITY ...]" code.
func capsOf(t *testing.T, s string) map[string]bool {
	t.Helper()
	i := strings.Index(s, "CAPABILITY ")
	if i < 0 {
		t.Fatalf("no capabilities in %q", s)
	}
	s = s[i+len("CAPABILITY "):]
	if j := strings.IndexByte(s, ']'); j >= 0 {
		s = s[:j]
	}
	caps := map[string]bool{}
	for _, c := range strings.Fields(s) {
		caps[c] = true
	}
	return caps
}

func requireCaps(t *testing.T, caps map[string]bool, want, notWant []string) {
	t.Helper()
	for _, c := range want {
		if !caps[c] {
			t.Errorf("capability %s missing from %v", c, caps)
		}
	}
	for _, c := range notWant {
		if caps[c] {
			t.Errorf("capability %s must not be advertised: %v", c, caps)
		}
	}
}

func TestCapabilitiesBeforeAndAfterLogin(t *testing.T) {
	ts := newTestServer(t, withTLS())
	c := ts.dial()
	greet := capsOf(t, c.greeting)
	r := c.do("a1 CAPABILITY").ok()
	if len(r.lines()) != 1 {
		t.Fatalf("want one CAPABILITY response: %s", r)
	}
	pre := capsOf(t, r.lines()[0])
	if len(pre) != len(greet) {
		t.Errorf("greeting capabilities %v differ from CAPABILITY %v", greet, pre)
	}
	// From 127.0.0.1 to 127.0.0.1 the connection counts as secure.
	requireCaps(t, pre, []string{"IMAP4rev1", "SASL-IR", "ID", "ENABLE", "LITERAL+", "STARTTLS", "AUTH=PLAIN", "AUTH=LOGIN"},
		[]string{"LOGINDISABLED", "CONDSTORE", "QRESYNC", "NAMESPACE", "MOVE", "APPENDLIMIT"})

	r = c.do("a2 LOGIN alice " + quote(alicePass)).ok()
	if !strings.HasPrefix(r.taggedLn, "OK [CAPABILITY ") || !strings.HasSuffix(r.taggedLn, "] Logged in") {
		t.Fatalf("login reply %q", r.taggedLn)
	}
	post := capsOf(t, r.taggedLn)
	requireCaps(t, post, []string{"IMAP4rev1", "NAMESPACE", "CHILDREN", "LIST-EXTENDED", "LIST-STATUS",
		"SPECIAL-USE", "CREATE-SPECIAL-USE", "MULTIAPPEND", "APPENDLIMIT", "STATUS=SIZE", "UTF8=ACCEPT", "ENABLE", "ID", "LITERAL+",
		"CONDSTORE", "QRESYNC"},
		[]string{"STARTTLS", "AUTH=PLAIN", "LOGINDISABLED"})
	r = c.do("a3 CAPABILITY").ok()
	if got := capsOf(t, r.lines()[0]); len(got) != len(post) {
		t.Errorf("CAPABILITY after login %v differs from the login reply's %v", got, post)
	}
}

func TestAppendLimitCapability(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.AppendLimit = 1000 }))
	c := ts.login("alice")
	r := c.do("a1 CAPABILITY").ok()
	requireCaps(t, capsOf(t, r.lines()[0]), []string{"APPENDLIMIT=1000"}, []string{"APPENDLIMIT"})
}

// TestIMAP4rev2OnlyWhenComplete: IMAP4rev2 is advertised exactly when
// every extension RFC 9051 folds in is implemented by a registered command.
func TestIMAP4rev2OnlyWhenComplete(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	caps := capsOf(t, c.do("a1 CAPABILITY").ok().lines()[0])
	complete := true
	for _, r := range rev2Requires {
		complete = complete && caps[r]
	}
	if caps["IMAP4rev2"] != complete {
		t.Fatalf("IMAP4rev2 advertised = %v, but all of %v present = %v", caps["IMAP4rev2"], rev2Requires, complete)
	}
	r := c.do("a2 ENABLE IMAP4rev2").ok()
	if complete {
		r.untagged("* ENABLED IMAP4rev2")
	} else {
		r.untagged("* ENABLED")
	}
}

func TestLoginDisabledOnInsecureConnection(t *testing.T) {
	ts := newTestServer(t, withTLS())
	c := ts.dialFrom("127.0.0.2") // remote IP differs from local: not secure
	caps := capsOf(t, c.readLine())
	requireCaps(t, caps, []string{"LOGINDISABLED", "STARTTLS"}, []string{"AUTH=PLAIN", "AUTH=LOGIN"})

	c.do("a1 LOGIN alice " + quote(alicePass)).
		untagged("* BAD [ALERT] " + replyPlaintextAlert).
		tagged("NO [PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
	c.do("a2 AUTHENTICATE PLAIN").tagged("NO [PRIVACYREQUIRED] Plaintext authentication disabled.")

	// After STARTTLS the same connection may log in.
	c.do("a3 STARTTLS").untagged().tagged("OK Begin TLS negotiation now.")
	c.startTLS()
	caps = capsOf(t, c.do("a4 CAPABILITY").ok().lines()[0])
	requireCaps(t, caps, []string{"AUTH=PLAIN", "AUTH=LOGIN"}, []string{"STARTTLS", "LOGINDISABLED"})
	c.login("alice", alicePass)
}

func TestStartTLS(t *testing.T) {
	t.Run("no TLS configured", func(t *testing.T) {
		ts := newTestServer(t)
		c := ts.dial()
		if capsOf(t, c.greeting)["STARTTLS"] {
			t.Fatal("STARTTLS advertised without TLS")
		}
		c.do("a1 STARTTLS").tagged("BAD TLS support isn't enabled.")
	})
	t.Run("twice", func(t *testing.T) {
		ts := newTestServer(t, withTLS())
		c := ts.dial()
		c.do("a1 STARTTLS").ok()
		c.startTLS()
		c.do("a2 STARTTLS").tagged("BAD TLS is already active.")
	})
	t.Run("after login", func(t *testing.T) {
		ts := newTestServer(t, withTLS())
		c := ts.login("alice")
		c.do("a1 STARTTLS").tagged("BAD Already logged in.")
	})
	t.Run("pipelined input is discarded", func(t *testing.T) {
		// CVE-2011-0411: a command injected in cleartext after STARTTLS
		// must not run inside the TLS session.
		ts := newTestServer(t, withTLS())
		c := ts.dial()
		c.send("a1 STARTTLS\r\na2 LOGIN alice " + quote(alicePass) + "\r\n")
		c.expect("a1 OK Begin TLS negotiation now.")
		c.startTLS()
		c.do("a3 NOOP").untagged().ok()
		c.do("a4 LIST \"\" INBOX").tagged("BAD Login first.")
	})
}

func TestStateEnforced(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.do(`a1 LIST "" *`).tagged("BAD Login first.")
	c.login("alice", alicePass)
	c.do("a2 CLOSE").tagged("BAD No mailbox selected.")
	c.do("a3 AUTHENTICATE PLAIN").tagged("BAD Already logged in.")
	c.do("a4 SELECT INBOX").ok()
	// RFC 5161 3.1: ENABLE only before a mailbox is selected.
	c.do("a5 ENABLE UTF8=ACCEPT").bad()
}

func TestPipelinedCommandsAnsweredInOrder(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	before := ts.writes.Load()
	c.send("p1 NOOP\r\np2 CREATE Box1\r\np3 STATUS Box1 (MESSAGES)\r\np4 DELETE Box1\r\np5 STATUS Box1 (MESSAGES)\r\n")
	c.expect("p1 OK Noop completed.")
	c.expect("p2 OK Create completed.")
	c.expect("* STATUS Box1 (MESSAGES 0)")
	c.expect("p3 OK Status completed.")
	c.expect("p4 OK Delete completed.")
	c.expect("p5 NO [NONEXISTENT] Mailbox does not exist.")
	// Everything arrived in one write: the server flushes only when no
	// more input is buffered. (Allow one extra write in case the client's
	// bytes arrived in two segments.)
	if n := ts.writes.Load() - before; n > 2 {
		t.Errorf("%d writes for 5 pipelined commands", n)
	}
}

func TestUnknownCommandsBeforeLoginGetBye(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	// An HTTP request sent to the IMAP port (cross-protocol attack).
	c.send("GET / HTTP/1.1\r\nHost: example.org\r\n")
	c.expectPrefix("GET BAD ")
	c.expectPrefix("Host: BAD ")
	c.send("\r\nfoo bar\r\n")
	c.expectPrefix("foo BAD ")
	c.expect("* BYE Too many invalid IMAP commands.")
	c.expectClosed()
}

func TestBadCommandsAfterLoginCountInARow(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.MaxBadCommands = 3 }))
	c := ts.login("alice")
	c.do("a1 XYZZY").tagged("BAD Unknown command.")
	c.do("a2 XYZZY").bad()
	c.do("a3 NOOP").ok() // resets the count
	c.do("a4 XYZZY").bad()
	c.do("a5 XYZZY").bad()
	c.send("a6 XYZZY\r\n")
	c.expect("a6 BAD Unknown command.")
	c.expect("* BYE Too many invalid IMAP commands.")
	c.expectClosed()
}

func TestSyntaxErrorKeepsStreamInSync(t *testing.T) {
	ts := newTestServer(t)
	c := ts.login("alice")
	// A malformed command with a non-synchronizing literal: its bytes are
	// skipped, not run as a command.
	c.send("a1 STATUS {11+}\r\na2 LOGOUT\r\n (BOGUS)\r\na3 NOOP\r\n")
	c.expectPrefix("a1 BAD ")
	c.expect("a3 OK Noop completed.")
}

func TestPreAuthLiteralLimit(t *testing.T) {
	ts := newTestServer(t)
	t.Run("synchronizing literal refused without continuation", func(t *testing.T) {
		c := ts.dial()
		c.send("a1 LOGIN {100000}\r\n")
		// No "+": the client never sends the bytes.
		c.expect("a1 BAD [TOOBIG] Literal too large before login.")
		c.do("a2 NOOP").ok()
	})
	t.Run("small literal accepted", func(t *testing.T) {
		c := ts.dial()
		c.send("a1 LOGIN {5}\r\n")
		c.expectPrefix("+ ")
		c.send("alice {" + itoa(len(alicePass)) + "+}\r\n" + alicePass + "\r\n")
		c.expectPrefix("a1 OK [CAPABILITY ")
	})
	t.Run("non-synchronizing literal closes", func(t *testing.T) {
		c := ts.dial()
		c.send("a1 APPEND INBOX {100000+}\r\n" + strings.Repeat("x", 5000))
		c.expect("* BYE Literal too large before login.")
		c.expectClosed()
	})
}

func itoa(n int) string { return strings.TrimSpace(strings.Repeat(" ", 0) + fmtInt(n)) }

func fmtInt(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestShutdownSaysBye(t *testing.T) {
	ts := newTestServer(t)
	c1 := ts.dial()
	c2 := ts.login("alice")
	ts.shutdown()
	c1.expect("* BYE Server shutting down.")
	c1.expectClosed()
	c2.expect("* BYE Server shutting down.")
	c2.expectClosed()
	ts.waitEnded(2)
}

func TestLoginTimeout(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.LoginTimeout = 100 * time.Millisecond }))
	c := ts.dial()
	c.expect("* BYE Disconnected for inactivity.")
	c.expectClosed()
}

func TestIdleTimeoutAfterLogin(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) {
		o.LoginTimeout = 5 * time.Second
		o.IdleTimeout = 150 * time.Millisecond
	}))
	c := ts.login("alice")
	c.expect("* BYE Disconnected for inactivity.")
	c.expectClosed()
}

func TestDefaultTimeouts(t *testing.T) {
	srv := New(Options{})
	// RFC 9051 5.4: at least 30 minutes after login.
	if srv.opts.IdleTimeout < 30*time.Minute {
		t.Errorf("IdleTimeout %v < 30m", srv.opts.IdleTimeout)
	}
	if srv.opts.LoginTimeout != 60*time.Second || srv.opts.PreAuthMaxLiteral != 4096 {
		t.Errorf("pre-auth defaults: %v, %d", srv.opts.LoginTimeout, srv.opts.PreAuthMaxLiteral)
	}
}

func TestPanicInHandlerClosesOnlyThatConnection(t *testing.T) {
	saved := commands["NAMESPACE"]
	t.Cleanup(func() { commands["NAMESPACE"] = saved })
	spec := saved
	spec.run = func(s *session, ctx context.Context, cmd *imap.Command) error { panic("boom") }
	commands["NAMESPACE"] = spec

	ts := newTestServer(t)
	c := ts.login("alice")
	other := ts.login("alice")
	c.send("a1 NAMESPACE\r\n")
	c.expect("* BYE Internal error")
	c.expectClosed()
	ts.waitEnded(1)
	if ts.logs.panics.Load() != 1 || !strings.Contains(ts.logs.String(), "stack=") {
		t.Errorf("panic not logged with its stack")
	}
	other.do("b1 NOOP").ok() // the process and other sessions live on
}
