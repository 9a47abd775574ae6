package postgres

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var _ mailstore.Importer = (*account)(nil)

func (a *account) AppendUID(ctx context.Context, mailbox string, uid mailstore.UID, msg mailstore.NewMessage, body io.Reader) (mailstore.Mailbox, error) {
	if uid == 0 {
		return mailstore.Mailbox{}, mailstore.Errorf(mailstore.KindInvalid, "UID 0 is not valid")
	}
	mb, _, err := a.appendAt(ctx, mailbox, uid, msg, body)
	return mb, err
}

func (a *account) ImportMailbox(ctx context.Context, name string, uidValidity mailstore.UIDValidity, uidNext mailstore.UID) (mailstore.Mailbox, error) {
	name, err := mailstore.NormalizeMailboxName(name)
	if err != nil {
		return mailstore.Mailbox{}, err
	}
	if uidValidity == 0 {
		return mailstore.Mailbox{}, mailstore.Errorf(mailstore.KindInvalid, "UIDVALIDITY 0 is not valid")
	}
	var mb mailstore.Mailbox
	err = a.write(ctx, "import mailbox", func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, a.id); err != nil {
			return err
		}
		m, err := mailboxByName(ctx, tx, a.id, name, true)
		switch {
		case mailstore.KindOf(err) == mailstore.KindNotFound:
			if err := createParents(ctx, tx, a.id, name); err != nil {
				return err
			}
			if m.Mailbox, err = createMailboxTx(ctx, tx, a.id, name, ""); err != nil {
				return err
			}
		case err != nil:
			return err
		}
		if m.UIDValidity != uidValidity {
			if m.UIDNext != 1 {
				return mailstore.Errorf(mailstore.KindExists, "mailbox %s already holds mail with UIDVALIDITY %d", name, m.UIDValidity)
			}
			// Keep "greater than every UIDVALIDITY given out" true for
			// mailboxes created later.
			if _, err := tx.Exec(ctx, `UPDATE accounts SET last_uidvalidity = greatest(last_uidvalidity, $1) WHERE id = $2`, int64(uidValidity), a.id); err != nil {
				return err
			}
			// Free uidValidity if an unused mailbox holds it.
			var otherID int64
			var otherNext int64
			err := tx.QueryRow(ctx, `SELECT id, uidnext FROM mailboxes WHERE account_id = $1 AND uidvalidity = $2`, a.id, int64(uidValidity)).Scan(&otherID, &otherNext)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				return err
			case otherNext != 1:
				return mailstore.Errorf(mailstore.KindExists, "UIDVALIDITY %d is used by another mailbox", uidValidity)
			default:
				fresh, err := newUIDValidity(ctx, tx, a.id)
				if err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `UPDATE mailboxes SET uidvalidity = $1 WHERE id = $2`, int64(fresh), otherID); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE mailboxes SET uidvalidity = $1 WHERE id = $2`, int64(uidValidity), int64(m.ID)); err != nil {
				return err
			}
		}
		if uidNext > m.UIDNext {
			if _, err := tx.Exec(ctx, `UPDATE mailboxes SET uidnext = $1 WHERE id = $2`, int64(uidNext), int64(m.ID)); err != nil {
				return err
			}
		}
		m, err = mailboxByID(ctx, tx, a.id, m.ID, false)
		mb = m.Mailbox
		return err
	})
	if err != nil {
		return mailstore.Mailbox{}, err
	}
	a.notify()
	return mb, nil
}

var _ mailstore.ImportLedger = (*account)(nil)

func (a *account) ImportMessage(ctx context.Context, mailbox string, uid mailstore.UID, src mailstore.ImportSource, msg mailstore.NewMessage, body io.Reader) (mailstore.Mailbox, mailstore.UID, error) {
	if src.Key == "" {
		return mailstore.Mailbox{}, 0, mailstore.Errorf(mailstore.KindInvalid, "import: empty source key")
	}
	return a.appendWith(ctx, mailbox, appendOpts{want: uid, fresh: true, ledger: &src}, msg, body)
}

func (a *account) Imported(ctx context.Context, key string) (bool, error) {
	var found bool
	err := a.st.retry(ctx, "import ledger", func() error {
		return a.st.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM import_ledger WHERE account_id = $1 AND source_key = $2)`,
			a.id, key).Scan(&found)
	})
	return found, err
}

