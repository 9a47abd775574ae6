package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// TestDBsCloseUnderConcurrentCalls closes the account's databases as soon
// as they are unused (connIdle 1 ms) while goroutines run every kind of
// call that reaches them: read transactions with cached statements,
// single cached statements, plain reader statements, writes with
// durable and flag-only commits. No call may fail or see a closed
// database, the sets must actually have been closed and reopened many
// times meanwhile, and once the calls stop the account must hold none.
// Run it with -race: a use racing with a close shows up there.
func TestDBsCloseUnderConcurrentCalls(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, t.TempDir())
	defer st.Close()
	st.connIdle = time.Millisecond
	ref := openTestAccount(t, st, "alice")
	a := ref.(*accountRef).account
	if _, _, err := ref.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\nhi\r\n")); err != nil {
		t.Fatal(err)
	}
	inbox, err := ref.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	// Every round starts with the set closed (the setup's calls may have
	// left it open), so each round reopens it at least once.
	waitNoDBs(t, st, a)
	opensBefore := st.dbOpens.Load()

	// Rounds of calls from several goroutines with pauses of 0-6 ms, so
	// that the idle timer often closes the set while another call is
	// starting; after each round the set must close, and the next round
	// reopens it.
	const workers, rounds, callsPerRound = 4, 12, 6
	var calls atomic.Int64
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := range callsPerRound {
					if err := dbsCall(ctx, ref, a, inbox.ID, w+i); err != nil {
						errs <- fmt.Errorf("round %d worker %d call %d: %w", round, w, i, err)
						return
					}
					calls.Add(1)
					time.Sleep(time.Duration((i*3+w)%7) * time.Millisecond)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		waitNoDBs(t, st, a)
	}
	reopens := st.dbOpens.Load() - opensBefore
	t.Logf("%d calls, databases reopened %d times", calls.Load(), reopens)
	if reopens < rounds {
		t.Fatalf("databases reopened %d times in %d calls: the closes under load were not exercised", reopens, calls.Load())
	}
	waitNoDBs(t, st, a)
}

// TestStoreCloseUnderCalls closes the store while calls run: they may
// fail (KindUnavailable or a closed database), but nothing may race or
// hang, and no database set may stay open.
func TestStoreCloseUnderCalls(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, t.TempDir())
	st.connIdle = time.Millisecond
	ref, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ref.Status(ctx, "INBOX")
				ref.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\nhi\r\n"))
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	if err := st.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
	close(stop)
	wg.Wait()
	if _, err := ref.Status(ctx, "INBOX"); err == nil {
		t.Error("a call after the store closed succeeded")
	}
	if n := st.liveDBs.Load(); n != 0 {
		t.Fatalf("%d database sets open after the store closed", n)
	}
}

