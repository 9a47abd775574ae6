package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"io/fs"
	"sort"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

func (a *account) Append(ctx context.Context, mailbox string, msg mailstore.NewMessage, body io.Reader) (mailstore.Mailbox, mailstore.UID, error) {
	return a.appendAt(ctx, mailbox, 0, msg, body)
}

// appendAt appends with UID want, or with the mailbox's UIDNEXT if want is
// 0. A want below UIDNEXT is KindExists (see mailstore.Importer).
func (a *account) appendAt(ctx context.Context, mailbox string, want mailstore.UID, msg mailstore.NewMessage, body io.Reader) (mailstore.Mailbox, mailstore.UID, error) {
	return a.appendWith(ctx, mailbox, appendOpts{want: want}, msg, body)
}

// appendOpts are the import variants of an append (importer.go).
type appendOpts struct {
	want mailstore.UID // the UID to take; 0: UIDNEXT
	// fresh: a want below UIDNEXT takes UIDNEXT instead of failing.
	fresh bool
	// ledger, if not nil, is recorded in import_ledger in the append's
	// transaction; a key already there is KindExists and nothing is stored.
	ledger *mailstore.ImportSource
}

func (a *account) appendWith(ctx context.Context, mailbox string, o appendOpts, msg mailstore.NewMessage, body io.Reader) (mailstore.Mailbox, mailstore.UID, error) {
	want := o.want
	name, err := mailstore.NormalizeMailboxName(mailbox)
	if err != nil {
		return mailstore.Mailbox{}, 0, err
	}
	bits, kws, err := sqlstore.ParseFlags(msg.Flags)
	if err != nil {
		return mailstore.Mailbox{}, 0, err
	}
	// Fail before reading the body when the mailbox does not exist. It is
	// checked again in the transaction.
	if m, err := mailboxByName(ctx, cachedDB{a}, name); err != nil {
		return mailstore.Mailbox{}, 0, dbErr("append", err)
	} else if want != 0 && want < m.UIDNext && !o.fresh {
		return mailstore.Mailbox{}, 0, mailstore.Errorf(mailstore.KindExists, "UID %d was given out already", want)
	}
	if o.ledger != nil {
		if found, err := ledgerHas(ctx, a.r, o.ledger.Key); err != nil {
			return mailstore.Mailbox{}, 0, dbErr("append", err)
		} else if found {
			return mailstore.Mailbox{}, 0, sqlstore.ImportedBefore(o.ledger.Key)
		}
	}
	date, tz := sqlstore.InternalDate(msg.InternalDate)

	// Store the bytes durably and parse them in the same pass.
	p := sqlstore.StartParser()
	blobID, size, err := a.blobs.PutTee(ctx, body, a.st.opts.MaxMessageSize, p.W())
	cache, perr := p.Finish(err)
	if err != nil {
		if mailstore.KindOf(err) == mailstore.KindTooBig {
			return mailstore.Mailbox{}, 0, err
		}
		return mailstore.Mailbox{}, 0, mailstore.Internal("append: store message", err)
	}
	if perr != nil {
		a.deleteBlobs([]string{blobID})
		return mailstore.Mailbox{}, 0, mailstore.Internal("append: parse message", perr)
	}

	var mb mailstore.Mailbox
	var uid mailstore.UID
	limits := a.limits() // may read the users file: not inside the transaction
	err = a.write(ctx, "append", func(tx *sql.Tx) error {
		m, err := mailboxByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if m.UIDNext >= sqlstore.MaxUID {
			return mailstore.Errorf(mailstore.KindLimit, "mailbox has run out of UIDs")
		}
		// An import (want != 0, mailstore.Importer) is counted but not
		// refused for quota.
		if want == 0 && o.ledger == nil {
			if err := checkQuotaTx(ctx, tx, limits, size, 1); err != nil {
				return err
			}
		}
		kws, err := canonicalKeywords(ctx, tx, kws, true)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO message_cache (blob_id, size, header_size, envelope, bodystructure, body, parts, search_fields, header_fields)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, blobID, size, cache.HeaderSize, cache.Envelope, cache.BodyStructure, cache.Body, cache.Parts, cache.SearchFields, cache.HeaderFields)
		if err != nil {
			return err
		}
		content, err := res.LastInsertId()
		if err != nil {
			return err
		}
		uid = m.UIDNext
		if want != 0 && (want >= m.UIDNext || !o.fresh) {
			if want < m.UIDNext {
				return mailstore.Errorf(mailstore.KindExists, "UID %d was given out already", want)
			}
			if want >= sqlstore.MaxUID {
				return mailstore.Errorf(mailstore.KindInvalid, "UID %d out of range", want)
			}
			uid = want
		}
		modseq := m.HighestModSeq + 1
		if _, err := tx.ExecContext(ctx, `INSERT INTO message (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.ID, uid, modseq, bits, sqlstore.JoinKeywords(kws), date.Unix(), tz, size, content); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mailbox SET uidnext = ?, highestmodseq = ? WHERE id = ?`, uid+1, modseq, m.ID); err != nil {
			return err
		}
		if o.ledger != nil {
			if err := ledgerAdd(ctx, tx, *o.ledger, size, m.ID, uid); err != nil {
				return err
			}
		}
		mb = m.Mailbox
		mb.UIDNext = uid + 1
		mb.HighestModSeq = modseq
		return nil
	})
	if err != nil {
		a.deleteBlobs([]string{blobID})
		return mailstore.Mailbox{}, 0, err
	}
	a.notify()
	return mb, uid, nil
}

