package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

var (
	_ mailstore.Importer     = (*account)(nil)
	_ mailstore.ImportLedger = (*account)(nil)
)

func (a *account) AppendUID(ctx context.Context, mailbox string, uid mailstore.UID, msg mailstore.NewMessage, body io.Reader) (mailstore.Mailbox, error) {
	if uid == 0 {
		return mailstore.Mailbox{}, mailstore.Errorf(mailstore.KindInvalid, "UID 0 is not valid")
	}
	mb, _, err := a.appendAt(ctx, mailbox, uid, msg, body)
	return mb, err
}

func (a *account) ImportMessage(ctx context.Context, mailbox string, uid mailstore.UID, src mailstore.ImportSource, msg mailstore.NewMessage, body io.Reader) (mailstore.Mailbox, mailstore.UID, error) {
	if src.Key == "" {
		return mailstore.Mailbox{}, 0, mailstore.Errorf(mailstore.KindInvalid, "import: empty source key")
	}
	return a.appendWith(ctx, mailbox, appendOpts{want: uid, fresh: true, ledger: &src}, msg, body)
}

func (a *account) Imported(ctx context.Context, key string) (bool, error) {
	found, err := ledgerHas(ctx, a.r, key)
	if err != nil {
		return false, dbErr("import ledger", err)
	}
	return found, nil
}

func (a *account) ImportedByMessageID(ctx context.Context, messageID string) ([]mailstore.ImportRecord, error) {
	if messageID == "" {
		return nil, nil
	}
	var out []mailstore.ImportRecord
	err := a.read(ctx, "import ledger", func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT source_key, size, mailbox_id, uid FROM import_ledger WHERE message_id = ?`, messageID)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			r := mailstore.ImportRecord{MessageID: messageID}
			if err := rows.Scan(&r.Key, &r.Size, &r.Mailbox, &r.UID); err != nil {
				return err
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	return out, err
}

func (a *account) RekeyImport(ctx context.Context, oldKey, newKey string) error {
	return a.write(ctx, "import ledger", func(tx *sql.Tx) error {
		if found, err := ledgerHas(ctx, tx, newKey); err != nil {
			return err
		} else if found {
			return sqlstore.ImportedBefore(newKey)
		}
		res, err := tx.ExecContext(ctx, `UPDATE import_ledger SET source_key = ? WHERE source_key = ?`, newKey, oldKey)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return mailstore.Errorf(mailstore.KindNotFound, "not in the import ledger: %s", oldKey)
		}
		return nil
	})
}

// querier is a *sql.DB or *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func ledgerHas(ctx context.Context, q querier, key string) (bool, error) {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM import_ledger WHERE source_key = ?`, key).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// ledgerAdd records an imported message in the append's transaction; a key
// recorded meanwhile (a concurrent run) is KindExists, which rolls the
// append back.
func ledgerAdd(ctx context.Context, tx *sql.Tx, src mailstore.ImportSource, size int64, mbox mailstore.MailboxID, uid mailstore.UID) error {
	res, err := tx.ExecContext(ctx, `INSERT INTO import_ledger (source_key, message_id, size, mailbox_id, uid) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (source_key) DO NOTHING`, src.Key, src.MessageID, size, mbox, uid)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return sqlstore.ImportedBefore(src.Key)
	}
	return nil
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
	err = a.write(ctx, "import mailbox", func(tx *sql.Tx) error {
		m, err := mailboxByName(ctx, tx, name)
		switch {
		case mailstore.KindOf(err) == mailstore.KindNotFound:
			if err := createParents(ctx, tx, name); err != nil {
				return err
			}
			if m.Mailbox, err = createMailboxTx(ctx, tx, name, ""); err != nil {
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
			if _, err := tx.ExecContext(ctx, `UPDATE account SET last_uidvalidity = max(last_uidvalidity, ?)`, uidValidity); err != nil {
				return err
			}
			// Free uidValidity if an unused mailbox holds it.
			var otherID mailstore.MailboxID
			var otherNext mailstore.UID
			err := tx.QueryRowContext(ctx, `SELECT id, uidnext FROM mailbox WHERE uidvalidity = ?`, uidValidity).Scan(&otherID, &otherNext)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return err
			case otherNext != 1:
				return mailstore.Errorf(mailstore.KindExists, "UIDVALIDITY %d is used by another mailbox", uidValidity)
			default:
				fresh, err := newUIDValidity(ctx, tx)
				if err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE mailbox SET uidvalidity = ? WHERE id = ?`, fresh, otherID); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE mailbox SET uidvalidity = ? WHERE id = ?`, uidValidity, m.ID); err != nil {
				return err
			}
		}
		if uidNext > m.UIDNext {
			if _, err := tx.ExecContext(ctx, `UPDATE mailbox SET uidnext = ? WHERE id = ?`, uidNext, m.ID); err != nil {
				return err
			}
		}
		m, err = mailboxByID(ctx, tx, m.ID)
		mb = m.Mailbox
		return err
	})
	if err != nil {
		return mailstore.Mailbox{}, err
	}
	a.notify()
	return mb, nil
}

