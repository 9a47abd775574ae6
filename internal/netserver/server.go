package netserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"
)

// Handler serves one connection. ctx is cancelled when the server shuts
// down; the handler should then say goodbye (IMAP BYE) and return. The
// server closes the connection after ServeConn returns.
type Handler interface {
	ServeConn(ctx context.Context, c *Conn)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, c *Conn)

// ServeConn calls f(ctx, c).
func (f HandlerFunc) ServeConn(ctx context.Context, c *Conn) { f(ctx, c) }

// LoginHandler is a Handler whose clients must log in (IMAP, POP3). Its
// connections count against the pre-login caps (Options.MaxPreauthPerIP,
// MaxPreauth) and the pre-login deadline (Options.PreauthTimeout) until the
// session calls Conn.Authenticated. LMTP's handler does not implement it:
// LMTP has no login.
type LoginHandler interface {
	Handler
	// Refusal returns the line (with CRLF) that tells a client, before any
	// greeting, that its connection is refused: text is the reason
	// ("Too many connections from your IP address."). IMAP answers
	// "* BYE text", POP3 "-ERR [SYS/TEMP] text".
	Refusal(text string) []byte
}

// Listener describes one listening socket.
type Listener struct {
	Name        string // inet_listener name, for logs ("imaps")
	Protocol    string // "imap", "pop3", "lmtp"
	Network     string // "tcp" (default), "tcp4", "tcp6" or "unix"
	Address     string // host:port, or the socket path for "unix"
	ImplicitTLS bool
	// HAProxy: every connection starts with a PROXY protocol header
	// (haproxy = yes); see proxy.go.
	HAProxy bool
	Handler Handler
}

// Options configure a Server.
type Options struct {
	// TLSConfig is used for implicit TLS listeners and offered for
	// STARTTLS. nil disables both.
	TLSConfig *tls.Config
	Logger    *slog.Logger
	// MaxConnections caps concurrent connections over all listeners.
	// Connections over the cap are closed at once. 0: derived from the
	// open-file limit, which New raises to its hard limit
	// (RaiseOpenFileLimit): three quarters of it, the rest kept for the
	// store's files; 49152 under the systemd unit's LimitNOFILE=65536.
	MaxConnections int
	// MaxPreauthPerIP caps connections of a LoginHandler that have not
	// logged in yet, per remote IPv4 address or IPv6 /64 (0:
	// DefaultMaxPreauthPerIP; negative: no cap). Roost's
	// login_max_preauth_per_ip.
	MaxPreauthPerIP int
	// MaxPreauth caps such connections in total (0: DefaultMaxPreauth;
	// negative: no cap). Roost's login_max_preauth.
	MaxPreauth int
	// PreauthTimeout is the longest a LoginHandler's connection may stay
	// without logging in, however it trickles bytes (0:
	// DefaultPreauthTimeout; negative: none). Roost's
	// login_preauth_timeout; see Conn.SetReadDeadline.
	PreauthTimeout time.Duration
	// HAProxyTrusted are the networks whose connections to a HAProxy
	// listener may send a PROXY header (haproxy_trusted_networks); other
	// peers are disconnected. HAProxyTimeout bounds the wait for the
	// header (haproxy_timeout; 0: DefaultHAProxyTimeout).
	HAProxyTrusted []netip.Prefix
	HAProxyTimeout time.Duration
}

// Defaults of the pre-login limits. Dovecot has no per-IP cap on
// connections that have not logged in (its mail_max_userip_connections
// counts logged-in sessions); these are Roost's.
const (
	// DefaultMaxPreauthPerIP: a real client opens a handful of
	// connections at once (Thunderbird up to 5 per account by default,
	// plus one per account for IDLE); 10 leaves room for a few accounts
	// or devices behind one address while stopping one host from filling
	// the server with half-open logins.
	DefaultMaxPreauthPerIP = 10
	// DefaultMaxPreauth bounds the goroutines, buffers and TLS handshakes
	// unauthenticated clients can hold all together.
	DefaultMaxPreauth = 1000
	// DefaultPreauthTimeout: Dovecot's login processes disconnect a client
	// that has not logged in within 3 minutes of connecting
	// (CLIENT_LOGIN_TIMEOUT_MSECS = MASTER_LOGIN_TIMEOUT_SECS 3*60),
	// however active it is. This also bounds a slowloris client that
	// sends a byte now and then.
	DefaultPreauthTimeout = 3 * time.Minute
	// refusalLogEvery rate-limits the log line for refused connections.
	refusalLogEvery = 10 * time.Second
)

