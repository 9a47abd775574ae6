// Package imapserver is Roost's IMAP server: IMAP4rev2 (RFC 9051) and
// IMAP4rev1 (RFC 3501) with the extensions listed in capability.go.
//
// Implementation notes (rules every handler follows):
//   - One goroutine owns a session: it reads commands, runs them in order and
//     writes the answers. Nothing else touches session fields.
//   - Parse, then execute: imap.ReadCommand turns bytes into a typed
//     *imap.Command and never touches storage; handlers (cmd_*.go) take the
//     typed command and never see bytes or the decoder.
//   - The command table (commands.go) is data: allowed states, flags and the
//     capabilities a command implements. The dispatcher enforces the states;
//     handlers never re-check them. A capability is advertised only when a
//     registered command implements it.
//   - All output goes through s.enc. Handlers never flush, except where the
//     protocol needs the client to see something before we read again
//     (continuations, STARTTLS, IDLE). The loop flushes once no more
//     pipelined input is buffered.
//   - Before every tagged reply in the selected state the loop calls
//     syncPending; after a command that uses sequence numbers (flagUsesSeqs)
//     it withholds EXPUNGE (RFC 9051 7.5.1).
//   - Errors are values: a handler returns a *statusError (statusNO,
//     statusBAD, okText), a mailstore error (mapped to a response code in
//     errors.go, the only place that does so), or a fatal error that ends the
//     session (errLogout, fatal(err)).
//   - No store transaction is held while writing: every mailstore call
//     returns without locks.
//   - Code that runs before authentication cannot reach the store: s.acct is
//     set only by login with the principal authentication returned.
//   - Passwords and SASL payloads are never logged.
package imapserver

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/netserver"
)

// Authenticator is what the IMAP server needs from authentication.
// *auth.Service implements it.
type Authenticator interface {
	// PlaintextAllowed reports whether LOGIN and plaintext SASL mechanisms
	// may be used on the connection (disable_plaintext_auth and the
	// secure-connection rule).
	PlaintextAllowed(ci auth.ConnInfo) bool
	// Mechanisms lists the SASL mechanisms offered on the connection, in
	// upper case.
	Mechanisms(ci auth.ConnInfo) []string
	// Login checks a user name and password (IMAP LOGIN).
	Login(ctx context.Context, ci auth.ConnInfo, user, password string) (auth.Principal, error)
	// NewSASL starts a server-side SASL exchange (AUTHENTICATE).
	NewSASL(ci auth.ConnInfo, mech string) (*auth.SASL, error)
}

var _ Authenticator = (*auth.Service)(nil)

