package postgres

import (
	"context"
	"io"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.HeaderSearcher = (*account)(nil)

// SearchFields implements mailstore.HeaderSearcher from the search_fields
// column of contents (migration 3), filled at append and import
// (sqlstore.CacheData), through readKept: one query answers the whole
// batch and no body is read from the blob store. Rows stored before
// migration 3 (NULL) are filled lazily: the header is read from the body
// once, its fields given to fn and written to the row. Headers over
// sqlstore.SearchHeaderMax, and rows stored under other Unicode tables,
// are reported as not kept.
func (a *account) SearchFields(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID,
	fn func(uid mailstore.UID, f *mailstore.SearchFields) error) error {
	return readKept(ctx, a, &searchFieldsColumn, &sqlstore.SearchFieldsCodec{}, mbox, uids, fn)
}

var searchFieldsColumn = newKeptColumn(&sqlstore.SearchFieldsColumn)

// keptColumn is a sqlstore.KeptColumn with its statements.
type keptColumn struct {
	*sqlstore.KeptColumn
	// query selects, per message row, the column, the content id, the
	// blob id only of a row to fill and the header size; the caller
	// appends the UID condition ($2, $3).
	query  string
	update string // sets the column of a content row: $1 data, $2 id, $3 account
}

func newKeptColumn(c *sqlstore.KeptColumn) keptColumn {
	return keptColumn{
		KeptColumn: c,
		query: `SELECT m.uid, c.` + c.Name + `, c.id, CASE WHEN c.` + c.Name + ` IS NULL THEN c.blob_id ELSE '' END, c.header_size
			FROM messages m JOIN contents c ON c.id = m.content WHERE m.mailbox_id = $1 AND `,
		update: `UPDATE contents SET ` + c.Name + ` = $1 WHERE id = $2 AND account_id = $3`,
	}
}

// readKept answers a batch read of a kept column (HeaderFields,
// SearchFields) with one query in one read transaction, which checks the
// mailbox exists. fn runs after the transaction (which may be retried, see
// Store.read), on each wanted row with its value (sqlstore.KeptReader).
// NULL rows are filled from the header read from the body; the fills are
// written when readKept returns, whatever fn returned. fn's error is
// returned as it is.
func readKept[T any](ctx context.Context, a *account, col *keptColumn, codec sqlstore.KeptCodec[T],
	mbox mailstore.MailboxID, uids []mailstore.UID, fn func(uid mailstore.UID, v T) error) error {
	type row struct {
		uid        mailstore.UID
		raw        []byte
		content    int64
		blob       string // only of a row to fill (NULL)
		headerSize int64
	}
	var got []row
	err := a.read(ctx, col.ReadOp, func(tx pgx.Tx) error {
		got = got[:0]
		if _, err := mailboxByID(ctx, tx, a.id, mbox, false); err != nil {
			return err
		}
		if len(uids) == 0 {
			return nil
		}
		var rows pgx.Rows
		var err error
		if lo, hi, dense := sqlstore.UIDSpan(uids); dense {
			rows, err = tx.Query(ctx, col.query+`m.uid BETWEEN $2 AND $3 ORDER BY m.uid`, int64(mbox), int64(lo), int64(hi))
		} else {
			rows, err = tx.Query(ctx, col.query+`m.uid = ANY($2) ORDER BY m.uid`, int64(mbox), uidArray(uids))
		}
		if err != nil {
			return err
		}
		var uid, content, headerSize int64
		var raw []byte
		var blob string
		_, err = pgx.ForEachRow(rows, []any{&uid, &raw, &content, &blob, &headerSize}, func() error {
			got = append(got, row{mailstore.UID(uid), raw, content, blob, headerSize})
			raw = nil // a fresh slice per row
			return nil
		})
		return err
	})
	if err != nil {
		return err
	}
	var r row
	kr := sqlstore.KeptReader[T]{Col: col.KeptColumn, Codec: codec,
		ReadHeader: func() ([]byte, error) { return a.readHeader(ctx, r.blob, r.headerSize) }}
	defer func() {
		if len(kr.Fills) > 0 {
			a.fillKept(ctx, col, kr.Fills)
		}
	}()
	cur := sqlstore.NewUIDCursor(uids)
	for _, r = range got {
		wanted, done := cur.Next(r.uid)
		if done {
			break
		}
		if !wanted {
			continue // in the span but not asked for
		}
		v, skip, err := kr.Value(r.raw, r.blob != "", r.content, r.headerSize)
		if err != nil {
			return err
		}
		if skip {
			continue // expunged after the read
		}
		if err := fn(r.uid, v); err != nil {
			return err
		}
	}
	return nil
}

// fillKept writes fills in one transaction. The column is a cache of the
// body: a failure is logged and the rows stay as they were, to be filled
// by a later read.
func (a *account) fillKept(ctx context.Context, col *keptColumn, fills []sqlstore.KeptFill) {
	err := a.write(ctx, col.FillOp, func(tx pgx.Tx) error {
		for _, f := range fills {
			if _, err := tx.Exec(ctx, col.update, f.Data, f.Content, a.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		a.st.log.Warn("postgres store: keep "+col.What, "user", a.user, "messages", len(fills), "err", err)
	}
}

// readHeader reads the first n octets of body id (fewer if it is
// shorter).
func (a *account) readHeader(ctx context.Context, id string, n int64) ([]byte, error) {
	b, err := a.st.blobs.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	hdr := make([]byte, max(min(n, b.Size()), 0))
	k, err := b.ReadAt(hdr, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return hdr[:k], nil
}
