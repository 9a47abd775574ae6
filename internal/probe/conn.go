package probe

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxLine bounds one response line (and one literal) read from a server:
// the probe talks to strangers and must not buffer without limit.
const maxLine = 64 * 1024

// conn is one client connection. Every read and write sets a deadline of
// timeout from now, so each protocol step (not the whole session) is bounded.
type conn struct {
	nc      net.Conn
	r       *bufio.Reader
	timeout time.Duration
	tls     *tls.ConnectionState
}

// dialError classifies a failed dial for the report: "closed" (refused),
// "filtered (timeout)", or the error text.
func dialError(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return StateClosed
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return StateFiltered
	}
	return ""
}

// dial connects to addr (host:port) from source (an IP, or "" for any).
func dial(ctx context.Context, addr, source string, timeout time.Duration) (*conn, error) {
	d := net.Dialer{Timeout: timeout}
	if source != "" {
		ip := net.ParseIP(source)
		if ip == nil {
			return nil, fmt.Errorf("source address %q is not an IP address", source)
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &conn{nc: nc, r: bufio.NewReaderSize(nc, 4096), timeout: timeout}, nil
}

// startTLS runs a TLS client handshake on the connection with cfg. Any data
// buffered before the handshake would be a STARTTLS injection (CVE-2011-0411
// style); it is reported as an error.
func (c *conn) startTLS(cfg *tls.Config) error {
	if c.r.Buffered() > 0 {
		return fmt.Errorf("server sent %d bytes after the STARTTLS reply, before TLS (response injection)", c.r.Buffered())
	}
	tc := tls.Client(c.nc, cfg)
	_ = tc.SetDeadline(time.Now().Add(c.timeout))
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	st := tc.ConnectionState()
	c.nc, c.r, c.tls = tc, bufio.NewReaderSize(tc, 4096), &st
	return nil
}

func (c *conn) close() { _ = c.nc.Close() }

// writeLine sends line plus CRLF.
func (c *conn) writeLine(line string) error {
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.nc.Write([]byte(line + "\r\n"))
	return err
}

// readLine reads one line without its CRLF (or LF).
func (c *conn) readLine() (string, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout))
	var b []byte
	for {
		chunk, isPrefix, err := c.r.ReadLine()
		if err != nil {
			return "", err
		}
		b = append(b, chunk...)
		if len(b) > maxLine {
			return "", fmt.Errorf("response line longer than %d bytes", maxLine)
		}
		if !isPrefix {
			return string(b), nil
		}
	}
}

// readIMAP reads one logical IMAP response: a line, and when it ends in a
// literal announcement {n}, the n bytes and the rest of the line, kept
// verbatim (the tokenizer reads the literal from the text).
func (c *conn) readIMAP() (string, error) {
	var sb strings.Builder
	for {
		line, err := c.readLine()
		if err != nil {
			return "", err
		}
		sb.WriteString(line)
		n, ok := literalSize(line)
		if !ok {
			return sb.String(), nil
		}
		if n > maxLine {
			return "", fmt.Errorf("literal of %d bytes is too big for a probe", n)
		}
		buf := make([]byte, n)
		_ = c.nc.SetReadDeadline(time.Now().Add(c.timeout))
		if _, err := ioReadFull(c.r, buf); err != nil {
			return "", err
		}
		sb.WriteString("\r\n")
		sb.Write(buf)
	}
}

// literalSize reports whether line ends with {n} (or {n+}) and n.
func literalSize(line string) (int, bool) {
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(line[i+1:len(line)-1], "+"))
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
