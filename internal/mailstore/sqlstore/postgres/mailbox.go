package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// account is a handle on one user's account. All state is in the
// database, so handles are cheap and independent; they share the Store,
// which only counts them (PurgeAccount refuses an account in use).
type account struct {
	st   *Store
	id   int64
	user string
	once sync.Once
}

func (a *account) User() string { return a.user }

// Close releases the handle; a second Close does nothing.
func (a *account) Close() error {
	a.once.Do(func() { a.st.release(a.user) })
	return nil
}

func (a *account) write(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return a.st.write(ctx, op, fn)
}

func (a *account) read(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	return a.st.read(ctx, op, fn)
}

func (a *account) notify() { a.st.notify(a.user) }

// mailboxRow is a mailbox with its counters.
type mailboxRow struct {
	mailstore.Mailbox
	messages, unseen, deleted int64
	size                      int64
}

const mailboxColumns = `m.id, m.name, m.uidvalidity, m.uidnext, m.highestmodseq, m.special_use,
	EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name),
	m.messages, m.unseen, m.deleted, m.size`

func scanMailbox(row pgx.Row) (mailboxRow, error) {
	var m mailboxRow
	var id, uv, next, hms int64
	err := row.Scan(&id, &m.Name, &uv, &next, &hms, &m.SpecialUse,
		&m.Subscribed, &m.messages, &m.unseen, &m.deleted, &m.size)
	m.ID, m.UIDValidity, m.UIDNext, m.HighestModSeq = mailstore.MailboxID(id), mailstore.UIDValidity(uv), mailstore.UID(next), mailstore.ModSeq(hms)
	return m, err
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return mailstore.Errorf(mailstore.KindNotFound, "mailbox does not exist")
	}
	return err
}

// mailboxByName returns the mailbox called name (normalized), or
// KindNotFound. With lock, the row is locked until the end of the
// transaction (FOR UPDATE): see the package documentation.
func mailboxByName(ctx context.Context, q pgx.Tx, acct int64, name string, lock bool) (mailboxRow, error) {
	sql := `SELECT ` + mailboxColumns + ` FROM mailboxes m WHERE m.account_id = $1 AND m.name = $2`
	if lock {
		sql += ` FOR UPDATE OF m`
	}
	m, err := scanMailbox(q.QueryRow(ctx, sql, acct, name))
	return m, notFound(err)
}

// mailboxByID returns the mailbox with id in account acct, or KindNotFound;
// with lock, locked (FOR UPDATE).
func mailboxByID(ctx context.Context, q pgx.Tx, acct int64, id mailstore.MailboxID, lock bool) (mailboxRow, error) {
	sql := `SELECT ` + mailboxColumns + ` FROM mailboxes m WHERE m.account_id = $1 AND m.id = $2`
	if lock {
		sql += ` FOR UPDATE OF m`
	}
	m, err := scanMailbox(q.QueryRow(ctx, sql, acct, int64(id)))
	return m, notFound(err)
}

