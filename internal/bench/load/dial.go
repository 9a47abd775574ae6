package load

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"time"
)

// TLSMode says how a connection gets TLS.
type TLSMode int

const (
	TLSNone     TLSMode = iota
	TLSImplicit         // IMAPS/POP3S: TLS from the first byte
	TLSStart            // STARTTLS (IMAP) or STLS (POP3) after the greeting
)

// Target is where and how to connect.
type Target struct {
	Addr    string
	TLS     TLSMode
	TLSConf *tls.Config // verification settings; ServerName is filled from Addr if empty
	// Timeout bounds the connect and every command's complete response.
	Timeout time.Duration
	// NoResume disables TLS session resumption.
	NoResume bool
}

func (t Target) timeout() time.Duration {
	if t.Timeout > 0 {
		return t.Timeout
	}
	return 30 * time.Second
}

func (t Target) tlsConfig() *tls.Config {
	c := &tls.Config{}
	if t.TLSConf != nil {
		c = t.TLSConf.Clone()
	}
	if c.ServerName == "" && !c.InsecureSkipVerify {
		if host, _, err := net.SplitHostPort(t.Addr); err == nil {
			c.ServerName = host
		}
	}
	// Clients resume TLS sessions when the server lets them (RFC 8446
	// section 2.2); one cache for all simulated users stands for their
	// caches. NoResume turns it off: every connect a full handshake.
	if c.ClientSessionCache == nil && !t.NoResume {
		c.ClientSessionCache = tls.NewLRUClientSessionCache(4096)
	}
	return c
}

// dialTCP connects from local (may be nil) to t.Addr and, for implicit TLS,
// completes the handshake.
//
// A connect under way when the run ends is finished, not aborted: an
// abort would look like a server failure (the caller checks ctx before).
func dialTCP(ctx context.Context, t Target, tc *tls.Config, local net.Addr) (net.Conn, error) {
	ctx = context.WithoutCancel(ctx)
	d := net.Dialer{Timeout: t.timeout(), LocalAddr: local}
	c, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, &Error{Kind: KindConnect, Op: "connect", Detail: err.Error(), Err: err}
	}
	if t.TLS == TLSImplicit {
		return handshake(ctx, c, tc, t.timeout())
	}
	return c, nil
}

func handshake(ctx context.Context, c net.Conn, tc *tls.Config, timeout time.Duration) (net.Conn, error) {
	tlsc := tls.Client(c, tc)
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := tlsc.HandshakeContext(hctx); err != nil {
		c.Close()
		return nil, &Error{Kind: KindTLS, Op: "connect", Detail: err.Error(), Err: err}
	}
	return tlsc, nil
}

func isEOF(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed)
}

// conn is what the IMAP and POP3 clients share: the connection, its small
// read buffer, the worker that records the figures, and the per-command
// timeout.
type conn struct {
	c       net.Conn
	r       *bufio.Reader
	w       *Worker
	closed  bool
	timeout time.Duration
}

func newConn(w *Worker, nc net.Conn) conn {
	return conn{c: nc, r: bufio.NewReaderSize(nc, readBuf), w: w, timeout: w.eng.target.timeout()}
}

// Close drops the connection (without LOGOUT or QUIT); it may be called
// again.
func (c *conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	c.w.ConnClosed()
	return c.c.Close()
}

// startTLS runs the TLS handshake once the server has accepted STARTTLS or
// STLS; on failure the connection is closed.
func (c *conn) startTLS(ctx context.Context) error {
	tc, err := handshake(context.WithoutCancel(ctx), c.c, c.w.eng.tlsConf, c.timeout)
	if err != nil {
		return err
	}
	c.c = tc
	c.r = bufio.NewReaderSize(tc, readBuf)
	return nil
}

// dialTimed runs dial (connect, greeting, STARTTLS) and records its time
// as "connect"; a failure is recorded too, unless it is the end of the run
// (ctx done).
func dialTimed[T any](ctx context.Context, w *Worker, dial func(context.Context) (T, error)) (T, error) {
	start := time.Now()
	c, err := dial(ctx)
	if err != nil {
		if ctx.Err() == nil { // not our own end of the run
			w.Fail(AsError("connect", err))
		}
		return c, err
	}
	w.Record("connect", time.Since(start))
	w.ConnOpened()
	return c, nil
}
