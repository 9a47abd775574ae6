// Package netserver accepts connections for the protocol servers: it owns the
// listeners, implicit TLS and STARTTLS, connection ids, per-connection loggers
// and graceful shutdown. It knows nothing about IMAP or POP3.
package netserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"
)

// HandshakeTimeout bounds a TLS handshake, implicit or after STARTTLS, so a
// client that stops mid-handshake cannot hold a connection open.
const HandshakeTimeout = 30 * time.Second

// Conn is one client connection. It implements net.Conn; after StartTLS (or
// for an implicit-TLS listener, after Handshake) reads and writes go through
// TLS. A Conn is used by one goroutine, the session's, except Close, which
// may be called from any goroutine.
type Conn struct {
	mu        sync.Mutex
	nc        net.Conn // current connection: raw or *tls.Conn
	raw       net.Conn
	tlsConfig *tls.Config
	implicit  bool
	isTLS     bool
	id        string
	remote    netip.AddrPort
	local     netip.AddrPort
	unix      bool // a Unix socket: local, so secure
	// proxied: accepted on a HAProxy listener (proxy.go); proxyTLS: its
	// PROXY v2 header says the client spoke TLS to the balancer.
	proxied, proxyTLS bool
	logger            *slog.Logger
	// preauthDeadline (under mu) caps every read deadline until
	// Authenticated; zero: no cap.
	preauthDeadline time.Time
	// release (under mu) gives back the pre-login slot; nil once done.
	release func()
}

// NewConn wraps nc. tlsConfig may be nil (no TLS possible). With implicitTLS
// the caller must call Handshake before the first read or write.
func NewConn(nc net.Conn, tlsConfig *tls.Config, implicitTLS bool, logger *slog.Logger) *Conn {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	nc = withQuickAck(nc)
	c := &Conn{
		nc:        nc,
		raw:       nc,
		tlsConfig: tlsConfig,
		implicit:  implicitTLS,
		id:        newID(),
		remote:    addrPort(nc.RemoteAddr()),
		local:     addrPort(nc.LocalAddr()),
	}
	remote := c.remote.Addr().String()
	if _, ok := nc.LocalAddr().(*net.UnixAddr); ok {
		c.unix, remote = true, "unix"
	}
	c.logger = logger.With("cid", c.id, "remote", remote)
	return c
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}

var idEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return idEncoding.EncodeToString(b[:])
}

// Handshake performs the implicit TLS handshake of a TLS listener's
// connection. It does nothing for other connections.
func (c *Conn) Handshake(ctx context.Context) error {
	if !c.implicit || c.isTLS {
		return nil
	}
	return c.startTLS(ctx)
}

// StartTLS performs the server side of a TLS handshake on a plaintext
// connection (IMAP STARTTLS, POP3 STLS). The caller must discard any input it
// buffered before the call: bytes sent before the handshake must never be
// executed after it (CVE-2011-0411).
func (c *Conn) StartTLS(ctx context.Context) error {
	if !c.CanStartTLS() {
		return errors.New("starttls not available")
	}
	return c.startTLS(ctx)
}

func (c *Conn) startTLS(ctx context.Context) error {
	tc := tls.Server(c.raw, c.tlsConfig)
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		return err
	}
	c.mu.Lock()
	c.nc = tc
	c.isTLS = true
	c.mu.Unlock()
	return nil
}

func (c *Conn) cur() net.Conn {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nc
}

// ID returns the connection id used in logs.
func (c *Conn) ID() string { return c.id }

// Remote returns the client's address; the zero AddrPort on a Unix socket.
func (c *Conn) Remote() netip.AddrPort { return c.remote }

// Local returns the server address the client connected to.
func (c *Conn) Local() netip.AddrPort { return c.local }

// TLS reports whether the connection is encrypted.
func (c *Conn) TLS() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isTLS
}

// Secure reports whether the connection counts as secure for cleartext
// authentication: TLS, a Unix socket, or the remote IP equals the local IP (Dovecot's rule,
// DESIGN.md section 4). On a HAProxy listener only TLS counts: TLS to
// this server, or TLS to the balancer as its PROXY v2 header says; the
// address rule does not apply there, since the balancer's hop to this
// server crosses a network whatever the addresses say (Dovecot behaves
// the same; proxy.go).
func (c *Conn) Secure() bool {
	if c.TLS() || c.unix || c.proxyTLS {
		return true
	}
	if c.proxied {
		return false
	}
	return c.remote.Addr().IsValid() && c.remote.Addr() == c.local.Addr()
}

// CanStartTLS reports whether STARTTLS/STLS may be offered: a TLS config is
// present and the connection is not yet encrypted.
func (c *Conn) CanStartTLS() bool { return c.tlsConfig != nil && !c.TLS() }

// TLSState returns the TLS connection state, if encrypted.
func (c *Conn) TLSState() (tls.ConnectionState, bool) {
	if tc, ok := c.cur().(*tls.Conn); ok {
		return tc.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// Authenticated tells the server that the client has logged in: the
// connection no longer counts against the pre-login caps
// (login_max_preauth_per_ip, login_max_preauth) and the pre-login
// deadline no longer applies. The protocol servers call it on a successful
// login; calling it again does nothing.
func (c *Conn) Authenticated() {
	c.mu.Lock()
	c.preauthDeadline = time.Time{}
	c.mu.Unlock()
	c.releasePreauth()
}

func (c *Conn) releasePreauth() {
	c.mu.Lock()
	release := c.release
	c.release = nil
	c.mu.Unlock()
	if release != nil {
		release()
	}
}

// clamp limits a read deadline to the pre-login deadline.
func (c *Conn) clamp(t time.Time) time.Time {
	c.mu.Lock()
	dl := c.preauthDeadline
	c.mu.Unlock()
	if !dl.IsZero() && (t.IsZero() || t.After(dl)) {
		return dl
	}
	return t
}

// Logger returns a logger carrying the connection id and remote address.
func (c *Conn) Logger() *slog.Logger { return c.logger }

func (c *Conn) Read(p []byte) (int, error)  { return c.cur().Read(p) }
func (c *Conn) Write(p []byte) (int, error) { return c.cur().Write(p) }
func (c *Conn) Close() error                { return c.cur().Close() }
func (c *Conn) LocalAddr() net.Addr         { return c.raw.LocalAddr() }
func (c *Conn) RemoteAddr() net.Addr        { return c.raw.RemoteAddr() }

// SetDeadline sets the write deadline to t and the read deadline to t or
// the pre-login deadline, whichever comes first.
func (c *Conn) SetDeadline(t time.Time) error {
	nc := c.cur()
	if err := nc.SetWriteDeadline(t); err != nil {
		return err
	}
	return nc.SetReadDeadline(c.clamp(t))
}

// SetReadDeadline sets the read deadline to t or, before Authenticated on
// a connection of a LoginHandler, to the pre-login deadline if that comes
// first (Options.PreauthTimeout): a client trickling bytes cannot keep a
// connection without logging in, whatever deadlines the session sets.
// Writes are not capped, so the session can still say why it ends.
func (c *Conn) SetReadDeadline(t time.Time) error  { return c.cur().SetReadDeadline(c.clamp(t)) }
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.cur().SetWriteDeadline(t) }

var _ net.Conn = (*Conn)(nil)
