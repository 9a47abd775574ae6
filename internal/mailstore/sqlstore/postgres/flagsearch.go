package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.SystemFlagSearcher = (*account)(nil)

// SearchSystemFlags implements mailstore.SystemFlagSearcher: one query
// over the mailbox's rows, only the UIDs read back.
func (a *account) SearchSystemFlags(ctx context.Context, mbox mailstore.MailboxID, set, clear []string) ([]mailstore.UID, error) {
	setBits, clearBits, err := sqlstore.SystemFlagMasks(set, clear)
	if err != nil {
		return nil, err
	}
	var out []mailstore.UID
	err = a.read(ctx, "search flags", func(tx pgx.Tx) error {
		out = nil
		if _, err := mailboxByID(ctx, tx, a.id, mbox, false); err != nil {
			return err
		}
		uids, err := queryInts(ctx, tx, `SELECT uid FROM messages WHERE mailbox_id = $1 AND (flags & $2) = $2 AND (flags & $3) = 0 ORDER BY uid`,
			int64(mbox), setBits, clearBits)
		for _, u := range uids {
			out = append(out, mailstore.UID(u))
		}
		return err
	})
	return out, err
}
