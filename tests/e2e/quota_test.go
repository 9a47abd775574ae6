package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// quotaServer starts roost with IMAP, LMTP on a loopback port and the
// given quota settings; users maps extra users to their passwd-file extra
// fields (password "pw"); alice and bob get extraAlice/extraBob.
func quotaServer(t *testing.T, settings, extraAlice, extraBob string, users map[string]string) (*server, int) {
	t.Helper()
	s := startServer(t, serverOpts{imap: true, plaintextAuth: true})
	if s.ref {
		t.Skip("quota tests run against roost only: the reference Dovecot has no quota plugin configured")
	}
	s.stop()
	port := freePort(t)
	b, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(b), "protocols = pop3 imap\n", "protocols = pop3 imap lmtp\n", 1)
	cfg += fmt.Sprintf("service lmtp {\n  inet_listener lmtp {\n    port = %d\n  }\n}\n", port) + settings
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	pw := "alice:{PLAIN}" + alicePass + "::::::" + extraAlice + "\nbob:" + bobHash + "::::::" + extraBob + "\n"
	for u, extra := range users {
		pw += u + ":{PLAIN}pw::::::" + extra + "\n"
	}
	if err := os.WriteFile(s.users, []byte(pw), 0o600); err != nil {
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

// quotaGet runs roost quota get --json against the running server.
func (s *server) quotaGet(user string) (q struct {
	StorageUsed, StorageLimit, MessagesUsed, MessagesLimit int64
}) {
	s.t.Helper()
	out, stderr, code := s.cli(nil, "quota", "get", "-c", s.cfg, "-u", user, "--json")
	if code != 0 {
		s.t.Fatalf("roost quota get -u %s: exit %d: %s", user, code, stderr)
	}
	var raw struct {
		StorageUsed   int64 `json:"storage_used"`
		StorageLimit  int64 `json:"storage_limit"`
		MessagesUsed  int64 `json:"messages_used"`
		MessagesLimit int64 `json:"messages_limit"`
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		s.t.Fatalf("quota get output %q: %v", out, err)
	}
	q.StorageUsed, q.StorageLimit, q.MessagesUsed, q.MessagesLimit = raw.StorageUsed, raw.StorageLimit, raw.MessagesUsed, raw.MessagesLimit
	return q
}

// TestQuotaLMTPSwaks: one LMTP transaction from swaks with three
// recipients: alice has room (250 after DATA), nobody does not exist (550
// 5.1.1 at RCPT), bob's users-file rule allows one message and he has it
// (552 5.2.2 after DATA, the default quota_full_tempfail = no).
func TestQuotaLMTPSwaks(t *testing.T) {
	s, port := quotaServer(t, "plugin {\n  quota_rule = *:storage=10M\n}\n", "", "userdb_quota_rule2=*:messages=1", nil)
	body := "From: sender@example.org\r\nSubject: quota\r\n\r\nhello\r\n"
	if out, code := s.swaks(port, body, "--from", "sender@example.org", "--to", "bob@example.com"); code != 0 {
		t.Fatalf("first message to bob: swaks exit %d:\n%s", code, out)
	}
	out, _ := s.swaks(port, body, "--from", "sender@example.org",
		"--to", "alice@example.com,nobody@example.com,bob@example.com")
	for _, re := range []string{
		`<\*\* 550 5\.1\.1 <nobody@example\.com> User doesn't exist`,
		`<-  250 2\.0\.0 <alice@example\.com> \S+ Saved`,
		`<\*\* 552 5\.2\.2 <bob@example\.com> Quota exceeded \(mailbox for user is full\)`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Fatalf("transcript lacks %s:\n%s", re, out)
		}
	}
	if q := s.quotaGet("bob"); q.MessagesUsed != 1 || q.MessagesLimit != 1 || q.StorageLimit != 10<<20 {
		t.Errorf("bob: %+v", q)
	}
	if q := s.quotaGet("alice"); q.MessagesUsed != 1 || q.MessagesLimit != 0 || q.StorageLimit != 10<<20 {
		t.Errorf("alice: %+v", q)
	}
	// roost deliver: exit 77 (EX_NOPERM) for the full mailbox.
	if code, out := s.deliverCode("bob", []byte(body)); code != 77 || !strings.Contains(out, "Quota exceeded") {
		t.Errorf("roost deliver to full bob: exit %d %q, want 77", code, out)
	}
}