// Server runs listeners. Create with New; the zero value is not usable.
type Server struct {
	opts   Options
	logger *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	listeners []net.Listener
	conns     map[*Conn]struct{}
	wg        sync.WaitGroup
	closed    bool

	preauth      int                  // LoginHandler connections not logged in
	preauthByKey map[netip.Prefix]int // the same, per IPv4 address / IPv6 /64
	refusedLog   time.Time            // when a refusal was last logged
	refusedQuiet int                  // refusals not logged since
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxConnections == 0 {
		nofile, err := RaiseOpenFileLimit()
		if err != nil {
			opts.Logger.Warn("open-file limit", "err", err)
		}
		opts.MaxConnections = connectionsFor(nofile)
		opts.Logger.Info("connection cap from the open-file limit", "max_connections", opts.MaxConnections, "open_files", nofile)
	}
	if opts.MaxPreauthPerIP == 0 {
		opts.MaxPreauthPerIP = DefaultMaxPreauthPerIP
	}
	if opts.MaxPreauth == 0 {
		opts.MaxPreauth = DefaultMaxPreauth
	}
	if opts.PreauthTimeout == 0 {
		opts.PreauthTimeout = DefaultPreauthTimeout
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{opts: opts, logger: opts.Logger, ctx: ctx, cancel: cancel,
		conns: map[*Conn]struct{}{}, preauthByKey: map[netip.Prefix]int{}}
}

// Listen opens the socket of l. It returns the net.Listener so callers can
// learn the bound address (port 0 in tests); Serve must be called with it.
func (s *Server) Listen(l Listener) (net.Listener, error) {
	if l.ImplicitTLS && s.opts.TLSConfig == nil {
		return nil, fmt.Errorf("listener %s: ssl = yes needs ssl_cert and ssl_key", l.Name)
	}
	network := l.Network
	if network == "" {
		network = "tcp"
	}
	if network == "unix" {
		if err := removeStaleSocket(l.Address); err != nil {
			return nil, fmt.Errorf("listener %s: %w", l.Name, err)
		}
	}
	ln, err := net.Listen(network, l.Address)
	if err != nil {
		return nil, fmt.Errorf("listener %s: %w", l.Name, err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil, errors.New("server closed")
	}
	s.listeners = append(s.listeners, ln)
	s.mu.Unlock()
	return ln, nil
}

// removeStaleSocket removes the Unix socket at path left by a server that
// did not shut down cleanly, and creates its directory (mode 0755) when
// missing. A socket some process still accepts on is an error; a file
// that is not a socket is left for net.Listen to refuse.
func removeStaleSocket(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	st, err := os.Lstat(path)
	if err != nil || st.Mode().Type() != os.ModeSocket {
		return nil
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return fmt.Errorf("%s: another process is listening on it", path)
	}
	return os.Remove(path)
}

// Serve accepts connections on ln until Shutdown. It returns nil after
// Shutdown.
func (s *Server) Serve(ln net.Listener, l Listener) error {
	s.logger.Info("listening", "listener", l.Name, "protocol", l.Protocol, "addr", ln.Addr().String(), "tls", l.ImplicitTLS)
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			if !errors.Is(err, net.ErrClosed) {
				// Temporary accept errors (EMFILE...): back off like net/http.
				if delay == 0 {
					delay = 5 * time.Millisecond
				} else if delay *= 2; delay > time.Second {
					delay = time.Second
				}
				s.logger.Warn("accept failed", "listener", l.Name, "err", err, "retry_in", delay)
				select {
				case <-time.After(delay):
				case <-s.ctx.Done():
					return nil
				}
				continue
			}
			return err
		}
		delay = 0
		if l.HAProxy {
			go s.acceptProxied(nc, l)
			continue
		}
		s.admit(NewConn(nc, s.opts.TLSConfig, l.ImplicitTLS, s.logger), l)
	}
}