func mailboxExists(ctx context.Context, tx pgx.Tx, acct int64, name string) (bool, error) {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2)`, acct, name).Scan(&ok)
	return ok, err
}

// lockAccount locks the account row: mailbox creation, rename and deletion
// take it first, so they are serialized per account on every node.
func lockAccount(ctx context.Context, tx pgx.Tx, acct int64) error {
	var x int64
	err := tx.QueryRow(ctx, `SELECT id FROM accounts WHERE id = $1 FOR UPDATE`, acct).Scan(&x)
	if errors.Is(err, pgx.ErrNoRows) {
		return mailstore.Errorf(mailstore.KindNotFound, "account does not exist")
	}
	return err
}

// newUIDValidity returns a UIDVALIDITY greater than every one given out in
// the account before: the current time in seconds, or the last one plus 1
// if that is not greater. The UPDATE locks the account row.
func newUIDValidity(ctx context.Context, tx pgx.Tx, acct int64) (mailstore.UIDValidity, error) {
	var v int64
	err := tx.QueryRow(ctx, `UPDATE accounts SET last_uidvalidity = greatest(last_uidvalidity + 1, $2)
		WHERE id = $1 RETURNING last_uidvalidity`, acct, time.Now().Unix()).Scan(&v)
	if err != nil {
		return 0, err
	}
	if v > 1<<32-1 {
		return 0, mailstore.Errorf(mailstore.KindLimit, "no UIDVALIDITY values left")
	}
	return mailstore.UIDValidity(v), nil
}

// createMailboxTx inserts a mailbox with a fresh UIDVALIDITY. The name must
// be normalized and must not exist.
func createMailboxTx(ctx context.Context, tx pgx.Tx, acct int64, name, specialUse string) (mailstore.Mailbox, error) {
	uv, err := newUIDValidity(ctx, tx, acct)
	if err != nil {
		return mailstore.Mailbox{}, err
	}
	var id int64
	if err := tx.QueryRow(ctx, `INSERT INTO mailboxes (account_id, name, uidvalidity, special_use) VALUES ($1, $2, $3, $4) RETURNING id`,
		acct, name, int64(uv), specialUse).Scan(&id); err != nil {
		return mailstore.Mailbox{}, err
	}
	return mailstore.Mailbox{ID: mailstore.MailboxID(id), Name: name, UIDValidity: uv, UIDNext: 1, HighestModSeq: 1, SpecialUse: specialUse}, nil
}

// createParents creates the missing superior mailboxes of name (RFC 9051
// 6.3.4: "the server SHOULD create any superior hierarchical names").
func createParents(ctx context.Context, tx pgx.Tx, acct int64, name string) error {
	for _, parent := range sqlstore.Superiors(name) {
		ok, err := mailboxExists(ctx, tx, acct, parent)
		if err != nil {
			return err
		}
		if !ok {
			if _, err := createMailboxTx(ctx, tx, acct, parent, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *account) Mailboxes(ctx context.Context) ([]mailstore.Mailbox, error) {
	var out []mailstore.Mailbox
	err := a.read(ctx, "list mailboxes", func(tx pgx.Tx) error {
		out = nil
		// COLLATE "C": byte order, as the other backends sort names.
		rows, err := tx.Query(ctx, `SELECT `+mailboxColumns+` FROM mailboxes m WHERE m.account_id = $1
			ORDER BY m.name <> 'INBOX', m.name COLLATE "C"`, a.id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			m, err := scanMailbox(rows)
			if err != nil {
				return err
			}
			out = append(out, m.Mailbox)
		}
		return rows.Err()
	})
	return out, err
}

func (a *account) Mailbox(ctx context.Context, name string) (mailstore.Mailbox, error) {
	st, err := a.Status(ctx, name)
	return st.Mailbox, err
}

func (a *account) Status(ctx context.Context, name string) (mailstore.Status, error) {
	name, err := mailstore.NormalizeMailboxName(name)
	if err != nil {
		return mailstore.Status{}, err
	}
	var m mailboxRow
	err = a.st.retry(ctx, "mailbox status", func() error {
		m, err = scanMailbox(a.st.pool.QueryRow(ctx, `SELECT `+mailboxColumns+` FROM mailboxes m WHERE m.account_id = $1 AND m.name = $2`, a.id, name))
		return notFound(err)
	})
	if err != nil {
		return mailstore.Status{}, err
	}
	return mailstore.Status{
		Mailbox:  m.Mailbox,
		Messages: uint32(m.messages),
		Unseen:   uint32(m.unseen),
		Deleted:  uint32(m.deleted),
		Size:     m.size,
	}, nil
}

func (a *account) CreateMailbox(ctx context.Context, name, specialUse string) (mailstore.Mailbox, error) {
	name, specialUse, err := sqlstore.CheckCreate(name, specialUse)
	if err != nil {
		return mailstore.Mailbox{}, err
	}
	var mb mailstore.Mailbox
	err = a.write(ctx, "create mailbox", func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, a.id); err != nil {
			return err
		}
		ok, err := mailboxExists(ctx, tx, a.id, name)
		if err != nil {
			return err
		}
		if ok {
			return mailstore.Errorf(mailstore.KindExists, "mailbox already exists")
		}
		if err := createParents(ctx, tx, a.id, name); err != nil {
			return err
		}
		mb, err = createMailboxTx(ctx, tx, a.id, name, specialUse)
		if err != nil {
			return err
		}
		return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM subscriptions WHERE account_id = $1 AND name = $2)`, a.id, name).Scan(&mb.Subscribed)
	})
	if err != nil {
		return mailstore.Mailbox{}, err
	}
	a.notify()
	return mb, nil
}

