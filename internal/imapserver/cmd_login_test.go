package imapserver

import (
	"encoding/base64"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestLogin(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.do("a1 LOGIN alice wrong").untagged().tagged("NO [AUTHENTICATIONFAILED] Authentication failed.")
	c.do("a2 LOGIN nobody " + quote(alicePass)).tagged("NO [AUTHENTICATIONFAILED] Authentication failed.")
	// Quoted password with spaces.
	c.do("a3 LOGIN bob " + quote(bobPass)).ok()
	c.do(`a4 LIST "" INBOX`).untagged(`* LIST (\HasNoChildren) "/" INBOX`).ok()
	if strings.Contains(ts.logs.String(), bobPass) || strings.Contains(ts.logs.String(), "wrong") {
		t.Error("a password reached the log")
	}
}

func TestLoginFailuresClose(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.do("a1 LOGIN alice x").no("AUTHENTICATIONFAILED")
	c.do("a2 LOGIN alice y").no("AUTHENTICATIONFAILED")
	c.send("a3 LOGIN alice z\r\n")
	c.expect("a3 NO [AUTHENTICATIONFAILED] Authentication failed.")
	c.expect("* BYE Too many invalid authentication attempts.")
	c.expectClosed()
}

func TestAuthenticatePlain(t *testing.T) {
	ts := newTestServer(t)
	t.Run("SASL-IR", func(t *testing.T) {
		c := ts.dial()
		r := c.do("a1 AUTHENTICATE PLAIN " + b64("\x00alice\x00"+alicePass)).ok()
		if !strings.HasPrefix(r.taggedLn, "OK [CAPABILITY IMAP4rev1 ") {
			t.Fatalf("reply %q lacks post-login capabilities", r.taggedLn)
		}
		c.do("a2 NAMESPACE").ok()
	})
	t.Run("continuation", func(t *testing.T) {
		c := ts.dial()
		c.send("a1 AUTHENTICATE PLAIN\r\n")
		c.expect("+ ")
		c.send(b64("\x00alice\x00"+alicePass) + "\r\n")
		c.expectPrefix("a1 OK [CAPABILITY ")
	})
	t.Run("wrong password", func(t *testing.T) {
		c := ts.dial()
		c.do("a1 AUTHENTICATE PLAIN " + b64("\x00alice\x00nope")).tagged("NO [AUTHENTICATIONFAILED] Authentication failed.")
	})
	t.Run("cancel", func(t *testing.T) {
		c := ts.dial()
		c.send("a1 AUTHENTICATE PLAIN\r\n")
		c.expect("+ ")
		c.send("*\r\n")
		// RFC 9051 6.2.2: cancelled exchange is a tagged BAD.
		c.expect("a1 BAD Authentication aborted by client.")
		c.do("a2 NOOP").ok()
	})
	t.Run("invalid base64", func(t *testing.T) {
		c := ts.dial()
		c.send("a1 AUTHENTICATE PLAIN\r\n")
		c.expect("+ ")
		c.send("!!!notbase64\r\n")
		c.expect("a1 BAD Invalid base64 data in continued response.")
	})
	t.Run("unknown mechanism", func(t *testing.T) {
		c := ts.dial()
		c.do("a1 AUTHENTICATE CRAM-MD5").tagged("NO Unsupported authentication mechanism.")
	})
}

func TestAuthenticateLogin(t *testing.T) {
	ts := newTestServer(t)
	c := ts.dial()
	c.send("a1 AUTHENTICATE LOGIN\r\n")
	c.expect("+ " + b64("Username:"))
	c.send(b64("alice") + "\r\n")
	c.expect("+ " + b64("Password:"))
	c.send(b64(alicePass) + "\r\n")
	c.expectPrefix("a1 OK [CAPABILITY ")
}

func TestUserIPConnectionLimit(t *testing.T) {
	ts := newTestServer(t, withOptions(func(o *Options) { o.MaxUserIPConnections = 1 }))
	c1 := ts.login("alice")
	c2 := ts.dial()
	c2.do("a1 LOGIN alice " + quote(alicePass)).
		tagged("NO [LIMIT] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)")
	ts.login("bob") // other users are not affected
	c1.do("a2 LOGOUT").ok()
	c1.expectClosed()
	ts.waitEnded(1)
	c2.login("alice", alicePass)
}
