package imapserver

import (
	"context"

	"github.com/roost-mail/roost/internal/imap"
	"github.com/roost-mail/roost/internal/mailstore"
)

func init() {
	commands["EXPUNGE"] = commandSpec{states: selectedOnly, run: (*session).cmdExpunge}
	commands["UID EXPUNGE"] = commandSpec{states: selectedOnly, flags: flagUID, run: (*session).cmdExpunge,
		caps: []string{"UIDPLUS"}}
}

// errReadOnly answers commands that would change a mailbox selected with
// EXAMINE. RFC 9051 7.1 READ-ONLY: "The mailbox is selected read-only".
var errReadOnly = statusNO("READ-ONLY", "Mailbox is read-only.")

// cmdExpunge is EXPUNGE (RFC 9051 6.4.3) and UID EXPUNGE (RFC 4315 2.1,
// RFC 9051 6.4.9): remove the messages marked \Deleted (for UID EXPUNGE
// only those in the UID set). The removed messages are marked in the view;
// the loop's sync point, which may send EXPUNGE after these commands,
// reports them ("* n EXPUNGE", descending) together with expunges by other
// sessions.
func (s *session) cmdExpunge(ctx context.Context, cmd *imap.Command) error {
	v := s.sel
	if v.readOnly {
		return errReadOnly
	}
	opts := mailstore.ExpungeOptions{OnlyDeleted: true}
	if cmd.UID {
		args := cmd.Args.(*imap.ExpungeCmd)
		opts.UIDs = v.resolve(args.Set, true)
		if len(opts.UIDs) == 0 {
			return nil // nil UIDs would mean "all messages"
		}
	}
	removed, err := s.acct.Expunge(ctx, v.mailbox.ID, opts)
	if err != nil {
		return err
	}
	v.markExpunged(removed)
	if s.qresync() {
		// Report now (as VANISHED, with any expunges by others) so that
		// the tagged OK can carry the HIGHESTMODSEQ after them: VANISHED
		// has no modseq of its own (RFC 7162 3.2.10; Dovecot answers
		// "OK [HIGHESTMODSEQ n] Expunge completed.").
		if err := s.syncPending(ctx, true); err != nil {
			return err
		}
		return okText(s.highestModSeqCode(), "Expunge completed.")
	}
	return nil
}