func scanMetas(rows *sql.Rows, sizeHint int) ([]mailstore.MessageMeta, error) {
	defer rows.Close()
	return sqlstore.ScanMetas(rows, sizeHint)
}

func (a *account) Messages(ctx context.Context, mbox mailstore.MailboxID) ([]mailstore.MessageMeta, error) {
	var out []mailstore.MessageMeta
	err := a.readCached(ctx, "list messages", func(tx cachedTx) error {
		m, err := mailboxByID(ctx, tx, mbox)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+sqlstore.MetaColumns+` FROM message WHERE mailbox_id = ? ORDER BY uid`, mbox)
		if err != nil {
			return err
		}
		out, err = scanMetas(rows, int(m.messages))
		return err
	})
	return out, err
}

// changedSinceQuery is the "changed since modseq" query. INDEXED BY makes
// the use of (mailbox_id, modseq) explicit: without statistics the planner
// was seen scanning the primary key instead (DESIGN.md 7). TestQueryPlan
// checks it.
const changedSinceQuery = `SELECT ` + sqlstore.MetaColumns + ` FROM message INDEXED BY message_modseq
	WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`

const tombstonesSinceQuery = `SELECT uid FROM tombstone INDEXED BY tombstone_modseq
	WHERE mailbox_id = ? AND modseq > ? ORDER BY uid`

func (a *account) Changes(ctx context.Context, mbox mailstore.MailboxID, since mailstore.ModSeq) (mailstore.Changes, error) {
	var c mailstore.Changes
	err := a.read(ctx, "changes", func(rtx *sql.Tx) error {
		// Every idling session runs this after every commit: prepared
		// statements (stmtcache.go) spare SQLite's parser and planner.
		tx := cachedTx{a: a, tx: rtx}
		m, err := mailboxByID(ctx, tx, mbox)
		if err != nil {
			return err
		}
		c.HighestModSeq = m.HighestModSeq
		c.UIDNext = m.UIDNext
		if since >= m.HighestModSeq {
			return nil
		}
		var rows *sql.Rows
		sizeHint := 0
		if since == 0 {
			// Every message (SELECT): size the slice once instead of
			// growing it through 100k appends.
			sizeHint = int(m.messages)
			rows, err = tx.QueryContext(ctx, `SELECT `+sqlstore.MetaColumns+` FROM message WHERE mailbox_id = ? ORDER BY uid`, mbox)
		} else {
			rows, err = tx.QueryContext(ctx, changedSinceQuery, mbox, since)
		}
		if err != nil {
			return err
		}
		if c.Updated, err = scanMetas(rows, sizeHint); err != nil {
			return err
		}
		if len(c.Updated) == 0 {
			c.Updated = nil
		}
		uids, err := queryInts(ctx, tx, tombstonesSinceQuery, mbox, since)
		if err != nil {
			return err
		}
		for _, u := range uids {
			c.Expunged = append(c.Expunged, mailstore.UID(u))
		}
		return nil
	})
	return c, err
}

