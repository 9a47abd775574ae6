package netserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/roost-mail/roost/internal/proxyproto"
)

// HAProxy listeners (haproxy = yes, Dovecot's setting). Every connection
// must start with a PROXY protocol header, v1 or v2 (internal/proxyproto),
// from a peer in Options.HAProxyTrusted, within Options.HAProxyTimeout;
// anything else is disconnected with a log line and no reply, as Dovecot
// does. The header is read in the connection's own goroutine, so a slow
// balancer never holds up Accept.
//
// After a PROXY header that names the client, the Conn's Remote and Local
// are the client's address and the address it connected to: the per-IP
// pre-login cap, the auth penalty, mail_max_userip_connections, roost who
// and every log line see the client, not the balancer (the log also
// carries the balancer as "proxy"). Secure counts only TLS there: TLS to
// this server, or a v2 SSL TLV with the PP2_CLIENT_SSL flag (the trusted
// balancer terminated TLS for the client); the same-address rule does
// not apply, neither to forwarded nor to real addresses, as in Dovecot
// (DESIGN.md, "Scaling out"). A v2 LOCAL header (the balancer's own
// health check) or a v1 UNKNOWN / v2 AF_UNSPEC header keeps the real
// peer address.

// DefaultHAProxyTimeout is Dovecot's haproxy_timeout default.
const DefaultHAProxyTimeout = 3 * time.Second

// Reason for closing a HAProxy listener's connection (logs only: nothing
// is sent to a peer that did not say who it speaks for).
const refusedUntrusted = "PROXY header from a network not in haproxy_trusted_networks"

// acceptProxied reads the PROXY header of nc, accepted on the HAProxy
// listener l, then admits the connection as Serve does others.
func (s *Server) acceptProxied(nc net.Conn, l Listener) {
	peer := addrPort(nc.RemoteAddr())
	if !s.trustedProxy(peer.Addr()) {
		// Rate-limited like the other refusals: an untrusted host may
		// connect in a loop.
		s.refuse(NewConn(nc, nil, false, s.logger), l, nil, refusedUntrusted)
		return
	}
	timeout := s.opts.HAProxyTimeout
	if timeout <= 0 {
		timeout = DefaultHAProxyTimeout
	}
	nc.SetReadDeadline(time.Now().Add(timeout))
	// Shutdown while the header is awaited closes the socket.
	stop := context.AfterFunc(s.ctx, func() { nc.Close() })
	br := bufio.NewReaderSize(nc, 512)
	h, err := proxyproto.Read(br)
	if !stop() || err != nil {
		if br.Buffered() == 0 && errors.Is(err, io.ErrUnexpectedEOF) {
			// Connected and closed without a byte: a balancer's TCP
			// health check (HAProxy "check" without check-send-proxy),
			// every few seconds; not worth a warning.
			s.logger.Debug("connection closed before a PROXY header", "listener", l.Name, "proxy", peer.Addr().String())
		} else {
			s.logger.Warn("connection closed: no valid PROXY header", "listener", l.Name,
				"proxy", peer.Addr().String(), "err", err)
		}
		nc.Close()
		return
	}
	nc.SetReadDeadline(time.Time{})
	if br.Buffered() > 0 {
		// The client's first bytes arrived with the header.
		nc = &bufferedConn{Conn: nc, r: br}
	}
	c := NewConn(nc, s.opts.TLSConfig, l.ImplicitTLS, s.logger)
	c.proxied = true
	if h.Forwarded() {
		c.remote, c.local = h.Source, h.Destination
		c.proxyTLS = h.TLS != nil && h.TLS.Client
		c.logger = s.logger.With("cid", c.id, "remote", c.remote.Addr().String(), "proxy", peer.Addr().String())
	} else {
		c.logger = c.logger.With("proxy_command", h.Command.String())
	}
	s.admit(c, l)
}

// trustedProxy reports whether ip is in haproxy_trusted_networks.
func (s *Server) trustedProxy(ip netip.Addr) bool {
	for _, p := range s.opts.HAProxyTrusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// bufferedConn is a net.Conn whose first reads come from the bufio.Reader
// that read the PROXY header and what the client sent with it.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader // nil once drained
}

func (b *bufferedConn) Read(p []byte) (int, error) {
	if b.r != nil {
		if b.r.Buffered() > 0 {
			return b.r.Read(p)
		}
		b.r = nil
	}
	return b.Conn.Read(p)
}
