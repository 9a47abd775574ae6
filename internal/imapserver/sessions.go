package imapserver

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
	// goroutine; it ends the session. The session calls setMailbox when it
	// selects a mailbox ("" when it leaves the selected state) and done
	// once when it ends.
	Register(protocol, user string, remote netip.AddrPort, kick func()) (setMailbox func(string), done func())
}

// errKicked is the cause of a session context cancelled by kick: the
// session says "* BYE Kicked by administrator" and ends.
var errKicked = errors.New("kicked by administrator")

// register records the logged-in session in Options.Sessions.
func (s *session) register() {
	reg := s.srv.opts.Sessions
	if reg == nil || s.kick == nil {
		return
	}
	kick := s.kick
	s.regMailbox, s.regDone = reg.Register("imap", s.user, s.conn.Remote(), func() { kick(errKicked) })
}

// noteMailbox tells the registry which mailbox is selected.
func (s *session) noteMailbox(name string) {
	if s.regMailbox != nil {
		s.regMailbox(name)
	}
}

// unregister removes the session from the registry.
func (s *session) unregister() {
	if s.regDone != nil {
		s.regDone()
		s.regDone, s.regMailbox = nil, nil
	}
}

// kickedBy reports whether ctx was cancelled by kick.
func kickedBy(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errKicked)
}
