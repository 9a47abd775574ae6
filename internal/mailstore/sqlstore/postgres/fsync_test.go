package postgres

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// TestFsyncFlagCommit reads synchronous_commit inside a STORE transaction
// under each mail_fsync mode: off only under optimized and never, and
// under optimized the SET LOCAL ends with the transaction (the session, as
// every other transaction sees it, stays on).
func TestFsyncFlagCommit(t *testing.T) {
	// The test cluster runs with synchronous_commit = off (pgtest); ask
	// for the server default, on, in our sessions.
	u, err := url.Parse(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("synchronous_commit", "on")
	u.RawQuery = q.Encode()
	dsn := u.String()
	for _, tc := range []struct {
		mode          sqlstore.Fsync
		inStore, rest string
	}{
		{sqlstore.FsyncOptimized, "off", "on"},
		{sqlstore.FsyncAlways, "on", "on"},
		{sqlstore.FsyncNever, "off", "off"},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			var got []string
			flagTxHook = func(tx pgx.Tx) {
				var v string
				if err := tx.QueryRow(context.Background(), `SHOW synchronous_commit`).Scan(&v); err != nil {
					t.Errorf("show synchronous_commit: %v", err)
				}
				got = append(got, v)
			}
			t.Cleanup(func() { flagTxHook = nil })
			st := openStore(t, dsn, func(o *Options) { o.Fsync = tc.mode; o.MaxConns = 1 })
			ctx := context.Background()
			user := "fsync-" + tc.mode.String()
			acc, err := st.Account(ctx, user)
			if err != nil {
				t.Fatal(err)
			}
			defer acc.Close()
			box, uid, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\nbody\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := acc.StoreFlags(ctx, box.ID, []mailstore.UID{uid}, mailstore.FlagsAdd, []string{mailstore.FlagSeen}, 0); err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0] != tc.inStore {
				t.Errorf("synchronous_commit in STORE: %v, want [%s]", got, tc.inStore)
			}
			// The pool's only connection ran the STORE: what it has now
			// is what the next append commits with.
			var rest string
			if err := st.pool.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&rest); err != nil {
				t.Fatal(err)
			}
			if rest != tc.rest {
				t.Errorf("synchronous_commit after STORE: %s, want %s", rest, tc.rest)
			}
		})
	}
}
