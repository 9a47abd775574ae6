package pop3server

import "context"

// cmdNoop answers NOOP (RFC 1939 section 5).
func (s *session) cmdNoop(ctx context.Context, cmd *Command) error {
	s.ok("")
	return nil
}
