package pop3server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/netserver"
)

// state is a POP3 session state (RFC 1939 section 3). UPDATE is not a state
// the dispatcher ever sees: QUIT runs it and ends the session.
type state uint8

const (
	stateAuthorization state = 1 << iota
	stateTransaction
)

const stateAny = stateAuthorization | stateTransaction

// writeBufSize is the output buffer: large enough that a RETR streams in
// big writes, small enough to not matter per connection.
const writeBufSize = 32 * 1024

// Errors that end the command loop.
var (
	errLineTooLong = errors.New("input line too long")
	errShutdown    = errors.New("server shutting down")
	errClose       = errors.New("session ends")
)

// session is one POP3 connection. It is owned by the goroutine running serve.
type session struct {
	srv    *Server
	conn   *netserver.Conn
	logger *slog.Logger
	r      *bufio.Reader
	w      *bufio.Writer

	state     state
	cmdFailed bool // the current command answered -ERR
	badCount  int  // failed commands in a row
	authFails int
	userName  string // from USER, waiting for PASS

	// TRANSACTION state, set by login.
	user       string
	userIPHeld bool
	acct       mailstore.Account
	release    func()
	mbox       mailstore.Mailbox
	msgs       []message
	quit       bool // QUIT ran the UPDATE state
	stats      stats
	start      time.Time

	// kick cancels the session's context (cause errKicked); regDone comes
	// from Options.Sessions (sessions.go).
	kick    context.CancelCauseFunc
	regDone func()
}

// message is one entry of the maildrop snapshot taken at login.
type message struct {
	uid       mailstore.UID
	size      int64
	seen      bool // has \Seen in the store (at login)
	deleted   bool // marked by DELE in this session
	retrieved bool // sent whole by RETR in this session
}

// stats are logged at logout (Dovecot's pop3_logout_format).
type stats struct {
	retr, top, deleted           int
	retrBytes, topBytes, delSize int64
}

func newSession(srv *Server, c *netserver.Conn) *session {
	s := &session{
		srv:  srv,
		conn: c,
		// Options.Logger (the app tags it with the protocol) plus the
		// connection's id and address, as netserver's own logger has them.
		logger: srv.logger.With("cid", c.ID(), "remote", c.Remote().Addr().String()),
		state:  stateAuthorization,
		start:  time.Now(),
	}
	s.r = bufio.NewReaderSize(c, max(4096, srv.opts.MaxLineLength+2))
	s.w = bufio.NewWriterSize(deadlineWriter{s}, writeBufSize)
	return s
}

