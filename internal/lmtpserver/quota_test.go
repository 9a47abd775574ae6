package lmtpserver

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

// quotaEnv is a server whose store limits alice to two messages and bob
// to nothing but what fits in 300 octets; carol is unlimited.
func quotaEnv(t *testing.T, adjust func(*Options)) *env {
	limits := map[string]mailstore.Quota{
		"alice":           {Messages: 2},
		"bob@example.com": {Storage: 300},
	}
	e := newEnvStore(t, sqlite.Options{Quota: func(u string) mailstore.Quota { return limits[u] }}, adjust)
	e.users.names = append(e.users.names, "carol")
	return e
}

// deliver sends one small message to rcpts and returns the replies after
// DATA, one per accepted recipient.
func deliver(c *client, accepted int) []string {
	c.t.Helper()
	c.expect("DATA", "354")
	c.send("Subject: s\r\n\r\nhello\r\n.\r\n")
	var out []string
	for range accepted {
		out = append(out, c.line())
	}
	return out
}

// TestQuotaAfterData: one transaction, four recipients: one unknown (550 at
// RCPT), one whose mailbox is full (552 5.2.2 after DATA), two saved.
func TestQuotaAfterData(t *testing.T) {
	e := quotaEnv(t, nil)
	c := e.dial()
	c.expect("LHLO client.test", "250")
	for i := range 2 {
		c.expect("MAIL FROM:<s@example.org>", "250")
		c.expect("RCPT TO:<alice@example.com>", "250")
		if r := deliver(c, 1); !strings.HasPrefix(r[0], "250 2.0.0 <alice@example.com>") {
			t.Fatalf("delivery %d to alice: %q", i+1, r)
		}
	}
	c.expect("MAIL FROM:<s@example.org>", "250")
	c.expect("RCPT TO:<carol@example.com>", "250 2.0.0")
	c.expect("RCPT TO:<nobody@example.com>", "550 5.1.1 <nobody@example.com> User doesn't exist")
	c.expect("RCPT TO:<alice@example.com>", "250 2.0.0") // no RCPT check by default (Dovecot's lmtp_rcpt_check_quota = no)
	c.expect("RCPT TO:<bob@example.com>", "250 2.0.0")
	r := deliver(c, 3)
	want := []string{
		"250 2.0.0 <carol@example.com> ",
		"552 5.2.2 <alice@example.com> Quota exceeded (mailbox for user is full)",
		"250 2.0.0 <bob@example.com> ",
	}
	for i := range want {
		if !strings.HasPrefix(r[i], want[i]) {
			t.Errorf("reply %d: %q, want %q...", i+1, r[i], want[i])
		}
	}
	if n := len(e.inbox("alice")); n != 2 {
		t.Errorf("alice has %d messages, want 2", n)
	}
	// bob's second message does not fit in 300 octets.
	c.expect("MAIL FROM:<s@example.org>", "250")
	c.expect("RCPT TO:<bob@example.com>", "250")
	if r := deliver(c, 1); r[0] != "552 5.2.2 <bob@example.com> Quota exceeded (mailbox for user is full)" {
		t.Errorf("bob over the storage limit: %q", r[0])
	}
	c.expect("QUIT", "221")
}

// fill appends n messages to user's INBOX directly.
func fill(t *testing.T, e *env, user string, n int) {
	t.Helper()
	ctx := context.Background()
	acct, err := e.store.Account(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close()
	for range n {
		if _, _, err := acct.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestQuotaRcptCheck: with RcptCheckQuota (lmtp_rcpt_check_quota = yes) a
// full mailbox is refused at RCPT, so the MTA never sends the message for
// it; quota_full_tempfail turns 552 5.2.2 into 452 4.2.2 at RCPT and after
// DATA alike.
func TestQuotaRcptCheck(t *testing.T) {
	for _, tc := range []struct {
		check, tempfail bool
		rcpt, data      string
	}{
		{false, false, "250 2.0.0", "552 5.2.2 <alice@example.com> Quota exceeded"},
		{false, true, "250 2.0.0", "452 4.2.2 <alice@example.com> Quota exceeded"},
		{true, false, "552 5.2.2 <alice@example.com> Quota exceeded (mailbox for user is full)", ""},
		{true, true, "452 4.2.2 <alice@example.com> Quota exceeded (mailbox for user is full)", ""},
	} {
		e := quotaEnv(t, func(o *Options) { o.RcptCheckQuota, o.QuotaFullTempfail = tc.check, tc.tempfail })
		fill(t, e, "alice", 1)
		c := e.dial()
		c.expect("LHLO client.test", "250")
		// One message below the limit: accepted at RCPT either way.
		c.expect("MAIL FROM:<s@example.org>", "250")
		c.expect("RCPT TO:<alice@example.com>", "250 2.0.0")
		if r := deliver(c, 1); !strings.HasPrefix(r[0], "250 2.0.0") {
			t.Fatalf("%+v: last message that fits: %q", tc, r[0])
		}
		// Now full.
		c.expect("MAIL FROM:<s@example.org>", "250")
		c.expect("RCPT TO:<alice@example.com>", tc.rcpt)
		c.expect("RCPT TO:<carol@example.com>", "250 2.0.0")
		accepted := 1
		if tc.data != "" {
			accepted = 2
		}
		r := deliver(c, accepted)
		if tc.data != "" && !strings.HasPrefix(r[0], tc.data) {
			t.Errorf("%+v: after DATA %q, want %q...", tc, r[0], tc.data)
		}
		if last := r[len(r)-1]; !strings.HasPrefix(last, "250 2.0.0 <carol@example.com>") {
			t.Errorf("%+v: carol: %q", tc, last)
		}
		c.expect("QUIT", "221")
		if n := len(e.inbox("alice")); n != 2 {
			t.Errorf("%+v: alice has %d messages, want 2", tc, n)
		}
	}
}

// TestQuotaConcurrentDeliveries: two LMTP sessions deliver to a mailbox
// with room for one more message at the same time; exactly one gets 250.
func TestQuotaConcurrentDeliveries(t *testing.T) {
	for round := range 5 {
		e := quotaEnv(t, nil)
		fill(t, e, "alice", 1)
		const n = 2
		replies := make([]string, n)
		clients := make([]*client, n)
		for i := range clients {
			clients[i] = e.dial()
			clients[i].expect("LHLO client.test", "250")
			clients[i].expect("MAIL FROM:<s@example.org>", "250")
			clients[i].expect("RCPT TO:<alice@example.com>", "250")
			clients[i].expect("DATA", "354")
		}
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.send("Subject: race\r\n\r\nx\r\n.\r\n")
				replies[i] = c.line()
			}()
		}
		wg.Wait()
		ok := 0
		for _, r := range replies {
			switch {
			case strings.HasPrefix(r, "250 2.0.0 "):
				ok++
			case strings.HasPrefix(r, "552 5.2.2 "):
			default:
				t.Fatalf("round %d: unexpected reply %q", round, r)
			}
		}
		if ok != 1 {
			t.Fatalf("round %d: replies %q: %d deliveries succeeded, want exactly 1", round, replies, ok)
		}
		if n := len(e.inbox("alice")); n != 2 {
			t.Fatalf("round %d: alice has %d messages, want 2", round, n)
		}
	}
}
