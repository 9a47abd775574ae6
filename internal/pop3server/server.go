// Package pop3server is Roost's POP3 server (RFC 1939) with the CAPA,
// RESP-CODES, PIPELINING and UIDL/TOP extensions (RFC 2449), STLS (RFC 2595),
// SASL AUTH (RFC 5034) and the SYS/AUTH response codes (RFC 3206).
//
// The maildrop is the account's INBOX. A session snapshots it at login and
// numbers its messages 1..n in UID order; messages delivered later are not
// seen until the next login (RFC 1939 section 8).
//
// Implementation notes (rules every handler follows):
//   - One goroutine owns a session: it reads commands, runs them in order
//     and writes the answers. Nothing else touches session fields.
//   - Parse, then execute: ParseCommand turns a line into a *Command and
//     never touches storage; handlers (cmd_*.go) take a *Command.
//   - Output is buffered and flushed only when no more pipelined input is
//     buffered (RFC 2449 section 6.6), before blocking on a read, and when
//     a message body fills the buffer. Handlers never flush except STLS.
//   - No store call is made while holding anything that another session
//     waits on, except the maildrop lock, which is the point of it.
//   - Deletions happen only in the UPDATE state, reached only by QUIT in the
//     TRANSACTION state (RFC 1939 section 6). A dropped connection, a
//     timeout or a shutdown removes nothing.
//   - Store errors become response codes in exactly one place
//     (storeErrorReply in errors.go), auth errors in authErrorReply.
//   - Passwords and SASL payloads are never logged.
package pop3server

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/netserver"
)

// Authenticator is what the POP3 server needs from authentication.
// *auth.Service implements it.
type Authenticator interface {
	// PlaintextAllowed reports whether USER/PASS may be used on the
	// connection (disable_plaintext_auth and the secure-connection rule).
	PlaintextAllowed(ci auth.ConnInfo) bool
	// Mechanisms lists the SASL mechanisms offered on the connection, in
	// upper case.
	Mechanisms(ci auth.ConnInfo) []string
	// Login checks a user name and password.
	Login(ctx context.Context, ci auth.ConnInfo, user, password string) (auth.Principal, error)
	// NewSASL starts a server-side SASL exchange.
	NewSASL(ci auth.ConnInfo, mech string) (*auth.SASL, error)
}

var _ Authenticator = (*auth.Service)(nil)

// Defaults for the zero values of Options' limits.
const (
	// DefaultLoginTimeout: a client that has not logged in and sends nothing
	// for this long is dropped (Dovecot's login idle timeout is 60 s).
	DefaultLoginTimeout = 60 * time.Second
	// DefaultIdleTimeout: RFC 1939 section 3: "an inactivity autologout
	// timer MUST be of at least 10 minutes' duration".
	DefaultIdleTimeout = 10 * time.Minute
	// DefaultMaxLineLength: RFC 2449 section 4 limits commands to 255
	// octets including CRLF; SASL responses and long passwords need more.
	// Dovecot accepts 2048.
	DefaultMaxLineLength = 2048
	// DefaultMaxAuthFailures: the connection is closed after this many failed
	// authentication attempts.
	DefaultMaxAuthFailures = 3
	// DefaultMaxBadCommands: the connection is closed after this many
	// failed commands in a row (Dovecot: 10 before login, 20 after).
	DefaultMaxBadCommands = 10
	// DefaultMaxUserIPConnections is Dovecot's mail_max_userip_connections.
	DefaultMaxUserIPConnections = 10
)

// updateTimeout bounds the store work of the UPDATE state and of saving
// \Seen flags at disconnect, which run even when the server is shutting
// down so that a QUIT that was answered +OK was also carried out.
const updateTimeout = 30 * time.Second

