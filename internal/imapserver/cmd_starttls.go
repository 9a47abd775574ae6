package imapserver

import (
	"bufio"
	"context"

	"github.com/roost-mail/roost/internal/imap"
)

// cmdStartTLS negotiates TLS (RFC 9051 6.2.1). The tagged OK is flushed
// before the handshake; afterwards the session reads through a new buffer,
// so any bytes the client pipelined after STARTTLS (before the handshake)
// are discarded, never executed (CVE-2011-0411). The capabilities change
// (STARTTLS gone, LOGIN and AUTH=PLAIN possibly offered): clients must ask
// again (RFC 9051 6.2.1).
func (s *session) cmdStartTLS(ctx context.Context, cmd *imap.Command) error {
	if s.conn.TLS() {
		return statusBAD("", "TLS is already active.")
	}
	if !s.conn.CanStartTLS() {
		return statusBAD("", "TLS support isn't enabled.")
	}
	s.status(cmd.Tag, &statusError{"OK", "", "Begin TLS negotiation now."})
	if err := s.enc.Flush(); err != nil {
		return fatal(err)
	}
	if err := s.conn.StartTLS(ctx); err != nil {
		s.log.Info("imap STARTTLS handshake failed", "err", err)
		return fatal(err)
	}
	s.src.has = false // (consumed by the STARTTLS line itself; never carried over)
	s.br = bufio.NewReaderSize(&s.src, readBufSize)
	s.newDecoder()
	s.bw.Reset(deadlineWriter{s})
	return errReplied
}
