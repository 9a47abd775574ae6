package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// TestReadPathsUseStatementCache runs the read paths of the IMAP commands
// LIST, STATUS, SELECT, FETCH and SEARCH twice: the first round prepares
// their constant queries once into the account's statement cache, the
// second must find every one there (no new entry), and a SEARCH on
// varying conditions must not add its per-condition SQL (the cache would
// grow without bound).
func TestReadPathsUseStatementCache(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	defer st.Close()
	st.connIdle = time.Hour // one statement cache for the whole test
	ctx := context.Background()
	ref := openTestAccount(t, st, "u")
	acc := ref.(*accountRef).account
	for i := 1; i <= 5; i++ {
		msg := fmt.Sprintf("Subject: m%d\r\n\r\nbody\r\n", i)
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
	}
	inbox, err := acc.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	uids := []mailstore.UID{1, 2, 3, 4, 5}
	round := func() {
		t.Helper()
		if _, err := acc.Mailboxes(ctx); err != nil { // LIST
			t.Fatal(err)
		}
		if _, err := acc.Subscriptions(ctx); err != nil { // LSUB
			t.Fatal(err)
		}
		if s, err := acc.Status(ctx, "INBOX"); err != nil || s.Messages != 5 { // STATUS
			t.Fatalf("Status = %+v, %v", s, err)
		}
		if v, err := acc.View(ctx, inbox.ID); err != nil || v.Messages != 5 { // SELECT
			t.Fatalf("View = %+v, %v", v, err)
		}
		if ms, err := acc.Metas(ctx, inbox.ID, uids); err != nil || len(ms) != 5 { // FETCH FLAGS
			t.Fatalf("Metas = %d, %v", len(ms), err)
		}
		if ms, err := acc.Metas(ctx, inbox.ID, []mailstore.UID{1, 5}); err != nil || len(ms) != 2 { // sparse
			t.Fatalf("sparse Metas = %d, %v", len(ms), err)
		}
		if cs, err := acc.Cache(ctx, inbox.ID, uids); err != nil || len(cs) != 5 { // FETCH ENVELOPE
			t.Fatalf("Cache = %d, %v", len(cs), err)
		}
		n := 0
		if err := acc.Headers(ctx, inbox.ID, uids, 1<<20, func(mailstore.UID, []byte) error { n++; return nil }); err != nil || n != 5 { // SEARCH SUBJECT
			t.Fatalf("Headers = %d, %v", n, err)
		}
	}
	size := func() int {
		d := acc.cur.Load()
		if d == nil {
			t.Fatal("the account's databases were closed during the test (connIdle)")
		}
		d.rst.mu.RLock()
		defer d.rst.mu.RUnlock()
		return len(d.rst.stmts)
	}
	round()
	first := size()
	// mailbox by name and by id, the listing, subscriptions, two view
	// ends, the keywords, two Metas shapes, a Cache shape, a Headers shape.
	if first < 10 {
		t.Fatalf("statement cache holds %d statements after one round, want the read paths' (>= 10)", first)
	}
	round()
	if got := size(); got != first {
		t.Errorf("statement cache grew from %d to %d on the second round: a read path builds its SQL per call", first, got)
	}
	for _, c := range []mailstore.MetaCond{
		{Op: mailstore.MetaLarger, Size: 1},
		{Op: mailstore.MetaSmaller, Size: 1 << 20},
		{Op: mailstore.MetaOr, Children: []mailstore.MetaCond{{Op: mailstore.MetaLarger, Size: 1}, {Op: mailstore.MetaDaySince, Day: 1}}},
	} {
		got, err := acc.SearchMeta(ctx, inbox.ID, c)
		if err != nil || len(got) != 5 {
			t.Fatalf("SearchMeta(%+v) = %v, %v", c, got, err)
		}
	}
	if got := size(); got != first {
		t.Errorf("SearchMeta left %d statements in the cache (had %d)", got, first)
	}
}

// TestCacheNoDeadlockWhenPoolBusy holds every reader connection in a read
// transaction at once and has each ask the cache for a query it has not
// prepared yet. Preparing on the pool from inside a transaction waits for a
// free connection that never comes (200 IDLE sessions woken by one delivery
// hung that way); the cache must answer from the transaction instead.
func TestCacheNoDeadlockWhenPoolBusy(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ref := openTestAccount(t, st, "u")
	acc := ref.(*accountRef).account
	for round := range 3 {
		query := fmt.Sprintf("SELECT count(*) + %d FROM mailbox", round) // new to the cache each round
		var inside sync.WaitGroup
		inside.Add(readerConns)
		errs := make(chan error, readerConns)
		for range readerConns {
			go func() {
				errs <- acc.readCached(ctx, "test", func(tx cachedTx) error {
					inside.Done()
					inside.Wait() // every reader connection is now in a transaction
					var n int
					return tx.QueryRowContext(ctx, query).Scan(&n)
				})
			}()
		}
		for range readerConns {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: %v (a transaction waited for a connection held by another)", round, err)
			}
		}
	}
}

// TestStoreFlagsUsesWriterStatementCache: UID STORE is the caching
// profile's most frequent write; its statements (the mailbox row, the
// messages, keywords, the per-message UPDATE, the mailbox's MODSEQ) must
// be prepared once on the writer and reused, not parsed on every call.
// The first STOREs fill the writer's cache; later ones, keywords and a
// several-message STORE included, must find every statement there.
func TestStoreFlagsUsesWriterStatementCache(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	defer st.Close()
	st.connIdle = time.Hour // one statement cache for the whole test
	ctx := context.Background()
	ref := openTestAccount(t, st, "u")
	acc := ref.(*accountRef).account
	for i := 1; i <= 3; i++ {
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: s\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	inbox, err := acc.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	store := func(uids []mailstore.UID, op mailstore.FlagOp, flags ...string) {
		t.Helper()
		if _, _, err := acc.StoreFlags(ctx, inbox.ID, uids, op, flags, 0); err != nil {
			t.Fatal(err)
		}
	}
	wcache := func() int {
		d := acc.cur.Load()
		d.wst.mu.RLock()
		defer d.wst.mu.RUnlock()
		return len(d.wst.stmts)
	}
	store([]mailstore.UID{1}, mailstore.FlagsAdd, `\Seen`, "$Label1")
	store([]mailstore.UID{2, 3}, mailstore.FlagsRemove, `\Seen`)
	n := wcache()
	if n < 4 {
		t.Fatalf("writer statement cache holds %d statements after two STOREs, want the mailbox, message, keyword, UPDATE and MODSEQ statements", n)
	}
	for i := 0; i < 5; i++ {
		store([]mailstore.UID{1, 2, 3}, mailstore.FlagsAdd, `\Flagged`, "$Label1")
		store([]mailstore.UID{2}, mailstore.FlagsRemove, `\Flagged`)
	}
	if got := wcache(); got != n {
		t.Fatalf("writer statement cache grew from %d to %d statements: STORE prepares per call", n, got)
	}
	ms, err := acc.Metas(ctx, inbox.ID, []mailstore.UID{1, 2, 3})
	if err != nil || len(ms) != 3 {
		t.Fatalf("Metas = %v, %v", ms, err)
	}
	has := func(m mailstore.MessageMeta) bool { return slices.Contains(m.Flags, `\Flagged`) }
	if !has(ms[0]) || has(ms[1]) || !has(ms[2]) {
		t.Fatalf("flags after the STOREs: %v", ms)
	}
}
