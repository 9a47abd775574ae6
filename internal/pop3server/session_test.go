package pop3server

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPipelining sends a whole session in one write (RFC 2449 section 6.6)
// and checks that the answers come in order and are written together.
func TestPipelining(t *testing.T) {
	e := newEnv(t, envConfig{})
	msgs := threeMessages(e)
	c := e.connect()
	before := e.writes.Load()
	c.Write("USER alice\r\nPASS " + alicePass + "\r\nSTAT\r\nLIST\r\nRETR 2\r\nTOP 1 0\r\nUIDL 1\r\nDELE 3\r\nLIST 3\r\nNOOP\r\nQUIT\r\n")
	c.Expect("+OK")
	c.Expect("+OK Logged in.")
	c.ExpectPrefix("+OK 3 ")
	c.ExpectList("+OK 3 messages:",
		fmt.Sprintf("1 %d", len(msgs[0])), fmt.Sprintf("2 %d", len(msgs[1])), fmt.Sprintf("3 %d", len(msgs[2])))
	c.Expect(fmt.Sprintf("+OK %d octets", len(msgs[1])))
	if got := string(c.ReadBody()); got != msgs[1] {
		t.Fatalf("RETR 2 got %q", got)
	}
	c.ExpectList("+OK", "From: sender@example.org", "To: alice@example.org", "Subject: first", "")
	c.ExpectPrefix("+OK 1 ")
	c.Expect("+OK Marked to be deleted.")
	c.Expect("-ERR Message is deleted.")
	c.Expect("+OK")
	c.Expect("+OK Logging out, messages deleted.")
	c.ExpectClosed()
	// Eleven answers, one flush: a few writes at most (login takes time,
	// so the rest may arrive as a second read, and the auth delay path
	// may flush), never one per command.
	if n := e.writes.Load() - before; n > 3 {
		t.Errorf("%d writes for 11 pipelined commands", n)
	}
}

// TestPipelinedAfterQuit: commands after QUIT are not executed.
func TestPipelinedAfterQuit(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.deliver("alice", msg("one", "x\r\n"))
	c := e.login("alice", alicePass)
	c.Write("QUIT\r\nDELE 1\r\nQUIT\r\n")
	c.Expect("+OK Logging out.")
	c.ExpectClosed()
	e.waitEnded(1)
	if n := len(e.inboxUIDs("alice")); n != 1 {
		t.Fatalf("INBOX has %d messages", n)
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.deliver("alice", msg("one", "x\r\n"))
	c := e.connect()
	c.Send("").Expect("-ERR Unknown command.")
	c.Send("HELO x").Expect("-ERR Unknown command: HELO")
	c.Send("\x1b[2J\x07 hi").Expect("-ERR Unknown command: ?[2J?")
	c.Send("RETR\x001").Expect("-ERR Invalid command: NUL byte in line.")
	c.Send("\xff\xfe\xfd").Expect("-ERR Unknown command: ???")
	c.Write("CAPA\n").ExpectMulti("+OK") // bare LF is accepted
	c.Send("USER alice").Expect("+OK")
	c.Send("PASS " + alicePass).Expect("+OK Logged in.")
	c.Send("RETR one").Expect("-ERR Invalid message number: one")
	c.Send("RETR 1 2").Expect("-ERR Noise after message number:  2")
	c.Send("RETR 99999999999").Expect("-ERR Message number too large: 99999999999")
	c.Send("DELE -1").Expect("-ERR Invalid message number: -1")
	c.Send("dele 1").Expect("+OK Marked to be deleted.")
	c.Send("rset").Expect("+OK")
	c.Send("QUIT").Expect("+OK Logging out.")
}

func TestLineTooLong(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect()
	c.Send("USER " + strings.Repeat("a", DefaultMaxLineLength-5)).Expect("+OK") // exactly the limit
	c.Send("USER " + strings.Repeat("a", DefaultMaxLineLength)).Expect("-ERR Input line too long.")
	c.ExpectClosed()

	// A line longer than the read buffer, without any newline.
	c = e.connect()
	c.Write(strings.Repeat("x", 10*DefaultMaxLineLength))
	c.Expect("-ERR Input line too long.")
	c.ExpectClosed()
}

func TestTooManyBadCommands(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect()
	for i := 0; i < DefaultMaxBadCommands-1; i++ {
		c.Send("BOGUS").Expect("-ERR Unknown command: BOGUS")
	}
	// A good command resets the count.
	c.Send("CAPA").ExpectMulti("+OK")
	for i := 0; i < DefaultMaxBadCommands-1; i++ {
		c.Send("BOGUS").Expect("-ERR Unknown command: BOGUS")
	}
	c.Send("BOGUS").Expect("-ERR Unknown command: BOGUS")
	c.Expect("-ERR Too many bad commands.")
	c.ExpectClosed()

	// After login every -ERR counts, e.g. a client looping on RETR.
	c = e.login("alice", alicePass)
	for i := 0; i < DefaultMaxBadCommands-1; i++ {
		c.Send("RETR 1").Expect("-ERR There's no message 1.")
	}
	c.Send("RETR 1").Expect("-ERR There's no message 1.")
	c.Expect("-ERR Too many bad commands.")
	c.ExpectClosed()
}

func TestLoginTimeout(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *Options) { o.LoginTimeout = 100 * time.Millisecond }})
	c := e.connect()
	// RFC 1939 section 3: the server closes without a response.
	c.ExpectClosed()
}

func TestIdleTimeoutDeletesNothing(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *Options) {
		o.IdleTimeout = 200 * time.Millisecond
		o.LoginTimeout = 5 * time.Second
	}})
	e.deliver("alice", msg("one", "x\r\n"))
	c := e.login("alice", alicePass)
	c.Send("DELE 1").Expect("+OK Marked to be deleted.")
	c.ExpectClosed()
	e.waitEnded(1)
	if n := len(e.inboxUIDs("alice")); n != 1 {
		t.Fatalf("INBOX has %d messages after an idle timeout, want 1", n)
	}
	if !strings.Contains(e.logs.String(), "pop3 disconnected for inactivity") {
		t.Error("timeout not logged")
	}
}

func TestShutdown(t *testing.T) {
	e := newEnv(t, envConfig{})
	e.deliver("alice", msg("one", "x\r\n"))
	c1 := e.connect()
	c2 := e.login("alice", alicePass)
	c2.Send("DELE 1").Expect("+OK Marked to be deleted.")
	e.shutdown()
	c1.Expect("-ERR [SYS/TEMP] Server shutting down.")
	c1.ExpectClosed()
	c2.Expect("-ERR [SYS/TEMP] Server shutting down.")
	c2.ExpectClosed()
	e.waitEnded(2)
	if n := len(e.inboxUIDs("alice")); n != 1 {
		t.Fatalf("INBOX has %d messages after shutdown, want 1", n)
	}
}
