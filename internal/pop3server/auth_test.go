package pop3server

import (
	"encoding/base64"
	"strings"
	"testing"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestGreetingAndCapa(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect()
	// No TLS configured: no STLS. Secure (loopback to itself): USER and
	// the plaintext mechanisms are offered.
	c.Send("CAPA").ExpectList("+OK",
		"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER", "SASL PLAIN LOGIN")
	c.Send("USER alice").Expect("+OK")
	c.Send("PASS " + alicePass).Expect("+OK Logged in.")
	// RFC 2449 section 6: USER, SASL and STLS are AUTHORIZATION-only.
	c.Send("capa").ExpectList("+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE")
	c.Send("QUIT").Expect("+OK Logging out.")
	c.ExpectClosed()
}

func TestCustomGreeting(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *Options) { o.Greeting = "Mail service\r\nready." }})
	c := e.dial()
	c.Expect("+OK Mail service  ready.")
}

func TestUserPass(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect()
	c.Send("PASS " + alicePass).Expect("-ERR No username given.")
	c.Send("USER alice").Expect("+OK")
	c.Send("PASS wrong").Expect("-ERR [AUTH] Authentication failed.")
	// The name from USER is used once: PASS needs a fresh USER.
	c.Send("PASS " + alicePass).Expect("-ERR No username given.")
	// Unknown user and wrong password look the same.
	c.Send("USER nobody").Expect("+OK")
	c.Send("PASS " + alicePass).Expect("-ERR [AUTH] Authentication failed.")
	c.Send("user bob").Expect("+OK")
	c.Send("pass " + bobPass).Expect("+OK Logged in.") // password with spaces
	c.Send("STAT").Expect("+OK 0 0")
	// Authorization commands are not valid any more.
	c.Send("USER alice").Expect("-ERR Unknown command: USER")
	c.Send("PASS x").Expect("-ERR Unknown command: PASS")
	c.Send("AUTH PLAIN").Expect("-ERR Unknown command: AUTH")
	c.Send("STLS").Expect("-ERR Unknown command: STLS")
	c.Send("QUIT").Expect("+OK Logging out.")
}

func TestTooManyAuthFailures(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect()
	for i := 0; i < DefaultMaxAuthFailures; i++ {
		c.Send("USER alice").Expect("+OK")
		c.Send("PASS nope").Expect("-ERR [AUTH] Authentication failed.")
	}
	c.ExpectClosed()
	if !strings.Contains(e.logs.String(), "too many failed logins") {
		t.Error("no log line for the disconnect")
	}
}

func TestQuitBeforeLogin(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect()
	c.Send("QUIT").Expect("+OK Logging out")
	c.ExpectClosed()
}

func TestAPOPNotOffered(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect()
	c.Send("APOP alice c4c9334bac560ecc979e58001b3e22fb").Expect("-ERR APOP not enabled.")
	c.Send("USER alice").Expect("+OK")
	c.Send("PASS " + alicePass).Expect("+OK Logged in.")
}

func TestAuthPlain(t *testing.T) {
	e := newEnv(t, envConfig{})

	// Initial response (RFC 5034 section 4).
	c := e.connect()
	c.Send("AUTH PLAIN " + b64("\x00alice\x00"+alicePass)).Expect("+OK Logged in.")
	c.Send("STAT").Expect("+OK 0 0")
	c.Send("QUIT").Expect("+OK Logging out.")

	// Without initial response: empty challenge, then the response.
	c = e.connect()
	c.Send("auth plain").Expect("+ ")
	c.Send(b64("\x00alice\x00" + alicePass)).Expect("+OK Logged in.")
	c.Send("QUIT").Expect("+OK Logging out.")

	// Wrong password, then "=" (empty initial response: PLAIN fails).
	c = e.connect()
	c.Send("AUTH PLAIN " + b64("\x00alice\x00wrong")).Expect("-ERR [AUTH] Authentication failed.")
	c.Send("AUTH PLAIN =").Expect("-ERR [AUTH] Authentication failed.")
	c.Send("AUTH PLAIN " + b64("\x00alice\x00"+alicePass)).Expect("+OK Logged in.")
}

func TestAuthCancelAndBadBase64(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect()
	// RFC 5034 section 4: "*" cancels; the server answers -ERR.
	c.Send("AUTH PLAIN").Expect("+ ")
	c.Send("*").Expect("-ERR Authentication aborted by client.")
	c.Send("AUTH PLAIN").Expect("+ ")
	c.Send("not base64!").Expect("-ERR [AUTH] Invalid base64 data in continued response.")
	c.Send("AUTH PLAIN %%%").Expect("-ERR [AUTH] Invalid base64 data in initial response.")
	c.Send("AUTH CRAM-MD5").Expect("-ERR [AUTH] Unsupported authentication mechanism.")
	// Cancel does not count as a failure, the other three do.
	c.ExpectClosed()
}

func TestAuthLogin(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect()
	c.Send("AUTH LOGIN").Expect("+ " + b64("Username:"))
	c.Send(b64("bob")).Expect("+ " + b64("Password:"))
	c.Send(b64(bobPass)).Expect("+OK Logged in.")
	c.Send("QUIT").Expect("+OK Logging out.")
}

