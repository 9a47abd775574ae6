package postgres

import (
	"context"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/storetest"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// TestPurgeAccount runs the purge suite; after the purge, every row and
// body of alice's is gone and bob's are left.
func TestPurgeAccount(t *testing.T) {
	storetest.RunPurge(t, func(t *testing.T) mailstore.Store {
		return openStore(t, pgtest.DSN(t), func(o *Options) { o.BlobDeleteDelay = -1 })
	}, func(t *testing.T, ms mailstore.Store) {
		st := ms.(*Store)
		for q, want := range map[string]int{
			`SELECT count(*) FROM accounts`: 1,
			`SELECT count(*) FROM mailboxes m JOIN accounts a ON a.id = m.account_id WHERE a.username <> 'bob'`: 0,
			`SELECT count(*) FROM messages`: 2, // bob's two copies
			`SELECT count(*) FROM contents`: 1,
			`SELECT count(*) FROM blobs`:    1,
			`SELECT count(*) FROM keywords`: 1,
			`SELECT count(*) FROM subscriptions s JOIN accounts a ON a.id = s.account_id WHERE a.username <> 'bob'`: 0,
		} {
			var n int
			if err := st.pool.QueryRow(context.Background(), q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != want {
				t.Errorf("%s: %d, want %d", q, n, want)
			}
		}
	})
}
