package lmtpserver

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/delivery"
	"github.com/roost-mail/roost/internal/mailstore"
)

// body has a dot-stuffed line, a line that is only a dot once unstuffed,
// 8-bit text and a header without trailing CRLF issues: it must be stored
// byte for byte after the trace fields.
const body = "From: a@example.org\r\nSubject: t\r\n\r\n..leading dot\r\n.\r\nnot the end\r\n\xc3\xa9t\xc3\xa9\r\n"

// wire is body dot-stuffed for DATA.
var wire = strings.ReplaceAll("\r\n"+body, "\r\n.", "\r\n..")[2:]

func TestLHLO(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxMessageSize = 12345 })
	c := e.dial()
	c.send("LHLO client.test\r\n")
	caps := strings.Join(c.reply(), "\n")
	for _, want := range []string{"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING", "SMTPUTF8", "SIZE 12345"} {
		if !strings.Contains(caps, want) {
			t.Errorf("LHLO reply lacks %s:\n%s", want, caps)
		}
	}
	if strings.Contains(caps, "AUTH") || strings.Contains(caps, "STARTTLS") {
		t.Errorf("LHLO offers AUTH or STARTTLS:\n%s", caps)
	}
	c.expect("EHLO client.test", "500 5.5.1")
	c.expect("QUIT", "221")
}

// TestRecipients: an unknown user is refused at RCPT while the others get
// their own 250 after DATA, in RCPT order; +detail and case are ignored
// when finding the account; the message is stored byte-exact.
func TestRecipients(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	c.expect("LHLO client.test", "250")
	c.expect("MAIL FROM:<sender@example.org>", "250 2.0.0")
	c.expect("RCPT TO:<alice@example.com>", "250 2.0.0")
	c.expect("RCPT TO:<nobody@example.com>", "550 5.1.1 <nobody@example.com> User doesn't exist")
	c.expect("RCPT TO:<Bob+Lists@Example.COM>", "250 2.0.0")
	c.expect("DATA", "354")
	c.send(wire + ".\r\n")
	r1 := c.expectLine("250 2.0.0 <alice@example.com> ")
	c.expectLine("250 2.0.0 <Bob+Lists@Example.COM> ")
	if !regexp.MustCompile(`^250 2\.0\.0 <alice@example\.com> [A-Z2-7]{16} Saved$`).MatchString(r1) {
		t.Errorf("reply %q is not Dovecot's form", r1)
	}
	id := strings.Fields(r1)[3]
	c.expect("QUIT", "221")

	for _, user := range []string{"alice", "bob@example.com"} {
		msgs := e.inbox(user)
		if len(msgs) != 1 {
			t.Fatalf("%s has %d messages", user, len(msgs))
		}
		got := string(msgs[0])
		// Two recipients: no Delivered-To and no "for", as Dovecot.
		re := regexp.MustCompile(`^Return-Path: <sender@example\.org>\r\n` +
			`Received: from client\.test \(\[127\.0\.0\.1\]\)\r\n\tby mx\.test with LMTP\r\n\tid ` + id +
			`\r\n\t\(envelope-from <sender@example\.org>\); [A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}\r\n`)
		loc := re.FindStringIndex(got)
		if loc == nil {
			t.Fatalf("%s: trace fields wrong:\n%q", user, got)
		}
		if rest := got[loc[1]:]; rest != body {
			t.Errorf("%s: stored body\n%q\nwant\n%q", user, rest, body)
		}
	}
}

func TestSingleRecipientHeaders(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	c.expect("LHLO client.test", "250")
	c.expect("MAIL FROM:<>", "250")
	c.expect("RCPT TO:<alice+x@example.net>", "250")
	c.expect("DATA", "354")
	c.send("Subject: s\r\n\r\nhi\r\n.\r\n")
	c.expectLine("250 2.0.0 <alice+x@example.net> ")
	got := string(e.inbox("alice")[0])
	want := regexp.MustCompile(`^Return-Path: <>\r\nDelivered-To: alice\+x@example\.net\r\nReceived: from client\.test \(\[127\.0\.0\.1\]\)\r\n` +
		`\tby mx\.test with LMTP\r\n\tid [A-Z2-7]{16}\r\n\t\(envelope-from <>\)\r\n\tfor <alice\+x@example\.net>; [^\r]+\r\nSubject: s\r\n\r\nhi\r\n$`)
	if !want.MatchString(got) {
		t.Errorf("stored\n%q", got)
	}
}

