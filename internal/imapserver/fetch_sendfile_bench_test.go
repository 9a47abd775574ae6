package imapserver

import (
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkFetchBody: UID FETCH 1 (BODY.PEEK[]) of one message of each
// size over loopback TCP, through the real session and store, with the
// body copied through the session's buffer (copy) or sent with sendfile
// (sendfile). The client reads into a 256 KiB buffer and discards. Besides
// ns/op it reports cpu-µs/op: user+system CPU of the whole process (server
// and client) per FETCH, from getrusage; the client's share is the same
// on both paths.
//
//	go test -run XXX -bench FetchBody -benchtime 200x ./internal/imapserver
func BenchmarkFetchBody(b *testing.B) {
	for _, size := range []int{16 << 10, 64 << 10, 128 << 10, 256 << 10, 1 << 20, 10 << 20} {
		for _, path := range []string{"copy", "sendfile"} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, path), func(b *testing.B) {
				// Restored after the server's cleanup (cleanups run last
				// registered first), when no session reads it any more.
				saved := sendFileMin
				b.Cleanup(func() { sendFileMin = saved })
				if path == "copy" {
					sendFileMin = 1 << 62
				} else {
					sendFileMin = 1
				}
				ts := newTestServer(b)
				msg, _ := bigMsg(size)
				ts.deliver("alice", "INBOX", msg)
				c := ts.login("alice")
				c.do("s EXAMINE INBOX").ok()
				buf := make([]byte, 256<<10)
				head := fmt.Sprintf("* 1 FETCH (UID 1 BODY[] {%d}\r\n", len(msg))
				b.SetBytes(int64(len(msg)))
				var ru0, ru1 syscall.Rusage
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
				b.ResetTimer()
				for range b.N {
					c.send("f UID FETCH 1 (BODY.PEEK[])\r\n")
					c.conn.SetReadDeadline(time.Now().Add(time.Minute))
					l, err := c.r.ReadString('\n')
					if err != nil || l != head {
						b.Fatalf("response %q, %v", l, err)
					}
					for left := len(msg); left > 0; {
						n, err := io.ReadFull(c.r, buf[:min(left, len(buf))])
						if err != nil {
							b.Fatal(err)
						}
						left -= n
					}
					if l, err := c.r.ReadString('\n'); err != nil || l != ")\r\n" {
						b.Fatalf("after the literal %q, %v", l, err)
					}
					if l, err := c.r.ReadString('\n'); err != nil || !strings.HasPrefix(l, "f OK") {
						b.Fatalf("tagged %q, %v", l, err)
					}
				}
				b.StopTimer()
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
				cpu := time.Duration(syscall.TimevalToNsec(ru1.Utime) - syscall.TimevalToNsec(ru0.Utime) +
					syscall.TimevalToNsec(ru1.Stime) - syscall.TimevalToNsec(ru0.Stime))
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
			})
		}
	}
}
