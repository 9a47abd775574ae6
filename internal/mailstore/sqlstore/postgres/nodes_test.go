package postgres

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// These tests play several Roost nodes: several Stores on one database.

func testMessage(n int) string {
	return fmt.Sprintf("From: a@example.org\r\nSubject: message %d\r\n\r\nbody %d\r\n", n, n)
}

// TestParallelOpen starts several nodes at once on an empty database: the
// migrations run once (the advisory lock), nobody fails, and the schema is
// at the current version.
func TestParallelOpen(t *testing.T) {
	dsn := pgtest.DSN(t)
	const nodes = 6
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	stores := make([]*Store, nodes)
	for i := range nodes {
		wg.Go(func() {
			stores[i], errs[i] = Open(context.Background(), Options{DSN: dsn, NoSweep: true})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	var version, rows int
	if err := stores[0].pool.QueryRow(context.Background(), `SELECT max(version), count(*) FROM roost_schema`).Scan(&version, &rows); err != nil {
		t.Fatal(err)
	}
	if version != len(migrations) || rows != 1 {
		t.Fatalf("schema version %d in %d rows, want %d in 1", version, rows, len(migrations))
	}
	// Every node can create the same account at once: it exists once.
	for i := range nodes {
		wg.Go(func() {
			acc, err := stores[i].Account(context.Background(), "alice")
			if err == nil {
				acc.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: account: %v", i, err)
		}
	}
	var mailboxes int
	if err := stores[0].pool.QueryRow(context.Background(), `SELECT count(*) FROM mailboxes`).Scan(&mailboxes); err != nil {
		t.Fatal(err)
	}
	if mailboxes != len(mailstore.DefaultMailboxes) {
		t.Fatalf("%d mailboxes after concurrent account creation, want %d", mailboxes, len(mailstore.DefaultMailboxes))
	}
}

// TestConcurrentAppendsTwoNodes appends to one mailbox from two stores at
// once while a third session resyncs from the modseq log the way an IMAP
// session does (Changes since the last HIGHESTMODSEQ it saw). UIDs must be
// unique and strictly increasing with MODSEQ, none lost, and the resyncing
// reader must learn of every message: a commit that became visible after
// the reader had seen a higher MODSEQ would be missed for good.
func TestConcurrentAppendsTwoNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	reader := openStore(t, dsn)
	ctx := context.Background()
	acc, err := reader.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := acc.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}

	const workers, per = 4, 25 // per node
	type result struct {
		uid mailstore.UID
		n   int
	}
	results := make(chan result, 2*workers*per)
	errs := make(chan error, 2*workers)
	var wg sync.WaitGroup
	for node, st := range []*Store{a, b} {
		for w := range workers {
			wg.Go(func() {
				acc, err := st.Account(ctx, "alice")
				if err != nil {
					errs <- err
					return
				}
				defer acc.Close()
				for i := range per {
					n := (node*workers+w)*1000 + i
					_, uid, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(testMessage(n))))
					if err != nil {
						errs <- err
						return
					}
					results <- result{uid, n}
				}
			})
		}
	}
	// The resyncing reader.
	done := make(chan struct{})
	seen := map[mailstore.UID]mailstore.ModSeq{}
	var readerErr error
	go func() {
		defer close(done)
		var since mailstore.ModSeq
		for {
			c, err := acc.Changes(ctx, inbox.ID, since)
			if err != nil {
				readerErr = err
				return
			}
			for _, m := range c.Updated {
				seen[m.UID] = m.ModSeq
			}
			since = c.HighestModSeq
			if len(seen) == 2*workers*per {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	wg.Wait()
	close(results)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	byUID := map[mailstore.UID]int{}
	for r := range results {
		if prev, dup := byUID[r.uid]; dup {
			t.Fatalf("UID %d given to messages %d and %d", r.uid, prev, r.n)
		}
		byUID[r.uid] = r.n
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the resyncing reader saw %d of %d messages: it missed changes", len(seen), 2*workers*per)
	}
	if readerErr != nil {
		t.Fatal(readerErr)
	}
	metas, err := acc.Messages(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(metas) != 2*workers*per || len(byUID) != 2*workers*per {
		t.Fatalf("%d messages stored, %d acknowledged; want %d", len(metas), len(byUID), 2*workers*per)
	}
	for i, m := range metas {
		if i > 0 && (m.UID <= metas[i-1].UID || m.ModSeq <= metas[i-1].ModSeq) {
			t.Fatalf("UID/MODSEQ not strictly increasing together: %+v then %+v", metas[i-1], m)
		}
		if seen[m.UID] != m.ModSeq {
			t.Fatalf("reader saw UID %d with MODSEQ %d, stored %d", m.UID, seen[m.UID], m.ModSeq)
		}
		body, err := acc.Open(ctx, inbox.ID, m.UID)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]byte, body.Size())
		if _, err := body.ReadAt(got, 0); err != nil {
			t.Fatal(err)
		}
		body.Close()
		if string(got) != testMessage(byUID[m.UID]) {
			t.Fatalf("UID %d holds %q, want message %d", m.UID, got, byUID[m.UID])
		}
	}
	st, err := acc.Status(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if st.UIDNext != mailstore.UID(2*workers*per+1) || st.HighestModSeq != metas[len(metas)-1].ModSeq {
		t.Fatalf("status %+v after %d appends", st, 2*workers*per)
	}
}

// TestMaildropLockAcrossNodes: a POP3 session on one node excludes one on
// another, and a node that dies (its connection dropped) frees the lock.
func TestMaildropLockAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	ctx := context.Background()
	accA, err := a.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	accB, err := b.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	release, err := accA.LockMaildrop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accB.LockMaildrop(ctx); mailstore.KindOf(err) != mailstore.KindInUse {
		t.Fatalf("lock on node B while A holds it: %v, want KindInUse", err)
	}
	release()
	releaseB, err := accB.LockMaildrop(ctx)
	if err != nil {
		t.Fatalf("lock on B after A released: %v", err)
	}
	// Node B dies: its backend is terminated as when its TCP connection
	// drops. The lock must go with it.
	terminate(t, a, `pid <> pg_backend_pid() AND query LIKE '%pg_try_advisory_lock%'`)
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := accA.LockMaildrop(ctx)
		if err == nil {
			r()
			break
		}
		if mailstore.KindOf(err) != mailstore.KindInUse || time.Now().After(deadline) {
			t.Fatalf("lock after the holder's connection died: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	releaseB() // its connection is gone: must not panic or block
}

// terminate kills the database backends matching where (a condition on
// pg_stat_activity of the current database).
func terminate(t *testing.T, st *Store, where string) {
	t.Helper()
	var n int
	err := st.pool.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND `+where).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatalf("no backend matched %s", where)
	}
}

// TestWatchAcrossNodes: a change committed through node B wakes a watcher
// on node A, also after A's LISTEN connection was cut (it reconnects on
// its own and wakes its watchers, since it may have missed something).
func TestWatchAcrossNodes(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	ctx := context.Background()
	waitUp(t, a)
	ch, stop := a.Watch("alice")
	defer stop()
	accB, err := b.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	drainWakes(ch)
	if _, _, err := accB.Append(ctx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(testMessage(1)))); err != nil {
		t.Fatal(err)
	}
	waitWake(t, ch, "append on the other node")

	// Another user's change does not wake alice's watcher.
	other, err := b.Account(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	drainWakes(ch)
	if _, _, err := other.Append(ctx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(testMessage(2)))); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
		t.Fatal("bob's append woke alice's watcher")
	case <-time.After(300 * time.Millisecond):
	}

	// Cut A's LISTEN connection.
	terminate(t, b, `query LIKE 'LISTEN%'`)
	waitWake(t, ch, "reconnect of the LISTEN connection")
	waitUp(t, a)
	if err := a.Healthy(ctx); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
	drainWakes(ch)
	if _, _, err := accB.Append(ctx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(testMessage(3)))); err != nil {
		t.Fatal(err)
	}
	waitWake(t, ch, "append on the other node after the reconnect")
}

// waitUp waits until st's LISTEN connection is established.
func waitUp(t *testing.T, st *Store) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !st.watch.connected() {
		if time.Now().After(deadline) {
			t.Fatal("LISTEN connection not up")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func waitWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("no wake-up after %s", what)
	}
}

func drainWakes(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		case <-time.After(100 * time.Millisecond):
			return
		}
	}
}

// TestExpungedBodyReadable: a session that opened a message can read it
// to the end after another node expunged it (the body is deleted only
// after BlobDeleteDelay), for a body of several chunks too.
func TestExpungedBodyReadable(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	ctx := context.Background()
	accA, _ := a.Account(ctx, "alice")
	accB, _ := b.Account(ctx, "alice")
	big := testMessage(1) + string(bytes.Repeat([]byte("0123456789abcdef\r\n"), 3*ChunkSize/18))
	_, uid, err := accA.Append(ctx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(big)))
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := accA.Mailbox(ctx, "INBOX")
	body, err := accA.Open(ctx, inbox.ID, uid)
	if err != nil {
		t.Fatal(err)
	}
	defer body.Close()
	if _, err := accB.Expunge(ctx, inbox.ID, mailstore.ExpungeOptions{}); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, body.Size())
	if _, err := body.ReadAt(got, 0); err != nil {
		t.Fatalf("read after expunge: %v", err)
	}
	if string(got) != big {
		t.Fatal("body read after expunge differs")
	}
	if _, err := accA.Open(ctx, inbox.ID, uid); mailstore.KindOf(err) != mailstore.KindExpunged {
		t.Fatalf("Open after expunge: %v, want KindExpunged", err)
	}
}

// TestBodyDeletedAfterExpunge: with no delay, expunging the last copy
// removes the body's rows; a remaining copy keeps them.
func TestBodyDeletedAfterExpunge(t *testing.T) {
	st := openStore(t, pgtest.DSN(t), func(o *Options) { o.BlobDeleteDelay = -1 })
	ctx := context.Background()
	acc, _ := st.Account(ctx, "alice")
	_, uid, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(testMessage(1))))
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := acc.Mailbox(ctx, "INBOX")
	if _, err := acc.Copy(ctx, inbox.ID, []mailstore.UID{uid}, "Archive"); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM blobs`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if _, err := acc.Expunge(ctx, inbox.ID, mailstore.ExpungeOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Fatalf("%d blobs after expunging one of two copies, want 1", n)
	}
	archive, _ := acc.Mailbox(ctx, "Archive")
	if _, err := acc.Expunge(ctx, archive.ID, mailstore.ExpungeOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d blobs after expunging the last copy, want 0", n)
	}
}

// TestAccountsSeparate: a MailboxID of one account is not usable through
// another account's handle (ids are global in the shared schema).
func TestAccountsSeparate(t *testing.T) {
	st := openStore(t, pgtest.DSN(t))
	ctx := context.Background()
	alice, _ := st.Account(ctx, "alice")
	bob, _ := st.Account(ctx, "bob")
	_, uid, err := alice.Append(ctx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(testMessage(1))))
	if err != nil {
		t.Fatal(err)
	}
	inbox, _ := alice.Mailbox(ctx, "INBOX")
	checks := map[string]error{}
	_, checks["Messages"] = bob.Messages(ctx, inbox.ID)
	_, checks["Changes"] = bob.Changes(ctx, inbox.ID, 0)
	_, checks["View"] = bob.View(ctx, inbox.ID)
	_, checks["Metas"] = bob.Metas(ctx, inbox.ID, []mailstore.UID{uid})
	_, checks["Cache"] = bob.Cache(ctx, inbox.ID, []mailstore.UID{uid})
	_, checks["Open"] = bob.Open(ctx, inbox.ID, uid)
	_, _, checks["StoreFlags"] = bob.StoreFlags(ctx, inbox.ID, []mailstore.UID{uid}, mailstore.FlagsAdd, []string{`\Seen`}, 0)
	_, checks["Expunge"] = bob.Expunge(ctx, inbox.ID, mailstore.ExpungeOptions{})
	_, checks["Copy"] = bob.Copy(ctx, inbox.ID, []mailstore.UID{uid}, "INBOX")
	_, checks["Move"] = bob.Move(ctx, inbox.ID, []mailstore.UID{uid}, "Archive")
	checks["ScanFlags"] = bob.ScanFlags(ctx, inbox.ID, func(mailstore.UID, mailstore.ModSeq, []string) error { return nil })
	for op, err := range checks {
		if mailstore.KindOf(err) != mailstore.KindNotFound {
			t.Errorf("%s on another account's mailbox: %v, want KindNotFound", op, err)
		}
	}
	metas, err := alice.Messages(ctx, inbox.ID)
	if err != nil || len(metas) != 1 || len(metas[0].Flags) != 0 {
		t.Fatalf("alice's INBOX after bob's attempts: %+v, %v", metas, err)
	}
}

// TestUIDRuns checks View's server-side runs on a sparse mailbox.
func TestUIDRuns(t *testing.T) {
	st := openStore(t, pgtest.DSN(t))
	ctx := context.Background()
	acc, _ := st.Account(ctx, "alice")
	for i := range 10 {
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(testMessage(i)))); err != nil {
			t.Fatal(err)
		}
	}
	inbox, _ := acc.Mailbox(ctx, "INBOX")
	if _, err := acc.Expunge(ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{1, 4, 5, 9}}); err != nil {
		t.Fatal(err)
	}
	v, err := acc.View(ctx, inbox.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := []mailstore.UIDRange{{First: 2, Last: 3}, {First: 6, Last: 8}, {First: 10, Last: 10}}
	if !slices.Equal(v.UIDs, want) || v.Messages != 6 {
		t.Fatalf("runs %v (%d messages), want %v (6)", v.UIDs, v.Messages, want)
	}
}

// TestMigrationsRecorded: reopening an up-to-date database applies
// nothing (no lock taken) and keeps the data.
func TestMigrationsRecorded(t *testing.T) {
	dsn := pgtest.DSN(t)
	st := openStore(t, dsn)
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	// Hold the migration lock: an Open that needed it would block.
	tx, err := conn.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(context.Background(), `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	st2, err := Open(ctx, Options{DSN: dsn, NoSweep: true})
	if err != nil {
		t.Fatalf("reopen of an up-to-date database waited for the migration lock: %v", err)
	}
	st2.Close()
	st.Close()
}

// TestNotifyOnClose: a short-lived process (roost deliver) appends and
// closes its store at once; the notification still reaches the server's
// watchers (Close sends what is queued).
func TestNotifyOnClose(t *testing.T) {
	dsn := pgtest.DSN(t)
	server := openStore(t, dsn)
	waitUp(t, server)
	ch, stop := server.Watch("alice")
	defer stop()
	drainWakes(ch)
	for i := range 3 {
		deliver, err := Open(context.Background(), Options{DSN: dsn, NoSweep: true})
		if err != nil {
			t.Fatal(err)
		}
		acc, err := deliver.Account(context.Background(), "alice")
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := acc.Append(context.Background(), "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(testMessage(i)))); err != nil {
			t.Fatal(err)
		}
		acc.Close()
		deliver.Close()
		waitWake(t, ch, "an append by a store closed right after it")
	}
}

// TestIdleTransactionTimeout: a transaction left open (a frozen node) is
// ended by the server after the store's idle_in_transaction timeout, so
// the mailbox row lock it holds cannot stop other nodes' deliveries for
// long. The timeout is shortened here; the store's default is a minute.
func TestIdleTransactionTimeout(t *testing.T) {
	dsn := pgtest.DSN(t)
	st := openStore(t, dsn)
	ctx := context.Background()
	var v string
	if err := st.pool.QueryRow(ctx, `SHOW idle_in_transaction_session_timeout`).Scan(&v); err != nil || v != "1min" {
		t.Fatalf("idle_in_transaction_session_timeout = %q, %v; want 1min", v, err)
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	frozen := openStore(t, dsn+sep+"idle_in_transaction_session_timeout=300")
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	// The frozen node locks INBOX's row and never commits.
	tx, err := frozen.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM mailboxes WHERE name = 'INBOX' FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, _, err := acc.Append(actx, "INBOX", mailstore.NewMessage{}, bytes.NewReader([]byte(testMessage(1)))); err != nil {
		t.Fatalf("append while another node holds the lock: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("append waited %v for a frozen transaction", d)
	}
}

// TestMaildropLocksShareOneConnection: many POP3 sessions of one node hold
// their locks on one database connection (not one each, which would use
// up max_connections), and exclude each other and other nodes.
func TestMaildropLocksShareOneConnection(t *testing.T) {
	dsn := pgtest.DSN(t)
	a, b := openStore(t, dsn), openStore(t, dsn)
	ctx := context.Background()
	var releases []func()
	for i := range 20 {
		acc, err := a.Account(ctx, fmt.Sprintf("user%d", i))
		if err != nil {
			t.Fatal(err)
		}
		r, err := acc.LockMaildrop(ctx)
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, r)
		acc.Close()
	}
	var conns, locks int
	if err := a.pool.QueryRow(ctx, `SELECT count(DISTINCT pid), count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&conns, &locks); err != nil {
		t.Fatal(err)
	}
	if conns != 1 || locks != 20 {
		t.Fatalf("20 maildrop locks held on %d connections (%d locks), want 1", conns, locks)
	}
	accB, _ := b.Account(ctx, "user7")
	defer accB.Close()
	if _, err := accB.LockMaildrop(ctx); mailstore.KindOf(err) != mailstore.KindInUse {
		t.Fatalf("other node: %v, want KindInUse", err)
	}
	releases[7]()
	r, err := accB.LockMaildrop(ctx)
	if err != nil {
		t.Fatalf("other node after release: %v", err)
	}
	r()
	for _, r := range releases {
		r()
	}
}
