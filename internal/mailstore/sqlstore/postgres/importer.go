package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
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
