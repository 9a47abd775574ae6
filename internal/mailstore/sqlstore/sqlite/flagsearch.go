package sqlite

import (
	"context"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.SystemFlagSearcher = (*account)(nil)

const systemFlagsQuery = `SELECT uid FROM message WHERE mailbox_id = ? AND (flags & ?) = ? AND (flags & ?) = 0 ORDER BY uid`

// SearchSystemFlags implements mailstore.SystemFlagSearcher: one query
// over the mailbox's rows (a prepared statement), only the UIDs read
// back. SEARCH UNSEEN, half the searches of the webmail profile, read
// every message's metadata before (docs/BENCHMARKS.md).
func (a *account) SearchSystemFlags(ctx context.Context, mbox mailstore.MailboxID, set, clear []string) ([]mailstore.UID, error) {
	setBits, clearBits, err := sqlstore.SystemFlagMasks(set, clear)
	if err != nil {
		return nil, err
	}
	var out []mailstore.UID
	err = a.readCached(ctx, "search flags", func(tx cachedTx) error {
		out = out[:0]
		rows, err := tx.QueryContext(ctx, systemFlagsQuery, mbox, setBits, setBits, clearBits)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var u mailstore.UID
			if err := rows.Scan(&u); err != nil {
				return err
			}
			out = append(out, u)
		}
		if err := rows.Err(); err != nil || len(out) > 0 {
			return err
		}
		return mailboxIDExists(ctx, tx, mbox) // see mailboxIDExists
	})
	return out, err
}
