package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
)

var _ mailstore.MetaSearcher = (*account)(nil)

// SearchMeta evaluates cond in SQL over the mailbox's message rows; only
// matching UIDs leave the database. See mailstore.MetaSearcher. A
// message's day is (internal_date + internal_tz) divided by 86400, rounded
// down: the sum is compared with day boundaries, no division.
func (a *account) SearchMeta(ctx context.Context, mbox mailstore.MailboxID, cond mailstore.MetaCond) ([]mailstore.UID, error) {
	var where strings.Builder
	args := []any{int64(mbox)}
	if err := metaSQL(&where, &args, cond); err != nil {
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

// metaSQL writes c as an SQL expression over the messages table, its
// values as numbered parameters appended to args.
func metaSQL(b *strings.Builder, args *[]any, c mailstore.MetaCond) error {
	const day = 86400
	param := func(v int64) string {
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
	switch c.Op {
	case mailstore.MetaAll:
		b.WriteString("true")
	case mailstore.MetaAnd, mailstore.MetaOr:
		if len(c.Children) == 0 {
			return fmt.Errorf("search metadata: operator %d without operands", c.Op)
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
		b.WriteString("(internal_date + internal_tz) < " + param(c.Day*day))
	case mailstore.MetaDayOn:
		b.WriteString("((internal_date + internal_tz) >= " + param(c.Day*day) + " AND (internal_date + internal_tz) < " + param((c.Day+1)*day) + ")")
	case mailstore.MetaDaySince:
		b.WriteString("(internal_date + internal_tz) >= " + param(c.Day*day))
	case mailstore.MetaLarger:
		b.WriteString("size > " + param(c.Size))
	case mailstore.MetaSmaller:
		b.WriteString("size < " + param(c.Size))
	default:
		return fmt.Errorf("search metadata: unknown operator %d", c.Op)
	}
	return nil
}
