package pop3server

import (
	"context"
	"strings"
)

// transactionCaps are the capabilities valid in both states, in Dovecot's
// order (POP3_CAPABILITY_REPLY). RFC 2449 section 6: USER, SASL and STLS
// are only listed in the AUTHORIZATION state. No IMPLEMENTATION line: the
// product and version are not announced.
var transactionCaps = []string{"CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"}

// cmdCapa answers CAPA (RFC 2449 section 5).
func (s *session) cmdCapa(ctx context.Context, cmd *Command) error {
	s.ok("")
	for _, c := range transactionCaps {
		s.line(c)
	}
	if s.state == stateAuthorization {
		ci := s.connInfo()
		if s.conn.CanStartTLS() {
			s.line("STLS") // RFC 2595 section 4
		}
		// Dovecot lists USER only where plaintext login is allowed.
		if s.srv.opts.Auth.PlaintextAllowed(ci) {
			s.line("USER")
		}
		if mechs := s.srv.opts.Auth.Mechanisms(ci); len(mechs) > 0 {
			s.line("SASL " + strings.Join(mechs, " ")) // RFC 5034 section 5
		}
	}
	s.end()
	return nil
}
