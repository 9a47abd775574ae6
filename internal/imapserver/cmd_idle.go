package imapserver

import (
	"context"
	"errors"
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
//   - a wake-up from Store.Watch (a commit by any session or process):
//     pending changes are sent at once, EXPUNGE included (RFC 9051
//     6.3.13: the server may send them "at any time" during IDLE);
//   - the client's DONE, which ends the command (tagged OK); anything else
//     ends it with BAD;
//   - server shutdown ("* BYE" by the loop);
//   - the idle timeout (Options.IdleTimeout, at least 30 min as RFC 9051
//     5.4 requires for autologout; not re-armed by our own updates, only
//     by the client's DONE): "* BYE" for inactivity.
//
// Reading: only one goroutine may use s.br at a time. A helper goroutine
// blocks in s.br.Peek(1), which consumes nothing, and reports when input is
// readable; only then, after it has finished, does this goroutine read DONE
// through the decoder. Commands pipelined after DONE stay buffered in s.br
// for the loop (iOS sends "DONE\r\ntag NOOP\r\n" in one packet). To stop
// the helper early (shutdown, a fatal sync error) the read deadline is set
// in the past and we wait for it to return: net/http interrupts its
// background reads the same way; TLS reads survive a timeout.
func (s *session) cmdIdle(ctx context.Context, cmd *imap.Command) error {
	wake, stopWatch := s.srv.opts.Store.Watch(s.user)
	defer stopWatch()
	// Changes committed before the watch started are reported now.
	if err := s.syncPoint(ctx, true); err != nil {
		return err
	}
	s.enc.Continuation("idling")
	if err := s.enc.Flush(); err != nil {
		return fatal(err)
	}

	s.conn.SetReadDeadline(time.Now().Add(s.srv.opts.IdleTimeout))
	readable := make(chan error, 1)
	go func() {
		_, err := s.br.Peek(1)
		readable <- err
	}()
	// stopReader interrupts the helper and waits until it has returned.
	stopReader := func() {
		s.conn.SetReadDeadline(time.Unix(1, 0))
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
				return fatal(err) // EOF, or the idle timeout (loop: "* BYE ... inactivity")
			}
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
		case <-wake:
			if err := s.syncPoint(ctx, true); err != nil {
				if fatalErr(err) || ctx.Err() != nil {
					stopReader()
					return err
				}
				// A failed read of the store: try again at the next
				// wake-up; the client keeps idling.
				s.log.Warn("imap idle: sync failed", "user", s.user, "err", err)
			}
			if err := s.enc.Flush(); err != nil {
				stopReader()
				return fatal(err)
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
