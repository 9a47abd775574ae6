package sqlite

import (
	"context"
	"database/sql"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.HeaderSearcher = (*account)(nil)

// SearchFields implements mailstore.HeaderSearcher from the search_fields
// column of message_cache (migration 6), filled at append and import
// (sqlstore.CacheData), through readKept: one read transaction and one
// query answer the whole batch, and fn runs on each row as it is read, the
// fields aliasing the row's bytes: no message file is opened.
//
// Rows stored before migration 6 (NULL) are filled lazily: the message's
// header is read from its file (as Headers would), its fields are given
// to fn and written to the row after the read transaction, so an upgraded
// account reads each old message's header once, at its first header
// SEARCH. Headers over sqlstore.SearchHeaderMax, and rows stored under
// other Unicode tables, are reported as not kept.
func (a *account) SearchFields(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID,
	fn func(uid mailstore.UID, f *mailstore.SearchFields) error) error {
	return readKept(ctx, a, &searchFieldsColumn, &sqlstore.SearchFieldsCodec{}, mbox, uids, fn)
}

var searchFieldsColumn = newKeptColumn(&sqlstore.SearchFieldsColumn)

// keptColumn is a sqlstore.KeptColumn with its statements.
type keptColumn struct {
	*sqlstore.KeptColumn
	// query selects, per message row, the column, the content id, the
	// blob id only of a row to fill (a TEXT column costs an allocation per
	// row in the driver) and the header size; the caller appends the UID
	// condition.
	query  string
	update string // sets the column of a content row: arguments data, id
}

func newKeptColumn(c *sqlstore.KeptColumn) keptColumn {
	return keptColumn{
		KeptColumn: c,
		query: `SELECT m.uid, c.` + c.Name + `, c.id, CASE WHEN c.` + c.Name + ` IS NULL THEN c.blob_id ELSE '' END, c.header_size
	FROM message m JOIN message_cache c ON c.id = m.content
	WHERE m.mailbox_id = ? AND `,
		update: `UPDATE message_cache SET ` + c.Name + ` = ? WHERE id = ?`,
	}
}

// readKept answers a batch read of a kept column (HeaderFields,
// SearchFields): one read transaction and one query for the whole batch
// (the mailbox is looked up only when no row came back, see
// mailboxIDExists), fn called on each wanted row as it is read with its
// value (sqlstore.KeptReader), which may alias the row's bytes. NULL rows
// are filled from the header read from the message file; the fills are
// written after the transaction, and only if neither it nor fn failed.
// fn's error is returned as it is.
func readKept[T any](ctx context.Context, a *account, col *keptColumn, codec sqlstore.KeptCodec[T],
	mbox mailstore.MailboxID, uids []mailstore.UID, fn func(uid mailstore.UID, v T) error) error {
	if len(uids) == 0 {
		_, err := mailboxByID(ctx, cachedDB{a}, mbox)
		return dbErr(col.ReadOp, err)
	}
	var fnErr error // fn's error, returned as it is
	kr := sqlstore.KeptReader[T]{Col: col.KeptColumn, Codec: codec}
	err := a.readCached(ctx, col.ReadOp, func(tx cachedTx) error {
		var rows *sql.Rows
		var err error
		lo, hi, dense := sqlstore.UIDSpan(uids)
		if dense {
			rows, err = tx.QueryContext(ctx, col.query+`m.uid BETWEEN ? AND ? ORDER BY m.uid`, mbox, lo, hi)
		} else {
			rows, err = tx.QueryContext(ctx, col.query+`m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
				mbox, jsonInts(uids))
		}
		if err != nil {
			return err
		}
		defer rows.Close()
		var raw, blob sql.RawBytes
		var uid mailstore.UID
		var content, headerSize int64
		var hdrBuf []byte
		kr.ReadHeader = func() ([]byte, error) {
			hdr, err := a.readHeader(ctx, string(blob), headerSize, hdrBuf)
			if err == nil {
				hdrBuf = hdr[:0]
			}
			return hdr, err
		}
		cur := sqlstore.NewUIDCursor(uids)
		found := false
		for rows.Next() {
			found = true
			if err := rows.Scan(&uid, &raw, &content, &blob, &headerSize); err != nil {
				return err
			}
			wanted, done := cur.Next(uid)
			if done {
				break
			}
			if !wanted {
				continue // in the span but not asked for
			}
			v, skip, err := kr.Value(raw, len(blob) > 0, content, headerSize)
			if err != nil {
				return err
			}
			if skip {
				continue // expunged by a commit after this snapshot
			}
			if err := fn(uid, v); err != nil {
				fnErr = err
				return err
			}
		}
		if err := rows.Err(); err != nil || found {
			return err
		}
		return mailboxIDExists(ctx, tx, mbox) // see mailboxIDExists
	})
	if len(kr.Fills) > 0 && err == nil && fnErr == nil {
		a.fillKept(ctx, col, kr.Fills)
	}
	if fnErr != nil {
		return fnErr
	}
	return err
}

// fillKept writes fills in one transaction. The column is a cache of the
// message file: a failure is logged and the rows stay as they were, to be
// filled by a later read.
func (a *account) fillKept(ctx context.Context, col *keptColumn, fills []sqlstore.KeptFill) {
	err := a.write(ctx, col.FillOp, func(tx *sql.Tx) error {
		for _, f := range fills {
			if _, err := tx.ExecContext(ctx, col.update, f.Data, f.Content); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		a.st.log.Warn("sqlite store: keep "+col.What, "user", a.user, "messages", len(fills), "err", err)
	}
}

// mailboxIDExists returns KindNotFound if mailbox id does not exist. The
// read paths that select message rows of one mailbox (Metas, Cache,
// Headers, SearchFields) call it only when their query found no row: a
// message row proves its mailbox exists in the same snapshot, since
// DeleteMailbox removes the messages in the transaction that removes the
// mailbox and mailbox IDs are never reused. Looking the mailbox up first
// in every read transaction was 9-11% of the server's CPU under the
// webmail profile of roost bench (docs/BENCHMARKS.md).
func mailboxIDExists(ctx context.Context, q queryer, id mailstore.MailboxID) error {
	_, err := mailboxByID(ctx, q, id)
	return err
}
