package pop3server

import (
	"context"
	"errors"
	"net/netip"
)

// SessionRegistry is told about logged-in sessions, so that an
// administrator can list them (roost who) and end them (roost kick). The
// app owns it (*admin.Registry); Options.Sessions nil means no registry.
type SessionRegistry interface {
	// Register records a logged-in session. kick may be called from any
	// goroutine; it ends the session. setMailbox is unused by POP3; done is
	// called once when the session ends.
	Register(protocol, user string, remote netip.AddrPort, kick func()) (setMailbox func(string), done func())
}

// errKicked ends a session kicked by the administrator: "-ERR Kicked by
// administrator", then close, without the UPDATE state (nothing deleted).
var errKicked = errors.New("kicked by administrator")

// register records the logged-in session in Options.Sessions.
func (s *session) register() {
	reg := s.srv.opts.Sessions
	if reg == nil || s.kick == nil {
		return
	}
	kick := s.kick
	_, s.regDone = reg.Register("pop3", s.user, s.conn.Remote(), func() { kick(errKicked) })
}

// unregister removes the session from the registry.
func (s *session) unregister() {
	if s.regDone != nil {
		s.regDone()
		s.regDone = nil
	}
}

// endErr is the error for a cancelled session context: errKicked or
// errShutdown.
func endErr(ctx context.Context) error {
	if errors.Is(context.Cause(ctx), errKicked) {
		return errKicked
	}
	return errShutdown
}
