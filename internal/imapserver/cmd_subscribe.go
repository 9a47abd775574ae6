package imapserver

import (
	"context"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// cmdSubscribe runs SUBSCRIBE and UNSUBSCRIBE (RFC 9051 6.3.7, 6.3.8). A
// subscription may name a mailbox that does not exist (RFC 9051 6.3.7:
// the server MUST NOT unilaterally remove it); the name must still be
// valid.
func (s *session) cmdSubscribe(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.SubscribeCmd)
	name, err := mailstore.NormalizeMailboxName(args.Mailbox)
	if err != nil {
		return err
	}
	if err := s.acct.SetSubscribed(ctx, name, !args.Unsubscribe); err != nil {
		return wrapf(err, "subscribe %q", name)
	}
	return nil
}