func (a *account) ImportedByMessageID(ctx context.Context, messageID string) ([]mailstore.ImportRecord, error) {
	if messageID == "" {
		return nil, nil
	}
	var out []mailstore.ImportRecord
	err := a.st.retry(ctx, "import ledger", func() error {
		out = nil
		rows, err := a.st.pool.Query(ctx, `SELECT source_key, size, mailbox_id, uid FROM import_ledger
			WHERE account_id = $1 AND message_id = $2 ORDER BY source_key`, a.id, messageID)
		if err != nil {
			return err
		}
		var r mailstore.ImportRecord
		var mbox, uid int64
		_, err = pgx.ForEachRow(rows, []any{&r.Key, &r.Size, &mbox, &uid}, func() error {
			r.MessageID, r.Mailbox, r.UID = messageID, mailstore.MailboxID(mbox), mailstore.UID(uid)
			out = append(out, r)
			return nil
		})
		return err
	})
	return out, err
}

func (a *account) RekeyImport(ctx context.Context, oldKey, newKey string) error {
	return a.write(ctx, "import ledger", func(tx pgx.Tx) error {
		var taken bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM import_ledger WHERE account_id = $1 AND source_key = $2)`,
			a.id, newKey).Scan(&taken); err != nil {
			return err
		}
		if taken {
			return sqlstore.ImportedBefore(newKey)
		}
		tag, err := tx.Exec(ctx, `UPDATE import_ledger SET source_key = $3 WHERE account_id = $1 AND source_key = $2`, a.id, oldKey, newKey)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return mailstore.Errorf(mailstore.KindNotFound, "not in the import ledger: %s", oldKey)
		}
		return nil
	})
}

func (a *account) MailboxImported(ctx context.Context, mailbox string) (bool, error) {
	name, err := mailstore.NormalizeMailboxName(mailbox)
	if err != nil {
		return false, err
	}
	var found bool
	err = a.read(ctx, "import ledger", func(tx pgx.Tx) error {
		m, err := mailboxByName(ctx, tx, a.id, name, false)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM import_ledger WHERE account_id = $1 AND mailbox_id = $2)`,
			a.id, int64(m.ID)).Scan(&found)
	})
	return found, err
}

func (a *account) AdoptImport(ctx context.Context, mailbox string, uid mailstore.UID, src mailstore.ImportSource) error {
	name, err := mailstore.NormalizeMailboxName(mailbox)
	if err != nil {
		return err
	}
	return a.write(ctx, "import ledger", func(tx pgx.Tx) error {
		m, err := mailboxByName(ctx, tx, a.id, name, false)
		if err != nil {
			return err
		}
		// The stored size when the message is still there, for the
		// Message-ID fallback; 0 (matches nothing) when it is gone.
		var size int64
		err = tx.QueryRow(ctx, `SELECT size FROM messages WHERE mailbox_id = $1 AND uid = $2`, int64(m.ID), int64(uid)).Scan(&size)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		return ledgerAdd(ctx, tx, a.id, src, size, m.ID, uid)
	})
}

