package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.HeaderSearcher = (*account)(nil)

// SearchFields implements mailstore.HeaderSearcher from the search_fields
// column of contents (migration 3), filled at append and import
// (sqlstore.CacheData): one query answers the whole batch and no body is
// read from the blob store. fn runs after the transaction (which may be
// retried, see Store.read). Rows stored before migration 3 hold NULL and
// are reported as not kept.
func (a *account) SearchFields(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID,
	fn func(uid mailstore.UID, f *mailstore.SearchFields) error) error {
	type row struct {
		uid mailstore.UID
		raw []byte
	}
	var got []row
	err := a.read(ctx, "read search fields", func(tx pgx.Tx) error {
		got = got[:0]
		if _, err := mailboxByID(ctx, tx, a.id, mbox, false); err != nil {
			return err
		}
		if len(uids) == 0 {
			return nil
		}
		const q = `SELECT m.uid, c.search_fields FROM messages m JOIN contents c ON c.id = m.content WHERE m.mailbox_id = $1 AND `
		var rows pgx.Rows
		var err error
		if lo, hi, dense := sqlstore.UIDSpan(uids); dense {
			rows, err = tx.Query(ctx, q+`m.uid BETWEEN $2 AND $3 ORDER BY m.uid`, int64(mbox), int64(lo), int64(hi))
		} else {
			rows, err = tx.Query(ctx, q+`m.uid = ANY($2) ORDER BY m.uid`, int64(mbox), uidArray(uids))
		}
		if err != nil {
			return err
		}
		var uid int64
		var raw []byte
		_, err = pgx.ForEachRow(rows, []any{&uid, &raw}, func() error {
			got = append(got, row{mailstore.UID(uid), raw})
			raw = nil // a fresh slice per row
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	var sf mailstore.SearchFields
	j := 0 // uids[j] is the next wanted UID
	for _, r := range got {
		for j < len(uids) && uids[j] < r.uid {
			j++
		}
		if j == len(uids) {
			break
		}
		if uids[j] != r.uid {
			continue // in the span but not asked for
		}
		ok, err := sqlstore.UnmarshalSearchFields(r.raw, &sf)
		if err != nil {
			return mailstore.Internal("read search fields", err)
		}
		f := &sf
		if !ok {
			f = nil
		}
		if err := fn(r.uid, f); err != nil {
			return err
		}
	}
	return nil
}
