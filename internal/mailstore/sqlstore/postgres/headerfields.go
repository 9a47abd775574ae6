package postgres

import (
	"context"
	"errors"
	"io/fs"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.HeaderFieldsReader = (*account)(nil)

// HeaderFields implements mailstore.HeaderFieldsReader from the
// header_fields column of contents (migration 4), filled at append and
// import (sqlstore.CacheData): one query answers the whole batch and no
// body is read from the blob store. fn runs after the transaction (which
// may be retried, see Store.read). Rows stored before migration 4 (NULL)
// are filled lazily, as SearchFields fills its column: the header is read
// from the body once, its kept lines given to fn and written to the row.
// Headers over sqlstore.SearchHeaderMax, kept lines over
// mailstore.KeptLinesMax and rows kept under another field list are
// reported as not kept (nil).
func (a *account) HeaderFields(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID,
	fn func(uid mailstore.UID, kept []byte) error) error {
	type row struct {
		uid        mailstore.UID
		raw        []byte
		content    int64
		blob       string // only of a row without kept lines (NULL)
		headerSize int64
	}
	var got []row
	err := a.read(ctx, "read header fields", func(tx pgx.Tx) error {
		got = got[:0]
		if _, err := mailboxByID(ctx, tx, a.id, mbox, false); err != nil {
			return err
		}
		if len(uids) == 0 {
			return nil
		}
		const q = `SELECT m.uid, c.header_fields, c.id, CASE WHEN c.header_fields IS NULL THEN c.blob_id ELSE '' END, c.header_size
			FROM messages m JOIN contents c ON c.id = m.content WHERE m.mailbox_id = $1 AND `
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
	var fills []headerFieldsFill
	defer func() {
		if len(fills) > 0 {
			a.fillHeaderFields(ctx, fills)
		}
	}()
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
		kept := sqlstore.UnmarshalKeptLines(r.raw)
		if r.raw == nil && r.blob != "" && r.headerSize <= sqlstore.SearchHeaderMax {
			hdr, err := a.readHeader(ctx, r.blob, r.headerSize)
			if errors.Is(err, fs.ErrNotExist) {
				continue // expunged after the read
			}
			if err != nil {
				return mailstore.Internal("read message header", err)
			}
			stored := sqlstore.MarshalKeptLines(hdr)
			fills = append(fills, headerFieldsFill{r.content, stored})
			kept = sqlstore.UnmarshalKeptLines(stored)
		}
		if err := fn(r.uid, kept); err != nil {
			return err
		}
	}
	return nil
}

// headerFieldsFill is the stored kept lines of a contents row that had
// none.
type headerFieldsFill struct {
	content int64
	data    []byte
}

// fillHeaderFields writes fills in one transaction. The lines are a cache
// of the body: a failure is logged and the rows stay as they were, to be
// filled by a later FETCH.
func (a *account) fillHeaderFields(ctx context.Context, fills []headerFieldsFill) {
	err := a.write(ctx, "fill header fields", func(tx pgx.Tx) error {
		for _, f := range fills {
			if _, err := tx.Exec(ctx, `UPDATE contents SET header_fields = $1 WHERE id = $2 AND account_id = $3`, f.data, f.content, a.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		a.st.log.Warn("postgres store: keep header fields", "user", a.user, "messages", len(fills), "err", err)
	}
}
