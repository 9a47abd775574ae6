package sqlite

import (
	"context"
	"database/sql"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.HeaderSearcher = (*account)(nil)

const searchFieldsQuery = `SELECT m.uid, c.search_fields
	FROM message m JOIN message_cache c ON c.id = m.content
	WHERE m.mailbox_id = ? AND `

// SearchFields implements mailstore.HeaderSearcher from the search_fields
// column of message_cache (migration 6), filled at append and import
// (sqlstore.CacheData). One read transaction and one query answer the
// whole batch (the mailbox is looked up only when no row came back, see
// mailboxIDExists), and fn runs on each row as it is read, the fields
// aliasing the row's bytes: no message file is opened. Rows stored before
// migration 6 hold NULL and are reported as not kept.
func (a *account) SearchFields(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID,
	fn func(uid mailstore.UID, f *mailstore.SearchFields) error) error {
	if len(uids) == 0 {
		_, err := mailboxByID(ctx, cachedDB{a}, mbox)
		return dbErr("read search fields", err)
	}
	var fnErr error // fn's error, returned as it is
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
		var raw sql.RawBytes
		var uid mailstore.UID
		j := 0 // uids[j] is the next wanted UID
		found := false
		for rows.Next() {
			found = true
			if err := rows.Scan(&uid, &raw); err != nil {
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
	if fnErr != nil {
		return fnErr
	}
	return err
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