// importWorkers is how many bodies ImportMessages writes at once: their
// fsyncs overlap instead of queueing one after another.
const importWorkers = 4

// staged is a message body written to the blob store, not yet committed.
type staged struct {
	blobID string
	size   int64
	cache  sqlstore.CacheData
	bits   int64
	kws    []string
}

func (a *account) ImportMessages(ctx context.Context, mailbox string, items []mailstore.ImportItem) ([]mailstore.ImportResult, error) {
	name, err := mailstore.NormalizeMailboxName(mailbox)
	if err != nil {
		return nil, err
	}
	if _, err := mailboxByName(ctx, a.r, name); err != nil {
		return nil, dbErr("import", err)
	}
	res := make([]mailstore.ImportResult, len(items))
	st := make([]*staged, len(items))
	var todo []int
	for i, it := range items {
		if it.Src.Key == "" {
			return nil, mailstore.Errorf(mailstore.KindInvalid, "import: empty source key")
		}
		found, err := ledgerHas(ctx, a.r, it.Src.Key)
		if err != nil {
			return nil, dbErr("import ledger", err)
		}
		if found {
			res[i].Err = sqlstore.ImportedBefore(it.Src.Key)
			continue
		}
		todo = append(todo, i)
	}
	// Write the bodies, importWorkers at a time.
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
		next  = make(chan int)
	)
	for w := 0; w < min(importWorkers, len(todo)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s, err := a.stage(ctx, items[i])
				mu.Lock()
				switch {
				case mailstore.KindOf(err) == mailstore.KindTooBig:
					res[i].Err = err
				case err != nil:
					if first == nil {
						first = err
					}
				default:
					st[i] = s
				}
				mu.Unlock()
			}
		}()
	}
	for _, i := range todo {
		mu.Lock()
		failed := first != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	blobsOf := func(keep func(i int) bool) []string {
		var ids []string
		for i, s := range st {
			if s != nil && !keep(i) {
				ids = append(ids, s.blobID)
			}
		}
		return ids
	}
	if first != nil {
		a.deleteBlobs(blobsOf(func(int) bool { return false }))
		return nil, first
	}

	err = a.write(ctx, "import", func(tx *sql.Tx) error {
		m, err := mailboxByName(ctx, tx, name)
		if err != nil {
			return err
		}
		uidNext, modseq := m.UIDNext, m.HighestModSeq
		for i, s := range st {
			if s == nil {
				continue
			}
			res[i] = mailstore.ImportResult{}
			if found, err := ledgerHas(ctx, tx, items[i].Src.Key); err != nil {
				return err
			} else if found { // a concurrent run stored it
				res[i].Err = sqlstore.ImportedBefore(items[i].Src.Key)
				continue
			}
			uid, err := sqlstore.ImportUID(items[i].UID, uidNext)
			if err != nil {
				return err
			}
			kws, err := canonicalKeywords(ctx, tx, s.kws, true)
			if err != nil {
				return err
			}
			r, err := tx.ExecContext(ctx, `INSERT INTO message_cache (blob_id, size, header_size, envelope, bodystructure, body, parts, search_fields, header_fields)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, s.blobID, s.size, s.cache.HeaderSize, s.cache.Envelope, s.cache.BodyStructure, s.cache.Body, s.cache.Parts, s.cache.SearchFields, s.cache.HeaderFields)
			if err != nil {
				return err
			}
			content, err := r.LastInsertId()
			if err != nil {
				return err
			}
			date, tz := sqlstore.InternalDate(items[i].Msg.InternalDate)
			modseq++
			if _, err := tx.ExecContext(ctx, `INSERT INTO message (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, m.ID, uid, modseq, s.bits, sqlstore.JoinKeywords(kws), date.Unix(), tz, s.size, content); err != nil {
				return err
			}
			if err := ledgerAdd(ctx, tx, items[i].Src, s.size, m.ID, uid); err != nil {
				return err
			}
			uidNext = uid + 1
			res[i] = mailstore.ImportResult{UID: uid, Size: s.size}
		}
		_, err = tx.ExecContext(ctx, `UPDATE mailbox SET uidnext = ?, highestmodseq = ? WHERE id = ?`, uidNext, modseq, m.ID)
		return err
	})
	if err != nil {
		a.deleteBlobs(blobsOf(func(int) bool { return false }))
		return nil, err
	}
	// Bodies staged for messages a concurrent run stored meanwhile.
	a.deleteBlobs(blobsOf(func(i int) bool { return res[i].Err == nil }))
	a.notify()
	return res, nil
}

// stage writes one item's body durably and parses it.
func (a *account) stage(ctx context.Context, it mailstore.ImportItem) (*staged, error) {
	bits, kws, err := sqlstore.ParseFlags(it.Msg.Flags)
	if err != nil {
		return nil, err
	}
	body, err := it.Open()
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", it.Src.Key, err)
	}
	defer body.Close()
	p := sqlstore.StartParser()
	blobID, size, err := a.blobs.PutTee(ctx, body, a.st.opts.MaxMessageSize, p.W())
	cache, perr := p.Finish(err)
	if err != nil {
		if mailstore.KindOf(err) == mailstore.KindTooBig {
			return nil, err
		}
		return nil, mailstore.Internal("import: store message", err)
	}
	if perr != nil {
		a.deleteBlobs([]string{blobID})
		return nil, mailstore.Internal("import: parse message", perr)
	}
	return &staged{blobID: blobID, size: size, cache: cache, bits: bits, kws: kws}, nil
}

