package e2e

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestIMAPLibAppendLatency: Python's imaplib sends an APPEND literal and the
// CRLF that ends the command in two writes (and keeps Nagle's algorithm on),
// so the CRLF waits for the ACK of the literal while the server, with nothing
// to answer before the command is complete, would hold that ACK for Linux's
// delayed-ACK timeout, 40 ms at least. Each APPEND then took 44 ms against
// Roost and 1 ms against Dovecot (internal/netserver/quickack.go).
//
// The session, over IMAP and IMAPS with the real binary:
//
//	C: a LOGIN alice secret
//	C: b APPEND Latency {N}      (imaplib waits for the continuation)
//	S: + OK
//	C: <literal>                 (one write)
//	C: CRLF                      (another write)
//	S: b OK [APPENDUID v uid] APPEND completed
//
// twelve times; the first two warm up (a new connection starts in quick-ACK
// mode by itself). The bound is on the fastest of the other ten, timed around
// the driver's call: under 20 ms, half the kernel's minimum delayed-ACK
// timeout, so a loaded machine does not fail it and a server that delays its
// ACKs cannot pass it. Every APPEND must also have stored its message.
func TestIMAPLibAppendLatency(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("the 40 ms delayed ACK is Linux's")
	}
	s := startServer(t, serverOpts{imap: true})
	msg := crlf(corpus()[0].raw)
	uidRE := regexp.MustCompile(`APPENDUID \d+ (\d+)`)
	for _, mode := range []string{"plain", "ssl"} {
		t.Run(mode, func(t *testing.T) {
			c := s.imaplib(t, mode, "")
			c.ok("login", "alice", alicePass)
			box := "Latency-" + mode
			c.ok("create", box)
			const warmup, timed = 2, 10
			fastest := time.Hour
			var all []string
			for i := range warmup + timed {
				start := time.Now()
				data := c.ok("append", box, nil, nil, msg)
				d := time.Since(start)
				if !s.ref {
					if m := uidRE.FindSubmatch([]byte(itemsString(data))); m == nil || string(m[1]) != fmt.Sprint(i+1) {
						t.Fatalf("APPEND %d: %s, want APPENDUID ... %d", i+1, itemsString(data), i+1)
					}
				}
				if i >= warmup {
					all = append(all, d.Round(10*time.Microsecond).String())
					fastest = min(fastest, d)
				}
			}
			st := lines(c.ok("status", box, "(MESSAGES)"))
			if len(st) != 1 || !strings.Contains(st[0], fmt.Sprintf("MESSAGES %d", warmup+timed)) {
				t.Fatalf("STATUS after %d APPENDs: %q", warmup+timed, st)
			}
			c.logout()
			if fastest >= 20*time.Millisecond {
				t.Fatalf("fastest of %d imaplib APPENDs over %s took %v (all: %s): the server delays its ACK of the literal (want well under 40 ms)",
					timed, mode, fastest, strings.Join(all, " "))
			}
			t.Logf("imaplib APPEND over %s: fastest %v of %s", mode, fastest, strings.Join(all, " "))
		})
	}
}
