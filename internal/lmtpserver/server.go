// Package lmtpserver is Roost's LMTP server (RFC 2033): the way an MTA such
// as Postfix hands mail to local accounts, with one reply per recipient
// after DATA. It wraps go-smtp in LMTP mode, one go-smtp server per
// connection, behind netserver's listeners.
//
// Implementation notes (rules the code follows):
//   - LMTP is never authenticated: anyone who can connect can deliver to any
//     account. Listeners belong on loopback or a trusted network (app warns
//     otherwise).
//   - RCPT resolves the address to an account (see Options.RecipientDelimiter
//     and resolve) and refuses unknown users at once (550 5.1.1); a failed
//     lookup is temporary (451 4.3.0). With SaveToDetailMailbox the detail
//     names the mailbox to save to.
//   - DATA spools the message once (memory, or a temporary file when large),
//     then saves it for each accepted recipient in RCPT order. A recipient's
//     250 is sent only after its copy is durable (delivery.Deliverer returns
//     only then), and go-smtp writes the replies in RCPT order as they come.
//   - Message bytes are kept as sent: go-smtp's data reader keeps CRLF and
//     only undoes dot-stuffing; bare LFs become CRLF in delivery.
//   - Like Dovecot's LMTP, each saved message gets Return-Path, Delivered-To
//     (only when the transaction has exactly one recipient) and Received
//     fields in front (see traceHeader).
//   - Delivery errors become reply codes in exactly one place (dataReply).
//   - On shutdown a session waiting for a command gets "421 4.3.2" and is
//     closed; a message being received or saved is finished first.
package lmtpserver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/roost-mail/roost/internal/delivery"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/netserver"
)

// Defaults for the zero values of Options.
const (
	// DefaultRecipientDelimiter is Dovecot's recipient_delimiter default.
	DefaultRecipientDelimiter = "+"
	// DefaultTimeout: a client that sends nothing for this long, or does not
	// read our replies, is dropped (Dovecot's LMTP server uses 5 minutes).
	DefaultTimeout = 5 * time.Minute
)

// maxLineLength bounds command and message lines. go-smtp's default (2000)
// refused real mail (unwrapped HTML, long header fields) with a temporary
// error, so the MTA retried it forever; Dovecot's LMTP accepts such
// lines, and RFC 5321's 1000-octet limit is not enforced by MTAs in
// practice (Postfix passes lines up to line_length_limit = 2048 and splits
// longer ones). go-smtp only counts line bytes, so the bound is about a
// runaway client, not memory per line.
const maxLineLength = 1 << 20

// memSpoolSize is the largest message kept in memory during DATA; larger
// ones are spooled to a temporary file, so concurrent large deliveries do
// not hold their whole size in memory.
const memSpoolSize = 1 << 20

// Deliverer saves one message for one user; *delivery.Deliverer implements
// it. It must return only once the message is durable.
type Deliverer interface {
	DeliverWithHeader(ctx context.Context, user, mailbox string, header []byte, r io.Reader) (delivery.Result, error)
}

var _ Deliverer = (*delivery.Deliverer)(nil)