func (a *account) DeleteMailbox(ctx context.Context, name string) error {
	name, err := sqlstore.CheckDelete(name)
	if err != nil {
		return err
	}
	var orphans []string
	err = a.write(ctx, "delete mailbox", func(tx pgx.Tx) error {
		orphans = nil
		if err := lockAccount(ctx, tx, a.id); err != nil {
			return err
		}
		m, err := mailboxByName(ctx, tx, a.id, name, true)
		if err != nil {
			return err
		}
		contents, err := queryInts(ctx, tx, `DELETE FROM messages WHERE mailbox_id = $1 RETURNING content`, int64(m.ID))
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM tombstones WHERE mailbox_id = $1`, int64(m.ID)); err != nil {
			return err
		}
		// RFC 9051 6.3.5: children are kept; subscriptions too (6.3.9: a
		// server MUST NOT unilaterally remove a subscription).
		if _, err := tx.Exec(ctx, `DELETE FROM mailboxes WHERE id = $1`, int64(m.ID)); err != nil {
			return err
		}
		orphans, err = dropUnreferenced(ctx, tx, contents)
		return err
	})
	if err != nil {
		return err
	}
	a.st.deleteBlobs(orphans)
	a.notify()
	return nil
}

func (a *account) RenameMailbox(ctx context.Context, from, to string) error {
	from, to, err := sqlstore.CheckRename(from, to)
	if err != nil {
		return err
	}
	err = a.write(ctx, "rename mailbox", func(tx pgx.Tx) error {
		if err := lockAccount(ctx, tx, a.id); err != nil {
			return err
		}
		src, err := mailboxByName(ctx, tx, a.id, from, true)
		if err != nil {
			return err
		}
		ok, err := mailboxExists(ctx, tx, a.id, to)
		if err != nil {
			return err
		}
		if ok {
			return mailstore.Errorf(mailstore.KindExists, "mailbox already exists")
		}
		if err := createParents(ctx, tx, a.id, to); err != nil {
			return err
		}
		if from == "INBOX" {
			return renameInbox(ctx, tx, a.id, src, to)
		}
		type pair struct {
			id       int64
			old, new string
		}
		var renames []pair
		rows, err := tx.Query(ctx, `SELECT id, name FROM mailboxes WHERE account_id = $1 AND (name = $2 OR starts_with(name, $3))`,
			a.id, from, from+"/")
		if err != nil {
			return err
		}
		var p pair
		if _, err := pgx.ForEachRow(rows, []any{&p.id, &p.old}, func() error {
			renames = append(renames, p)
			return nil
		}); err != nil {
			return err
		}
		for i := range renames {
			p := &renames[i]
			n, err := sqlstore.RenamedName(from, to, p.old)
			if err != nil {
				return err
			}
			p.new = n
			ok, err := mailboxExists(ctx, tx, a.id, n)
			if err != nil {
				return err
			}
			if ok {
				return mailstore.Errorf(mailstore.KindExists, "mailbox %s already exists", n)
			}
		}
		for _, p := range renames {
			if _, err := tx.Exec(ctx, `UPDATE mailboxes SET name = $1 WHERE id = $2`, p.new, p.id); err != nil {
				return err
			}
			// Subscriptions follow the mailbox they named.
			tag, err := tx.Exec(ctx, `DELETE FROM subscriptions WHERE account_id = $1 AND name = $2`, a.id, p.old)
			if err != nil {
				return err
			}
			if tag.RowsAffected() > 0 {
				if _, err := tx.Exec(ctx, `INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, a.id, p.new); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	a.notify()
	return nil
}

// renameInbox implements RFC 9051 6.3.6 for INBOX: all its messages move to
// a new mailbox called to, and INBOX stays, empty, with its UIDVALIDITY and
// UIDNEXT; the moved messages leave tombstones in INBOX. The new mailbox has
// a fresh UIDVALIDITY, so the messages keep their UIDs and MODSEQs there.
// Children of INBOX are not renamed. The caller has locked INBOX.
func renameInbox(ctx context.Context, tx pgx.Tx, acct int64, inbox mailboxRow, to string) error {
	dst, err := createMailboxTx(ctx, tx, acct, to, "")
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE mailboxes SET uidnext = $1, highestmodseq = $2 WHERE id = $3`,
		int64(inbox.UIDNext), int64(inbox.HighestModSeq), int64(dst.ID)); err != nil {
		return err
	}
	uids, err := queryInts(ctx, tx, `UPDATE messages SET mailbox_id = $1 WHERE mailbox_id = $2 RETURNING uid`, int64(dst.ID), int64(inbox.ID))
	if err != nil || len(uids) == 0 {
		return err
	}
	modseq := int64(inbox.HighestModSeq) + 1
	if _, err := tx.Exec(ctx, `INSERT INTO tombstones (mailbox_id, uid, modseq) SELECT $1, u, $2 FROM unnest($3::bigint[]) u
		ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = EXCLUDED.modseq`, int64(inbox.ID), modseq, uids); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE mailboxes SET highestmodseq = $1 WHERE id = $2`, modseq, int64(inbox.ID))
	return err
}