// TestQuotaIMAP: imaplib sees the QUOTA capabilities, GETQUOTAROOT and
// GETQUOTA answer with the usage of the running server, and an APPEND over
// the limit is NO [OVERQUOTA].
func TestQuotaIMAP(t *testing.T) {
	s, _ := quotaServer(t, "quota_rule = *:storage=1k\nquota_rule2 = *:messages=10\n", "", "", nil)
	c := s.imaplib(t, "ssl", "")
	c.ok("login", "alice", alicePass)
	typ, data, _ := c.call("capability")
	if caps := itemsString(data); typ != "OK" || !strings.Contains(caps, "QUOTA=RES-STORAGE") || !strings.Contains(caps, "QUOTA=RES-MESSAGE") {
		t.Fatalf("capabilities after login: %s %s", typ, caps)
	}
	msg := []byte("From: a@example.org\r\nSubject: q\r\n\r\n" + strings.Repeat("x", 600) + "\r\n")
	c.ok("append", "INBOX", "", "", msg)
	typ, data, e := c.call("append", "INBOX", "", "", msg)
	if typ != "NO" || !strings.Contains(itemsString(data), "[OVERQUOTA] Quota exceeded") {
		t.Fatalf("APPEND over quota: %s %s %s", typ, e, itemsString(data))
	}
	// imaplib's getquotaroot() nests its answer; send the command through
	// _simple_command and read both untagged responses from its table.
	typ, data, e = c.call("_simple_command", "GETQUOTAROOT", "INBOX")
	if typ != "OK" {
		t.Fatalf("GETQUOTAROOT: %s %s", typ, e)
	}
	u := c.untagged()
	used := (len(msg) + 1023) / 1024
	quota := fmt.Sprintf(`"User quota" (STORAGE %d 1 MESSAGE 1 10)`, used)
	if got := itemsString(u["QUOTAROOT"]); got != fmt.Sprintf("[%q]", `INBOX "User quota"`) {
		t.Errorf("QUOTAROOT: %s", got)
	}
	if got := itemsString(u["QUOTA"]); got != fmt.Sprintf("[%q]", quota) {
		t.Errorf("QUOTA after GETQUOTAROOT: %s, want %s", got, quota)
	}
	if got := itemsString(c.ok("getquota", `"User quota"`)); got != fmt.Sprintf("[%q]", quota) {
		t.Errorf("QUOTA after GETQUOTA: %s, want %s", got, quota)
	}
	if typ, _, e := c.call("setquota", `"User quota"`, "(STORAGE 100)"); typ == "OK" {
		t.Errorf("SETQUOTA: %s %s, want NO", typ, e)
	}
	if q := s.quotaGet("alice"); q.StorageUsed != int64(len(msg)) || q.StorageLimit != 1024 || q.MessagesUsed != 1 {
		t.Errorf("roost quota get: %+v", q)
	}
	c.logout()
}

// TestQuotaRace: two deliveries at once into mailboxes with room for one
// more message, one over LMTP (the server process) and one by roost
// deliver (another process): exactly one is saved, the other refused, and
// the usage counter stays exact. Several users, several rounds.
func TestQuotaRace(t *testing.T) {
	users := map[string]string{}
	const rounds = 6
	for i := range rounds {
		users[fmt.Sprintf("user%d", i)] = "userdb_quota_rule=*:messages=2"
	}
	s, port := quotaServer(t, "", "", "", users)
	body := "From: sender@example.org\r\nSubject: race\r\n\r\nhello\r\n"
	for i := range rounds {
		user := fmt.Sprintf("user%d", i)
		s.deliver(user, []byte(body))
		var wg sync.WaitGroup
		var swaksOut string
		var deliverCode int
		var deliverOut string
		wg.Add(2)
		go func() {
			defer wg.Done()
			swaksOut, _ = s.swaks(port, body, "--from", "sender@example.org", "--to", user+"@example.com")
		}()
		go func() {
			defer wg.Done()
			deliverCode, deliverOut = s.deliverCode(user, []byte(body))
		}()
		wg.Wait()
		lmtpOK := regexp.MustCompile(`<-  250 2\.0\.0 <` + user + `@example\.com> \S+ Saved`).MatchString(swaksOut)
		lmtpFull := strings.Contains(swaksOut, "552 5.2.2 <"+user+"@example.com> Quota exceeded")
		switch {
		case lmtpOK && deliverCode == 77, lmtpFull && deliverCode == 0:
		default:
			t.Fatalf("%s: LMTP saved=%v refused=%v, deliver exit %d (%s); want exactly one of them saved\n%s",
				user, lmtpOK, lmtpFull, deliverCode, deliverOut, swaksOut)
		}
		if q := s.quotaGet(user); q.MessagesUsed != 2 {
			t.Fatalf("%s: usage %+v, want 2 messages", user, q)
		}
	}
}