// Defaults for the zero values of Options' timeouts and limits.
const (
	// DefaultLoginTimeout: a client that has not logged in and sends
	// nothing for this long is dropped. Dovecot's imap-login drops idle
	// unauthenticated clients after 60 s (AUTH_CLIENT_TIMEOUT / login
	// idle timeout).
	DefaultLoginTimeout = 60 * time.Second
	// DefaultIdleTimeout: RFC 9051 5.4: "an inactivity autologout timer
	// MUST be of at least 30 minutes' duration"; one more minute for clocks
	// and for clients that re-IDLE exactly every 30 minutes.
	DefaultIdleTimeout = 31 * time.Minute
	// DefaultMaxLine is the longest command line (without literals) we
	// accept. RFC 7162 3.1.7 recommends at least 8192 octets.
	DefaultMaxLine = 64 * 1024
	// DefaultPreAuthMaxLine: before login only short lines make sense
	// (LOGIN, AUTHENTICATE with an initial response). Dovecot's
	// imap-login has a similar small input buffer (LOGIN_MAX_INBUF_SIZE).
	DefaultPreAuthMaxLine = 8 * 1024
	// DefaultPreAuthMaxLiteral: before login literals are only useful for
	// LOGIN's user name and password; go-imap caps buffered literals at
	// 4096 bytes.
	DefaultPreAuthMaxLiteral = 4 * 1024
	// DefaultMaxLiteral caps literals of commands other than APPEND after
	// login (search strings, mailbox names): they are held in memory.
	DefaultMaxLiteral = 64 * 1024
	// DefaultMaxAuthFailures: the connection is closed after this many
	// failed authentication attempts (Dovecot closes after 3 by default,
	// login_max_auth_failures... it counts "auth attempts").
	DefaultMaxAuthFailures = 3
	// DefaultPreAuthMaxBadCommands: before login, this many unknown or
	// malformed commands get "* BYE" and the connection is closed: a
	// client speaking another protocol (an HTTP request sent to port 143
	// by a cross-protocol attack) does not get to send much. Dovecot's
	// imap-login uses 3 (CLIENT_MAX_BAD_COMMANDS).
	DefaultPreAuthMaxBadCommands = 3
	// DefaultMaxBadCommands: after login, this many BAD replies in a row
	// close the connection (Dovecot's imap: CLIENT_MAX_BAD_COMMANDS 20).
	DefaultMaxBadCommands = 20
	// DefaultMaxMailboxes caps the mailboxes of one account (CREATE
	// answers NO [LIMIT] beyond it). Dovecot's quota_mailbox_count is
	// unlimited by default; Roost's is not, so that no client can fill the
	// store (and every LIST) with mailboxes. Real accounts have tens to a
	// few thousand.
	DefaultMaxMailboxes = 10000
	// DefaultQuotaRoot is the quota root name Dovecot's example
	// configuration uses ("quota = maildir:User quota"); some clients
	// (Apple Mail) show no quota for an empty name.
	DefaultQuotaRoot = "User quota"
	// DefaultMaxUserIPConnections is Dovecot's mail_max_userip_connections.
	DefaultMaxUserIPConnections = 10
	// writeBufSize is the output buffer per connection.
	writeBufSize = 32 * 1024
)

// Options configure a Server. Zero values mean the documented defaults.
type Options struct {
	Store  mailstore.Store
	Auth   Authenticator
	Logger *slog.Logger

	// Greeting is sent as "* OK [CAPABILITY ...] <Greeting>"
	// (login_greeting). Default "Roost ready." (no version).
	Greeting string
	// MaxUserIPConnections caps logged-in sessions of one user from one
	// remote IP on this Server (mail_max_userip_connections). Default 10;
	// negative means no limit.
	MaxUserIPConnections int
	// Compress offers COMPRESS=DEFLATE (RFC 4978) after login. The zero
	// value leaves it out (library users and tests opt in); roost serve
	// (internal/app) turns it on. See docs/imap-session.md.
	Compress bool

	// AppendLimit is the largest message APPEND accepts, advertised as
	// APPENDLIMIT=n (RFC 7889). 0: no limit of our own (the store may still
	// refuse with KindTooBig; APPENDLIMIT is then advertised without a
	// value).
	AppendLimit int64
	// MaxMailboxes caps the mailboxes of one account: a CREATE that would
	// exceed it (counting the parents it creates) is NO [LIMIT]. Default
	// DefaultMaxMailboxes; negative means no limit.
	MaxMailboxes int
	// QuotaRoot is the name of each account's quota root in the QUOTA
	// extension (RFC 9208). Default DefaultQuotaRoot.
	QuotaRoot string
	// TempDir is where APPEND literals are spooled. "" means os.TempDir().
	TempDir string
	// Sessions, if set, is told about logged-in sessions (roost who,
	// roost kick).
	Sessions SessionRegistry

	// LoginTimeout is the idle timeout before login. Default
	// DefaultLoginTimeout.
	LoginTimeout time.Duration
	// IdleTimeout is the idle timeout after login (also during IDLE), and
	// the time a client may take to read our output. Default
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// MaxLine is the longest command line after login. Default
	// DefaultMaxLine. Before login DefaultPreAuthMaxLine applies (or
	// MaxLine if smaller).
	MaxLine int
	// MaxLiteral caps literals after login except APPEND's message
	// literals (see AppendLimit). Default DefaultMaxLiteral.
	MaxLiteral int64
	// PreAuthMaxLiteral caps literals before login. Default
	// DefaultPreAuthMaxLiteral.
	PreAuthMaxLiteral int64
	// MaxAuthFailures is the number of failed logins after which the
	// connection is closed. Default DefaultMaxAuthFailures.
	MaxAuthFailures int
	// PreAuthMaxBadCommands is the number of bad commands before login
	// after which the connection is closed. Default
	// DefaultPreAuthMaxBadCommands.
	PreAuthMaxBadCommands int
	// MaxBadCommands is the number of BAD replies in a row after login
	// after which the connection is closed. Default DefaultMaxBadCommands.
	MaxBadCommands int
}

