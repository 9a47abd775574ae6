package imapserver

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/auth"
	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/imapwire"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/netserver"
)

// session is one IMAP connection. It is owned by the goroutine running
// serve; nothing else touches its fields.
type session struct {
	srv  *Server
	conn *netserver.Conn
	log  *slog.Logger

	// br reads from src (the connection) and bw writes to the connection;
	// both give their buffers back while the session waits for its client
	// (iobuf.go).
	br     *bufio.Reader
	bw     *bufio.Writer
	src    connReader
	parked bool // br and bw lent their buffers back (iobuf.go)
	dec    *imapwire.Decoder
	// enc carries all output. The loop flushes it once per command when no
	// more pipelined input is buffered; IDLE and continuations flush
	// themselves.
	enc *imapwire.Encoder

	state state
	user  string            // after login
	acct  mailstore.Account // after login; closed by cleanup
	// enabled holds the ENABLEd capabilities (RFC 5161), upper case:
	// "IMAP4REV2", "UTF8=ACCEPT".
	enabled map[string]bool
	// rev2 is set once IMAP4rev2 is enabled: no \Recent, ESEARCH for
	// every SEARCH, UTF-8 mailbox names (RFC 9051 appendix E).
	rev2 bool
	// sel is the selected mailbox's view; non-nil exactly in stateSelected.
	sel *selected
	// notify is the NOTIFY SET in force (notify.go); nil without one.
	notify *notifyState
	// deflate is set once COMPRESS DEFLATE is active: br then reads
	// inflated input and bw writes through a deflateWriter
	// (cmd_compress.go).
	deflate bool

	authFails  int    // failed LOGIN/AUTHENTICATE attempts
	badCount   int    // BAD replies: in total before login, in a row after
	userIPHeld bool   // counted in srv.userIP
	byeAfter   string // set by a handler: after the tagged reply send "* BYE byeAfter" and close
	abort      string // set while reading a command: stop reading, send "* BYE abort" and close
	start      time.Time

	// kick cancels the session's context (cause errKicked); regMailbox and
	// regDone come from Options.Sessions (sessions.go).
	kick       context.CancelCauseFunc
	regMailbox func(string)
	regDone    func()
}

func newSession(srv *Server, c *netserver.Conn) *session {
	s := &session{
		srv:  srv,
		conn: c,
		// Options.Logger (the app tags it with the protocol) plus the
		// connection's id and address.
		log:     srv.logger.With("cid", c.ID(), "remote", c.Remote().Addr().String()),
		state:   stateNotAuthenticated,
		enabled: map[string]bool{},
		start:   time.Now(),
	}
	s.src.conn = c
	// From the pools of parked buffers (iobuf.go); serve gives them back.
	s.br = readBufPool.Get().(*bufio.Reader)
	s.br.Reset(&s.src)
	s.bw = writeBufPool.Get().(*bufio.Writer)
	s.bw.Reset(deadlineWriter{s})
	s.enc = imapwire.NewEncoder(s.bw)
	s.newDecoder()
	return s
}

// newDecoder (re)creates the decoder over s.br with the limits of the
// current state: small lines and literals before login. It keeps the UTF-8
// mode. Called at start, after STARTTLS (new reader) and after login.
func (s *session) newDecoder() {
	o := s.srv.opts
	utf8 := s.dec != nil && s.dec.UTF8()
	opts := imapwire.DecoderOptions{
		Continue:          s.continueLiteral,
		CheckLiteral:      s.checkLiteral,
		MaxLine:           o.MaxLine,
		MaxStringLiterals: o.MaxLiteral,
	}
	if s.state == stateNotAuthenticated {
		opts.MaxLine = min(o.MaxLine, DefaultPreAuthMaxLine)
		opts.MaxStringLiterals = o.PreAuthMaxLiteral
	}
	s.dec = imapwire.NewDecoder(s.br, opts)
	s.dec.SetUTF8(utf8)
}

// errPreAuthLiteral refuses a literal larger than PreAuthMaxLiteral before
// login.
var errPreAuthLiteral = errors.New("literal too large before login")

