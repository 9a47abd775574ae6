package postgres

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

func (a *account) Append(ctx context.Context, mailbox string, msg mailstore.NewMessage, body io.Reader) (mailstore.Mailbox, mailstore.UID, error) {
	return a.appendAt(ctx, mailbox, 0, msg, body)
}

// allocateQuery allocates the UID and MODSEQ of an appended message and
// locks the mailbox row until commit (see the package documentation). $3
// is the UID the caller wants (Importer), 0 for UIDNEXT; with $4 (fresh),
// a wanted UID below UIDNEXT takes UIDNEXT instead of failing.
const allocateQuery = `UPDATE mailboxes m SET
		uidnext = CASE WHEN $3 = 0 OR $4 AND $3 < m.uidnext THEN m.uidnext + 1 ELSE $3 + 1 END,
		highestmodseq = m.highestmodseq + 1
	WHERE m.account_id = $1 AND m.name = $2 AND ($3 = 0 OR $4 OR m.uidnext <= $3) AND m.uidnext < ` + "4294967295" + `
	RETURNING ` + mailboxColumns

// appendOpts are the import variants of an append (importer.go).
type appendOpts struct {
	want mailstore.UID // the UID to take; 0: UIDNEXT
	// fresh: a want below UIDNEXT takes UIDNEXT instead of failing.
	fresh bool
	// ledger, if not nil, is recorded in import_ledger in the append's
	// transaction; a key already there is KindExists and nothing is stored.
	ledger *mailstore.ImportSource
}

// appendAt appends with UID want, or with the mailbox's UIDNEXT if want is
// 0. A want below UIDNEXT is KindExists (see mailstore.Importer).
func (a *account) appendAt(ctx context.Context, mailbox string, want mailstore.UID, msg mailstore.NewMessage, body io.Reader) (mailstore.Mailbox, mailstore.UID, error) {
	return a.appendWith(ctx, mailbox, appendOpts{want: want}, msg, body)
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
	if want >= sqlstore.MaxUID {
		return mailstore.Mailbox{}, 0, mailstore.Errorf(mailstore.KindInvalid, "UID %d out of range", want)
	}
	// Fail before reading the body when the mailbox does not exist or the
	// UID was given out. Both are checked again in the transaction.
	if m, err := a.Status(ctx, name); err != nil {
		return mailstore.Mailbox{}, 0, err
	} else if want != 0 && want < m.UIDNext && !o.fresh {
		return mailstore.Mailbox{}, 0, mailstore.Errorf(mailstore.KindExists, "UID %d was given out already", want)
	}
	if o.ledger != nil {
		if found, err := a.Imported(ctx, o.ledger.Key); err != nil {
			return mailstore.Mailbox{}, 0, err
		} else if found {
			return mailstore.Mailbox{}, 0, sqlstore.ImportedBefore(o.ledger.Key)
		}
	}
	date, tz := sqlstore.InternalDate(msg.InternalDate)

	// Store the bytes durably and parse them in the same pass. With the
	// default blob store, a body of one chunk is inserted by the append's
	// own transaction below (one commit instead of two).
	p := sqlstore.StartParser()
	var staged *stagedBlob
	if bs, ok := a.st.blobs.(*BlobStore); ok {
		staged, err = bs.stage(ctx, body, a.st.opts.MaxMessageSize, p.W())
	} else {
		staged = &stagedBlob{}
		staged.id, staged.size, err = a.st.blobs.PutTee(ctx, body, a.st.opts.MaxMessageSize, p.W())
	}
	cache, perr := p.Finish(err)
	if err != nil {
		if mailstore.KindOf(err) == mailstore.KindTooBig {
			return mailstore.Mailbox{}, 0, err
		}
		return mailstore.Mailbox{}, 0, dbErr("append: store message", err)
	}
	blobID, size := staged.id, staged.size
	// dropBlob removes the body after a failure, unless it was never
	// stored (staged in memory, or inserted by a rolled back transaction).
	dropBlob := func() {
		if !staged.pending {
			a.st.deleteBlobsNow([]string{blobID})
		}
	}
	if perr != nil {
		dropBlob()
		return mailstore.Mailbox{}, 0, mailstore.Internal("append: parse message", perr)
	}

	var mb mailstore.Mailbox
	var uid mailstore.UID
	limits := a.limits() // may read the users file: not inside the transaction
	err = a.write(ctx, "append", func(tx pgx.Tx) error {
		m, err := scanMailbox(tx.QueryRow(ctx, allocateQuery, a.id, name, int64(want), o.fresh))
		if errors.Is(err, pgx.ErrNoRows) {
			// Why not: no mailbox, UID given out, or no UIDs left.
			cur, err := mailboxByName(ctx, tx, a.id, name, false)
			switch {
			case err != nil:
				return err
			case want != 0 && want < cur.UIDNext:
				return mailstore.Errorf(mailstore.KindExists, "UID %d was given out already", want)
			default:
				return mailstore.Errorf(mailstore.KindLimit, "mailbox has run out of UIDs")
			}
		}
		if err != nil {
			return err
		}
		// An import (want != 0 or a ledger record, mailstore.Importer) is
		// counted but not refused for quota.
		if want == 0 && o.ledger == nil {
			if err := checkQuotaTx(ctx, tx, a.id, limits, size, 1); err != nil {
				return err
			}
		}
		kws, err := canonicalKeywords(ctx, tx, a.id, kws, true)
		if err != nil {
			return err
		}
		uid = m.UIDNext - 1
		if staged.pending {
			if err := staged.insert(ctx, tx.Exec); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `WITH c AS (
				INSERT INTO contents (account_id, blob_id, size, header_size, envelope, bodystructure, body, parts, search_fields, header_fields)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $16, $17) RETURNING id)
			INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content)
			SELECT $9, $10, $11, $12, $13, $14, $15, $3, c.id FROM c`,
			a.id, blobID, size, cache.HeaderSize, cache.Envelope, cache.BodyStructure, cache.Body, cache.Parts,
			int64(m.ID), int64(uid), int64(m.HighestModSeq), bits, sqlstore.JoinKeywords(kws), date.Unix(), tz, cache.SearchFields, cache.HeaderFields); err != nil {
			return err
		}
		if o.ledger != nil {
			if err := ledgerAdd(ctx, tx, a.id, *o.ledger, size, m.ID, uid); err != nil {
				return err
			}
		}
		mb = m.Mailbox
		return nil
	})
	if err != nil {
		dropBlob()
		return mailstore.Mailbox{}, 0, err
	}
	a.notify()
	return mb, uid, nil
}