// expungeDeletedQuery deletes the \Deleted messages of a mailbox.
const expungeDeletedQuery = `DELETE FROM message INDEXED BY message_deleted WHERE mailbox_id = ? AND (flags & 8) != 0`

const cacheQuery = `SELECT m.uid, c.envelope, c.bodystructure, c.body, c.parts, c.header_size
	FROM message m JOIN message_cache c ON c.id = m.content
	WHERE m.mailbox_id = ? AND `

func (a *account) Cache(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID) ([]mailstore.MessageCache, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	byUID := make(map[mailstore.UID]mailstore.MessageCache, len(uids))
	err := a.readCached(ctx, "message cache", func(tx cachedTx) error {
		var rows *sql.Rows
		var err error
		if lo, hi, dense := sqlstore.UIDSpan(uids); dense {
			// Dense (FETCH 1:*, a batch of consecutive UIDs): a range scan
			// of the primary key. Per-UID lookups through json_each took
			// twice as long; rows not asked for are dropped below.
			rows, err = tx.QueryContext(ctx, cacheQuery+`m.uid BETWEEN ? AND ?`, mbox, lo, hi)
		} else {
			rows, err = tx.QueryContext(ctx, cacheQuery+`m.uid IN (SELECT value FROM json_each(?))`, mbox, jsonInts(uids))
		}
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c mailstore.MessageCache
			if err := rows.Scan(&c.UID, &c.Envelope, &c.BodyStructure, &c.Body, &c.Parts, &c.HeaderSize); err != nil {
				return err
			}
			byUID[c.UID] = c
		}
		if err := rows.Err(); err != nil || len(byUID) > 0 {
			return err
		}
		return mailboxIDExists(ctx, tx, mbox) // see mailboxIDExists
	})
	if err != nil {
		return nil, err
	}
	out := make([]mailstore.MessageCache, 0, len(byUID))
	for _, u := range uids {
		if c, ok := byUID[u]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// openQuery finds a message's blob; Open runs it once per message of a
// body SEARCH, so it is a cached prepared statement.
const openQuery = `SELECT c.blob_id, m.size FROM message m JOIN message_cache c ON c.id = m.content
	WHERE m.mailbox_id = ? AND m.uid = ?`

func (a *account) Open(ctx context.Context, mbox mailstore.MailboxID, uid mailstore.UID) (mailstore.Body, error) {
	var blobID string
	var size int64
	err := a.read(ctx, "open message", func(tx *sql.Tx) error {
		err := cachedTx{a: a, tx: tx}.QueryRowContext(ctx, openQuery, mbox, uid).Scan(&blobID, &size)
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := mailboxByID(ctx, tx, mbox); err != nil {
				return err
			}
			return mailstore.Errorf(mailstore.KindExpunged, "message has been expunged")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	f, err := a.blobs.Open(ctx, blobID)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Expunged (and its file deleted) after our read.
			return nil, &mailstore.Error{Kind: mailstore.KindExpunged, Msg: "message has been expunged", Err: err}
		}
		return nil, mailstore.Internal("open message file", err)
	}
	return f, nil
}

func (a *account) StoreFlags(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID, op mailstore.FlagOp,
	flags []string, unchangedSince mailstore.ModSeq) (updated []mailstore.MessageMeta, failed []mailstore.UID, err error) {
	if err := sqlstore.CheckFlagOp(op); err != nil {
		return nil, nil, err
	}
	bits, kws, err := sqlstore.ParseFlags(flags)
	if err != nil {
		return nil, nil, err
	}
	if len(uids) == 0 {
		_, err := mailboxByID(ctx, a.r, mbox)
		return nil, nil, dbErr("store flags", err)
	}
	changed := false
	// Flag-only: not fsynced under mail_fsync = optimized (flags.go).
	err = a.writeCached(ctx, "store flags", false, func(tx cachedTx) error {
		updated, failed, changed = nil, nil, false
		m, err := mailboxByID(ctx, tx, mbox)
		if err != nil {
			return err
		}
		kws, err := canonicalKeywords(ctx, tx, kws, op != mailstore.FlagsRemove)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+sqlstore.MetaColumns+` FROM message
			WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`, mbox, jsonInts(uids))
		if err != nil {
			return err
		}
		var changes []sqlstore.FlagChange
		updated, failed, changes, err = sqlstore.PlanStore(rows, op, bits, kws, unchangedSince)
		rows.Close()
		if err != nil {
			return err
		}
		if len(changes) == 0 {
			return nil
		}
		// One new MODSEQ for the whole operation (RFC 7162 3.1: each STORE
		// gets a different, higher mod-sequence).
		modseq := m.HighestModSeq + 1
		upd, done, err := tx.prepare(ctx, `UPDATE message SET flags = ?, keywords = ?, modseq = ? WHERE mailbox_id = ? AND uid = ?`)
		if err != nil {
			return err
		}
		defer done()
		for _, c := range changes {
			if _, err := upd.ExecContext(ctx, c.Bits, c.Keywords, modseq, mbox, updated[c.I].UID); err != nil {
				return err
			}
		}
		sqlstore.SetStored(updated, changes, modseq)
		if _, err := tx.ExecContext(ctx, `UPDATE mailbox SET highestmodseq = ? WHERE id = ?`, modseq, mbox); err != nil {
			return err
		}
		changed = true
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if changed {
		a.notify()
	}
	return updated, failed, nil
}

func (a *account) Expunge(ctx context.Context, mbox mailstore.MailboxID, opts mailstore.ExpungeOptions) ([]mailstore.UID, error) {
	if opts.UIDs != nil && len(opts.UIDs) == 0 {
		_, err := mailboxByID(ctx, a.r, mbox)
		return nil, dbErr("expunge", err)
	}
	var removed []mailstore.UID
	var orphans []string
	err := a.write(ctx, "expunge", func(tx *sql.Tx) error {
		removed, orphans = nil, nil
		m, err := mailboxByID(ctx, tx, mbox)
		if err != nil {
			return err
		}
		if opts.OnlyDeleted && m.deleted == 0 {
			return nil // the counter says there is nothing to do
		}
		q := `DELETE FROM message WHERE mailbox_id = ?`
		args := []any{mbox}
		if opts.OnlyDeleted {
			// The partial index message_deleted holds exactly these
			// rows: the cost is the number of \Deleted messages, not
			// the mailbox size (TestDeletedPlan). Without statistics
			// the planner picks the primary key, hence INDEXED BY.
			q = expungeDeletedQuery
		}
		if opts.UIDs != nil {
			q += ` AND uid IN (SELECT value FROM json_each(?))`
			args = append(args, jsonInts(opts.UIDs))
		}
		rows, err := tx.QueryContext(ctx, q+` RETURNING uid, content`, args...)
		if err != nil {
			return err
		}
		var contents []int64
		for rows.Next() {
			var uid mailstore.UID
			var content int64
			if err := rows.Scan(&uid, &content); err != nil {
				rows.Close()
				return err
			}
			removed = append(removed, uid)
			contents = append(contents, content)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(removed) == 0 {
			return nil
		}
		sort.Slice(removed, func(i, j int) bool { return removed[i] < removed[j] })
		modseq := m.HighestModSeq + 1
		if err := addTombstones(ctx, tx, mbox, removed, modseq); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mailbox SET highestmodseq = ? WHERE id = ?`, modseq, mbox); err != nil {
			return err
		}
		orphans, err = dropUnreferenced(ctx, tx, contents)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(removed) > 0 {
		a.deleteBlobs(orphans)
		a.notify()
	}
	return removed, nil
}

func addTombstones(ctx context.Context, tx *sql.Tx, mbox mailstore.MailboxID, uids []mailstore.UID, modseq mailstore.ModSeq) error {
	_, err := tx.ExecContext(ctx, `INSERT OR REPLACE INTO tombstone (mailbox_id, uid, modseq)
		SELECT ?, value, ? FROM json_each(?)`, mbox, modseq, jsonInts(uids))
	return err
}

func (a *account) Copy(ctx context.Context, src mailstore.MailboxID, uids []mailstore.UID, dst string) (mailstore.CopyResult, error) {
	return a.copyMove(ctx, src, uids, dst, false)
}

func (a *account) Move(ctx context.Context, src mailstore.MailboxID, uids []mailstore.UID, dst string) (mailstore.CopyResult, error) {
	return a.copyMove(ctx, src, uids, dst, true)
}

// copyMove copies messages in UID order to dst, giving them consecutive new
// UIDs and one new MODSEQ; with move, it also expunges them from src, in the
// same transaction (RFC 6851).
func (a *account) copyMove(ctx context.Context, src mailstore.MailboxID, uids []mailstore.UID, dst string, move bool) (mailstore.CopyResult, error) {
	op := "copy"
	if move {
		op = "move"
	}
	dst, err := mailstore.NormalizeMailboxName(dst)
	if err != nil {
		return mailstore.CopyResult{}, err
	}
	var res mailstore.CopyResult
	var limits mailstore.Quota
	if !move {
		limits = a.limits() // may read the users file: not inside the transaction
	}
	err = a.write(ctx, op, func(tx *sql.Tx) error {
		res = mailstore.CopyResult{}
		s, err := mailboxByID(ctx, tx, src)
		if err != nil {
			return err
		}
		d, err := mailboxByName(ctx, tx, dst)
		if err != nil {
			return err
		}
		if move && s.ID == d.ID {
			return mailstore.Errorf(mailstore.KindInvalid, "cannot move messages to the mailbox they are in")
		}
		res.DestUIDValidity = d.UIDValidity
		if len(uids) == 0 {
			return nil
		}
		rows, err := tx.QueryContext(ctx, `SELECT uid FROM message
			WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`, src, jsonInts(uids))
		if err != nil {
			return err
		}
		for rows.Next() {
			var u mailstore.UID
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return err
			}
			res.Source = append(res.Source, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(res.Source) == 0 {
			return nil
		}
		if uint64(d.UIDNext)+uint64(len(res.Source)) > sqlstore.MaxUID {
			return mailstore.Errorf(mailstore.KindLimit, "mailbox has run out of UIDs")
		}
		if !move {
			// A copy adds to usage; a move leaves it unchanged.
			var size int64
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM message
				WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))`, src, jsonInts(res.Source)).Scan(&size); err != nil {
				return err
			}
			if err := checkQuotaTx(ctx, tx, limits, size, int64(len(res.Source))); err != nil {
				return err
			}
		}
		modseq := d.HighestModSeq + 1
		ins, err := tx.PrepareContext(ctx, `INSERT INTO message (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content)
			SELECT ?, ?, ?, flags, keywords, internal_date, internal_tz, size, content FROM message WHERE mailbox_id = ? AND uid = ?`)
		if err != nil {
			return err
		}
		defer ins.Close()
		next := d.UIDNext
		for _, u := range res.Source {
			if _, err := ins.ExecContext(ctx, d.ID, next, modseq, src, u); err != nil {
				return err
			}
			res.Dest = append(res.Dest, next)
			next++
		}
		if _, err := tx.ExecContext(ctx, `UPDATE mailbox SET uidnext = ?, highestmodseq = ? WHERE id = ?`, next, modseq, d.ID); err != nil {
			return err
		}
		if !move {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM message WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?))`,
			src, jsonInts(res.Source)); err != nil {
			return err
		}
		srcModseq := s.HighestModSeq + 1
		if err := addTombstones(ctx, tx, src, res.Source, srcModseq); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE mailbox SET highestmodseq = ? WHERE id = ?`, srcModseq, src)
		return err
	})
	if err != nil {
		return mailstore.CopyResult{}, err
	}
	if len(res.Source) > 0 {
		a.notify()
	}
	return res, nil
}

func (a *account) LockMaildrop(ctx context.Context) (func(), error) {
	a.dropMu.Lock()
	defer a.dropMu.Unlock()
	if a.dropHeld {
		return nil, mailstore.Errorf(mailstore.KindInUse, "maildrop is locked by another session")
	}
	a.dropHeld = true
	var done bool
	return func() {
		a.dropMu.Lock()
		defer a.dropMu.Unlock()
		if !done {
			done = true
			a.dropHeld = false
		}
	}, nil
}

var _ mailstore.Account = (*accountRef)(nil)