func (a *account) SetSubscribed(ctx context.Context, name string, subscribed bool) error {
	name, err := mailstore.NormalizeMailboxName(name)
	if err != nil {
		return err
	}
	err = a.st.retry(ctx, "set subscription", func() error {
		if subscribed {
			_, err := a.st.pool.Exec(ctx, `INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING`, a.id, name)
			return err
		}
		_, err := a.st.pool.Exec(ctx, `DELETE FROM subscriptions WHERE account_id = $1 AND name = $2`, a.id, name)
		return err
	})
	if err != nil {
		return err
	}
	a.notify()
	return nil
}

func (a *account) Subscriptions(ctx context.Context) ([]string, error) {
	var out []string
	err := a.st.retry(ctx, "list subscriptions", func() error {
		rows, err := a.st.pool.Query(ctx, `SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name COLLATE "C"`, a.id)
		if err != nil {
			return err
		}
		out, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return out, err
}

// queryInts runs a query returning one bigint column.
func queryInts(ctx context.Context, tx pgx.Tx, query string, args ...any) ([]int64, error) {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// dropUnreferenced deletes the contents rows among ids that no message
// references anymore and returns their blob ids, for deletion after the
// commit.
func dropUnreferenced(ctx context.Context, tx pgx.Tx, ids []int64) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	// Lock the rows first (in id order): two transactions that drop the
	// last two copies of one body then see each other's deletes, and a COPY
	// that adds a reference waits (its foreign key check conflicts).
	if _, err := tx.Exec(ctx, `SELECT 1 FROM contents WHERE id = ANY($1) ORDER BY id FOR UPDATE`, ids); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `DELETE FROM contents c WHERE c.id = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.content = c.id)
		RETURNING c.blob_id`, ids)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