// ledgerAdd records an imported message in the append's transaction; a key
// recorded meanwhile (a concurrent run) is KindExists, which rolls the
// append back.
func ledgerAdd(ctx context.Context, tx pgx.Tx, acct int64, src mailstore.ImportSource, size int64, mbox mailstore.MailboxID, uid mailstore.UID) error {
	tag, err := tx.Exec(ctx, `INSERT INTO import_ledger (account_id, source_key, message_id, size, mailbox_id, uid)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, acct, src.Key, src.MessageID, size, int64(mbox), int64(uid))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return sqlstore.ImportedBefore(src.Key)
	}
	return nil
}

// importedItem is one ImportMessages item whose body is staged.
type importedItem struct {
	i      int
	blob   *stagedBlob
	cache  sqlstore.CacheData
	bits   int64
	kws    []string
	date   time.Time
	stored bool // its blob was written before the transaction (must be deleted if unused)
}

// ImportMessages stores the items in one transaction (see
// mailstore.ImportLedger). Bodies of one chunk are inserted by that
// transaction; larger ones (and all, with another blob backend) are
// written before it and deleted again if unused.
func (a *account) ImportMessages(ctx context.Context, mailbox string, items []mailstore.ImportItem) ([]mailstore.ImportResult, error) {
	name, err := mailstore.NormalizeMailboxName(mailbox)
	if err != nil {
		return nil, err
	}
	if _, err := a.Status(ctx, name); err != nil {
		return nil, err
	}
	res := make([]mailstore.ImportResult, len(items))
	var staged []importedItem
	cleanup := func(keep func(it importedItem) bool) {
		var ids []string
		for _, it := range staged {
			if it.stored && !keep(it) {
				ids = append(ids, it.blob.id)
			}
		}
		a.st.deleteBlobsNow(ids)
	}
	fail := func(err error) ([]mailstore.ImportResult, error) {
		cleanup(func(importedItem) bool { return false })
		return nil, err
	}
	for i, it := range items {
		if it.Src.Key == "" {
			return fail(mailstore.Errorf(mailstore.KindInvalid, "import: empty source key"))
		}
		found, err := a.Imported(ctx, it.Src.Key)
		if err != nil {
			return fail(err)
		}
		if found {
			res[i].Err = sqlstore.ImportedBefore(it.Src.Key)
			continue
		}
		bits, kws, err := sqlstore.ParseFlags(it.Msg.Flags)
		if err != nil {
			return fail(err)
		}
		body, err := it.Open()
		if err != nil {
			return fail(mailstore.Internal("import: open message", err))
		}
		p := sqlstore.StartParser()
		var sb *stagedBlob
		if bs, ok := a.st.blobs.(*BlobStore); ok {
			sb, err = bs.stage(ctx, body, a.st.opts.MaxMessageSize, p.W())
		} else {
			sb = &stagedBlob{}
			sb.id, sb.size, err = a.st.blobs.PutTee(ctx, body, a.st.opts.MaxMessageSize, p.W())
		}
		body.Close()
		cache, perr := p.Finish(err)
		switch {
		case mailstore.KindOf(err) == mailstore.KindTooBig:
			res[i].Err = err
			continue
		case err != nil:
			return fail(dbErr("import: store message", err))
		}
		it2 := importedItem{i: i, blob: sb, cache: cache, bits: bits, kws: kws, date: it.Msg.InternalDate, stored: !sb.pending}
		staged = append(staged, it2)
		if perr != nil {
			return fail(mailstore.Internal("import: parse message", perr))
		}
	}
	if len(staged) == 0 {
		return res, nil
	}
	err = a.write(ctx, "import", func(tx pgx.Tx) error {
		for _, it := range staged {
			res[it.i] = mailstore.ImportResult{}
		}
		m, err := mailboxByName(ctx, tx, a.id, name, true)
		if err != nil {
			return err
		}
		uidNext, modseq := int64(m.UIDNext), int64(m.HighestModSeq)
		for _, it := range staged {
			item := items[it.i]
			u, err := sqlstore.ImportUID(item.UID, mailstore.UID(uidNext))
			if err != nil {
				return err
			}
			uid := int64(u)
			// The ledger record first: a key recorded meanwhile by a
			// concurrent run skips the message.
			tag, err := tx.Exec(ctx, `INSERT INTO import_ledger (account_id, source_key, message_id, size, mailbox_id, uid)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, a.id, item.Src.Key, item.Src.MessageID, it.blob.size, int64(m.ID), uid)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				res[it.i].Err = sqlstore.ImportedBefore(item.Src.Key)
				continue
			}
			kws, err := canonicalKeywords(ctx, tx, a.id, it.kws, true)
			if err != nil {
				return err
			}
			if it.blob.pending {
				if err := it.blob.insert(ctx, tx.Exec); err != nil {
					return err
				}
			}
			date, tz := sqlstore.InternalDate(it.date)
			modseq++
			if _, err := tx.Exec(ctx, `WITH c AS (
					INSERT INTO contents (account_id, blob_id, size, header_size, envelope, bodystructure, body, parts, search_fields, header_fields)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $16, $17) RETURNING id)
				INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content)
				SELECT $9, $10, $11, $12, $13, $14, $15, $3, c.id FROM c`,
				a.id, it.blob.id, it.blob.size, it.cache.HeaderSize, it.cache.Envelope, it.cache.BodyStructure, it.cache.Body, it.cache.Parts,
				int64(m.ID), uid, modseq, it.bits, sqlstore.JoinKeywords(kws), date.Unix(), tz, it.cache.SearchFields, it.cache.HeaderFields); err != nil {
				return err
			}
			uidNext = uid + 1
			res[it.i] = mailstore.ImportResult{UID: mailstore.UID(uid), Size: it.blob.size}
		}
		_, err = tx.Exec(ctx, `UPDATE mailboxes SET uidnext = $1, highestmodseq = $2 WHERE id = $3`, uidNext, modseq, int64(m.ID))
		return err
	})
	if err != nil {
		return fail(err)
	}
	// Bodies written for messages a concurrent run stored meanwhile.
	cleanup(func(it importedItem) bool { return res[it.i].Err == nil })
	a.notify()
	return res, nil
}
