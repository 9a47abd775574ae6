package postgres

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.MetaSearcher = (*account)(nil)

// SearchMeta evaluates cond in SQL over the mailbox's message rows; only
// matching UIDs leave the database. See mailstore.MetaSearcher. A
// message's day is (internal_date + internal_tz) divided by 86400, rounded
// down: the sum is compared with day boundaries, no division.
func (a *account) SearchMeta(ctx context.Context, mbox mailstore.MailboxID, cond mailstore.MetaCond) ([]mailstore.UID, error) {
	var where strings.Builder
	args := []any{int64(mbox)}
	if err := sqlstore.MetaSQL(sqlstore.Postgres, &where, &args, cond); err != nil {
		return nil, mailstore.Errorf(mailstore.KindInvalid, "%v", err)
	}
	var out []mailstore.UID
	err := a.read(ctx, "search metadata", func(tx pgx.Tx) error {
		out = nil
		if _, err := mailboxByID(ctx, tx, a.id, mbox, false); err != nil {
			return err
		}
		uids, err := queryInts(ctx, tx, `SELECT uid FROM messages WHERE mailbox_id = $1 AND `+where.String()+` ORDER BY uid`, args...)
		for _, u := range uids {
			out = append(out, mailstore.UID(u))
		}
		return err
	})
	return out, err
}
