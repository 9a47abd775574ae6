package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
	"github.com/roost-mail/roost/internal/mailstore/storetest"
)

// TestFsyncLevels runs one operation of each kind under each mail_fsync
// mode and reads PRAGMA synchronous inside its write transaction (0 OFF,
// 1 NORMAL, 2 FULL): under optimized only STORE runs with NORMAL, and the
// append right after it is FULL again.
func TestFsyncLevels(t *testing.T) {
	ops := []string{"create", "append", "store", "append2", "copy", "expunge", "rename", "delete"}
	for _, tc := range []struct {
		mode sqlstore.Fsync
		want map[string]int // op -> level; ops not listed are FULL
		base int
	}{
		{sqlstore.FsyncOptimized, map[string]int{"store": 1}, 2},
		{sqlstore.FsyncAlways, nil, 2},
		{sqlstore.FsyncNever, nil, 0},
	} {
		t.Run(tc.mode.String(), func(t *testing.T) {
			var mu sync.Mutex
			var levels []int
			writeHook = func(tx *sql.Tx) {
				var l int
				if err := tx.QueryRow(`PRAGMA synchronous`).Scan(&l); err != nil {
					t.Errorf("read synchronous: %v", err)
				}
				mu.Lock()
				levels = append(levels, l)
				mu.Unlock()
			}
			t.Cleanup(func() { writeHook = nil })
			st, err := Open(Options{Dir: t.TempDir(), MaxMessageSize: storetest.MaxMessageSize, Fsync: tc.mode})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			acc, err := st.Account(ctx, "alice")
			if err != nil {
				t.Fatal(err)
			}
			defer acc.Close()
			if tc.mode == sqlstore.FsyncNever {
				if !acc.(*accountRef).blobs.NoSync() {
					t.Error("mail_fsync = never: message files are still fsynced")
				}
			} else if acc.(*accountRef).blobs.NoSync() {
				t.Errorf("mail_fsync = %v: message files are not fsynced", tc.mode)
			}
			got := map[string]int{}
			run := func(op string, f func() error) {
				t.Helper()
				mu.Lock()
				levels = nil
				mu.Unlock()
				if err := f(); err != nil {
					t.Fatalf("%s: %v", op, err)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(levels) != 1 {
					t.Fatalf("%s: %d write transactions, want 1", op, len(levels))
				}
				got[op] = levels[0]
			}
			msg := "Subject: x\r\n\r\nbody\r\n"
			var box mailstore.Mailbox
			var uid mailstore.UID
			run("create", func() error { _, err := acc.CreateMailbox(ctx, "Work", ""); return err })
			run("append", func() (err error) {
				box, uid, err = acc.Append(ctx, "Work", mailstore.NewMessage{}, strings.NewReader(msg))
				return err
			})
			run("store", func() error {
				_, _, err := acc.StoreFlags(ctx, box.ID, []mailstore.UID{uid}, mailstore.FlagsAdd, []string{mailstore.FlagSeen}, 0)
				return err
			})
			run("append2", func() error {
				_, _, err := acc.Append(ctx, "Work", mailstore.NewMessage{}, strings.NewReader(msg))
				return err
			})
			run("copy", func() error { _, err := acc.Copy(ctx, box.ID, []mailstore.UID{uid}, "INBOX"); return err })
			run("expunge", func() error {
				_, err := acc.Expunge(ctx, box.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{uid}})
				return err
			})
			run("rename", func() error { return acc.RenameMailbox(ctx, "Work", "Old") })
			run("delete", func() error { return acc.DeleteMailbox(ctx, "Old") })
			for _, op := range ops {
				want, ok := tc.want[op]
				if !ok {
					want = tc.base
				}
				if got[op] != want {
					t.Errorf("%s: synchronous = %d, want %d", op, got[op], want)
				}
			}
		})
	}
}

// BenchmarkStoreFlagsFsync is one STORE +FLAGS/-FLAGS (\Seen) per
// iteration, the commit of a non-peek FETCH BODY[], under each
// mail_fsync mode.
func BenchmarkStoreFlagsFsync(b *testing.B) {
	for _, mode := range []sqlstore.Fsync{sqlstore.FsyncAlways, sqlstore.FsyncOptimized} {
		b.Run(mode.String(), func(b *testing.B) {
			st, err := Open(Options{Dir: b.TempDir(), Fsync: mode})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			ctx := context.Background()
			acc, err := st.Account(ctx, "alice")
			if err != nil {
				b.Fatal(err)
			}
			defer acc.Close()
			box, uid, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\nbody\r\n"))
			if err != nil {
				b.Fatal(err)
			}
			ops := [2]mailstore.FlagOp{mailstore.FlagsAdd, mailstore.FlagsRemove}
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if _, _, err := acc.StoreFlags(ctx, box.ID, []mailstore.UID{uid}, ops[i%2], []string{mailstore.FlagSeen}, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
