package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io"

	"github.com/roost-mail/roost/internal/mailstore"
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
			return mailstore.Errorf(mailstore.KindExists, "imported before: %s", newKey)
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
		return mailstore.Errorf(mailstore.KindExists, "imported before: %s", src.Key)
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