func (a *account) MailboxImported(ctx context.Context, mailbox string) (bool, error) {
	name, err := mailstore.NormalizeMailboxName(mailbox)
	if err != nil {
		return false, err
	}
	var found bool
	err = a.read(ctx, "import ledger", func(tx *sql.Tx) error {
		m, err := mailboxByName(ctx, tx, name)
		if err != nil {
			return err
		}
		var one int
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM import_ledger WHERE mailbox_id = ? LIMIT 1`, m.ID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		found = err == nil
		return err
	})
	return found, err
}

func (a *account) AdoptImport(ctx context.Context, mailbox string, uid mailstore.UID, src mailstore.ImportSource) error {
	name, err := mailstore.NormalizeMailboxName(mailbox)
	if err != nil {
		return err
	}
	return a.write(ctx, "import ledger", func(tx *sql.Tx) error {
		m, err := mailboxByName(ctx, tx, name)
		if err != nil {
			return err
		}
		// The stored size when the message is still there, for the
		// Message-ID fallback; 0 (matches nothing) when it is gone.
		var size int64
		err = tx.QueryRowContext(ctx, `SELECT size FROM message WHERE mailbox_id = ? AND uid = ?`, m.ID, uid).Scan(&size)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		return ledgerAdd(ctx, tx, src, size, m.ID, uid)
	})
}
