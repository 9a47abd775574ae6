package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// queryer is what *sql.Tx and *sql.DB have in common.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// mailboxRow is a mailbox with its counters.
type mailboxRow struct {
	mailstore.Mailbox
	messages, unseen, deleted int64
	size                      int64
}

const mailboxColumns = `m.id, m.name, m.uidvalidity, m.uidnext, m.highestmodseq, m.special_use,
	EXISTS (SELECT 1 FROM subscription s WHERE s.name = m.name), m.messages, m.unseen, m.deleted, m.size`

func scanMailbox(sc interface{ Scan(...any) error }) (mailboxRow, error) {
	var m mailboxRow
	err := sc.Scan(&m.ID, &m.Name, &m.UIDValidity, &m.UIDNext, &m.HighestModSeq, &m.SpecialUse,
		&m.Subscribed, &m.messages, &m.unseen, &m.deleted, &m.size)
	return m, err
}

// mailboxByName returns the mailbox called name (already normalized), or
// KindNotFound.
func mailboxByName(ctx context.Context, q queryer, name string) (mailboxRow, error) {
	m, err := scanMailbox(q.QueryRowContext(ctx, `SELECT `+mailboxColumns+` FROM mailbox m WHERE m.name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return m, mailstore.Errorf(mailstore.KindNotFound, "mailbox does not exist")
	}
	return m, err
}

// mailboxByID returns the mailbox with id, or KindNotFound.
func mailboxByID(ctx context.Context, q queryer, id mailstore.MailboxID) (mailboxRow, error) {
	m, err := scanMailbox(q.QueryRowContext(ctx, `SELECT `+mailboxColumns+` FROM mailbox m WHERE m.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, mailstore.Errorf(mailstore.KindNotFound, "mailbox does not exist")
	}
	return m, err
}

func mailboxExists(ctx context.Context, q queryer, name string) (bool, error) {
	var x int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM mailbox WHERE name = ?`, name).Scan(&x)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// newUIDValidity returns a UIDVALIDITY greater than every one given out in
// this account before: the current time in seconds, or the last one plus 1
// if that is not greater.
func newUIDValidity(ctx context.Context, tx *sql.Tx) (mailstore.UIDValidity, error) {
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT last_uidvalidity FROM account`).Scan(&last); err != nil {
		return 0, err
	}
	v := time.Now().Unix()
	if v <= last {
		v = last + 1
	}
	if v > 1<<32-1 {
		return 0, mailstore.Errorf(mailstore.KindLimit, "no UIDVALIDITY values left")
	}
	if _, err := tx.ExecContext(ctx, `UPDATE account SET last_uidvalidity = ?`, v); err != nil {
		return 0, err
	}
	return mailstore.UIDValidity(v), nil
}

