package lmtpserver

import (
	"context"
	"strings"
	"testing"
)

// count returns how many messages user's mailbox holds.
func (e *env) count(user, mailbox string) int {
	e.t.Helper()
	ctx := context.Background()
	acct, err := e.store.Account(ctx, user)
	if err != nil {
		e.t.Fatal(err)
	}
	defer acct.Close()
	mb, err := acct.Mailbox(ctx, mailbox)
	if err != nil {
		e.t.Fatal(err)
	}
	msgs, err := acct.Messages(ctx, mb.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(msgs)
}

func (e *env) createMailbox(user, name string) {
	e.t.Helper()
	ctx := context.Background()
	acct, err := e.store.Account(ctx, user)
	if err != nil {
		e.t.Fatal(err)
	}
	defer acct.Close()
	if _, err := acct.CreateMailbox(ctx, name, ""); err != nil {
		e.t.Fatal(err)
	}
}

// deliverOne runs one transaction with one recipient and requires 250.
func (c *client) deliverOne(rcpt string) {
	c.t.Helper()
	c.expect("MAIL FROM:<s@example.org>", "250")
	c.expect("RCPT TO:<"+rcpt+">", "250")
	c.expect("DATA", "354")
	c.send("Subject: d\r\n\r\nhi\r\n.\r\n")
	c.expectLine("250 2.0.0 <" + rcpt + "> ")
}

// TestSaveToDetailMailbox: with lmtp_save_to_detail_mailbox the detail
// names the mailbox, case kept; a mailbox that does not exist and a detail
// that is no valid mailbox name go to INBOX, and nothing is created.
func TestSaveToDetailMailbox(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.SaveToDetailMailbox = true })
	e.createMailbox("alice", "Lists")
	e.createMailbox("alice", "Lists/Go")
	c := e.dial()
	c.expect("LHLO client.test", "250")
	for _, rcpt := range []string{"Alice+Lists@example.com", "alice+Lists/Go@example.com", "alice+lists@example.com",
		"alice+Nope@example.com", "alice+Lists/@example.com", "alice+@example.com", "alice@example.com"} {
		c.deliverOne(rcpt)
	}
	// "lists" is not "Lists": mailbox names are case-sensitive (INBOX aside).
	if got := e.count("alice", "Lists"); got != 1 {
		t.Errorf("Lists has %d messages, want 1", got)
	}
	if got := e.count("alice", "Lists/Go"); got != 1 {
		t.Errorf("Lists/Go has %d messages, want 1", got)
	}
	if got := e.count("alice", "INBOX"); got != 5 {
		t.Errorf("INBOX has %d messages, want 5", got)
	}
	if !strings.Contains(e.logs.String(), "mailbox does not exist, delivering to INBOX") {
		t.Errorf("no fallback logged:\n%s", e.logs.String())
	}
}

// TestDetailIgnoredByDefault: without the option every detail goes to INBOX.
func TestDetailIgnoredByDefault(t *testing.T) {
	e := newEnv(t, nil)
	e.createMailbox("alice", "Lists")
	c := e.dial()
	c.expect("LHLO client.test", "250")
	c.deliverOne("alice+Lists@example.com")
	if e.count("alice", "Lists") != 0 || e.count("alice", "INBOX") != 1 {
		t.Errorf("Lists %d, INBOX %d; want 0, 1", e.count("alice", "Lists"), e.count("alice", "INBOX"))
	}
}

// TestRecipientDelimiter: several delimiter characters, each one splits;
// "none" makes "+" part of the user name.
func TestRecipientDelimiter(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.RecipientDelimiter = "-+"; o.SaveToDetailMailbox = true })
	e.createMailbox("alice", "Lists")
	c := e.dial()
	c.expect("LHLO client.test", "250")
	c.deliverOne("alice-Lists@example.com")
	c.deliverOne("alice+Lists@example.com")
	if got := e.count("alice", "Lists"); got != 2 {
		t.Errorf("Lists has %d messages, want 2", got)
	}

	e2 := newEnv(t, func(o *Options) { o.RecipientDelimiter = "none" })
	c2 := e2.dial()
	c2.expect("LHLO client.test", "250")
	c2.expect("MAIL FROM:<>", "250")
	c2.expect("RCPT TO:<alice+x@example.com>", "550 5.1.1")
}

// TestLongLines: a message line longer than go-smtp's default limit (2000)
// is saved byte-exact, as Dovecot saves it; refusing it with 451 made the
// MTA retry such mail forever.
func TestLongLines(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	c.expect("LHLO client.test", "250")
	c.expect("MAIL FROM:<s@example.org>", "250")
	c.expect("RCPT TO:<alice@example.org>", "250")
	c.expect("DATA", "354")
	long := strings.Repeat("<td>cell</td>", 5000) // 65,000 octets, one line
	c.send("Subject: html\r\nContent-Type: text/html\r\n\r\n" + long + "\r\n.\r\n")
	c.expectLine("250 2.0.0 <alice@example.org> ")
	msgs := e.inbox("alice")
	if len(msgs) != 1 || !strings.HasSuffix(string(msgs[0]), "\r\n\r\n"+long+"\r\n") {
		t.Fatalf("stored %d messages; the line did not survive", len(msgs))
	}
}

// TestLineLimit: a line of more than maxLineLength octets ends the session
// (lines are counted in conn.Read, as go-smtp counted them before):
//
//	C: RCPT TO:<alice@example.org>
//	C: DATA
//	S: 354 ...
//	C: Subject: x CRLF CRLF <maxLineLength+1 octets, no LF>
//	S: 451 4.3.0 <alice@example.org> Temporary internal error
//	S: 500 5.4.0 Too long line, closing connection
//
// and nothing is saved; a command line as long gets the 500 alone. A line
// of maxLineLength-2 octets and its CRLF is saved (go-smtp counted the CR
// and the previous line's LF too; TestLongLines has a shorter line).
func TestLineLimit(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	c.expect("LHLO client.test", "250")
	c.expect("MAIL FROM:<s@example.org>", "250")
	c.expect("RCPT TO:<alice@example.org>", "250")
	c.expect("DATA", "354")
	c.send("Subject: x\r\n\r\n" + strings.Repeat("x", maxLineLength+1))
	c.expectLine("451 4.3.0 <alice@example.org> ")
	c.expectLine("500 5.4.0 Too long line")
	if got := e.inbox("alice"); len(got) != 0 {
		t.Fatalf("alice has %d messages after the refused one", len(got))
	}

	c = e.dial()
	c.send("NOOP " + strings.Repeat("x", maxLineLength))
	c.expectLine("500 5.4.0 Too long line")

	c = e.dial()
	c.expect("LHLO client.test", "250")
	c.expect("MAIL FROM:<s@example.org>", "250")
	c.expect("RCPT TO:<alice@example.org>", "250")
	c.expect("DATA", "354")
	c.send("Subject: x\r\n\r\n" + strings.Repeat("y", maxLineLength-2) + "\r\n.\r\n")
	c.expectLine("250 2.0.0 <alice@example.org> ")
	if got := e.inbox("alice"); len(got) != 1 {
		t.Fatalf("alice has %d messages, want the one with the longest allowed line", len(got))
	}
}
