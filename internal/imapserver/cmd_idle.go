package imapserver

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/roost-mail/roost/internal/imap"
)

func init() {
	commands["IDLE"] = commandSpec{states: authenticated, run: (*session).cmdIdle, caps: []string{"IDLE"}}
}

// idleKeepalive is how often an idling client gets "* OK Still here":
// Dovecot's imap_idle_notify_interval (2 min). It keeps NAT mappings and
// stateful firewalls from dropping a quiet connection.
const idleKeepalive = 2 * time.Minute

// cmdIdle is IDLE (RFC 2177, RFC 9051 6.3.13). After "+ idling" it waits
// for, whichever comes first:
//   - a wake-up from the store (a commit by any session or process):
//     pending changes are sent at once, EXPUNGE included (RFC 9051
//     6.3.13: the server may send them "at any time" during IDLE);
//   - the client's DONE, which ends the command (tagged OK); anything else
//     ends it with BAD;
//   - server shutdown or an admin kick ("* BYE" by the loop);
//   - the idle timeout (Options.IdleTimeout, at least 30 min as RFC 9051
//     5.4 requires for autologout; not re-armed by our own updates, only
//     by the client's DONE): "* BYE" for inactivity;
//   - every idleKeepalive: "* OK Still here".
//
// One goroutine, the session's, does all of it: it blocks in a one-byte
// read of the connection with no buffers held (awaitInput), with the read
// deadline at the next keepalive or the idle timeout. A wake-up reaches it
// through the server's idleHub, which marks it woken and moves the read
// deadline into the past; shutdown and kicks do the same through the
// session's context (serve). A read that times out is only a signal: the
// session checks the mark, the context and the clock to learn why. TLS
// connections survive a read timeout (crypto/tls keeps a partial record).
// Commands pipelined after DONE stay buffered in s.br for the loop (iOS
// sends "DONE\r\ntag NOOP\r\n" in one packet).
func (s *session) cmdIdle(ctx context.Context, cmd *imap.Command) error {
	w := s.srv.idle.join(s.srv.opts.Store, s.user, s.conn, s.deflate)
	defer s.srv.idle.leave(w)
	// Changes committed before the watch started are reported now.
	if err := s.syncPoint(ctx, true); err != nil {
		return err
	}
	s.writeModSeqReport() // no tagged OK until DONE (condstore.go)
	s.enc.Continuation("idling")
	if err := s.enc.Flush(); err != nil {
		return fatal(err)
	}
	if s.deflate {
		if err := s.idleCompressed(ctx, w); err != nil {
			return err
		}
		return s.idleDone(ctx, w)
	}

	end := time.Now().Add(s.srv.opts.IdleTimeout)
	keepalive := time.Now().Add(idleKeepalive)
	for {
		s.conn.SetReadDeadline(earliest(end, keepalive))
		if ctx.Err() != nil {
			return errShutdown
		}
		if w.woken.Swap(false) {
			if err := s.idleSync(ctx); err != nil {
				return err
			}
			continue
		}
		err := s.awaitInput()
		if err == nil {
			break // the client sent something: DONE, we hope
		}
		if ctx.Err() != nil {
			return errShutdown
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return fatal(err) // EOF, a reset
		}
		now := time.Now()
		switch {
		case w.woken.Load():
			// Handled at the top of the loop.
		case !now.Before(end):
			return fatal(err) // the loop says "* BYE ... inactivity"
		case !now.Before(keepalive):
			keepalive = now.Add(idleKeepalive)
			s.enc.Untagged().Atom("OK").SP().Text("Still here").CRLF()
			if err := s.enc.Flush(); err != nil {
				return fatal(err)
			}
		}
		// Otherwise a wake-up already handled above cut a later read
		// short: read again.
	}
	return s.idleDone(ctx, w)
}

// idleDone reads the client's DONE.
func (s *session) idleDone(ctx context.Context, w *idler) error {
	// From here on the hub no longer moves the read deadline.
	s.srv.idle.leave(w)
	s.conn.SetReadDeadline(time.Now().Add(s.timeout()))
	if err := imap.ReadIdleDone(s.dec); err != nil {
		var se *imap.SyntaxError
		if errors.As(err, &se) {
			return statusBAD("", se.Msg)
		}
		if ctx.Err() != nil {
			return errShutdown
		}
		return fatal(err)
	}
	return nil
}

// idleCompressed waits as cmdIdle does, for a session under COMPRESS:
// s.br reads from our inflater, whose state a read timeout would end, so
// the wake-up comes through w.ch and a helper goroutine blocks in
// s.br.Peek(1), which consumes nothing. Only after the helper has returned
// does this goroutine touch s.br again. To stop it early (shutdown, a
// fatal error) the read deadline is set in the past and we wait for it;
// the session ends then anyway. It returns nil once input is readable.
func (s *session) idleCompressed(ctx context.Context, w *idler) error {
	s.conn.SetReadDeadline(time.Now().Add(s.srv.opts.IdleTimeout))
	readable := make(chan error, 1)
	go func() {
		_, err := s.br.Peek(1)
		readable <- err
	}()
	stopReader := func() {
		s.conn.SetReadDeadline(pastDeadline)
		<-readable
	}
	keepalive := time.NewTicker(idleKeepalive)
	defer keepalive.Stop()
	for {
		select {
		case err := <-readable:
			if err != nil {
				if ctx.Err() != nil {
					return errShutdown
				}
				return fatal(err)
			}
			return nil
		case <-w.ch:
			w.woken.Store(false)
			if err := s.idleSync(ctx); err != nil {
				stopReader()
				return err
			}
		case <-keepalive.C:
			s.enc.Untagged().Atom("OK").SP().Text("Still here").CRLF()
			if err := s.enc.Flush(); err != nil {
				stopReader()
				return fatal(err)
			}
		case <-ctx.Done():
			stopReader()
			return errShutdown
		}
	}
}

// idleSync sends the changes a wake-up announced. A failed read of the
// store is logged and retried at the next wake-up; the client keeps
// idling.
func (s *session) idleSync(ctx context.Context) error {
	if err := s.syncPoint(ctx, true); err != nil {
		if fatalErr(err) || ctx.Err() != nil {
			return err
		}
		s.log.Warn("imap idle: sync failed", "user", s.user, "err", err)
	}
	s.writeModSeqReport()
	if err := s.enc.Flush(); err != nil {
		return fatal(err)
	}
	return nil
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
