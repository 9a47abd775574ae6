package netserver

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// Zero-copy sending of file ranges (issue 8: message bodies straight from
// the blob store's files to the socket).
//
// On a connection without TLS the bytes of a stored message need not pass
// through user space: sendfile(2) moves them from the page cache to the
// socket. The protocol servers use it for large literals (IMAP FETCH
// BODY[]) and copy everything else. Under TLS a copy is inherent: the
// bytes must be encrypted in user space (kernel TLS, which could encrypt
// after sendfile, is not used), and a COMPRESS=DEFLATE stream must be
// compressed; the caller knows about COMPRESS, the Conn about TLS.

// ErrSendFileUnsupported is returned by SendFile when it cannot send on
// this connection: TLS, a connection whose socket is not reachable, a
// platform or file without sendfile(2). Nothing was written; the caller
// copies the bytes instead.
var ErrSendFileUnsupported = errors.New("sendfile not possible on this connection")

// socket returns the TCP or Unix socket under c.raw, or nil. Wrappers are
// looked through: the PROXY-header buffer (reads only), the quick-ACK
// wrapper (reads only), and any net.Conn with a NetConn method (as
// crypto/tls has), which must then pass writes through unchanged: a
// wrapper that transforms or accounts for what is written must not offer
// NetConn, or SendFile would bypass it.
func socket(nc net.Conn) net.Conn {
	for range 8 {
		switch x := nc.(type) {
		case *net.TCPConn, *net.UnixConn:
			return x
		case *bufferedConn:
			nc = x.Conn
		case interface{ NetConn() net.Conn }:
			nc = x.NetConn()
		default:
			return nil
		}
	}
	return nil
}

// CanSendFile reports whether SendFile can be tried: the platform has
// sendfile(2), the connection is not encrypted, and its socket is
// reachable. SendFile may still return ErrSendFileUnsupported (a file
// system without sendfile support), with nothing written.
func (c *Conn) CanSendFile() bool {
	return sendFileSupported && !c.TLS() && socket(c.raw) != nil
}

// SendFile writes the n bytes of f at offset off to the connection with
// sendfile(2), without copying them through user space, and returns how
// many it wrote. It does not use or move f's file offset, so f may be
// shared with positional readers.
//
// The caller must have flushed its own buffered output first, and must
// not write to the Conn from another goroutine meanwhile (the Conn's usual
// rule). With timeout > 0 every write must make progress within timeout:
// the write deadline is re-armed after each chunk the kernel accepts, so a
// slow client that keeps reading is not cut off mid-body while one that
// stops reading is, as with a sequence of Writes each under a fresh
// deadline. The deadline is left set after the call. timeout <= 0 keeps
// the deadline in force.
//
// Errors: ErrSendFileUnsupported with 0 written (the caller may copy
// instead); io.ErrUnexpectedEOF when f ends before off+n; otherwise the
// socket's error (os.ErrDeadlineExceeded on timeout). After an error with
// written > 0 the stream is cut inside whatever the bytes belonged to: the
// caller must close the connection.
func (c *Conn) SendFile(f *os.File, off, n int64, timeout time.Duration) (written int64, err error) {
	if n <= 0 {
		return 0, nil
	}
	if !sendFileSupported || c.TLS() {
		return 0, ErrSendFileUnsupported
	}
	sock := socket(c.raw)
	if sock == nil {
		return 0, ErrSendFileUnsupported
	}
	sc, ok := sock.(syscall.Conn)
	if !ok {
		return 0, ErrSendFileUnsupported
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("sendfile: %w", err)
	}
	arm := func() {}
	if timeout > 0 {
		arm = func() { sock.SetWriteDeadline(time.Now().Add(timeout)) }
	}
	written, err = sendFile(rc, f, off, n, arm)
	if err != nil && !errors.Is(err, ErrSendFileUnsupported) {
		err = fmt.Errorf("sendfile: %d of %d bytes sent: %w", written, n, err)
	}
	return written, err
}
