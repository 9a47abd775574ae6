package imapserver

import (
	"context"

	"github.com/roost-mail/roost/internal/imap"
)

// cmdNoop does nothing itself (RFC 9051 6.1.2): the loop's sync point
// before the tagged reply reports pending mailbox changes.
func (s *session) cmdNoop(ctx context.Context, cmd *imap.Command) error { return nil }
