package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// saslMechs returns the SASL mechanisms a CAPA answer lists.
func saslMechs(capa map[string][]string) []string {
	var m []string
	for _, v := range capa["SASL"] {
		m = append(m, strings.Fields(strings.ToUpper(v))...)
	}
	return m
}

// TestPlaintextRefusedFromNonLoopback: a connection from 127.0.0.2 to
// 127.0.0.1 is not "secure" (remote IP != local IP), so without TLS the
// server must neither offer nor accept plaintext logins; after STLS it does.
func TestPlaintextRefusedFromNonLoopback(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	s.deliver("alice", corpus()[0].raw)
	res := s.poplib(popReq{Mode: "plain", Source: "127.0.0.2", Action: "probe", ThenSTLS: true})

	if _, ok := res.Capa["USER"]; ok {
		t.Errorf("insecure CAPA lists USER: %v", res.Capa)
	}
	if slices.Contains(saslMechs(res.Capa), "PLAIN") || slices.Contains(saslMechs(res.Capa), "LOGIN") {
		t.Errorf("insecure CAPA offers SASL %v", res.Capa["SASL"])
	}
	if _, ok := res.Capa["STLS"]; !ok {
		t.Errorf("insecure CAPA does not list STLS: %v", res.Capa)
	}
	if !strings.HasPrefix(res.Login, "-ERR [AUTH]") {
		t.Errorf("USER/PASS without TLS from 127.0.0.2: %q, want -ERR [AUTH] ...", res.Login)
	}
	if _, ok := res.CapaTLS["USER"]; !ok {
		t.Errorf("CAPA after STLS does not list USER: %v", res.CapaTLS)
	}
	if _, ok := res.CapaTLS["STLS"]; ok {
		t.Errorf("CAPA after STLS still lists STLS: %v", res.CapaTLS)
	}
	if res.LoginTLS != "ok" {
		t.Errorf("USER/PASS after STLS: %q, want success", res.LoginTLS)
	}
	if len(res.Stat) != 2 || res.Stat[0] != 1 {
		t.Errorf("STAT after STLS login: %v, want 1 message", res.Stat)
	}
}

// TestLoopbackCountsAsSecure: from 127.0.0.1 to 127.0.0.1 the connection
// is secure by Dovecot's rule, so USER/PASS works without TLS.
func TestLoopbackCountsAsSecure(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	res := s.poplib(popReq{Mode: "plain", Action: "probe"})
	if res.Login != "ok" {
		t.Errorf("USER/PASS on loopback without TLS: %q, want success", res.Login)
	}
}

// TestPlaintextAllowedWhenConfigured: disable_plaintext_auth = no lets a
// non-loopback client log in without TLS.
func TestPlaintextAllowedWhenConfigured(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{plaintextAuth: true})
	res := s.poplib(popReq{Mode: "plain", Source: "127.0.0.2", Action: "probe"})
	if _, ok := res.Capa["USER"]; !ok {
		t.Errorf("CAPA with disable_plaintext_auth = no lacks USER: %v", res.Capa)
	}
	if res.Login != "ok" {
		t.Errorf("USER/PASS from 127.0.0.2 with disable_plaintext_auth = no: %q, want success", res.Login)
	}
}

// TestCurlInsecureLoginFails: curl from 127.0.0.2 without TLS cannot log
// in; with --ssl-reqd (STLS) from the same address it can.
func TestCurlInsecureLoginFails(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	s.deliver("alice", corpus()[0].raw)
	curl := requireTool(t, "curl", "curl")
	url := fmt.Sprintf("pop3://127.0.0.1:%d/1", s.pop3Port)
	out, stderr, code := runCmd(t, nil, curl, "-sS", "--interface", "127.0.0.2", "-u", "alice:"+alicePass, url)
	if code == 0 {
		t.Errorf("curl without TLS from 127.0.0.2 logged in and got %d bytes:\n%.200s", len(out), out)
	} else {
		t.Logf("curl without TLS from 127.0.0.2: exit %d (%s)", code, strings.TrimSpace(string(stderr)))
	}
	out, stderr, code = runCmd(t, nil, curl, "-sS", "--interface", "127.0.0.2", "--ssl-reqd", "--cacert", caFile,
		"-u", "alice:"+alicePass, url)
	if code != 0 {
		t.Errorf("curl with STLS from 127.0.0.2: exit %d\n%s", code, stderr)
	} else if string(out) != string(corpus()[0].want()) {
		t.Errorf("curl with STLS from 127.0.0.2: wrong message: %.200q", out)
	}
}

// TestWrongPassword: a wrong password or unknown user gets -ERR [AUTH],
// from poplib and curl (which exits 67, "login denied").
func TestWrongPassword(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	for _, c := range []struct{ user, pass string }{{"alice", "wrong"}, {"alice", ""}, {"nobody", "secret"}, {"bob", alicePass}} {
		res := s.poplib(popReq{Mode: "stls", Action: "probe", User: c.user, Password: c.pass})
		if !strings.HasPrefix(res.Login, "-ERR [AUTH]") {
			t.Errorf("login %s/%q: %q, want -ERR [AUTH] ...", c.user, c.pass, res.Login)
		}
	}
	// The right password still works after failures (no lockout here).
	if res := s.poplib(popReq{Mode: "ssl", Action: "probe"}); res.Login != "ok" {
		t.Errorf("alice after failed attempts: %q", res.Login)
	}
	curl := requireTool(t, "curl", "curl")
	_, stderr, code := runCmd(t, nil, curl, "-sS", "--cacert", caFile, "-u", "alice:wrong",
		fmt.Sprintf("pop3s://127.0.0.1:%d/", s.pop3sPort))
	if code != 67 {
		t.Errorf("curl with a wrong password: exit %d, want 67 (login denied)\n%s", code, stderr)
	}
}

// TestDoveadmHashLogin: bob's passwd-file entry is a SHA512-CRYPT hash
// made by doveadm pw, for a UTF-8 password; it must verify unchanged.
func TestDoveadmHashLogin(t *testing.T) {
	t.Parallel()
	s := startServer(t, serverOpts{})
	for _, mode := range []string{"ssl", "stls"} {
		if res := s.poplib(popReq{Mode: mode, Action: "probe", User: "bob", Password: bobPass}); res.Login != "ok" {
			t.Errorf("bob over %s: %q, want success", mode, res.Login)
		}
	}
}
