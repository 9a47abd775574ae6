package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.HeaderFieldsReader = (*account)(nil)

// headerFieldsQuery reads the blob id only of rows to fill (a TEXT column
// costs an allocation per row in the driver).
const headerFieldsQuery = `SELECT m.uid, c.header_fields, c.id, CASE WHEN c.header_fields IS NULL THEN c.blob_id ELSE '' END, c.header_size
	FROM message m JOIN message_cache c ON c.id = m.content
	WHERE m.mailbox_id = ? AND `

// HeaderFields implements mailstore.HeaderFieldsReader from the
// header_fields column of message_cache (migration 7), filled at append
// and import (sqlstore.CacheData). One read transaction and one query
// answer the whole batch (the mailbox is looked up only when no row came
// back, see mailboxIDExists), and fn runs on each row as it is read, the
// lines aliasing the row's bytes: no message file is opened.
//
// Rows stored before migration 7 (NULL) are filled lazily, as
// SearchFields fills its column: the message's header is read from its
// file, its kept lines given to fn and written to the row after the read
// transaction. Headers over sqlstore.SearchHeaderMax, kept lines over
// mailstore.KeptLinesMax and rows kept under another field list are
// reported as not kept (nil).
func (a *account) HeaderFields(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID,
	fn func(uid mailstore.UID, kept []byte) error) error {
	if len(uids) == 0 {
		_, err := mailboxByID(ctx, cachedDB{a}, mbox)
		return dbErr("read header fields", err)
	}
	var fnErr error // fn's error, returned as it is
	var fills []headerFieldsFill
	err := a.readCached(ctx, "read header fields", func(tx cachedTx) error {
		var rows *sql.Rows
		var err error
		lo, hi, dense := sqlstore.UIDSpan(uids)
		if dense {
			rows, err = tx.QueryContext(ctx, headerFieldsQuery+`m.uid BETWEEN ? AND ? ORDER BY m.uid`, mbox, lo, hi)
		} else {
			rows, err = tx.QueryContext(ctx, headerFieldsQuery+`m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
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
			kept := sqlstore.UnmarshalKeptLines(raw)
			if raw == nil && len(blob) > 0 && headerSize <= sqlstore.SearchHeaderMax {
				hdr, err := a.readHeader(ctx, string(blob), headerSize, hdrBuf)
				if errors.Is(err, fs.ErrNotExist) {
					continue // expunged by a commit after this snapshot
				}
				if err != nil {
					return mailstore.Internal("read message header", err)
				}
				hdrBuf = hdr[:0]
				stored := sqlstore.MarshalKeptLines(hdr)
				fills = append(fills, headerFieldsFill{content, stored})
				kept = sqlstore.UnmarshalKeptLines(stored)
			}
			if err := fn(uid, kept); err != nil {
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
		a.fillHeaderFields(ctx, fills)
	}
	if fnErr != nil {
		return fnErr
	}
	return err
}

// headerFieldsFill is the stored kept lines of a message_cache row that
// had none.
type headerFieldsFill struct {
	content int64
	data    []byte
}

// fillHeaderFields writes fills in one transaction. The lines are a cache
// of the message file: a failure is logged and the rows stay as they
// were, to be filled by a later FETCH.
func (a *account) fillHeaderFields(ctx context.Context, fills []headerFieldsFill) {
	err := a.write(ctx, "fill header fields", func(tx *sql.Tx) error {
		for _, f := range fills {
			if _, err := tx.ExecContext(ctx, `UPDATE message_cache SET header_fields = ? WHERE id = ?`, f.data, f.content); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		a.st.log.Warn("sqlite store: keep header fields", "user", a.user, "messages", len(fills), "err", err)
	}
}