func TestAuthListsMechanisms(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect()
	c.Send("AUTH").ExpectList("+OK", "PLAIN", "LOGIN")
	// Insecure: the plaintext mechanisms are not offered.
	c = e.dialInsecure()
	c.Expect("+OK Roost ready.")
	c.Send("AUTH").ExpectList("+OK")
}

func TestPlaintextDisabledOnInsecureConnection(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.dialInsecure()
	c.Expect("+OK Roost ready.")
	// No USER, no SASL line (no mechanism left), no STLS (no TLS config).
	c.Send("CAPA").ExpectList("+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE")
	c.Send("USER alice").Expect("-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
	c.Send("PASS " + alicePass).Expect("-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
	c.Send("AUTH PLAIN " + b64("\x00alice\x00"+alicePass)).Expect("-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
	c.ExpectClosed() // three refused attempts
	c = e.dialInsecure()
	c.Expect("+OK Roost ready.")
	c.Send("STLS").Expect("-ERR TLS support isn't enabled.")
}

func TestSTLS(t *testing.T) {
	e := newEnv(t, envConfig{tls: true})
	c := e.dialInsecure()
	c.Expect("+OK Roost ready.")
	c.Send("CAPA").ExpectList("+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "STLS")
	c.Send("USER alice").Expect("-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.")
	c.Send("STLS").Expect("+OK Begin TLS negotiation now.")
	c.StartTLS()
	// RFC 2595 section 4: capabilities change after TLS.
	c.Send("CAPA").ExpectList("+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE", "USER", "SASL PLAIN LOGIN")
	c.Send("STLS").Expect("-ERR TLS is already active.")
	c.Send("USER alice").Expect("+OK")
	c.Send("PASS " + alicePass).Expect("+OK Logged in.")
	c.Send("QUIT").Expect("+OK Logging out.")
	if !strings.Contains(e.logs.String(), "tls=true") {
		t.Error("login log line does not record TLS")
	}
}

// TestSTLSInjection sends commands in the same packet as STLS. They arrive
// in cleartext before the handshake and must never be executed
// (CVE-2011-0411).
func TestSTLSInjection(t *testing.T) {
	e := newEnv(t, envConfig{tls: true})
	e.deliver("alice", msg("one", "body\r\n"))
	c := e.connect()
	c.Send("USER alice").Expect("+OK")
	c.Write("STLS\r\nPASS " + alicePass + "\r\nDELE 1\r\nQUIT\r\n")
	c.Expect("+OK Begin TLS negotiation now.")
	c.StartTLS()
	// Had "PASS" been executed, this session would be logged in (and the
	// USER name must be forgotten after STLS anyway).
	c.Send("PASS " + alicePass).Expect("-ERR No username given.")
	c.Send("STAT").Expect("-ERR Unknown command: STAT")
	c.Send("QUIT").Expect("+OK Logging out")
	if n := len(e.inboxUIDs("alice")); n != 1 {
		t.Fatalf("INBOX has %d messages, want 1", n)
	}
	if !strings.Contains(e.logs.String(), "discarding input pipelined after STLS") {
		t.Error("injected input was not reported")
	}
}

func TestSTLSHandshakeFailure(t *testing.T) {
	e := newEnv(t, envConfig{tls: true})
	c := e.connect()
	c.Send("STLS").Expect("+OK Begin TLS negotiation now.")
	c.Write("this is not a TLS client hello\r\n\r\n")
	c.ExpectClosed()
}

func TestUserIPLimit(t *testing.T) {
	e := newEnv(t, envConfig{opts: func(o *Options) { o.MaxUserIPConnections = 1 }})
	c1 := e.login("alice", alicePass)
	c2 := e.connect()
	c2.Send("USER alice").Expect("+OK")
	c2.Send("PASS " + alicePass).Expect("-ERR [IN-USE] Maximum number of connections from user+IP exceeded (mail_max_userip_connections=1)")
	// Another user from the same IP is not affected.
	c3 := e.login("bob", bobPass)
	c3.Send("QUIT").Expect("+OK Logging out.")
	c1.Send("QUIT").Expect("+OK Logging out.")
	c1.ExpectClosed()
	// The slot is free again; the session that was refused can retry.
	c2.Send("USER alice").Expect("+OK")
	c2.Send("PASS " + alicePass).Expect("+OK Logged in.")
}

func TestLogsNeverContainSecrets(t *testing.T) {
	e := newEnv(t, envConfig{})
	c := e.connect()
	c.Send("USER alice").Expect("+OK")
	c.Send("PASS wrong-" + alicePass).Expect("-ERR [AUTH] Authentication failed.")
	c.Send("AUTH PLAIN " + b64("\x00alice\x00"+alicePass)).Expect("+OK Logged in.")
	c.Send("QUIT").Expect("+OK Logging out.")
	c.ExpectClosed()
	e.waitEnded(1)
	logs := e.logs.String()
	for _, secret := range []string{alicePass, b64("\x00alice\x00" + alicePass)} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains secret %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{"pop3 login failed", "pop3 login", "pop3 logout"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
}
