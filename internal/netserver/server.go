package netserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
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

// Listener describes one listening socket.
type Listener struct {
	Name        string // inet_listener name, for logs ("imaps")
	Protocol    string // "imap", "pop3", "lmtp"
	Network     string // "tcp" (default), "tcp4" or "tcp6"
	Address     string // host:port
	ImplicitTLS bool
	Handler     Handler
}

// Options configure a Server.
type Options struct {
	// TLSConfig is used for implicit TLS listeners and offered for
	// STARTTLS. nil disables both.
	TLSConfig *tls.Config
	Logger    *slog.Logger
	// MaxConnections caps concurrent connections over all listeners
	// (0: 10000). Connections over the cap are closed at once.
	MaxConnections int
}

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
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = 10000
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{opts: opts, logger: opts.Logger, ctx: ctx, cancel: cancel, conns: map[*Conn]struct{}{}}
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
		c := NewConn(nc, s.opts.TLSConfig, l.ImplicitTLS, s.logger)
		if !s.track(c) {
			c.logger.Warn("connection refused: too many connections", "limit", s.opts.MaxConnections)
			nc.Close()
			continue
		}
		go s.serveConn(c, l)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Server) track(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.conns) >= s.opts.MaxConnections {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) serveConn(c *Conn, l Listener) {
	defer s.wg.Done()
	defer func() {
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
