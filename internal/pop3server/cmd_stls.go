package pop3server

import "context"

// cmdSTLS switches to TLS (RFC 2595 section 4).
func (s *session) cmdSTLS(ctx context.Context, cmd *Command) error {
	if s.conn.TLS() {
		s.errf("TLS is already active.")
		return nil
	}
	if !s.conn.CanStartTLS() {
		s.errf("TLS support isn't enabled.")
		return nil
	}
	s.ok("Begin TLS negotiation now.")
	if err := s.w.Flush(); err != nil {
		return err
	}
	// Anything the client sent after STLS, before the handshake, came in
	// cleartext and could have been injected by a man in the middle
	// (CVE-2011-0411): it is dropped, never executed.
	if n := s.r.Buffered(); n > 0 {
		s.logger.Warn("pop3 discarding input pipelined after STLS", "bytes", n)
	}
	s.r.Reset(s.conn)
	if err := s.conn.StartTLS(ctx); err != nil {
		s.logger.Info("pop3 STLS handshake failed", "err", err)
		return errClose
	}
	// RFC 2595 section 4: the server must discard what it learnt from the
	// client before TLS.
	s.userName = ""
	return nil
}
