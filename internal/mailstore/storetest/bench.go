package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// Benchmarks every backend runs alike; a backend's Benchmark function
// opens the account (and fills the mailbox its own fast way) and calls one
// of these, so that figures compare across backends.

// BenchAppend measures durable appends of a 4 KB message to INBOX, one at
// a time, and reports msgs/s.
func BenchAppend(b *testing.B, acc mailstore.Account) {
	body := "From: a@example.org\r\nTo: b@example.org\r\nSubject: bench\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd\r\n", 64)
	ctx := context.Background()
	start := time.Now()
	n := 0
	for b.Loop() {
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{Flags: []string{`\Seen`}}, strings.NewReader(body)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

// BenchAppendParallel measures 4 appenders per GOMAXPROCS (8 with 2 cores)
// appending 4 KB messages to INBOX of one account, and reports msgs/s.
func BenchAppendParallel(b *testing.B, acc mailstore.Account) {
	body := "Subject: bench\r\n\r\n" + strings.Repeat("x", 4000) + "\r\n"
	ctx := context.Background()
	b.SetParallelism(4)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(body)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchChangesAll measures Changes since 0 of mbox, which holds n
// messages: what SELECT loads without a flag cache.
func BenchChangesAll(b *testing.B, acc mailstore.Account, mbox mailstore.MailboxID, n int) {
	ctx := context.Background()
	for b.Loop() {
		c, err := acc.Changes(ctx, mbox, 0)
		if err != nil || len(c.Updated) != n {
			b.Fatalf("%d messages, %v", len(c.Updated), err)
		}
	}
}
