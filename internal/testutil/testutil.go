// Package testutil holds helpers shared by the protocol packages' tests:
// a log sink safe for concurrent writers and the client side of connection
// checks. Only tests import it.
package testutil

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// maxLog bounds a LogBuffer: a long fuzz run keeps only the recent part.
const maxLog = 8 << 20

// LogBuffer is a log sink (for slog handlers) safe for concurrent writes.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() > maxLog {
		l.b.Reset()
	}
	return l.b.Write(p)
}

// String returns everything logged (since the last Reset).
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Reset forgets what was logged.
func (l *LogBuffer) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Reset()
}

// ExpectClosed fails the test unless the server closes conn without
// sending anything more than what r has not read yet.
func ExpectClosed(t testing.TB, conn net.Conn, r *bufio.Reader, timeout time.Duration) {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(timeout))
	b, err := r.ReadByte()
	if err == nil {
		rest, _ := r.Peek(r.Buffered())
		t.Fatalf("expected close, got %q", string(b)+string(rest))
	}
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("expected EOF, got %v", err)
	}
}

// ClientTLS runs the client side of a TLS handshake on conn after the
// server agreed to STARTTLS/STLS, and returns the encrypted connection and
// a reader for it. Nothing may be left unread in r: bytes sent before the
// handshake must not be mistaken for bytes after it.
func ClientTLS(t testing.TB, conn net.Conn, r *bufio.Reader, timeout time.Duration) (net.Conn, *bufio.Reader) {
	t.Helper()
	if r.Buffered() != 0 {
		t.Fatalf("%d unread bytes before TLS", r.Buffered())
	}
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true})
	conn.SetDeadline(time.Now().Add(timeout))
	if err := tc.Handshake(); err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	return tc, bufio.NewReader(tc)
}
