package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io"

	"github.com/roost-mail/roost/internal/mailstore"
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
