package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// TestSweep: the daily sweep removes old bodies that no message references
// (a crash between storing a body and the commit) and old incomplete ones
// (a crash while storing), keeps referenced and young ones, and runs on
// one node once a day: a second store on the database skips it.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.DSN(t)
	st, other := openStore(t, dsn), openStore(t, dsn)
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	big := "Subject: big\r\n\r\n" + strings.Repeat("x", 2*ChunkSize)
	for _, body := range []string{"Subject: kept\r\n\r\nkept\r\n", big} {
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
	}
	orphan, _, err := st.blobs.PutTee(ctx, strings.NewReader("leaked by a crash"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	young, _, err := st.blobs.PutTee(ctx, strings.NewReader("being delivered"), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, `INSERT INTO blobs (id) VALUES ('0123456789abcdef0123456789abcdef')`); err != nil {
		t.Fatal(err)
	}
	if _, err := st.pool.Exec(ctx, `UPDATE blobs SET created = created - interval '2 hours' WHERE id <> $1`, young); err != nil {
		t.Fatal(err)
	}
	n, ran := st.sweepOnce(ctx)
	if !ran || n != 2 {
		t.Fatalf("sweep: ran %v, removed %d; want 2 (the orphan and the incomplete blob)", ran, n)
	}
	var left []string
	rows, _ := st.pool.Query(ctx, `SELECT id FROM blobs ORDER BY id`)
	for rows.Next() {
		var id string
		rows.Scan(&id)
		left = append(left, id)
	}
	rows.Close()
	if len(left) != 3 || strings.Contains(strings.Join(left, " "), orphan) {
		t.Fatalf("blobs left %v; want the two messages' and the young one, not %s", left, orphan)
	}
	inbox, _ := acc.Mailbox(ctx, "INBOX")
	for _, uid := range []mailstore.UID{1, 2} {
		b, err := acc.Open(ctx, inbox.ID, uid)
		if err != nil {
			t.Fatalf("message %d after the sweep: %v", uid, err)
		}
		b.Close()
	}
	if _, ran := other.sweepOnce(ctx); ran {
		t.Fatal("a second node swept again within the day")
	}
}
