package lmtpserver

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkDeliver measures durable LMTP deliveries per second over
// loopback (one recipient each, a 2 KB message, SQLite store with fsync),
// with 1 and 16 concurrent client connections.
func BenchmarkDeliver(b *testing.B) {
	msg := "Subject: bench\r\n\r\n" + strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-+\r\n", 32)
	txn := "MAIL FROM:<s@x>\r\nRCPT TO:<alice@x>\r\nDATA\r\n" + msg + ".\r\n"
	for _, senders := range []int{1, 16} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			e := newEnv(b, nil)
			var next atomic.Int64
			var wg sync.WaitGroup
			clients := make([]*client, senders)
			for i := range clients {
				clients[i] = e.dial()
				clients[i].expect("LHLO bench", "250")
			}
			b.ResetTimer()
			start := time.Now()
			for _, c := range clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for next.Add(1) <= int64(b.N) {
						c.send(txn)
						for _, want := range []string{"250", "250", "354", "250 2.0.0"} {
							if l := c.line(); !strings.HasPrefix(l, want) {
								b.Errorf("got %q, want %q", l, want)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}
