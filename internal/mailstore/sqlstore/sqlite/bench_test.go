package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/storetest"
)

func benchAccount(b *testing.B) (*Store, *account, mailstore.Mailbox) {
	b.Helper()
	st := openTestStore(b, b.TempDir())
	b.Cleanup(func() { st.Close() })
	acc, err := st.Account(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { acc.Close() })
	inbox, err := acc.Mailbox(context.Background(), "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	return st, acc.(*accountRef).account, inbox
}

// fill inserts n messages straight into the database (one transaction,
// fake blob ids): setting up 100k durable appends would take minutes.
func fill(b *testing.B, a *account, mbox mailstore.MailboxID, n int) {
	b.Helper()
	ctx := context.Background()
	err := a.write(ctx, "fill", func(tx *sql.Tx) error {
		var next, hms int64
		if err := tx.QueryRowContext(ctx, `SELECT uidnext, highestmodseq FROM mailbox WHERE id = ?`, mbox).Scan(&next, &hms); err != nil {
			return err
		}
		cache, err := tx.PrepareContext(ctx, `INSERT INTO message_cache (blob_id, size, header_size, envelope, bodystructure, body, parts) VALUES (?, 1000, 300, '(NIL)', '("text" "plain")', '("text" "plain")', x'00')`)
		if err != nil {
			return err
		}
		msg, err := tx.PrepareContext(ctx, `INSERT INTO message (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content) VALUES (?, ?, ?, ?, ?, ?, 3600, 1000, ?)`)
		if err != nil {
			return err
		}
		now := time.Now().Unix()
		for i := 0; i < n; i++ {
			res, err := cache.ExecContext(ctx, fmt.Sprintf("%032x", next+int64(i)+int64(mbox)<<40))
			if err != nil {
				return err
			}
			content, _ := res.LastInsertId()
			kw := ""
			if i%10 == 0 {
				kw = "$Label1 NonJunk"
			}
			if _, err := msg.ExecContext(ctx, mbox, next+int64(i), hms+1+int64(i), int64(i%3), kw, now-int64(n-i)*60, content); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE mailbox SET uidnext = ?, highestmodseq = ? WHERE id = ?`, next+int64(n), hms+int64(n), mbox)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAppend measures durable appends (blob fsync + directory fsync +
// WAL fsync per message) of a 4 KB message.
func BenchmarkAppend(b *testing.B) {
	_, a, _ := benchAccount(b)
	storetest.BenchAppend(b, &accountRef{account: a})
}

// BenchmarkAppendParallel measures 8 concurrent appenders on one account.
func BenchmarkAppendParallel(b *testing.B) {
	_, a, _ := benchAccount(b)
	storetest.BenchAppendParallel(b, &accountRef{account: a})
}

// BenchmarkMessages100k loads the metadata of a 100,000-message mailbox.
func BenchmarkMessages100k(b *testing.B) {
	_, a, inbox := benchAccount(b)
	fill(b, a, inbox.ID, 100_000)
	ctx := context.Background()
	for b.Loop() {
		m, err := a.Messages(ctx, inbox.ID)
		if err != nil || len(m) != 100_000 {
			b.Fatal(len(m), err)
		}
	}
}

// BenchmarkStoreFlags1000 sets and clears \Flagged on 1000 messages of a
// 100,000-message mailbox (one STORE each).
func BenchmarkStoreFlags1000(b *testing.B) {
	_, a, inbox := benchAccount(b)
	fill(b, a, inbox.ID, 100_000)
	uids := make([]mailstore.UID, 1000)
	for i := range uids {
		uids[i] = mailstore.UID(50_000 + i*3)
	}
	ctx := context.Background()
	op := mailstore.FlagsAdd
	for b.Loop() {
		upd, _, err := a.StoreFlags(ctx, inbox.ID, uids, op, []string{`\Flagged`, "$Work"}, 0)
		if err != nil || len(upd) != 1000 {
			b.Fatal(len(upd), err)
		}
		if op == mailstore.FlagsAdd {
			op = mailstore.FlagsRemove
		} else {
			op = mailstore.FlagsAdd
		}
	}
}

// BenchmarkChangesSince asks for the 1000 messages changed (and 100
// expunged) since a modseq in a 100,000-message mailbox.
func BenchmarkChangesSince(b *testing.B) {
	_, a, inbox := benchAccount(b)
	fill(b, a, inbox.ID, 100_000)
	ctx := context.Background()
	mb, _ := a.Mailbox(ctx, "INBOX")
	mark := mb.HighestModSeq
	uids := make([]mailstore.UID, 1000)
	for i := range uids {
		uids[i] = mailstore.UID(1 + i*97)
	}
	if _, _, err := a.StoreFlags(ctx, inbox.ID, uids, mailstore.FlagsAdd, []string{`\Draft`}, 0); err != nil {
		b.Fatal(err)
	}
	exp := make([]mailstore.UID, 100)
	for i := range exp {
		exp[i] = mailstore.UID(97_100 + i*10)
	}
	if _, err := a.Expunge(ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: exp}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		c, err := a.Changes(ctx, inbox.ID, mark)
		if err != nil || len(c.Updated) != 1000 || len(c.Expunged) != 100 {
			b.Fatal(len(c.Updated), len(c.Expunged), err)
		}
	}
}

// BenchmarkStatus reads the counters of a 100,000-message mailbox.
func BenchmarkStatus(b *testing.B) {
	_, a, inbox := benchAccount(b)
	fill(b, a, inbox.ID, 100_000)
	ctx := context.Background()
	for b.Loop() {
		st, err := a.Status(ctx, "INBOX")
		if err != nil || st.Messages != 100_000 {
			b.Fatal(st, err)
		}
	}
}

// BenchmarkCache100k reads the cache rows of a 100,000-message mailbox in
// batches of 256 consecutive UIDs, as FETCH 1:* (ENVELOPE BODYSTRUCTURE)
// does.
func BenchmarkCache100k(b *testing.B) {
	_, a, inbox := benchAccount(b)
	fill(b, a, inbox.ID, 100_000)
	ctx := context.Background()
	uids := make([]mailstore.UID, 100_000)
	for i := range uids {
		uids[i] = mailstore.UID(i + 1)
	}
	for b.Loop() {
		n := 0
		for start := 0; start < len(uids); start += 256 {
			c, err := a.Cache(ctx, inbox.ID, uids[start:min(start+256, len(uids))])
			if err != nil {
				b.Fatal(err)
			}
			n += len(c)
		}
		if n != len(uids) {
			b.Fatal(n)
		}
	}
}

// BenchmarkChangesAll100k is Changes since 0 of a 100,000-message mailbox:
// what SELECT loads.
func BenchmarkChangesAll100k(b *testing.B) {
	_, a, inbox := benchAccount(b)
	fill(b, a, inbox.ID, 100_000)
	storetest.BenchChangesAll(b, &accountRef{account: a}, inbox.ID, 100_000)
}