// Options configure a Server. Zero values mean the documented defaults.
type Options struct {
	Store mailstore.Store
	Auth  Authenticator

	// Greeting is sent as "+OK <Greeting>" (login_greeting). Default
	// "Roost ready." — no version, and no APOP timestamp since APOP is not
	// offered.
	Greeting string

	// UIDL formats a message's unique-id listing (pop3_uidl_format). It must
	// be a pure function of its arguments so that UIDLs are stable forever,
	// and return 1 to 70 characters in 0x21..0x7E (RFC 1939 section 7);
	// other bytes are replaced by '_'. Default DefaultUIDL.
	UIDL func(uid mailstore.UID, uidValidity mailstore.UIDValidity) string

	// MaxUserIPConnections caps logged-in sessions of one user from one
	// remote IP on this Server (mail_max_userip_connections). Default 10;
	// negative means no limit.
	MaxUserIPConnections int

	// LoginTimeout is the idle timeout before login. Default
	// DefaultLoginTimeout.
	LoginTimeout time.Duration
	// IdleTimeout is the idle timeout after login, and the time a client may
	// take to read our output. Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxLineLength is the longest accepted input line without CRLF; a
	// longer one gets "-ERR Input line too long." and the connection is
	// closed. Default DefaultMaxLineLength.
	MaxLineLength int
	// MaxAuthFailures is the number of failed logins after which the
	// connection is closed. Default DefaultMaxAuthFailures.
	MaxAuthFailures int
	// MaxBadCommands is the number of failed commands in a row after which
	// the connection is closed. Default DefaultMaxBadCommands.
	MaxBadCommands int

	Logger *slog.Logger

	// Sessions, if set, is told about logged-in sessions (roost who,
	// roost kick).
	Sessions SessionRegistry
}

// DefaultUIDL is Dovecot's default pop3_uidl_format "%08Xu%08Xv": the UID and
// the UIDVALIDITY as eight hex digits each. Dovecot's X modifier prints lower
// case (checked against Debian's Dovecot 2.3: "000000016b07e9d3"), and UIDLs
// must match it byte for byte so clients don't fetch everything again after
// a migration.
func DefaultUIDL(uid mailstore.UID, uidValidity mailstore.UIDValidity) string {
	return fmt.Sprintf("%08x%08x", uint32(uid), uint32(uidValidity))
}

// Server serves POP3 sessions. It is safe for concurrent use; each
// connection is served by ServeConn on its own goroutine.
type Server struct {
	opts   Options
	logger *slog.Logger

	mu     sync.Mutex
	userIP map[userIPKey]int // logged-in sessions per user and remote IP
}

type userIPKey struct {
	user string
	ip   netip.Addr
}

// New returns a Server. opts.Store and opts.Auth are required.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Greeting == "" {
		opts.Greeting = "Roost ready."
	}
	// A greeting from configuration must stay one line.
	opts.Greeting = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, opts.Greeting)
	if opts.UIDL == nil {
		opts.UIDL = DefaultUIDL
	}
	if opts.MaxUserIPConnections == 0 {
		opts.MaxUserIPConnections = DefaultMaxUserIPConnections
	}
	if opts.LoginTimeout <= 0 {
		opts.LoginTimeout = DefaultLoginTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxLineLength <= 0 {
		opts.MaxLineLength = DefaultMaxLineLength
	}
	if opts.MaxAuthFailures <= 0 {
		opts.MaxAuthFailures = DefaultMaxAuthFailures
	}
	if opts.MaxBadCommands <= 0 {
		opts.MaxBadCommands = DefaultMaxBadCommands
	}
	return &Server{opts: opts, logger: opts.Logger, userIP: map[userIPKey]int{}}
}

// ServeConn runs one POP3 session on c until the client quits, the
// connection fails or times out, or ctx is cancelled (server shutdown: the
// client gets "-ERR [SYS/TEMP] Server shutting down." between commands).
// It does not close c; the caller does.
func (s *Server) ServeConn(ctx context.Context, c *netserver.Conn) {
	ctx, kick := context.WithCancelCause(ctx)
	defer kick(nil)
	sess := newSession(s, c)
	sess.kick = kick
	sess.serve(ctx)
}

var _ netserver.LoginHandler = (*Server)(nil)

// Refusal is the line netserver sends instead of the greeting when a
// connection is over a pre-login cap: a temporary condition (RFC 3206
// SYS/TEMP), so the client retries later.
func (s *Server) Refusal(text string) []byte { return []byte("-ERR [SYS/TEMP] " + text + "\r\n") }

// acquireUserIP counts a logged-in session of user from ip; it reports false
// when the limit is reached. Release with releaseUserIP.
func (s *Server) acquireUserIP(user string, ip netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := userIPKey{user, ip}
	if s.opts.MaxUserIPConnections > 0 && s.userIP[k] >= s.opts.MaxUserIPConnections {
		return false
	}
	s.userIP[k]++
	return true
}

func (s *Server) releaseUserIP(user string, ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := userIPKey{user, ip}
	if s.userIP[k]--; s.userIP[k] <= 0 {
		delete(s.userIP, k)
	}
}
