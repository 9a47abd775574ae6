package sqlite

import (
	"context"
	"strings"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.MetaSearcher = (*account)(nil)

// SearchMeta evaluates cond in SQL over the mailbox's rows of the message
// table (a primary-key range scan; only matching UIDs cross the driver).
// See mailstore.MetaSearcher. The message's day is
// (internal_date + internal_tz) divided by 86400, rounded down: comparing
// the sum with day boundaries needs no division.
func (a *account) SearchMeta(ctx context.Context, mbox mailstore.MailboxID, cond mailstore.MetaCond) ([]mailstore.UID, error) {
	var where strings.Builder
	var args []any
	args = append(args, int64(mbox))
	if err := sqlstore.MetaSQL(sqlstore.SQLite, &where, &args, cond); err != nil {
		return nil, err
	}
	var out []mailstore.UID
	err := a.readCached(ctx, "search metadata", func(tx cachedTx) error {
		if _, err := mailboxByID(ctx, tx, mbox); err != nil {
			return err
		}
		// The condition varies: not a cached statement.
		rows, err := tx.tx.QueryContext(ctx, `SELECT uid FROM message WHERE mailbox_id = ? AND `+where.String()+` ORDER BY uid`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var uid int64
			if err := rows.Scan(&uid); err != nil {
				return err
			}
			out = append(out, mailstore.UID(uid))
		}
		return rows.Err()
	})
	return out, err
}
