package lmtpserver

import (
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/delivery"
)

// gate wraps a Deliverer: each save waits (at most a few seconds) until
// want saves are in flight at once, and the largest number seen is kept.
type gate struct {
	Deliverer
	want int

	mu       sync.Mutex
	inFlight int
	most     int
	all      chan struct{} // closed when want saves were in flight together
}

func (g *gate) DeliverWithHeader(ctx context.Context, user, mailbox string, header []byte, r io.Reader) (delivery.Result, error) {
	g.mu.Lock()
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	if g.inFlight == g.want {
		close(g.all)
	}
	g.mu.Unlock()
	select {
	case <-g.all:
	case <-time.After(3 * time.Second):
	}
	res, err := g.Deliverer.DeliverWithHeader(ctx, user, mailbox, header, r)
	g.mu.Lock()
	g.inFlight--
	g.mu.Unlock()
	return res, err
}

// TestParallelRecipients: the saves of one transaction run at the same time
// (a 1 MB message to four recipients took four save times one after the
// other, 79 ms against Dovecot's 28), and still:
//
//	C: RCPT TO:<alice@x>
//	C: RCPT TO:<bob@example.com>
//	C: RCPT TO:<alice+lists@x>     (the same account again)
//	C: RCPT TO:<alice@x>           (the same address again)
//	C: DATA ... .
//	S: 250 2.0.0 <alice@x> ... Saved           one reply per RCPT,
//	S: 250 2.0.0 <bob@example.com> ... Saved   in RCPT order
//	S: 250 2.0.0 <alice+lists@x> ... Saved
//	S: 250 2.0.0 <alice@x> ... Saved
//
// with every copy stored once: two for alice (the repeated address is
// saved once), one for bob. The gate holds each save until three are in
// flight, so saves made one after the other fail the test (most == 1)
// instead of passing slowly.
func TestParallelRecipients(t *testing.T) {
	var g *gate
	e := newEnv(t, func(o *Options) {
		g = &gate{Deliverer: o.Deliverer, want: 3, all: make(chan struct{})}
		o.Deliverer = g
	})
	c := e.dial()
	c.expect("LHLO client.test", "250")
	c.expect("MAIL FROM:<s@example.org>", "250")
	rcpts := []string{"alice@x", "bob@example.com", "alice+lists@x", "alice@x"}
	for _, r := range rcpts {
		c.expect("RCPT TO:<"+r+">", "250")
	}
	c.expect("DATA", "354")
	c.send(wire + ".\r\n")
	for _, r := range rcpts {
		c.expectLine("250 2.0.0 <" + r + "> ")
	}
	c.expect("QUIT", "221")
	if g.most < 3 {
		t.Errorf("at most %d saves of one transaction ran at once, want the 3 distinct addresses together", g.most)
	}
	for user, n := range map[string]int{"alice": 2, "bob@example.com": 1} {
		got := e.inbox(user)
		if len(got) != n {
			t.Fatalf("%s has %d messages, want %d", user, len(got), n)
		}
		for _, m := range got {
			if !strings.HasSuffix(string(m), body) {
				t.Errorf("%s: stored message does not end with the body:\n%q", user, m)
			}
		}
	}
}
