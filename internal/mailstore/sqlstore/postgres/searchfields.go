package postgres

import (
	"context"
	"errors"
	"io"
	"io/fs"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.HeaderSearcher = (*account)(nil)

// SearchFields implements mailstore.HeaderSearcher from the search_fields
// column of contents (migration 3), filled at append and import
// (sqlstore.CacheData): one query answers the whole batch and no body is
// read from the blob store. fn runs after the transaction (which may be
// retried, see Store.read). Rows stored before migration 3 (NULL) are
// filled lazily: the header is read from the body once, its fields given
// to fn and written to the row. Headers over sqlstore.SearchHeaderMax,
// and rows stored under other Unicode tables, are reported as not kept.
func (a *account) SearchFields(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID,
	fn func(uid mailstore.UID, f *mailstore.SearchFields) error) error {
	type row struct {
		uid        mailstore.UID
		raw        []byte
		content    int64
		blob       string // only of a row without fields (NULL)
		headerSize int64
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
		const q = `SELECT m.uid, c.search_fields, c.id, CASE WHEN c.search_fields IS NULL THEN c.blob_id ELSE '' END, c.header_size
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
	var sf mailstore.SearchFields
	var fills []searchFieldsFill
	defer func() {
		if len(fills) > 0 {
			a.fillSearchFields(ctx, fills)
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
		ok, err := sqlstore.UnmarshalSearchFields(r.raw, &sf)
		if err != nil {
			return mailstore.Internal("read search fields", err)
		}
		if !ok && r.blob != "" && r.headerSize <= sqlstore.SearchHeaderMax {
			hdr, err := a.readHeader(ctx, r.blob, r.headerSize)
			if errors.Is(err, fs.ErrNotExist) {
				continue // expunged after the read
			}
			if err != nil {
				return mailstore.Internal("read message header", err)
			}
			sf = mailstore.SearchFieldsOf(hdr)
			fills = append(fills, searchFieldsFill{r.content, sqlstore.MarshalSearchFields(&sf)})
			ok = true
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

// searchFieldsFill is the stored search fields of a contents row that had
// none.
type searchFieldsFill struct {
	content int64
	data    []byte
}

// fillSearchFields writes fills in one transaction. The fields are a
// cache of the body: a failure is logged and the rows stay as they were,
// to be filled by a later search.
func (a *account) fillSearchFields(ctx context.Context, fills []searchFieldsFill) {
	err := a.write(ctx, "fill search fields", func(tx pgx.Tx) error {
		for _, f := range fills {
			if _, err := tx.Exec(ctx, `UPDATE contents SET search_fields = $1 WHERE id = $2 AND account_id = $3`, f.data, f.content, a.id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		a.st.log.Warn("postgres store: keep search fields", "user", a.user, "messages", len(fills), "err", err)
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