// Server serves IMAP sessions. It is safe for concurrent use; each
// connection is served by ServeConn on its own goroutine.
type Server struct {
	opts   Options
	logger *slog.Logger

	// caps are the capabilities the registered commands implement
	// (capability.go), fixed at New.
	caps map[string]bool
	// recent hands out \Recent to one session per message (selected.go).
	recent recentTracker
	// idle wakes sessions in IDLE (idlehub.go).
	idle idleHub
	// flagIdx shares one flag index per mailbox among the sessions that
	// read all its flags (flagindex.go).
	flagIdx flagIndexes

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
	// A greeting from configuration must stay one line of TEXT-CHARs.
	opts.Greeting = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, opts.Greeting)
	if opts.MaxUserIPConnections == 0 {
		opts.MaxUserIPConnections = DefaultMaxUserIPConnections
	}
	if opts.QuotaRoot == "" {
		opts.QuotaRoot = DefaultQuotaRoot
	}
	if opts.MaxMailboxes == 0 {
		opts.MaxMailboxes = DefaultMaxMailboxes
	}
	if opts.LoginTimeout <= 0 {
		opts.LoginTimeout = DefaultLoginTimeout
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = DefaultIdleTimeout
	}
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	if opts.MaxLiteral <= 0 {
		opts.MaxLiteral = DefaultMaxLiteral
	}
	if opts.PreAuthMaxLiteral <= 0 {
		opts.PreAuthMaxLiteral = DefaultPreAuthMaxLiteral
	}
	if opts.MaxAuthFailures <= 0 {
		opts.MaxAuthFailures = DefaultMaxAuthFailures
	}
	if opts.PreAuthMaxBadCommands <= 0 {
		opts.PreAuthMaxBadCommands = DefaultPreAuthMaxBadCommands
	}
	if opts.MaxBadCommands <= 0 {
		opts.MaxBadCommands = DefaultMaxBadCommands
	}
	if opts.AppendLimit < 0 {
		opts.AppendLimit = 0
	}
	caps := implementedCaps()
	if !opts.Compress {
		delete(caps, "COMPRESS=DEFLATE")
	}
	return &Server{opts: opts, logger: opts.Logger, caps: caps, userIP: map[userIPKey]int{}}
}

// ServeConn runs one IMAP session on c until the client logs out, the
// connection fails or times out, or ctx is cancelled (server shutdown: the
// client gets "* BYE Server shutting down."). It does not close c; the
// caller does.
func (s *Server) ServeConn(ctx context.Context, c *netserver.Conn) {
	ctx, kick := context.WithCancelCause(ctx)
	defer kick(nil)
	sess := newSession(s, c)
	sess.kick = kick
	sess.serve(ctx)
}

var _ netserver.LoginHandler = (*Server)(nil)

// Refusal is the line netserver sends instead of the greeting when a
// connection is over a pre-login cap (RFC 9051 7.1.5: BYE as greeting).
func (s *Server) Refusal(text string) []byte { return []byte("* BYE " + text + "\r\n") }

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
