package pop3server

import "context"

// cmdDele marks a message deleted (RFC 1939 section 5). Nothing is removed
// before the UPDATE state.
func (s *session) cmdDele(ctx context.Context, cmd *Command) error {
	m := s.lookup(cmd.Msg)
	if m == nil {
		return nil
	}
	m.deleted = true
	s.ok("Marked to be deleted.")
	return nil
}

// cmdRset unmarks every message marked deleted (RFC 1939 section 5). Like
// Dovecot it also forgets which messages RETR would flag \Seen.
func (s *session) cmdRset(ctx context.Context, cmd *Command) error {
	for i := range s.msgs {
		s.msgs[i].deleted = false
		s.msgs[i].retrieved = false
	}
	s.ok("")
	return nil
}