// TestPipelining sends the whole transaction in one write.
func TestPipelining(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	c.send("LHLO client.test\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nRCPT TO:<ghost@x>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n" +
		wire + ".\r\nMAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nDATA\r\nSubject: 2\r\n\r\n.\r\nQUIT\r\n")
	c.reply() // LHLO
	for _, want := range []string{"250", "250", "550 5.1.1 <ghost@x>", "250", "354", "250 2.0.0 <alice@x>", "250 2.0.0 <bob@example.com>",
		"250", "250", "354", "250 2.0.0 <alice@x>", "221"} {
		c.expectLine(want)
	}
	if n := len(e.inbox("alice")); n != 2 {
		t.Errorf("alice has %d messages, want 2", n)
	}
}

func TestSizeLimit(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxMessageSize = 100 })
	c := e.dial()
	c.expect("LHLO client.test", "250")
	c.expect("MAIL FROM:<s@x> SIZE=101", "552 5.3.4")
	c.expect("MAIL FROM:<s@x>", "250")
	c.expect("RCPT TO:<alice@x>", "250")
	c.expect("RCPT TO:<bob@example.com>", "250")
	c.expect("DATA", "354")
	c.send("Subject: big\r\n\r\n" + strings.Repeat("x", 200) + "\r\n.\r\n")
	c.expectLine("552 5.3.4 <alice@x>")
	c.expectLine("552 5.3.4 <bob@example.com>")
	// The session is in sync: the next transaction works.
	c.expect("MAIL FROM:<s@x>", "250")
	c.expect("RCPT TO:<alice@x>", "250")
	c.expect("DATA", "354")
	c.send("x\r\n.\r\n")
	c.expectLine("250 2.0.0 <alice@x>")
	if n := len(e.inbox("alice")); n != 1 {
		t.Errorf("alice has %d messages, want 1", n)
	}
}

func TestLookupFailure(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	c.expect("LHLO client.test", "250")
	c.expect("MAIL FROM:<s@x>", "250")
	e.users.fail = errors.New("passdb unreadable")
	c.expect("RCPT TO:<alice@x>", "451 4.3.0 <alice@x>")
}

// failFor fails the save for one user, as a full disk or a quota would.
type failFor struct {
	Deliverer
	user string
	err  error
}

func (f failFor) DeliverWithHeader(ctx context.Context, user, mailbox string, header []byte, r io.Reader) (delivery.Result, error) {
	if user == f.user {
		return delivery.Result{}, f.err
	}
	return f.Deliverer.DeliverWithHeader(ctx, user, mailbox, header, r)
}

func TestPerRecipientFailure(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{errors.New("disk full"), "451 4.3.0 <bob@example.com> Temporary internal error"},
		{&mailstore.Error{Kind: mailstore.KindOverQuota, Msg: "quota"}, "552 5.2.2 <bob@example.com>"},
		{delivery.ErrUnknownUser, "550 5.1.1 <bob@example.com>"},
	} {
		e := newEnv(t, func(o *Options) { o.Deliverer = failFor{o.Deliverer, "bob@example.com", tc.err} })
		c := e.dial()
		c.expect("LHLO client.test", "250")
		c.expect("MAIL FROM:<s@x>", "250")
		c.expect("RCPT TO:<bob@example.com>", "250")
		c.expect("RCPT TO:<alice@x>", "250")
		c.expect("DATA", "354")
		c.send("Subject: s\r\n\r\n.\r\n")
		c.expectLine(tc.want)
		c.expectLine("250 2.0.0 <alice@x>")
	}
}

// TestShutdownIdle: a session waiting for a command gets 421 and is closed.
func TestShutdownIdle(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	c.expect("LHLO client.test", "250")
	c.expect("MAIL FROM:<s@x>", "250")
	go e.shutdown()
	c.expectLine("421 4.3.2 ")
	if _, err := c.r.ReadByte(); err != io.EOF {
		t.Errorf("after 421: %v, want EOF", err)
	}
}

// TestShutdownDuringData: a message being received is finished, saved and
// answered before the 421.
func TestShutdownDuringData(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial()
	c.expect("LHLO client.test", "250")
	c.expect("MAIL FROM:<s@x>", "250")
	c.expect("RCPT TO:<alice@x>", "250")
	c.expect("DATA", "354")
	c.send("Subject: s\r\n\r\nfirst half\r\n")
	stopped := make(chan struct{})
	go func() { e.shutdown(); close(stopped) }()
	// Wait until the server has begun shutting down (new connections fail).
	for {
		nc, err := dialQuick(e.addr)
		if err != nil {
			break
		}
		nc.Close()
	}
	c.send("second half\r\n.\r\n")
	c.expectLine("250 2.0.0 <alice@x>")
	c.expectLine("421 4.3.2 ")
	<-stopped
	if got := e.inbox("alice"); len(got) != 1 || !strings.HasSuffix(string(got[0]), "first half\r\nsecond half\r\n") {
		t.Errorf("stored %q", got)
	}
}
