package pop3server

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzSession feeds arbitrary bytes into a logged-in session over a real
// connection. Invariants: the server never panics, answers only with
// CRLF-terminated lines, ends the session when the client closes its side,
// releases the maildrop, and deletes nothing unless a QUIT was sent.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"STAT\r\nLIST\r\nUIDL\r\n",
		"RETR 1\r\nTOP 2 1\r\nDELE 3\r\nRSET\r\n",
		"DELE 1\r\nDELE 2\r\nQUIT\r\n",
		"LIST 0\r\nRETR 4294967296\r\nTOP 1 99999999999999999999\r\n",
		"CAPA\nNOOP\n\x00\xff\r\n",
		"AUTH PLAIN =\r\nSTLS\r\nUSER x\r\n",
		strings.Repeat("x", 3000) + "\r\n",
		"\r\n\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, envConfig{opts: func(o *Options) {
		o.LoginTimeout = 5 * time.Second
		o.IdleTimeout = 5 * time.Second
	}})
	stock := []string{
		msg("one", "a\r\n.b\r\n"),
		msg("two", "..\r\n.\r\n"),
		"Subject: no body",
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		e.t = t // helpers must fail the input's test, not the fuzz target
		for len(e.inboxUIDs("alice")) < len(stock) {
			e.deliver("alice", stock[len(e.inboxUIDs("alice"))%len(stock)])
		}
		before := len(e.inboxUIDs("alice"))
		e.logs.Reset()

		conn, err := net.DialTimeout("tcp", e.addr, ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(ioTimeout))
		var out bytes.Buffer
		readDone := make(chan error, 1)
		go func() {
			_, err := io.Copy(&out, conn)
			readDone <- err
		}()
		login := "USER alice\r\nPASS " + alicePass + "\r\n"
		conn.Write(append([]byte(login), input...)) // the server may close early
		conn.(*net.TCPConn).CloseWrite()
		if err := <-readDone; err != nil && !errors.Is(err, net.ErrClosed) && !isReset(err) {
			t.Fatalf("reading answers: %v", err)
		}
		e.waitEnded(1)

		if logs := e.logs.String(); strings.Contains(logs, "panic") {
			t.Fatalf("server panicked:\n%s", logs)
		}
		if b := out.Bytes(); len(b) > 0 && !bytes.HasSuffix(b, []byte("\r\n")) {
			t.Fatalf("output does not end in CRLF: %q", tail(b))
		}
		lines := bytes.Split(out.Bytes(), []byte("\n"))
		for _, l := range lines[:len(lines)-1] {
			if !bytes.HasSuffix(l, []byte("\r")) {
				t.Fatalf("line without CR: %q", l)
			}
		}
		quit := bytes.Contains(bytes.ToUpper(input), []byte("QUIT"))
		if after := len(e.inboxUIDs("alice")); after != before && !quit {
			t.Fatalf("messages went from %d to %d without QUIT", before, after)
		}
	})
}

func isReset(err error) bool { return strings.Contains(err.Error(), "reset by peer") }

func tail(b []byte) []byte {
	if len(b) > 80 {
		return b[len(b)-80:]
	}
	return b
}

// BenchmarkRETR measures streaming a 1 MB message over loopback, including
// reading it on the client side.
func BenchmarkRETR(b *testing.B) {
	e := newEnv(b, envConfig{})
	m := randomMessage(1<<20, 7)
	e.deliver("alice", m)
	c := e.login("alice", alicePass)
	status := fmt.Sprintf("+OK %d octets", len(m))
	b.SetBytes(int64(len(m)))
	b.ResetTimer()
	for range b.N {
		c.Send("RETR 1")
		if got := c.ReadLine(); got != status {
			b.Fatalf("got %q", got)
		}
		if n := drainBody(b, c); n < int64(len(m)) {
			b.Fatalf("body of %d bytes, want at least %d", n, len(m))
		}
	}
}

// drainBody reads a multi-line body up to its terminator and returns the
// number of bytes read.
func drainBody(b testing.TB, c *client) int64 {
	var n int64
	atStart := true
	c.conn.SetReadDeadline(time.Now().Add(ioTimeout))
	for {
		line, err := c.r.ReadSlice('\n')
		n += int64(len(line))
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			b.Fatalf("read: %v", err)
		}
		if atStart && string(line) == ".\r\n" {
			return n
		}
		atStart = err == nil
	}
}
