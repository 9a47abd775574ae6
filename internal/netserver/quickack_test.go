package netserver

import (
	"bufio"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestQuickAckSplitWrites: a client with Nagle's algorithm on (the default
// for most clients; Go turns it off, so the test turns it back on) sends
// "c NOOP" and "\r\n" in two writes, the way imaplib sends an APPEND literal
// and its CRLF. The second write waits for the ACK of the first, and the
// server has nothing to say until the line is complete: with Linux's
// delayed ACK every round trip took at least 40 ms (the kernel's minimum
// delayed-ACK timeout), with quick ACK well under a millisecond. The bound
// is on the fastest of ten round trips, after a warm-up (a new connection
// starts in quick-ACK mode by itself), so a loaded machine cannot fail it
// and a server that delays ACKs cannot pass it.
func TestQuickAckSplitWrites(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("TCP_QUICKACK is Linux only")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c := NewConn(nc, nil, false, nil)
		defer c.Close()
		r := bufio.NewReader(c)
		c.Write([]byte("* OK ready\r\n"))
		for {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
			c.Write([]byte("c OK NOOP completed\r\n"))
		}
	}()

	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.(*net.TCPConn).SetNoDelay(false)
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(nc)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	fastest := time.Hour
	for i := range 14 {
		start := time.Now()
		if _, err := nc.Write([]byte("c NOOP")); err != nil {
			t.Fatal(err)
		}
		if _, err := nc.Write([]byte("\r\n")); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); i >= 4 && d < fastest {
			fastest = d
		}
	}
	if fastest >= 20*time.Millisecond {
		t.Fatalf("fastest of ten split-write round trips took %v: the server delays its ACKs (want well under 40 ms)", fastest)
	}
	t.Logf("fastest split-write round trip: %v", fastest)
}