// serve runs the session. It never closes the connection.
func (s *session) serve(ctx context.Context) {
	defer s.cleanup()
	defer func() {
		if r := recover(); r != nil {
			s.logger.Error("panic in pop3 session", "panic", r, "stack", string(debug.Stack()))
		}
	}()
	// Shutdown interrupts a blocked read; readLine then sees ctx.Err().
	stop := context.AfterFunc(ctx, func() { s.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	s.ok(s.srv.opts.Greeting)
	for {
		if s.r.Buffered() == 0 {
			if err := s.w.Flush(); err != nil {
				s.logger.Debug("pop3 write failed", "err", err)
				return
			}
		}
		line, err := s.readLine(ctx)
		if err != nil {
			s.readFailed(err)
			return
		}
		if err := s.execute(ctx, line); err != nil {
			if errors.Is(err, errClose) {
				// Release the maildrop before the last reply goes out, so
				// a client that reconnects at once after QUIT's +OK
				// finds it unlocked.
				s.cleanup()
				s.w.Flush()
			} else {
				s.readFailed(err) // a read inside AUTH, or a failed write
			}
			return
		}
	}
}

// readFailed reacts to a failed read: the end of the session.
func (s *session) readFailed(err error) {
	switch {
	case errors.Is(err, errLineTooLong):
		s.errf("Input line too long.")
		s.w.Flush()
		s.logger.Info("pop3 disconnected: input line too long")
	case errors.Is(err, errKicked):
		s.errf("Kicked by administrator")
		s.w.Flush()
		s.logger.Info("pop3 disconnected: kicked by administrator", "user", s.user)
	case errors.Is(err, errShutdown):
		s.errf("[SYS/TEMP] Server shutting down.")
		s.w.Flush()
	case errors.Is(err, os.ErrDeadlineExceeded):
		// RFC 1939 section 3: when the autologout timer expires the server
		// closes the connection "without removing any messages or sending
		// any response to the client".
		s.logger.Info("pop3 disconnected for inactivity", "user", s.user)
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	default:
		s.logger.Debug("pop3 read failed", "err", err)
	}
}

// timeout is the idle timeout of the current state.
func (s *session) timeout() time.Duration {
	if s.state == stateTransaction {
		return s.srv.opts.IdleTimeout
	}
	return s.srv.opts.LoginTimeout
}

// readLine reads one line without its line break (CRLF; a bare LF is
// accepted). It returns errLineTooLong for a line over the limit and
// errShutdown once ctx is cancelled.
func (s *session) readLine(ctx context.Context) ([]byte, error) {
	s.conn.SetReadDeadline(time.Now().Add(s.timeout()))
	if ctx.Err() != nil {
		return nil, endErr(ctx)
	}
	line, err := s.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return nil, errLineTooLong
	}
	if err != nil {
		if ctx.Err() != nil {
			return nil, endErr(ctx)
		}
		return nil, err
	}
	line = bytes.TrimSuffix(line[:len(line)-1], []byte{'\r'})
	if len(line) > s.srv.opts.MaxLineLength {
		return nil, errLineTooLong
	}
	return line, nil
}

// execute parses and runs one command line. A non-nil error ends the
// session (errClose: after flushing what was written).
func (s *session) execute(ctx context.Context, line []byte) error {
	s.cmdFailed = false
	syntaxErr := false // unknown command or bad arguments
	cmd, err := ParseCommand(line)
	var pe *ParseError
	switch {
	case errors.As(err, &pe):
		s.errf("%s", pe.Msg)
		if pe.Auth {
			if err := s.authFailed(); err != nil {
				return err
			}
			break
		}
		syntaxErr = true
	case err != nil:
		return err
	default:
		entry, ok := commands[cmd.Verb]
		if !ok || entry.states&s.state == 0 {
			// Dovecot answers a command of the other state as unknown.
			s.errf("Unknown command: %s", cmd.Verb)
			syntaxErr = true
			break
		}
		if err := entry.run(s, ctx, cmd); err != nil {
			return err
		}
	}
	if !s.cmdFailed {
		s.badCount = 0
		return nil
	}
	// Before login only syntax errors count; failed logins have their own
	// limit (authFailed). After login every -ERR counts, as in Dovecot.
	if s.state == stateAuthorization && !syntaxErr {
		return nil
	}
	if s.badCount++; s.badCount >= s.srv.opts.MaxBadCommands {
		s.errf("Too many bad commands.")
		s.logger.Info("pop3 disconnected: too many bad commands", "user", s.user)
		return errClose
	}
	return nil
}

// ok writes a "+OK" line; text may be empty.
func (s *session) ok(text string) {
	if text == "" {
		s.w.WriteString("+OK\r\n")
		return
	}
	s.w.WriteString("+OK ")
	s.w.WriteString(text)
	s.w.WriteString("\r\n")
}

// errf writes a "-ERR" line and marks the command as failed.
func (s *session) errf(format string, args ...any) {
	s.cmdFailed = true
	s.w.WriteString("-ERR ")
	fmt.Fprintf(s.w, format, args...)
	s.w.WriteString("\r\n")
}

// line writes one line of a multi-line response. Callers make sure it
// cannot start with '.'.
func (s *session) line(text string) {
	s.w.WriteString(text)
	s.w.WriteString("\r\n")
}

// end writes the terminator of a multi-line response.
func (s *session) end() { s.w.WriteString(".\r\n") }

// connInfo describes the connection to the authenticator.
func (s *session) connInfo() auth.ConnInfo {
	return auth.ConnInfo{
		Protocol:  "pop3",
		Remote:    s.conn.Remote(),
		Local:     s.conn.Local(),
		TLS:       s.conn.TLS(),
		Secure:    s.conn.Secure(),
		SessionID: s.conn.ID(),
	}
}

// cleanup releases what login took. Without QUIT nothing is deleted; \Seen
// flags for retrieved messages are still saved, as Dovecot does.
func (s *session) cleanup() {
	if s.acct == nil {
		return
	}
	reason := "disconnected"
	if s.quit {
		reason = "logged out"
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), updateTimeout)
		if err := s.saveSeen(ctx, false); err != nil {
			s.logger.Warn("pop3 saving \\Seen flags failed", "user", s.user, "err", err)
		}
		cancel()
	}
	s.release()
	if err := s.acct.Close(); err != nil {
		s.logger.Warn("pop3 closing account failed", "user", s.user, "err", err)
	}
	if s.userIPHeld {
		s.srv.releaseUserIP(s.user, s.conn.Remote().Addr())
	}
	s.unregister()
	deleted := 0
	if s.quit {
		deleted = s.stats.deleted
	}
	s.logger.Info("pop3 logout", "user", s.user, "reason", reason,
		"top", s.stats.top, "top_bytes", s.stats.topBytes,
		"retr", s.stats.retr, "retr_bytes", s.stats.retrBytes,
		"deleted", deleted, "messages", len(s.msgs),
		"duration", time.Since(s.start).Round(time.Millisecond))
	s.acct, s.release = nil, nil
}

// deadlineWriter gives every write to the connection a deadline, so a
// client that stops reading our output is dropped after the idle timeout.
type deadlineWriter struct{ s *session }

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.s.conn.SetWriteDeadline(time.Now().Add(d.s.timeout()))
	return d.s.conn.Write(p)
}
