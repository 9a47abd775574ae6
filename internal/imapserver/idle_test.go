package imapserver

import (
	"bufio"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// idleClient is a bare IMAP client with a 64-byte reader, so that the
// client side adds little to the memory the test measures.
type idleClient struct {
	nc net.Conn
	r  *bufio.Reader
}

func (c *idleClient) line(t *testing.T) string {
	c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	l, err := c.r.ReadString('\n')
	if err != nil {
		t.Errorf("read: %v (after %q)", err, l)
		return ""
	}
	return strings.TrimRight(l, "\r\n")
}

// until reads up to the line starting with prefix.
func (c *idleClient) until(t *testing.T, prefix string) string {
	for {
		l := c.line(t)
		if l == "" || strings.HasPrefix(l, prefix) {
			return l
		}
	}
}

// TestIdleManySessions: sessions in IDLE cost one goroutine each and hold
// no read or write buffers (iobuf.go, idlehub.go); one delivery wakes all
// of them at once, and each can end IDLE and go on afterwards.
//
//	C: a LOGIN u pw / b SELECT INBOX / c IDLE     (n sessions, one user)
//	S: + idling
//	   (one message is delivered)
//	S: * 1 EXISTS                                  (every session)
//	C: DONE
//	S: c OK Idle completed.
func TestIdleManySessions(t *testing.T) {
	const n = 200
	e := newMBEnv(t, Options{MaxUserIPConnections: -1})
	e.account("u") // create the account before measuring

	heap := func() uint64 {
		var ms runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	heap0, g0 := heap(), runtime.NumGoroutine()
	clients := make([]*idleClient, n)
	for i := range clients {
		nc, err := net.Dial("tcp", e.ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		c := &idleClient{nc: nc, r: bufio.NewReaderSize(nc, 64)}
		clients[i] = c
		nc.Write([]byte("a LOGIN u pw\r\nb SELECT INBOX\r\nc IDLE\r\n"))
		if l := c.until(t, "+ "); l != "+ idling" {
			t.Fatalf("session %d: IDLE answered %q", i, l)
		}
	}
	heap1, g1 := heap(), runtime.NumGoroutine()
	perSession := float64(heap1-heap0) / n
	t.Logf("%d sessions in IDLE: %d goroutines more, %.0f bytes of heap each", n, g1-g0, perSession)
	// One goroutine per session (serve), plus the hub's and the store's
	// watcher for the user. Before: a second goroutine per session.
	if extra := g1 - g0; extra > n+10 {
		t.Errorf("%d sessions in IDLE run %d goroutines; want one each", n, extra)
	}
	// Before: 8 KiB read + 32 KiB write buffer per session, ~45 KB.
	if perSession > 16<<10 {
		t.Errorf("heap per idling session %.0f bytes; want under 16 KiB (buffers parked)", perSession)
	}

	for round := 1; round <= 2; round++ {
		start := time.Now()
		e.deliver("u", "INBOX")
		var mu sync.Mutex
		var slowest time.Duration
		var wg sync.WaitGroup
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				want := fmt.Sprintf("* %d EXISTS", round)
				if l := c.until(t, "* "+fmt.Sprint(round)+" EXISTS"); l != want {
					t.Errorf("session %d, delivery %d: %q, want %q", i, round, l, want)
					return
				}
				mu.Lock()
				slowest = max(slowest, time.Since(start))
				mu.Unlock()
			}()
		}
		wg.Wait()
		t.Logf("delivery %d woke %d idling sessions; the last saw it after %v", round, n, slowest)
		// Generous for -race on a loaded 2-CPU machine (~20 ms per
		// session's sync there; ~0.3 ms without -race).
		if slowest > 30*time.Second {
			t.Errorf("waking %d sessions took %v", n, slowest)
		}
	}
	for i, c := range clients {
		c.nc.Write([]byte("DONE\r\nd NOOP\r\n"))
		if l := c.until(t, "c "); l != "c OK Idle completed." {
			t.Errorf("session %d: DONE answered %q", i, l)
		}
		if l := c.until(t, "d "); l != "d OK Noop completed." {
			t.Errorf("session %d: NOOP after IDLE answered %q", i, l)
		}
	}
}

// TestIdleOverTLS: a wake-up interrupts the session's read of a TLS
// connection (read deadline in the past); the TLS stream must survive it,
// also when the client's DONE arrives split over two records.
//
//	C: a1 SELECT INBOX / a2 IDLE
//	S: + idling
//	   (delivery)           S: * 1 EXISTS / * 1 RECENT
//	   (delivery)           S: * 2 EXISTS / * 2 RECENT
//	C: DO  ...  NE
//	S: a2 OK Idle completed.
func TestIdleOverTLS(t *testing.T) {
	ts := newTestServer(t, withTLS())
	c := ts.dial()
	c.do("a0 STARTTLS").ok()
	c.startTLS()
	c.do("a1 LOGIN alice " + quote(alicePass)).ok()
	c.do("a2 SELECT INBOX").contains("* 0 EXISTS").ok()
	c.send("a3 IDLE\r\n")
	c.expect("+ idling")
	for i := 1; i <= 2; i++ {
		ts.deliver("alice", "INBOX", testMsg(fmt.Sprint("wake ", i)))
		c.expect(fmt.Sprintf("* %d EXISTS", i))
		c.expect(fmt.Sprintf("* %d RECENT", i))
	}
	c.send("DO")
	time.Sleep(50 * time.Millisecond)
	ts.deliver("alice", "INBOX", testMsg("between the halves of DONE"))
	// The session already left IDLE's wait when "DO" arrived: the third
	// message is reported with the tagged reply.
	time.Sleep(50 * time.Millisecond)
	c.send("NE\r\n")
	c.readUntilTagged("a3").contains("* 3 EXISTS").ok()
	c.do("a4 NOOP").ok()
}

// TestIdleManyUsers: sessions of distinct users in IDLE cost no goroutine
// of the IMAP server beyond their own (the idle hub wakes them from the
// store's watch callback, not from a goroutine per user), and a delivery
// to one user wakes that user's session only.
//
//	C: a LOGIN uN pw / b SELECT INBOX / c IDLE     (one session per user)
//	S: + idling
//	   (a message is delivered to u3)
//	S: * 1 EXISTS                                  (u3's session only)
//	C: DONE
//	S: c OK Idle completed.
func TestIdleManyUsers(t *testing.T) {
	const n = 40
	e := newMBEnv(t, Options{MaxUserIPConnections: -1})
	clients := make([]*idleClient, n)
	for i := range clients {
		nc, err := net.Dial("tcp", e.ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		c := &idleClient{nc: nc, r: bufio.NewReaderSize(nc, 64)}
		clients[i] = c
		fmt.Fprintf(nc, "a LOGIN u%d pw\r\nb SELECT INBOX\r\nc IDLE\r\n", i)
		if l := c.until(t, "+ "); l != "+ idling" {
			t.Fatalf("session %d: IDLE answered %q", i, l)
		}
	}
	// Goroutines running code of this package: one per session (serve)
	// plus the accept loop's. Before: a second one per user (the hub's).
	buf := make([]byte, 8<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	ours := 0
	for _, g := range strings.Split(stacks, "\n\n") {
		if strings.Contains(g, "internal/imapserver.") && !strings.Contains(g, "TestIdleManyUsers") {
			ours++
		}
	}
	t.Logf("%d users idling: %d goroutines in imapserver, %d in all", n, ours, runtime.NumGoroutine())
	if ours > n+2 {
		t.Errorf("%d sessions of distinct users in IDLE run %d imapserver goroutines; want one each", n, ours)
	}

	e.deliver("u3", "INBOX")
	if l := clients[3].until(t, "* "); l != "* 1 EXISTS" {
		t.Errorf("u3 after delivery: %q, want * 1 EXISTS", l)
	}
	for i, c := range clients {
		c.nc.Write([]byte("DONE\r\nd NOOP\r\n"))
		// Only u3's session saw an update; the others answer DONE at once.
		if l := c.line(t); i != 3 && l != "c OK Idle completed." {
			t.Errorf("session %d: DONE answered %q, want the tagged OK first", i, l)
		}
		if l := c.until(t, "d "); l != "d OK Noop completed." {
			t.Errorf("session %d: NOOP after IDLE answered %q", i, l)
		}
	}
}