// waitNoDBs waits until the account holds no databases and the store has
// none open.
func waitNoDBs(t *testing.T, st *Store, a *account) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for a.cur.Load() != nil || st.liveDBs.Load() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("databases still open (account holds them: %v; %d sets open)", a.cur.Load() != nil, st.liveDBs.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BenchmarkReopenDBs is the price of closing an idle account's databases:
// each iteration runs what a woken IDLE session does (STATUS-like mailbox
// read, then Changes) on a warm account ("warm"), or on one whose
// databases were closed first ("cold": open the connection, read the
// schema, prepare the statements again).
func BenchmarkReopenDBs(b *testing.B) {
	for _, cold := range []bool{false, true} {
		name := "warm"
		if cold {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			st, a, inbox := benchAccount(b)
			st.connIdle = time.Hour
			fill(b, a, inbox.ID, 100)
			ctx := context.Background()
			for b.Loop() {
				if cold {
					b.StopTimer()
					closeDBsNow(b, a)
					b.StartTimer()
				}
				if _, err := a.Mailbox(ctx, "INBOX"); err != nil {
					b.Fatal(err)
				}
				if _, err := a.Changes(ctx, inbox.ID, 90); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// closeDBsNow closes a's databases as the idle timer does.
func closeDBsNow(t testing.TB, a *account) {
	t.Helper()
	a.hmu.Lock()
	d := a.cur.Load()
	if a.inUse > 0 || d == nil {
		a.hmu.Unlock()
		t.Fatalf("cannot close: %d users, open %v", a.inUse, d != nil)
	}
	a.cur.Store(nil)
	a.hmu.Unlock()
	if err := d.close(a.st); err != nil {
		t.Fatal(err)
	}
}

// dbsCall runs one of the calls that reach the account's databases.
func dbsCall(ctx context.Context, ref mailstore.Account, a *account, mbox mailstore.MailboxID, kind int) error {
	switch kind % 6 {
	case 0: // SELECT's view, cached statements in a read transaction
		_, err := ref.Changes(ctx, mbox, 0)
		return err
	case 1: // STATUS: a single cached statement
		_, err := ref.Status(ctx, "INBOX")
		return err
	case 2: // a plain statement on the reader pool, rows read after the call
		rows, err := a.r.QueryContext(ctx, `SELECT name FROM mailbox`)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		return errors.Join(rows.Err(), rows.Close())
	case 3: // a flag-only commit
		_, _, err := ref.StoreFlags(ctx, mbox, []mailstore.UID{1}, mailstore.FlagsAdd, []string{`\Flagged`}, 0)
		return err
	case 4: // a durable commit
		return a.write(ctx, "test", func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE account SET last_sweep = last_sweep`)
			return err
		})
	default: // the writer outside a transaction
		var v int
		return a.w.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	}
}

// TestColdReadOpensOneConnection: what a woken IDLE session runs on an
// account whose databases were closed (Changes: three statements new to
// the fresh statement cache) must open one reader connection, not one per
// statement to prepare (each costs ~200 KiB of SQLite memory), and leave
// the statements prepared for the next session.
func TestColdReadOpensOneConnection(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t, t.TempDir())
	defer st.Close()
	st.connIdle = time.Hour
	ref := openTestAccount(t, st, "alice")
	a := ref.(*accountRef).account
	for range 3 {
		if _, _, err := ref.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\nhi\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	inbox, err := ref.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	closeDBsNow(t, a)
	if _, err := ref.Changes(ctx, inbox.ID, 1); err != nil {
		t.Fatal(err)
	}
	d := a.cur.Load()
	if n := d.r.Stats().OpenConnections; n != 1 {
		t.Errorf("Changes on a cold account opened %d reader connections, want 1", n)
	}
	d.rst.mu.RLock()
	_, ok := d.rst.stmts[changedSinceQuery]
	d.rst.mu.RUnlock()
	if !ok {
		t.Error("the changed-since query was not prepared after the first Changes")
	}
}

// TestIdleTimeGrowsWithUse: an account reopened soon after its idle
// close keeps its next set twice as long, up to idleGrowth x connIdle;
// one left alone longer than that starts again from connIdle.
func TestIdleTimeGrowsWithUse(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	defer st.Close()
	st.connIdle = 2 * time.Second
	a := newAccount(st, "alice", t.TempDir())
	now := time.Now()
	if got := a.nextIdleFor(now); got != 2*time.Second {
		t.Fatalf("first open: idle %v, want connIdle", got)
	}
	a.idleFor = 2 * time.Second
	a.closedAt = now
	want := []time.Duration{4, 8, 16, 30, 30}
	for i, w := range want {
		a.idleFor = a.nextIdleFor(now.Add(time.Second))
		if a.idleFor != w*time.Second {
			t.Fatalf("reopen %d within a second of the close: idle %v, want %v", i+1, a.idleFor, w*time.Second)
		}
	}
	if got := a.nextIdleFor(now.Add(31 * time.Second)); got != 2*time.Second {
		t.Fatalf("reopened 31 s after the close: idle %v, want connIdle again", got)
	}
}
