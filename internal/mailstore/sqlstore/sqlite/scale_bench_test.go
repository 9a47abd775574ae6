package sqlite

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// fillFast inserts n messages into mbox in one statement, all sharing one
// message_cache row (SELECT, FLAGS and QRESYNC never read bodies): a
// 1,000,000-message mailbox in seconds. Every third message is \Seen, every
// tenth has keywords, as fill.
func fillFast(tb testing.TB, a *account, mbox mailstore.MailboxID, n int) {
	tb.Helper()
	ctx := context.Background()
	err := a.write(ctx, "fill", func(tx *sql.Tx) error {
		var next, hms int64
		if err := tx.QueryRowContext(ctx, `SELECT uidnext, highestmodseq FROM mailbox WHERE id = ?`, mbox).Scan(&next, &hms); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO message_cache (blob_id, size, header_size, envelope, bodystructure, body, parts) VALUES (lower(hex(randomblob(16))), 1000, 300, '(NIL)', '("text" "plain")', '("text" "plain")', x'00')`)
		if err != nil {
			return err
		}
		content, _ := res.LastInsertId()
		now := time.Now().Unix()
		if _, err := tx.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM c WHERE i+1 < ?)
			INSERT INTO message (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content)
			SELECT ?, ? + i, ? + 1 + i, i % 3, CASE WHEN i % 10 = 0 THEN '$Label1 NonJunk' ELSE '' END, ? - (? - i) * 60, 3600, 1000, ? FROM c`,
			n, mbox, next, hms, now, n, content); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE mailbox SET uidnext = ?, highestmodseq = ? WHERE id = ?`, next+int64(n), hms+int64(n), mbox)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkView1M is what SELECT reads of a 1,000,000-message mailbox.
func BenchmarkView1M(b *testing.B) {
	_, a, inbox := benchAccount(b)
	fillFast(b, a, inbox.ID, 1_000_000)
	ctx := context.Background()
	for b.Loop() {
		v, err := a.View(ctx, inbox.ID)
		if err != nil || v.Messages != 1_000_000 || len(v.UIDs) != 1 || len(v.Keywords) != 2 {
			b.Fatal(v.Messages, len(v.UIDs), v.Keywords, err)
		}
	}
}

// BenchmarkChangesAll1M is SELECT's read before docs/imap-scale.md: every
// message's metadata.
func BenchmarkChangesAll1M(b *testing.B) {
	_, a, inbox := benchAccount(b)
	fillFast(b, a, inbox.ID, 1_000_000)
	ctx := context.Background()
	for b.Loop() {
		c, err := a.Changes(ctx, inbox.ID, 0)
		if err != nil || len(c.Updated) != 1_000_000 {
			b.Fatal(len(c.Updated), err)
		}
	}
}