func scanMetas(rows pgx.Rows, sizeHint int) ([]mailstore.MessageMeta, error) {
	defer rows.Close()
	return sqlstore.ScanMetas(rows, sizeHint)
}

func (a *account) Messages(ctx context.Context, mbox mailstore.MailboxID) ([]mailstore.MessageMeta, error) {
	var out []mailstore.MessageMeta
	err := a.read(ctx, "list messages", func(tx pgx.Tx) error {
		m, err := mailboxByID(ctx, tx, a.id, mbox, false)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+sqlstore.MetaColumns+` FROM messages WHERE mailbox_id = $1 ORDER BY uid`, int64(mbox))
		if err != nil {
			return err
		}
		out, err = scanMetas(rows, int(m.messages))
		return err
	})
	return out, err
}

func (a *account) Changes(ctx context.Context, mbox mailstore.MailboxID, since mailstore.ModSeq) (mailstore.Changes, error) {
	var c mailstore.Changes
	err := a.read(ctx, "changes", func(tx pgx.Tx) error {
		c = mailstore.Changes{}
		m, err := mailboxByID(ctx, tx, a.id, mbox, false)
		if err != nil {
			return err
		}
		c.HighestModSeq = m.HighestModSeq
		c.UIDNext = m.UIDNext
		if since >= m.HighestModSeq {
			return nil
		}
		var rows pgx.Rows
		sizeHint := 0
		if since == 0 {
			sizeHint = int(m.messages)
			rows, err = tx.Query(ctx, `SELECT `+sqlstore.MetaColumns+` FROM messages WHERE mailbox_id = $1 ORDER BY uid`, int64(mbox))
		} else {
			rows, err = tx.Query(ctx, `SELECT `+sqlstore.MetaColumns+` FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid`,
				int64(mbox), int64(since))
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
		uids, err := queryInts(ctx, tx, `SELECT uid FROM tombstones WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid`,
			int64(mbox), int64(since))
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

// uidArray converts UIDs for a bigint[] parameter.
func uidArray(uids []mailstore.UID) []int64 {
	out := make([]int64, len(uids))
	for i, u := range uids {
		out[i] = int64(u)
	}
	return out
}

func (a *account) Cache(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID) ([]mailstore.MessageCache, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	byUID := make(map[mailstore.UID]mailstore.MessageCache, len(uids))
	err := a.read(ctx, "message cache", func(tx pgx.Tx) error {
		clear(byUID)
		if _, err := mailboxByID(ctx, tx, a.id, mbox, false); err != nil {
			return err
		}
		const q = `SELECT m.uid, c.envelope, c.bodystructure, c.body, c.parts, c.header_size
			FROM messages m JOIN contents c ON c.id = m.content WHERE m.mailbox_id = $1 AND `
		var rows pgx.Rows
		var err error
		if lo, hi, dense := sqlstore.UIDSpan(uids); dense {
			// Dense: a primary-key range scan; rows not asked for are
			// dropped below.
			rows, err = tx.Query(ctx, q+`m.uid BETWEEN $2 AND $3`, int64(mbox), int64(lo), int64(hi))
		} else {
			rows, err = tx.Query(ctx, q+`m.uid = ANY($2)`, int64(mbox), uidArray(uids))
		}
		if err != nil {
			return err
		}
		var c mailstore.MessageCache
		var uid int64
		_, err = pgx.ForEachRow(rows, []any{&uid, &c.Envelope, &c.BodyStructure, &c.Body, &c.Parts, &c.HeaderSize}, func() error {
			c.UID = mailstore.UID(uid)
			byUID[c.UID] = c
			c.Parts = nil // a fresh slice per row
			return nil
		})
		return err
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

func (a *account) Open(ctx context.Context, mbox mailstore.MailboxID, uid mailstore.UID) (mailstore.Body, error) {
	var blobID string
	err := a.read(ctx, "open message", func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT c.blob_id FROM messages m JOIN contents c ON c.id = m.content
			WHERE m.mailbox_id = $1 AND m.uid = $2`, int64(mbox), int64(uid)).Scan(&blobID)
		if errors.Is(err, pgx.ErrNoRows) {
			if _, err := mailboxByID(ctx, tx, a.id, mbox, false); err != nil {
				return err
			}
			return mailstore.Errorf(mailstore.KindExpunged, "message has been expunged")
		}
		if err != nil {
			return err
		}
		// The message row was found by mailbox id alone: check the
		// mailbox is this account's.
		_, err = mailboxByID(ctx, tx, a.id, mbox, false)
		return err
	})
	if err != nil {
		return nil, err
	}
	r, err := a.st.blobs.Open(ctx, blobID)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// Expunged (and its body deleted) after our read.
			return nil, &mailstore.Error{Kind: mailstore.KindExpunged, Msg: "message has been expunged", Err: err}
		}
		return nil, dbErr("open message body", err)
	}
	return r, nil
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
		// Nothing to change: only the mailbox must exist (no lock).
		return nil, nil, a.read(ctx, "store flags", func(tx pgx.Tx) error {
			_, err := mailboxByID(ctx, tx, a.id, mbox, false)
			return err
		})
	}
	changed := false
	err = a.write(ctx, "store flags", func(tx pgx.Tx) error {
		updated, failed, changed = nil, nil, false
		if err := a.st.flagOnlyCommit(ctx, tx); err != nil {
			return err
		}
		m, err := mailboxByID(ctx, tx, a.id, mbox, true)
		if err != nil {
			return err
		}
		kws, err := canonicalKeywords(ctx, tx, a.id, kws, op != mailstore.FlagsRemove)
		if err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+sqlstore.MetaColumns+` FROM messages
			WHERE mailbox_id = $1 AND uid = ANY($2) ORDER BY uid`, int64(mbox), uidArray(uids))
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
		modseq := int64(m.HighestModSeq) + 1
		chUIDs, chBits, chKws := make([]int64, len(changes)), make([]int64, len(changes)), make([]string, len(changes))
		for i, c := range changes {
			chUIDs[i], chBits[i], chKws[i] = int64(updated[c.I].UID), c.Bits, c.Keywords
		}
		if _, err := tx.Exec(ctx, `UPDATE messages m SET flags = u.flags, keywords = u.keywords, modseq = $2
			FROM unnest($3::bigint[], $4::integer[], $5::text[]) AS u(uid, flags, keywords)
			WHERE m.mailbox_id = $1 AND m.uid = u.uid`, int64(mbox), modseq, chUIDs, chBits, chKws); err != nil {
			return err
		}
		sqlstore.SetStored(updated, changes, mailstore.ModSeq(modseq))
		if _, err := tx.Exec(ctx, `UPDATE mailboxes SET highestmodseq = $1 WHERE id = $2`, modseq, int64(mbox)); err != nil {
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
		// Nothing to remove: only the mailbox must exist (no lock).
		return nil, a.read(ctx, "expunge", func(tx pgx.Tx) error {
			_, err := mailboxByID(ctx, tx, a.id, mbox, false)
			return err
		})
	}
	var removed []mailstore.UID
	var orphans []string
	err := a.write(ctx, "expunge", func(tx pgx.Tx) error {
		removed, orphans = nil, nil
		m, err := mailboxByID(ctx, tx, a.id, mbox, true)
		if err != nil {
			return err
		}
		if opts.OnlyDeleted && m.deleted == 0 {
			return nil // nothing to do (the counter is exact: the row is locked)
		}
		q := `DELETE FROM messages WHERE mailbox_id = $1`
		args := []any{int64(mbox)}
		if opts.OnlyDeleted {
			q += ` AND (flags & 8) <> 0`
		}
		if opts.UIDs != nil {
			q += ` AND uid = ANY($2)`
			args = append(args, uidArray(opts.UIDs))
		}
		rows, err := tx.Query(ctx, q+` RETURNING uid, content`, args...)
		if err != nil {
			return err
		}
		var contents []int64
		var uid, content int64
		if _, err := pgx.ForEachRow(rows, []any{&uid, &content}, func() error {
			removed = append(removed, mailstore.UID(uid))
			contents = append(contents, content)
			return nil
		}); err != nil {
			return err
		}
		if len(removed) == 0 {
			return nil
		}
		sort.Slice(removed, func(i, j int) bool { return removed[i] < removed[j] })
		modseq := int64(m.HighestModSeq) + 1
		if err := addTombstones(ctx, tx, mbox, removed, modseq); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE mailboxes SET highestmodseq = $1 WHERE id = $2`, modseq, int64(mbox)); err != nil {
			return err
		}
		orphans, err = dropUnreferenced(ctx, tx, contents)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(removed) > 0 {
		a.st.deleteBlobs(orphans)
		a.notify()
	}
	return removed, nil
}

func addTombstones(ctx context.Context, tx pgx.Tx, mbox mailstore.MailboxID, uids []mailstore.UID, modseq int64) error {
	_, err := tx.Exec(ctx, `INSERT INTO tombstones (mailbox_id, uid, modseq) SELECT $1, u, $2 FROM unnest($3::bigint[]) u
		ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`, int64(mbox), modseq, uidArray(uids))
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
// same transaction (RFC 6851). Both mailbox rows are locked, in id order.
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
	err = a.write(ctx, op, func(tx pgx.Tx) error {
		res = mailstore.CopyResult{}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM mailboxes WHERE account_id = $1 AND (id = $2 OR name = $3) ORDER BY id FOR UPDATE`,
			a.id, int64(src), dst); err != nil {
			return err
		}
		s, err := mailboxByID(ctx, tx, a.id, src, false)
		if err != nil {
			return err
		}
		d, err := mailboxByName(ctx, tx, a.id, dst, false)
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
		found, err := queryInts(ctx, tx, `SELECT uid FROM messages WHERE mailbox_id = $1 AND uid = ANY($2) ORDER BY uid`,
			int64(src), uidArray(uids))
		if err != nil || len(found) == 0 {
			return err
		}
		if uint64(d.UIDNext)+uint64(len(found)) > sqlstore.MaxUID {
			return mailstore.Errorf(mailstore.KindLimit, "mailbox has run out of UIDs")
		}
		if !move {
			// A copy adds to usage; a move leaves it unchanged.
			var size int64
			if err := tx.QueryRow(ctx, `SELECT coalesce(sum(size), 0) FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)`,
				int64(src), found).Scan(&size); err != nil {
				return err
			}
			if err := checkQuotaTx(ctx, tx, a.id, limits, size, int64(len(found))); err != nil {
				return err
			}
		}
		dest := make([]int64, len(found))
		for i, u := range found {
			res.Source = append(res.Source, mailstore.UID(u))
			dest[i] = int64(d.UIDNext) + int64(i)
			res.Dest = append(res.Dest, mailstore.UID(dest[i]))
		}
		modseq := int64(d.HighestModSeq) + 1
		if _, err := tx.Exec(ctx, `INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content)
			SELECT $1, u.dst, $2, m.flags, m.keywords, m.internal_date, m.internal_tz, m.size, m.content
			FROM unnest($3::bigint[], $4::bigint[]) AS u(src, dst) JOIN messages m ON m.mailbox_id = $5 AND m.uid = u.src
			ORDER BY u.dst`, int64(d.ID), modseq, found, dest, int64(src)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE mailboxes SET uidnext = $1, highestmodseq = $2 WHERE id = $3`,
			int64(d.UIDNext)+int64(len(found)), modseq, int64(d.ID)); err != nil {
			return err
		}
		if !move {
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)`, int64(src), found); err != nil {
			return err
		}
		srcModseq := int64(s.HighestModSeq) + 1
		if err := addTombstones(ctx, tx, src, res.Source, srcModseq); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE mailboxes SET highestmodseq = $1 WHERE id = $2`, srcModseq, int64(src))
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
	return a.st.drops.lock(ctx, a.id, a.user)
}

var _ mailstore.Account = (*account)(nil)