// Options configure a Server. Zero values mean the documented defaults.
type Options struct {
	// Deliverer saves messages. Required.
	Deliverer Deliverer
	// Users maps RCPT addresses to accounts as login does (*auth.Service).
	// Required.
	Users delivery.Users
	// Hostname is used in the greeting and the Received field. Default:
	// os.Hostname().
	Hostname string
	// MaxMessageSize refuses larger messages with 552 5.3.4 and is
	// advertised as SIZE (quota_max_mail_size). 0: no limit.
	MaxMessageSize int64
	// RecipientDelimiter holds the characters that separate a local part
	// from its detail ("user+detail@domain"): the detail is ignored when
	// finding the account. Default DefaultRecipientDelimiter; "-" alone
	// is not special. Set to "none" to disable.
	RecipientDelimiter string
	// SaveToDetailMailbox saves a message for "user+Folder@domain" in the
	// user's mailbox "Folder" when it exists, else in INBOX (Dovecot's
	// lmtp_save_to_detail_mailbox; mailboxes are not created).
	SaveToDetailMailbox bool
	// QuotaFullTempfail answers a recipient over quota with 452 4.2.2
	// (retry later) instead of 552 5.2.2 (Dovecot's quota_full_tempfail).
	QuotaFullTempfail bool
	// RcptCheckQuota refuses a recipient already at or over a quota limit
	// at RCPT, before the message is sent (Dovecot's
	// lmtp_rcpt_check_quota); a message that does not fit is refused after
	// DATA either way. It needs Store.
	RcptCheckQuota bool
	// Store is where RcptCheckQuota reads usage and limits.
	Store mailstore.Store
	// Timeout is the idle and write timeout. Default DefaultTimeout.
	Timeout time.Duration
	// TempDir holds spool files of large messages. Default os.TempDir().
	TempDir string
	Logger  *slog.Logger
}

// Server serves LMTP sessions. It is safe for concurrent use; each
// connection is served by ServeConn on its own goroutine.
type Server struct {
	opts   Options
	logger *slog.Logger
}

// New returns a Server. opts.Deliverer and opts.Users are required.
func New(opts Options) *Server {
	if opts.Deliverer == nil || opts.Users == nil {
		panic("lmtpserver: Options.Deliverer and Options.Users are required")
	}
	if opts.RcptCheckQuota && opts.Store == nil {
		panic("lmtpserver: Options.RcptCheckQuota needs Options.Store")
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Hostname == "" {
		opts.Hostname, _ = os.Hostname()
		if opts.Hostname == "" {
			opts.Hostname = "localhost"
		}
	}
	switch opts.RecipientDelimiter {
	case "":
		opts.RecipientDelimiter = DefaultRecipientDelimiter
	case "none":
		opts.RecipientDelimiter = ""
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultTimeout
	}
	return &Server{opts: opts, logger: opts.Logger}
}

var _ netserver.Handler = (*Server)(nil)

// ServeConn runs one LMTP session on c until the client quits, the
// connection fails, or ctx is cancelled (then the client gets 421 once any
// transaction in progress is finished).
func (s *Server) ServeConn(ctx context.Context, c *netserver.Conn) {
	log := c.Logger().With("proto", "lmtp")
	lc := newConn(c, s.opts.Timeout, maxLineLength)
	ln := newOneConnListener(lc)

	ss := smtp.NewServer(smtp.BackendFunc(func(sc *smtp.Conn) (smtp.Session, error) {
		return &session{srv: s, conn: c, helo: sc.Hostname(), lc: lc, log: log}, nil
	}))
	ss.LMTP = true
	ss.Domain = s.opts.Hostname
	ss.MaxMessageBytes = s.opts.MaxMessageSize
	ss.ReadTimeout = s.opts.Timeout
	ss.WriteTimeout = s.opts.Timeout
	ss.EnableSMTPUTF8 = true
	ss.MaxLineLength = 0 // lc bounds lines (conn.go), faster than go-smtp
	ss.ErrorLog = slogAdapter{log}

	log.Debug("lmtp session started")
	served := make(chan struct{})
	go func() {
		defer close(served)
		ss.Serve(ln) // returns once ln is closed
	}()
	select {
	case <-lc.closed:
	case <-ctx.Done():
		lc.stop()
		<-lc.closed
	}
	// Shutdown closes ln and waits for go-smtp's connection goroutine.
	ss.Shutdown(context.Background())
	<-served
	log.Debug("lmtp session ended")
}

// slogAdapter lets go-smtp report its internal errors (panics, I/O errors)
// through our logger.
type slogAdapter struct{ log *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) { a.log.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Println(v ...any)               { a.log.Warn(fmt.Sprint(v...)) }
