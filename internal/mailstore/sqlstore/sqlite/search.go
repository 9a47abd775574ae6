package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/roost-mail/roost/internal/mailstore"
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
	if err := metaSQL(&where, &args, cond); err != nil {
		return nil, err
	}
	var out []mailstore.UID
	err := a.read(ctx, "search metadata", func(tx *sql.Tx) error {
		if _, err := mailboxByID(ctx, tx, mbox); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT uid FROM message WHERE mailbox_id = ? AND `+where.String()+` ORDER BY uid`, args...)
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

// metaSQL writes cond as an SQL expression over the message table, with
// its values as arguments.
func metaSQL(b *strings.Builder, args *[]any, c mailstore.MetaCond) error {
	const day = 86400
	switch c.Op {
	case mailstore.MetaAll:
		b.WriteString("1")
	case mailstore.MetaAnd, mailstore.MetaOr:
		if len(c.Children) == 0 {
			return fmt.Errorf("search metadata: %d without operands", c.Op)
		}
		sep := " AND "
		if c.Op == mailstore.MetaOr {
			sep = " OR "
		}
		b.WriteByte('(')
		for i, ch := range c.Children {
			if i > 0 {
				b.WriteString(sep)
			}
			if err := metaSQL(b, args, ch); err != nil {
				return err
			}
		}
		b.WriteByte(')')
	case mailstore.MetaNot:
		if len(c.Children) != 1 {
			return fmt.Errorf("search metadata: NOT with %d operands", len(c.Children))
		}
		b.WriteString("NOT ")
		return metaSQL(b, args, mailstore.MetaCond{Op: mailstore.MetaAnd, Children: c.Children})
	case mailstore.MetaDayBefore:
		b.WriteString("(internal_date + internal_tz) < ?")
		*args = append(*args, c.Day*day)
	case mailstore.MetaDayOn:
		b.WriteString("((internal_date + internal_tz) >= ? AND (internal_date + internal_tz) < ?)")
		*args = append(*args, c.Day*day, (c.Day+1)*day)
	case mailstore.MetaDaySince:
		b.WriteString("(internal_date + internal_tz) >= ?")
		*args = append(*args, c.Day*day)
	case mailstore.MetaLarger:
		b.WriteString("size > ?")
		*args = append(*args, c.Size)
	case mailstore.MetaSmaller:
		b.WriteString("size < ?")
		*args = append(*args, c.Size)
	default:
		return fmt.Errorf("search metadata: unknown operator %d", c.Op)
	}
	return nil
}
