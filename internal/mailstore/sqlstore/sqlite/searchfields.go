package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.HeaderSearcher = (*account)(nil)

// searchFieldsQuery reads the blob id only of rows to fill (a TEXT column
// costs an allocation per row in the driver).
const searchFieldsQuery = `SELECT m.uid, c.search_fields, c.id, CASE WHEN c.search_fields IS NULL THEN c.blob_id ELSE '' END, c.header_size
	FROM message m JOIN message_cache c ON c.id = m.content
	WHERE m.mailbox_id = ? AND `

// SearchFields implements mailstore.HeaderSearcher from the search_fields
// column of message_cache (migration 6), filled at append and import
// (sqlstore.CacheData). One read transaction and one query answer the
// whole batch (the mailbox is looked up only when no row came back, see
// mailboxIDExists), and fn runs on each row as it is read, the fields
// aliasing the row's bytes: no message file is opened.
//
// Rows stored before migration 6 (NULL) are filled lazily: the message's
// header is read from its file (as Headers would), its fields are given
// to fn and written to the row after the read transaction, so an upgraded
// account reads each old message's header once, at its first header
// SEARCH. Headers over sqlstore.SearchHeaderMax, and rows stored under
// other Unicode tables, are reported as not kept.
func (a *account) SearchFields(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID,
	fn func(uid mailstore.UID, f *mailstore.SearchFields) error) error {
	if len(uids) == 0 {
		_, err := mailboxByID(ctx, cachedDB{a}, mbox)
		return dbErr("read search fields", err)
	}
	var fnErr error // fn's error, returned as it is
	var fills []searchFieldsFill
	err := a.readCached(ctx, "read search fields", func(tx cachedTx) error {
		var rows *sql.Rows
		var err error
		lo, hi, dense := sqlstore.UIDSpan(uids)
		if dense {
			rows, err = tx.QueryContext(ctx, searchFieldsQuery+`m.uid BETWEEN ? AND ? ORDER BY m.uid`, mbox, lo, hi)
		} else {
			rows, err = tx.QueryContext(ctx, searchFieldsQuery+`m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
				mbox, jsonInts(uids))
		}
		if err != nil {
			return err
		}
		defer rows.Close()
		var sf mailstore.SearchFields
		var raw, blob sql.RawBytes
		var uid mailstore.UID
		var content, headerSize int64
		var hdrBuf []byte
		j := 0 // uids[j] is the next wanted UID
		found := false
		for rows.Next() {
			found = true
			if err := rows.Scan(&uid, &raw, &content, &blob, &headerSize); err != nil {
				return err
			}
			for j < len(uids) && uids[j] < uid {
				j++
			}
			if j == len(uids) {
				break
			}
			if uids[j] != uid {
				continue // in the span but not asked for
			}
			ok, err := sqlstore.UnmarshalSearchFields(raw, &sf)
			if err != nil {
				return mailstore.Internal("read search fields", err)
			}
			if !ok && len(blob) > 0 && headerSize <= sqlstore.SearchHeaderMax {
				hdr, err := a.readHeader(ctx, string(blob), headerSize, hdrBuf)
				if errors.Is(err, fs.ErrNotExist) {
					continue // expunged by a commit after this snapshot
				}
				if err != nil {
					return mailstore.Internal("read message header", err)
				}
				hdrBuf = hdr[:0]
				sf = mailstore.SearchFieldsOf(hdr)
				fills = append(fills, searchFieldsFill{content, sqlstore.MarshalSearchFields(&sf)})
				ok = true
			}
			f := &sf
			if !ok {
				f = nil
			}
			if err := fn(uid, f); err != nil {
				fnErr = err
				return err
			}
		}
		if err := rows.Err(); err != nil || found {
			return err
		}
		return mailboxIDExists(ctx, tx, mbox) // see mailboxIDExists
	})
	if len(fills) > 0 && err == nil && fnErr == nil {
		a.fillSearchFields(ctx, fills)
	}
	if fnErr != nil {
		return fnErr
	}
	return err
}

// searchFieldsFill is the stored search fields of a message_cache row
// that had none.
type searchFieldsFill struct {
	content int64
	data    []byte
}

// fillSearchFields writes fills in one transaction. The fields are a
// cache of the message file: a failure is logged and the rows stay as
// they were, to be filled by a later search.
func (a *account) fillSearchFields(ctx context.Context, fills []searchFieldsFill) {
	err := a.write(ctx, "fill search fields", func(tx *sql.Tx) error {
		for _, f := range fills {
			if _, err := tx.ExecContext(ctx, `UPDATE message_cache SET search_fields = ? WHERE id = ?`, f.data, f.content); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		a.st.log.Warn("sqlite store: keep search fields", "user", a.user, "messages", len(fills), "err", err)
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