// admit counts c against the caps and serves it, or refuses it.
func (s *Server) admit(c *Conn, l Listener) {
	lh, login := l.Handler.(LoginHandler)
	if reason := s.track(c, login); reason != "" {
		s.refuse(c, l, lh, reason)
		return
	}
	go s.serveConn(c, l)
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Reasons for refusing a connection, sent to the client.
const (
	refusedClosed  = "Server shutting down."
	refusedTotal   = "Too many connections, try again later."
	refusedPreauth = "Too many connections from your IP address."
)

// track registers c, or returns why it is refused. login connections
// count as not logged in until Conn.Authenticated or Close.
func (s *Server) track(c *Conn, login bool) (refused string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return refusedClosed
	case len(s.conns) >= s.opts.MaxConnections:
		return refusedTotal
	}
	if login {
		key := preauthKey(c.remote.Addr())
		if s.opts.MaxPreauth > 0 && s.preauth >= s.opts.MaxPreauth {
			return refusedTotal
		}
		if s.opts.MaxPreauthPerIP > 0 && s.preauthByKey[key] >= s.opts.MaxPreauthPerIP {
			return refusedPreauth
		}
		s.preauth++
		s.preauthByKey[key]++
		c.release = func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.preauth--
			if s.preauthByKey[key]--; s.preauthByKey[key] <= 0 {
				delete(s.preauthByKey, key)
			}
		}
		if s.opts.PreauthTimeout > 0 {
			c.preauthDeadline = time.Now().Add(s.opts.PreauthTimeout)
		}
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return ""
}

// preauthKey groups remote addresses for MaxPreauthPerIP: an IPv4 address,
// or an IPv6 /64 (one host usually has a whole /64).
func preauthKey(ip netip.Addr) netip.Prefix {
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// refuse closes a connection over a cap. A LoginHandler's plaintext client
// is told why first (IMAP BYE, POP3 -ERR [SYS/TEMP]); an implicit-TLS
// client is not, as that would cost a TLS handshake. The log gets one
// line per refusalLogEvery at most, with the number of refusals it stands
// for, so a flood cannot flood the log.
func (s *Server) refuse(c *Conn, l Listener, lh LoginHandler, reason string) {
	if lh != nil && !l.ImplicitTLS {
		// A fresh socket's send buffer is empty: this does not block; the
		// deadline is a guard only.
		c.raw.SetWriteDeadline(time.Now().Add(time.Second))
		c.raw.Write(lh.Refusal(reason))
	}
	c.raw.Close()
	s.mu.Lock()
	now := time.Now()
	log := now.Sub(s.refusedLog) >= refusalLogEvery
	n := s.refusedQuiet + 1
	if log {
		s.refusedLog, s.refusedQuiet = now, 0
	} else {
		s.refusedQuiet++
	}
	s.mu.Unlock()
	if log {
		c.logger.Warn("connection refused", "listener", l.Name, "reason", reason, "refused", n,
			"max_connections", s.opts.MaxConnections, "login_max_preauth", s.opts.MaxPreauth,
			"login_max_preauth_per_ip", s.opts.MaxPreauthPerIP)
	}
}

func (s *Server) serveConn(c *Conn, l Listener) {
	defer s.wg.Done()
	defer func() {
		c.releasePreauth()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	defer c.Close()
	defer func() {
		if r := recover(); r != nil {
			c.logger.Error("panic serving connection", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if !c.preauthDeadline.IsZero() {
		// Bounds the implicit TLS handshake too.
		c.raw.SetReadDeadline(c.preauthDeadline)
	}
	if err := c.Handshake(s.ctx); err != nil {
		c.logger.Info("tls handshake failed", "listener", l.Name, "err", err)
		return
	}
	l.Handler.ServeConn(s.ctx, c)
}

// Shutdown stops accepting, cancels every connection's context so sessions
// can say goodbye, and waits for them until ctx is done; then it closes the
// remaining connections and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for _, ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		<-done
		return ctx.Err()
	}
}