// checkLiteral vets a literal's size before any of it is read. Before
// login only small literals (LOGIN's arguments) are accepted, whatever the
// command: an APPEND's literal must not be spooled for an unauthenticated
// client. After login APPEND's size limit is the parser's (MaxAppendSize)
// and other literals are capped by the decoder's MaxStringLiterals.
func (s *session) checkLiteral(size int64, nonSync, binary bool) error {
	if s.state == stateNotAuthenticated && size > s.srv.opts.PreAuthMaxLiteral {
		if nonSync {
			// RFC 7888 4: rather than read (and discard) a
			// non-synchronizing literal it refuses, a server may close
			// the connection; before login nobody has a reason to send
			// one this large. Stop reading now: the decoder's discard
			// fails at once and readFailed says goodbye.
			s.abort = "Literal too large before login."
			s.conn.SetReadDeadline(time.Unix(1, 0))
		}
		return errPreAuthLiteral
	}
	return nil
}

// continueLiteral sends the continuation for an accepted synchronizing
// literal (RFC 9051 7.5).
func (s *session) continueLiteral() error {
	s.enc.Continuation("Ready for literal data")
	return s.enc.Flush()
}

// timeout is the idle timeout of the current state.
func (s *session) timeout() time.Duration {
	if s.state == stateNotAuthenticated {
		return s.srv.opts.LoginTimeout
	}
	return s.srv.opts.IdleTimeout
}

// connInfo describes the connection to the authenticator.
func (s *session) connInfo() auth.ConnInfo {
	return auth.ConnInfo{
		Protocol:  "imap",
		Remote:    s.conn.Remote(),
		Local:     s.conn.Local(),
		TLS:       s.conn.TLS(),
		Secure:    s.conn.Secure(),
		SessionID: s.conn.ID(),
	}
}

