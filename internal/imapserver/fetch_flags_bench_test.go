package imapserver

import (
	"bytes"
	"runtime"
	"testing"
	"time"
)

// BenchmarkWireFetchFlags100k: "UID FETCH 1:* (FLAGS)" on a 100k INBOX
// through the whole server (issue 8 item 4: no per-message allocations
// when fetching the flags of a big mailbox). Server and client run in
// this process; the client reads with ReadSlice and allocates nothing
// per line, so the allocations counted are the server's. It fails when
// the server allocates for more than one message in 20 (it did once per
// \Recent message: flags plus \Recent were built as a new slice). The
// first FETCH of the session (flag cache fill) is not measured.
func BenchmarkWireFetchFlags100k(b *testing.B) {
	c := wireBench100k(b)
	fetch := func() int {
		c.send("f UID FETCH 1:* (FLAGS)\r\n")
		c.conn.SetReadDeadline(time.Now().Add(time.Minute))
		n := 0
		for {
			l, err := c.r.ReadSlice('\n')
			if err != nil {
				b.Fatal(err)
			}
			if bytes.HasPrefix(l, []byte("f ")) {
				if !bytes.HasPrefix(l, []byte("f OK")) {
					b.Fatalf("%s", l)
				}
				return n
			}
			n++
		}
	}
	fetch()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	runs := 0
	for b.Loop() {
		if n := fetch(); n != 100000 {
			b.Fatalf("%d FETCH responses, want 100000", n)
		}
		runs++
	}
	runtime.ReadMemStats(&after)
	perMsg := float64(after.Mallocs-before.Mallocs) / float64(runs) / 100000
	b.ReportMetric(perMsg, "allocs/message")
	if perMsg > 0.05 {
		b.Errorf("%.2f allocations per message; want (almost) none", perMsg)
	}
}
