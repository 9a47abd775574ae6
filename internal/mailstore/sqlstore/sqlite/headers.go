package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"io/fs"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

const headersQuery = `SELECT m.uid, c.blob_id, c.header_size
	FROM message m JOIN message_cache c ON c.id = m.content
	WHERE m.mailbox_id = ? AND `

// Headers implements mailstore.HeaderReader: one read transaction finds
// the blobs and header sizes of the whole batch, then each header is read
// from its file with one pread. A header SEARCH (SUBJECT, FROM) of the
// webmail benchmark spent half of the server's CPU in Open, a read
// transaction and a prepared query per message (docs/BENCHMARKS.md,
// "webmail"). The files are read after the transaction ends: a message
// expunged meanwhile has lost its file and is skipped, like one expunged
// before the lookup.
func (a *account) Headers(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID, limit int64,
	fn func(uid mailstore.UID, hdr []byte) error) error {
	if len(uids) == 0 {
		_, err := mailboxByID(ctx, cachedDB{a}, mbox)
		return dbErr("read headers", err)
	}
	type loc struct {
		uid  mailstore.UID
		blob string
		size int64
	}
	want := make(map[mailstore.UID]struct{}, len(uids))
	for _, u := range uids {
		want[u] = struct{}{}
	}
	locs := make([]loc, 0, len(uids))
	err := a.readCached(ctx, "read headers", func(tx cachedTx) error {
		var rows *sql.Rows
		var err error
		if lo, hi, dense := sqlstore.UIDSpan(uids); dense {
			rows, err = tx.QueryContext(ctx, headersQuery+`m.uid BETWEEN ? AND ? ORDER BY m.uid`, mbox, lo, hi)
		} else {
			rows, err = tx.QueryContext(ctx, headersQuery+`m.uid IN (SELECT value FROM json_each(?)) ORDER BY m.uid`,
				mbox, jsonInts(uids))
		}
		if err != nil {
			return err
		}
		defer rows.Close()
		found := false
		for rows.Next() {
			found = true
			var l loc
			if err := rows.Scan(&l.uid, &l.blob, &l.size); err != nil {
				return err
			}
			if _, ok := want[l.uid]; ok {
				locs = append(locs, l)
			}
		}
		if err := rows.Err(); err != nil || found {
			return err
		}
		return mailboxIDExists(ctx, tx, mbox) // see mailboxIDExists
	})
	if err != nil {
		return err
	}
	var buf []byte
	for _, l := range locs {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := a.readHeader(ctx, l.blob, min(l.size, limit), buf)
		if errors.Is(err, fs.ErrNotExist) {
			continue // expunged after the lookup
		}
		if err != nil {
			return mailstore.Internal("read message header", err)
		}
		buf = hdr[:0]
		if err := fn(l.uid, hdr); err != nil {
			return err
		}
	}
	return nil
}

// readHeader reads the first n octets of blob id (fewer if the file is
// shorter) into buf's storage when it is big enough.
func (a *account) readHeader(ctx context.Context, id string, n int64, buf []byte) ([]byte, error) {
	f, err := a.blobs.Open(ctx, id)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	n = max(min(n, f.Size()), 0)
	if int64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	k, err := f.ReadAt(buf, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return buf[:k], nil
}
