package postgres

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// keywordsInUseQuery lists the distinct keyword lists of a mailbox with a
// loose index scan of the partial index messages_keywords: one index
// descent per distinct list, so the cost grows with the number of
// different keyword combinations, not with the messages that have
// keywords (SELECT DISTINCT read all 10,000 of them in a 100,000-message
// test mailbox, 20 ms).
const keywordsInUseQuery = `WITH RECURSIVE k(keywords) AS (
		(SELECT keywords FROM messages WHERE mailbox_id = $1 AND keywords <> '' ORDER BY keywords LIMIT 1)
		UNION ALL
		SELECT (SELECT m.keywords FROM messages m WHERE m.mailbox_id = $1 AND m.keywords <> '' AND m.keywords > k.keywords
			ORDER BY m.keywords LIMIT 1)
		FROM k WHERE k.keywords IS NOT NULL)
	SELECT keywords FROM k WHERE keywords IS NOT NULL`

func (a *account) View(ctx context.Context, mbox mailstore.MailboxID) (mailstore.MailboxView, error) {
	var v mailstore.MailboxView
	err := a.read(ctx, "mailbox view", func(tx pgx.Tx) error {
		v = mailstore.MailboxView{}
		m, err := mailboxByID(ctx, tx, a.id, mbox, false)
		if err != nil {
			return err
		}
		v.HighestModSeq, v.UIDNext, v.Messages = m.HighestModSeq, m.UIDNext, uint32(m.messages)
		if m.messages == 0 {
			return nil
		}
		// Two index seeks in the primary key.
		var lo, hi int64
		if err := tx.QueryRow(ctx, `SELECT min(uid), max(uid) FROM messages WHERE mailbox_id = $1`, int64(mbox)).Scan(&lo, &hi); err != nil {
			return err
		}
		if hi-lo+1 == m.messages {
			// Dense: the counter (kept by triggers, in this snapshot) and
			// the two ends prove there is no gap.
			v.UIDs = []mailstore.UIDRange{{First: mailstore.UID(lo), Last: mailstore.UID(hi)}}
		} else if v.UIDs, err = uidRuns(ctx, tx, mbox); err != nil {
			return err
		}
		if m.unseen > 0 {
			// The partial index messages_unseen.
			var u int64
			if err := tx.QueryRow(ctx, `SELECT uid FROM messages WHERE mailbox_id = $1 AND (flags & 1) = 0 ORDER BY uid LIMIT 1`,
				int64(mbox)).Scan(&u); err != nil {
				return err
			}
			v.FirstUnseen = mailstore.UID(u)
		}
		rows, err := tx.Query(ctx, keywordsInUseQuery, int64(mbox))
		if err != nil {
			return err
		}
		var s string
		if _, err := pgx.ForEachRow(rows, []any{&s}, func() error {
			v.Keywords = sqlstore.AddKeywords(v.Keywords, s)
			return nil
		}); err != nil {
			return err
		}
		slices.Sort(v.Keywords)
		return nil
	})
	return v, err
}

// uidRuns returns the mailbox's UIDs as runs, computed by the server
// ("gaps and islands"): one row per run crosses the wire.
func uidRuns(ctx context.Context, tx pgx.Tx, mbox mailstore.MailboxID) ([]mailstore.UIDRange, error) {
	rows, err := tx.Query(ctx, `SELECT min(uid), max(uid) FROM (
			SELECT uid, uid - row_number() OVER (ORDER BY uid) AS grp FROM messages WHERE mailbox_id = $1) r
		GROUP BY grp ORDER BY 1`, int64(mbox))
	if err != nil {
		return nil, err
	}
	var out []mailstore.UIDRange
	var lo, hi int64
	_, err = pgx.ForEachRow(rows, []any{&lo, &hi}, func() error {
		out = append(out, mailstore.UIDRange{First: mailstore.UID(lo), Last: mailstore.UID(hi)})
		return nil
	})
	return out, err
}

func (a *account) Metas(ctx context.Context, mbox mailstore.MailboxID, uids []mailstore.UID) ([]mailstore.MessageMeta, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	var out []mailstore.MessageMeta
	err := a.read(ctx, "message metas", func(tx pgx.Tx) error {
		if _, err := mailboxByID(ctx, tx, a.id, mbox, false); err != nil {
			return err
		}
		var rows pgx.Rows
		var err error
		lo, hi, dense := sqlstore.UIDSpan(uids)
		if dense {
			// A primary-key range scan (as Cache); rows not asked for
			// are dropped below.
			rows, err = tx.Query(ctx, `SELECT `+sqlstore.MetaColumns+` FROM messages WHERE mailbox_id = $1 AND uid BETWEEN $2 AND $3 ORDER BY uid`,
				int64(mbox), int64(lo), int64(hi))
		} else {
			rows, err = tx.Query(ctx, `SELECT `+sqlstore.MetaColumns+` FROM messages WHERE mailbox_id = $1 AND uid = ANY($2) ORDER BY uid`,
				int64(mbox), uidArray(uids))
		}
		if err != nil {
			return err
		}
		out, err = scanMetas(rows, len(uids))
		if err != nil || !dense {
			return err
		}
		out = sqlstore.KeepAsked(out, uids, lo, hi)
		return nil
	})
	return out, err
}

func (a *account) ScanFlags(ctx context.Context, mbox mailstore.MailboxID, fn func(uid mailstore.UID, modSeq mailstore.ModSeq, flags []string) error) error {
	return a.read(ctx, "scan flags", func(tx pgx.Tx) error {
		if _, err := mailboxByID(ctx, tx, a.id, mbox, false); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT uid, modseq, flags, keywords FROM messages WHERE mailbox_id = $1 ORDER BY uid`, int64(mbox))
		if err != nil {
			return err
		}
		type key struct {
			bits int32
			kws  string
		}
		shared := map[key][]string{} // a few distinct combinations
		var uid, modseq int64
		var bits int32
		var kws string
		_, err = pgx.ForEachRow(rows, []any{&uid, &modseq, &bits, &kws}, func() error {
			k := key{bits, kws}
			fl, ok := shared[k]
			if !ok {
				fl = sqlstore.FlagList(int64(bits), kws)
				shared[k] = fl
			}
			return fn(mailstore.UID(uid), mailstore.ModSeq(modseq), fl)
		})
		return err
	})
}