// serve runs the session. It never closes the connection.
func (s *session) serve(ctx context.Context) {
	defer s.releaseBuffers() // last: nothing writes after cleanup
	defer s.cleanup()
	defer func() {
		if r := recover(); r != nil {
			// A bug must cost this client its connection, never the
			// process.
			s.log.Error("panic in imap session", "user", s.user, "panic", r, "stack", string(debug.Stack()))
			s.enc.Untagged().Atom("BYE").SP().Text("Internal error").CRLF()
			s.enc.Flush()
		}
	}()
	// Shutdown interrupts a blocked read; the loop then sees ctx.Err().
	stop := context.AfterFunc(ctx, func() { s.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	s.enc.Untagged().Atom("OK").SP().Special('[').Atom(s.capabilityCode()).Special(']').SP().
		Text(s.srv.opts.Greeting).CRLF()
	for {
		if !s.dec.LineBuffered() {
			// Pipelining: answer in order, flush once the client has no
			// whole command line queued (RFC 9051 5.5). Flushing on a
			// partial line too: the client may be waiting for our
			// answers before it sends the rest (mbsync over COMPRESS:
			// its Z_PARTIAL_FLUSH holds back the last bits of a line).
			if err := s.enc.Flush(); err != nil {
				s.log.Debug("imap write failed", "err", err)
				return
			}
		}
		if s.notify != nil && s.dec.Buffered() == 0 {
			// NOTIFY: deliver changes while the client is quiet.
			if err := s.notifyWait(ctx); err != nil {
				s.finish(ctx, err)
				return
			}
		}
		err := s.step(ctx)
		if err == nil {
			continue
		}
		s.finish(ctx, err)
		return
	}
}

// finish writes the last words for the error that ended the loop.
func (s *session) finish(ctx context.Context, err error) {
	var be *byeError
	switch {
	case errors.Is(err, errLogout):
	case errors.As(err, &be):
		s.enc.Untagged().Atom("BYE").SP().Text(be.text).CRLF()
		s.log.Info("imap disconnected", "user", s.user, "reason", be.text)
	case kickedBy(ctx):
		s.enc.Untagged().Atom("BYE").SP().Text("Kicked by administrator").CRLF()
		s.log.Info("imap disconnected: kicked by administrator", "user", s.user)
	case errors.Is(err, errShutdown) || ctx.Err() != nil:
		s.enc.Untagged().Atom("BYE").SP().Text("Server shutting down.").CRLF()
		s.log.Info("imap disconnected: server shutting down", "user", s.user)
	case errors.Is(err, os.ErrDeadlineExceeded):
		// RFC 9051 5.4: the autologout timer expired.
		s.enc.Untagged().Atom("BYE").SP().Text("Disconnected for inactivity.").CRLF()
		s.log.Info("imap disconnected for inactivity", "user", s.user, "state", s.state.String())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		s.log.Debug("imap client closed the connection", "user", s.user)
		return
	default:
		s.log.Debug("imap connection failed", "user", s.user, "err", err)
		return
	}
	s.enc.Flush()
}

// step reads and runs one command, writing its responses. A non-nil error
// ends the session.
func (s *session) step(ctx context.Context) error {
	s.conn.SetReadDeadline(time.Now().Add(s.timeout()))
	if ctx.Err() != nil {
		return errShutdown
	}
	if err := s.awaitInput(); err != nil {
		return s.readFailed(ctx, err)
	}
	cmd, err := imap.ReadCommand(s.dec, imap.ParseOptions{
		TempDir:       s.srv.opts.TempDir,
		MaxAppendSize: s.srv.opts.AppendLimit,
	})
	if err != nil {
		return s.readFailed(ctx, err)
	}
	spec, ok := commands[cmd.Name]
	if !ok {
		releaseArgs(cmd)
		return s.bad(cmd.Tag, "", "Unknown command.")
	}
	if !spec.states.has(s.state) {
		releaseArgs(cmd)
		return s.bad(cmd.Tag, "", s.stateError(spec))
	}
	err = spec.run(s, ctx, cmd)
	if fatalErr(err) {
		return err
	}
	if errors.Is(err, errReplied) {
		return s.enc.Err()
	}
	if ctx.Err() != nil && err != nil && errors.Is(err, ctx.Err()) {
		return errShutdown
	}
	if s.sel != nil || s.notify != nil {
		// RFC 9051 7.5.1: no EXPUNGE after a command that uses sequence
		// numbers, before its tagged reply.
		if serr := s.syncPoint(ctx, spec.flags&flagUsesSeqs == 0); serr != nil {
			if fatalErr(serr) {
				return serr
			}
			s.log.Warn("imap sync failed", "user", s.user, "err", serr)
		}
	}
	if err := s.tagged(cmd, err); err != nil {
		return err
	}
	if s.byeAfter != "" {
		return bye(s.byeAfter)
	}
	return s.enc.Err()
}

// releaseArgs frees what a parsed command holds when it is not run: the
// spooled message bodies of APPEND (possibly temporary files).
func releaseArgs(cmd *imap.Command) {
	if a, ok := cmd.Args.(*imap.AppendCmd); ok {
		for _, m := range a.Messages {
			m.Body.Close()
		}
	}
}

// fatalErr reports whether err ends the session.
func fatalErr(err error) bool {
	if err == nil {
		return false
	}
	var fe *fatalError
	var be *byeError
	var ioe *imapwire.IOError
	return errors.Is(err, errLogout) || errors.Is(err, errShutdown) ||
		errors.As(err, &fe) || errors.As(err, &be) || errors.As(err, &ioe)
}

// readFailed handles an error of imap.ReadCommand: a *imap.SyntaxError
// (the rest of the command has been consumed, the stream is in sync) or a
// failed read.
func (s *session) readFailed(ctx context.Context, err error) error {
	if s.abort != "" {
		return bye(s.abort)
	}
	var se *imap.SyntaxError
	if !errors.As(err, &se) {
		if ctx.Err() != nil {
			return errShutdown
		}
		return fatal(err)
	}
	switch {
	case se.Literal != nil && errors.Is(se.Err, errPreAuthLiteral):
		return s.bad(se.Tag, "TOOBIG", "Literal too large before login.")
	case se.Literal != nil && errors.Is(se.Err, imap.ErrTooBig):
		// RFC 7889 4: an APPEND over APPENDLIMIT gets NO [TOOBIG].
		s.status(se.Tag, &statusError{"NO", "TOOBIG", "Message size exceeds APPENDLIMIT."})
		return s.enc.Err()
	case se.Literal != nil:
		// RFC 7888 4: BAD for a literal we refuse.
		return s.bad(se.Tag, se.Code, se.Msg+".")
	case errors.Is(se.Err, imapwire.ErrLineTooLong):
		return s.bad(se.Tag, "", "Command line too long.")
	case se.Err != nil:
		// Spooling an APPEND body failed: our fault, not the client's.
		s.log.Error("imap reading a literal failed", "user", s.user, "err", se.Err)
		s.status(se.Tag, &statusError{"NO", "SERVERBUG", "Cannot store the message, try again later."})
		return s.enc.Err()
	}
	msg := se.Msg
	if se.Msg == "Unknown command" {
		msg = "Unknown command."
	} else if se.Name != "" {
		// Dovecot: "BAD Error in IMAP command FETCH: Invalid arguments."
		msg = "Error in IMAP command " + se.Name + ": " + se.Msg
	}
	return s.bad(se.Tag, "", msg)
}

// stateError is the BAD text for a command not valid in this state.
func (s *session) stateError(spec commandSpec) string {
	switch {
	case s.state == stateNotAuthenticated:
		return "Login first."
	case spec.states == notAuthOnly:
		return "Already logged in."
	case spec.states == selectedOnly:
		return "No mailbox selected."
	}
	return "Command not allowed in this state."
}

// bad writes a tagged BAD and counts it; too many end the session: before
// login after PreAuthMaxBadCommands in total (a client speaking another
// protocol), after login after MaxBadCommands in a row.
func (s *session) bad(tag, code, text string) error {
	if tag == "" {
		tag = "*"
	}
	s.status(tag, &statusError{"BAD", code, text})
	return s.countBad()
}

func (s *session) countBad() error {
	s.badCount++
	limit := s.srv.opts.MaxBadCommands
	if s.state == stateNotAuthenticated {
		limit = s.srv.opts.PreAuthMaxBadCommands
	}
	if s.badCount >= limit {
		return bye("Too many invalid IMAP commands.")
	}
	return s.enc.Err()
}

// tagged writes the tagged reply for a command's result.
func (s *session) tagged(cmd *imap.Command, err error) error {
	var st *statusError
	switch {
	case err == nil:
		st = &statusError{"OK", s.okModSeqCode(), completed(cmd.Name)}
	case errors.As(err, &st):
	default:
		var internal bool
		st, internal = storeReply(err)
		if internal {
			s.log.Error("imap command failed", "user", s.user, "cmd", cmd.Name, "err", err)
		} else {
			s.log.Debug("imap command failed", "user", s.user, "cmd", cmd.Name, "err", err)
		}
	}
	s.status(cmd.Tag, st)
	if st.typ == "BAD" {
		return s.countBad()
	}
	if s.state != stateNotAuthenticated {
		s.badCount = 0
	}
	return nil
}

// status writes "tag TYPE [CODE] text".
func (s *session) status(tag string, st *statusError) {
	s.enc.Tagged(tag).Atom(st.typ).SP()
	if st.code != "" {
		s.enc.Special('[').Atom(st.code).Special(']').SP()
	}
	s.enc.Text(st.text).CRLF()
}

// completed is the text of a successful tagged OK: "Fetch completed." for
// FETCH and UID FETCH, as Dovecot words it.
func completed(name string) string {
	name = strings.TrimPrefix(name, "UID ")
	return name[:1] + strings.ToLower(name[1:]) + " completed."
}

// readLine reads one raw line (AUTHENTICATE continuation responses),
// without its CRLF, of at most max bytes. It returns a fatal error when the
// connection fails and errLineTooLong for a longer line (whose rest is
// discarded).
func (s *session) readLine(ctx context.Context, max int) ([]byte, error) {
	s.conn.SetReadDeadline(time.Now().Add(s.timeout()))
	var line []byte
	for {
		frag, err := s.br.ReadSlice('\n')
		if len(line)+len(frag) <= max+2 {
			line = append(line, frag...)
		} else {
			line = line[:0]
			max = -1 // too long: keep discarding to the end of the line
		}
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if ctx.Err() != nil {
			return nil, errShutdown
		}
		return nil, fatal(err)
	}
	if max < 0 {
		return nil, errLineTooLong
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

var errLineTooLong = errors.New("line too long")

// cleanup releases what login took.
func (s *session) cleanup() {
	s.stopNotify()
	if s.sel != nil {
		s.closeSelected()
	}
	if s.acct == nil {
		return
	}
	if err := s.acct.Close(); err != nil {
		s.log.Warn("imap closing account failed", "user", s.user, "err", err)
	}
	if s.userIPHeld {
		s.srv.releaseUserIP(s.user, s.conn.Remote().Addr())
	}
	s.unregister()
	s.log.Info("imap logout", "user", s.user, "duration", time.Since(s.start).Round(time.Millisecond))
	s.acct = nil
}

// deadlineWriter gives every write to the connection a deadline, so a
// client that stops reading our output is dropped after the idle timeout.
type deadlineWriter struct{ s *session }

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.s.conn.SetWriteDeadline(time.Now().Add(d.s.timeout()))
	return d.s.conn.Write(p)
}