// createMailboxTx inserts a mailbox with a fresh UIDVALIDITY. The name must
// be normalized and must not exist.
func createMailboxTx(ctx context.Context, tx *sql.Tx, name, specialUse string) (mailstore.Mailbox, error) {
	uv, err := newUIDValidity(ctx, tx)
	if err != nil {
		return mailstore.Mailbox{}, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO mailbox (name, uidvalidity, special_use) VALUES (?, ?, ?)`, name, uv, specialUse)
	if err != nil {
		return mailstore.Mailbox{}, err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return mailstore.Mailbox{}, err
	}
	return mailstore.Mailbox{ID: mailstore.MailboxID(id), Name: name, UIDValidity: uv, UIDNext: 1, HighestModSeq: 1, SpecialUse: specialUse}, nil
}

// createParents creates the missing superior mailboxes of name (RFC 9051
// 6.3.4: "the server SHOULD create any superior hierarchical names").
func createParents(ctx context.Context, tx *sql.Tx, name string) error {
	for _, parent := range sqlstore.Superiors(name) {
		ok, err := mailboxExists(ctx, tx, parent)
		if err != nil {
			return err
		}
		if !ok {
			if _, err := createMailboxTx(ctx, tx, parent, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *account) Mailboxes(ctx context.Context) ([]mailstore.Mailbox, error) {
	var out []mailstore.Mailbox
	err := a.readCached(ctx, "list mailboxes", func(tx cachedTx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+mailboxColumns+` FROM mailbox m ORDER BY m.name != 'INBOX', m.name`)
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
	name, err := mailstore.NormalizeMailboxName(name)
	if err != nil {
		return mailstore.Mailbox{}, err
	}
	m, err := mailboxByName(ctx, cachedDB{a}, name)
	return m.Mailbox, dbErr("get mailbox", err)
}

func (a *account) Status(ctx context.Context, name string) (mailstore.Status, error) {
	name, err := mailstore.NormalizeMailboxName(name)
	if err != nil {
		return mailstore.Status{}, err
	}
	m, err := mailboxByName(ctx, cachedDB{a}, name)
	if err != nil {
		return mailstore.Status{}, dbErr("mailbox status", err)
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
	err = a.write(ctx, "create mailbox", func(tx *sql.Tx) error {
		ok, err := mailboxExists(ctx, tx, name)
		if err != nil {
			return err
		}
		if ok {
			return mailstore.Errorf(mailstore.KindExists, "mailbox already exists")
		}
		if err := createParents(ctx, tx, name); err != nil {
			return err
		}
		mb, err = createMailboxTx(ctx, tx, name, specialUse)
		if err != nil {
			return err
		}
		var sub bool
		err = tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM subscription WHERE name = ?)`, name).Scan(&sub)
		mb.Subscribed = sub
		return err
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
	err = a.write(ctx, "delete mailbox", func(tx *sql.Tx) error {
		m, err := mailboxByName(ctx, tx, name)
		if err != nil {
			return err
		}
		contents, err := queryInts(ctx, tx, `DELETE FROM message WHERE mailbox_id = ? RETURNING content`, m.ID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tombstone WHERE mailbox_id = ?`, m.ID); err != nil {
			return err
		}
		// RFC 9051 6.3.5: children are kept; subscriptions too (6.3.9: a
		// server MUST NOT unilaterally remove a subscription).
		if _, err := tx.ExecContext(ctx, `DELETE FROM mailbox WHERE id = ?`, m.ID); err != nil {
			return err
		}
		orphans, err = dropUnreferenced(ctx, tx, contents)
		return err
	})
	if err != nil {
		return err
	}
	a.deleteBlobs(orphans)
	a.notify()
	return nil
}

func (a *account) RenameMailbox(ctx context.Context, from, to string) error {
	from, to, err := sqlstore.CheckRename(from, to)
	if err != nil {
		return err
	}
	err = a.write(ctx, "rename mailbox", func(tx *sql.Tx) error {
		src, err := mailboxByName(ctx, tx, from)
		if err != nil {
			return err
		}
		ok, err := mailboxExists(ctx, tx, to)
		if err != nil {
			return err
		}
		if ok {
			return mailstore.Errorf(mailstore.KindExists, "mailbox already exists")
		}
		if err := createParents(ctx, tx, to); err != nil {
			return err
		}
		if from == "INBOX" {
			return renameInbox(ctx, tx, src, to)
		}
		type pair struct {
			id       mailstore.MailboxID
			old, new string
		}
		var renames []pair
		rows, err := tx.QueryContext(ctx, `SELECT id, name FROM mailbox WHERE name = ? OR substr(name, 1, ?) = ?`,
			from, len(from)+1, from+"/")
		if err != nil {
			return err
		}
		for rows.Next() {
			var p pair
			if err := rows.Scan(&p.id, &p.old); err != nil {
				rows.Close()
				return err
			}
			renames = append(renames, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range renames {
			p := &renames[i]
			n, err := sqlstore.RenamedName(from, to, p.old)
			if err != nil {
				return err
			}
			p.new = n
			ok, err := mailboxExists(ctx, tx, n)
			if err != nil {
				return err
			}
			if ok {
				return mailstore.Errorf(mailstore.KindExists, "mailbox %s already exists", n)
			}
		}
		for _, p := range renames {
			if _, err := tx.ExecContext(ctx, `UPDATE mailbox SET name = ? WHERE id = ?`, p.new, p.id); err != nil {
				return err
			}
			// Subscriptions follow the mailbox they named.
			res, err := tx.ExecContext(ctx, `DELETE FROM subscription WHERE name = ?`, p.old)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO subscription (name) VALUES (?)`, p.new); err != nil {
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
// Children of INBOX are not renamed.
func renameInbox(ctx context.Context, tx *sql.Tx, inbox mailboxRow, to string) error {
	dst, err := createMailboxTx(ctx, tx, to, "")
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mailbox SET uidnext = ?, highestmodseq = ? WHERE id = ?`,
		inbox.UIDNext, inbox.HighestModSeq, dst.ID); err != nil {
		return err
	}
	uids, err := queryInts(ctx, tx, `UPDATE message SET mailbox_id = ? WHERE mailbox_id = ? RETURNING uid`, dst.ID, inbox.ID)
	if err != nil || len(uids) == 0 {
		return err
	}
	modseq := inbox.HighestModSeq + 1
	ins, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO tombstone (mailbox_id, uid, modseq) VALUES (?, ?, ?)`)
	if err != nil {
		return err
	}
	defer ins.Close()
	for _, uid := range uids {
		if _, err := ins.ExecContext(ctx, inbox.ID, uid, modseq); err != nil {
			return err
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE mailbox SET highestmodseq = ? WHERE id = ?`, modseq, inbox.ID)
	return err
}

func (a *account) SetSubscribed(ctx context.Context, name string, subscribed bool) error {
	name, err := mailstore.NormalizeMailboxName(name)
	if err != nil {
		return err
	}
	err = a.write(ctx, "set subscription", func(tx *sql.Tx) error {
		if subscribed {
			_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO subscription (name) VALUES (?)`, name)
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM subscription WHERE name = ?`, name)
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
	err := a.readCached(ctx, "list subscriptions", func(tx cachedTx) error {
		rows, err := tx.QueryContext(ctx, `SELECT name FROM subscription ORDER BY name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				return err
			}
			out = append(out, s)
		}
		return rows.Err()
	})
	return out, err
}

// queryInts runs a query returning one integer column.
func queryInts(ctx context.Context, q queryer, query string, args ...any) ([]int64, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// dropUnreferenced deletes the message_cache rows among contents that no
// message references anymore and returns their blob ids, for deletion
// after the commit.
func dropUnreferenced(ctx context.Context, tx *sql.Tx, contents []int64) ([]string, error) {
	if len(contents) == 0 {
		return nil, nil
	}
	rows, err := tx.QueryContext(ctx, `DELETE FROM message_cache
		WHERE id IN (SELECT value FROM json_each(?))
		AND NOT EXISTS (SELECT 1 FROM message WHERE content = message_cache.id)
		RETURNING blob_id`, jsonInts(contents))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// jsonInts renders integers as a JSON array for json_each.
func jsonInts[T ~int64 | ~uint32](v []T) string {
	var b strings.Builder
	b.Grow(len(v)*8 + 2)
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(int64(x), 10))
	}
	b.WriteByte(']')
	return b.String()
}
