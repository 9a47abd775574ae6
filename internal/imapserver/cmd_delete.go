package imapserver

import (
	"context"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

// cmdDelete deletes a mailbox (RFC 9051 6.3.5). Its children are kept.
// INBOX cannot be deleted (the store refuses with KindNoPerm). Another
// session that has the mailbox selected finds out at its next sync.
func (s *session) cmdDelete(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.DeleteCmd)
	if mailstore.IsInbox(args.Mailbox) {
		return statusNO("NOPERM", "INBOX can't be deleted.")
	}
	if err := s.acct.DeleteMailbox(ctx, args.Mailbox); err != nil {
		return wrapf(err, "delete mailbox %q", args.Mailbox)
	}
	return nil
}
