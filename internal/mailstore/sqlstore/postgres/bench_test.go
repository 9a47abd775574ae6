package postgres

import (
	"context"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/storetest"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// The benchmarks mirror the SQLite store's (sqlite/bench_test.go). For
// numbers comparable with SQLite's fsynced appends, run them with
// ROOST_TEST_POSTGRES_FSYNC=on (or against a real server,
// ROOST_TEST_POSTGRES): pgtest's cluster otherwise runs with fsync off.

func benchAccount(b *testing.B) (*Store, mailstore.Account, mailstore.Mailbox) {
	b.Helper()
	st := openStore(b, pgtest.DSN(b))
	acc, err := st.Account(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { acc.Close() })
	inbox, err := acc.Mailbox(context.Background(), "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	return st, acc, inbox
}

// fill inserts n messages straight into the database in one transaction
// (fake blob ids), as the SQLite benchmarks do.
func fill(b *testing.B, st *Store, mbox mailstore.MailboxID, n int) {
	b.Helper()
	ctx := context.Background()
	_, err := st.pool.Exec(ctx, `
		WITH c AS (
			INSERT INTO contents (account_id, blob_id, size, header_size, envelope, bodystructure, body, parts)
			SELECT b.account_id, 'fill' || b.id || '-' || i, 1000, 300, '(NIL)', '("text" "plain")', '("text" "plain")', '\x00'
			FROM mailboxes b, generate_series(1, $2) i WHERE b.id = $1
			RETURNING id, split_part(blob_id, '-', 2)::bigint AS i)
		INSERT INTO messages (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content)
		SELECT $1, c.i, c.i + 1, c.i % 3, CASE WHEN c.i % 10 = 0 THEN '$Label1 NonJunk' ELSE '' END,
			extract(epoch FROM now())::bigint - ($2 - c.i) * 60, 3600, 1000, c.id FROM c`, int64(mbox), n)
	if err == nil {
		_, err = st.pool.Exec(ctx, `UPDATE mailboxes SET uidnext = $2 + 1, highestmodseq = $2 + 1 WHERE id = $1`, int64(mbox), n)
	}
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAppend measures durable appends of a 4 KB message, one at a
// time.
func BenchmarkAppend(b *testing.B) {
	_, a, _ := benchAccount(b)
	storetest.BenchAppend(b, a)
}

// BenchmarkAppendParallel measures 8 concurrent appenders on one mailbox
// (they serialize on its row lock; commits overlap with body writes).
func BenchmarkAppendParallel(b *testing.B) {
	_, a, _ := benchAccount(b)
	storetest.BenchAppendParallel(b, a)
}

// BenchmarkChangesAll100k loads the metadata of a 100,000-message mailbox
// (SELECT without a flag cache).
func BenchmarkChangesAll100k(b *testing.B) {
	st, a, inbox := benchAccount(b)
	fill(b, st, inbox.ID, 100_000)
	storetest.BenchChangesAll(b, a, inbox.ID, 100_000)
}

// BenchmarkView100k is SELECT's view of a 100,000-message mailbox.
func BenchmarkView100k(b *testing.B) {
	st, a, inbox := benchAccount(b)
	fill(b, st, inbox.ID, 100_000)
	ctx := context.Background()
	for b.Loop() {
		v, err := a.View(ctx, inbox.ID)
		if err != nil || v.Messages != 100_000 || len(v.UIDs) != 1 {
			b.Fatalf("%+v, %v", v.Messages, err)
		}
	}
}

// BenchmarkChangesSince is a resync after one flag change in a
// 100,000-message mailbox.
func BenchmarkChangesSince(b *testing.B) {
	st, a, inbox := benchAccount(b)
	fill(b, st, inbox.ID, 100_000)
	ctx := context.Background()
	if _, _, err := a.StoreFlags(ctx, inbox.ID, []mailstore.UID{50_000}, mailstore.FlagsAdd, []string{`\Flagged`}, 0); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := a.Changes(ctx, inbox.ID, 100_001)
		if err != nil || len(c.Updated) != 1 {
			b.Fatalf("%d updates, %v", len(c.Updated), err)
		}
	}
}
