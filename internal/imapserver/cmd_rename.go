package imapserver

import (
	"context"

	"github.com/roost-mail/roost/internal/imap"
)

// cmdRename renames a mailbox and its children (RFC 9051 6.3.6), keeping
// UIDVALIDITY. Renaming INBOX moves its messages to the new mailbox and
// leaves INBOX empty; the store does both.
func (s *session) cmdRename(ctx context.Context, cmd *imap.Command) error {
	args := cmd.Args.(*imap.RenameCmd)
	if err := s.acct.RenameMailbox(ctx, args.From, args.To); err != nil {
		return wrapf(err, "rename mailbox %q to %q", args.From, args.To)
	}
	return nil
}
