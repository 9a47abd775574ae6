package imapserver

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
	_ "modernc.org/sqlite"
)

// TestScale1M is the issue 4 measurement (docs/imap-scale.md,
// docs/BENCHMARKS.md "1,000,000 messages"): a 1,000,000-message INBOX,
// filled with metadata rows straight into the account's database (one
// shared message_cache row: SELECT, FLAGS and QRESYNC never read bodies).
// It measures SELECT, the heap each selected session holds, UID FETCH
// CHANGEDSINCE and QRESYNC SELECT after 100 changes, STORE on 1000
// messages and EXPUNGE of 100, and fails when a selected session holds
// 10 MB or more. It takes a minute: run it with ROOST_SCALE=1 (ROOST_SCALE
// = a number sets the message count).
func TestScale1M(t *testing.T) {
	n := 0
	switch v := os.Getenv("ROOST_SCALE"); v {
	case "":
		t.Skip("set ROOST_SCALE=1 (or a message count) to run")
	case "1":
		n = 1_000_000
	default:
		fmt.Sscan(v, &n)
	}
	ts := newTestServer(t)
	ctx := context.Background()
	acct := ts.account("alice")
	mb, err := acct.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	sq, ok := ts.store.(*sqlite.Store)
	if !ok {
		t.Skip("fills the SQLite database directly")
	}
	dir, err := sq.AccountDir("alice")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	fillDirect(t, filepath.Join(dir, "index.db"), mb.ID, n)
	t.Logf("fill %d messages: %v", n, time.Since(t0))

	timed := func(c *testClient, line string) (*response, time.Duration) {
		t.Helper()
		start := time.Now()
		r := c.do(line)
		d := time.Since(start)
		if !strings.HasPrefix(r.taggedLn, "OK") {
			t.Fatalf("%s", r)
		}
		return r, d
	}
	median := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}

	// SELECT: 5 rounds on one connection.
	a := ts.login("alice")
	var sel []time.Duration
	for range 5 {
		r, d := timed(a, "s SELECT INBOX")
		r.contains(fmt.Sprintf("* %d EXISTS", n))
		sel = append(sel, d)
		a.do("u UNSELECT")
	}
	t.Logf("SELECT INBOX: median %v (%v)", median(sel), sel)

	// UID FETCH 1:* (FLAGS) and SEARCH UNSEEN read every message's
	// metadata from the store in batches: O(mailbox) by nature.
	a.do("s SELECT INBOX")
	var ff, su []time.Duration
	for range 3 {
		lines, d := rawTimed(t, a, "f UID FETCH 1:* (FLAGS)")
		if lines != n {
			t.Fatalf("UID FETCH 1:* (FLAGS): %d responses, want %d", lines, n)
		}
		ff = append(ff, d)
		_, d = rawTimed(t, a, "s UID SEARCH UNSEEN")
		su = append(su, d)
	}
	a.do("u UNSELECT")
	t.Logf("UID FETCH 1:* (FLAGS): %v (the first fills the flag cache); UID SEARCH UNSEEN: %v", ff, su)

	// Heap per selected session: N sessions log in, then all select.
	const sessions = 8
	cs := make([]*testClient, sessions)
	for i := range cs {
		cs[i] = ts.login("alice")
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		for range 3 {
			runtime.GC()
		}
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse
	}
	before := heap()
	for _, c := range cs {
		c.do("s SELECT INBOX").contains(fmt.Sprintf("* %d EXISTS", n))
	}
	after := heap()
	per := (float64(after) - float64(before)) / sessions
	t.Logf("heap per selected session: %.0f bytes = %.2f bytes/message (%d sessions, HeapInuse %d -> %d)",
		per, per/float64(n), sessions, before, after)
	if per >= 10<<20 {
		t.Errorf("a selected session holds %.0f bytes of heap, want under 10 MB", per)
	}
	// The same sessions with their flag cache filled (a flag-only SEARCH
	// fills it, flagcache.go).
	for _, c := range cs {
		c.do("s UID SEARCH UNSEEN")
	}
	withCache := heap()
	per = (float64(withCache) - float64(before)) / sessions
	t.Logf("heap per selected session with its flag cache: %.0f bytes = %.2f bytes/message", per, per/float64(n))
	if per >= 10<<20 {
		t.Errorf("a selected session with its flag cache holds %.0f bytes of heap, want under 10 MB", per)
	}
	for _, c := range cs {
		c.do("l LOGOUT")
	}

	// 100 changes by another session, then UID FETCH CHANGEDSINCE and a
	// QRESYNC SELECT from a client that knew the state before them.
	a.do("e ENABLE QRESYNC")
	r := a.do("s SELECT INBOX")
	var hms uint64
	for _, l := range r.untag {
		fmt.Sscanf(l, "* OK [HIGHESTMODSEQ %d]", &hms)
	}
	var changed []mailstore.UID
	for i := range 100 {
		changed = append(changed, mailstore.UID(1+i*(n/100)))
	}
	if _, _, err := acct.StoreFlags(ctx, mb.ID, changed, mailstore.FlagsAdd, []string{mailstore.FlagFlagged}, 0); err != nil {
		t.Fatal(err)
	}
	b := ts.login("alice")
	b.do("e ENABLE QRESYNC")
	b.do("s SELECT INBOX")
	var cf, qr []time.Duration
	for range 5 {
		r, d := timed(b, fmt.Sprintf("f UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d)", hms))
		if len(r.untag) != 100 {
			t.Fatalf("CHANGEDSINCE: %d responses, want 100", len(r.untag))
		}
		cf = append(cf, d)
	}
	t.Logf("UID FETCH 1:* (FLAGS) (CHANGEDSINCE) after 100 changes: median %v", median(cf))
	for range 5 {
		r, d := timed(b, fmt.Sprintf("q SELECT INBOX (QRESYNC (%d %d))", mb.UIDValidity, hms))
		fetches := 0
		for _, l := range r.untag {
			if strings.Contains(l, " FETCH (") {
				fetches++
			}
		}
		if fetches != 100 {
			t.Fatalf("QRESYNC SELECT: %d FETCH responses, want 100", fetches)
		}
		qr = append(qr, d)
	}
	t.Logf("SELECT INBOX (QRESYNC) after 100 changes: median %v", median(qr))

	// STORE on 1000 messages; the other session's sync point (NOOP) sees
	// 1000 FETCH responses.
	_, d1 := timed(a, `t UID STORE 1:1000 +FLAGS.SILENT (\Draft)`)
	r, d2 := timed(b, "n NOOP")
	if len(r.untag) != 1000 {
		t.Fatalf("NOOP after STORE: %d responses, want 1000", len(r.untag))
	}
	t.Logf("UID STORE 1:1000 +FLAGS.SILENT (\\Draft): %v; other session's NOOP (1000 FETCH): %v", d1, d2)

	// EXPUNGE of 100 messages.
	timed(a, fmt.Sprintf(`t UID STORE %d:%d +FLAGS.SILENT (\Deleted)`, n/2, n/2+99))
	vanished := fmt.Sprintf("* VANISHED %d:%d", n/2, n/2+99)
	r, d1 = timed(a, "x EXPUNGE")
	r.contains(vanished)
	r, d2 = timed(b, "n NOOP")
	r.contains(vanished)
	t.Logf("EXPUNGE of 100: %v; other session's NOOP (VANISHED): %v", d1, d2)
}

// rawTimed sends line and reads up to the tagged OK without the test
// client's parsing (a regexp per line, which costs more than the server
// for 100k-line answers); it returns the number of untagged lines. Only
// for answers without literals.
func rawTimed(t *testing.T, c *testClient, line string) (int, time.Duration) {
	t.Helper()
	tag, _, _ := strings.Cut(line, " ")
	start := time.Now()
	c.send(line + "\r\n")
	c.conn.SetReadDeadline(time.Now().Add(time.Minute))
	n := 0
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				t.Fatalf("%s: %s", line, l)
			}
			return n, time.Since(start)
		}
		n++
	}
}

// fillDirect inserts n messages into mailbox mbox of the account database
// at path, in one statement (see TestScale1M).
func fillDirect(t *testing.T, path string, mbox mailstore.MailboxID, n int) {
	db, err := sql.Open("sqlite", path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var next, hms int64
	if err := tx.QueryRowContext(ctx, `SELECT uidnext, highestmodseq FROM mailbox WHERE id = ?`, mbox).Scan(&next, &hms); err != nil {
		t.Fatal(err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO message_cache (blob_id, size, header_size, envelope, bodystructure, body, parts) VALUES (lower(hex(randomblob(16))), 1000, 300, '(NIL)', '("text" "plain")', '("text" "plain")', x'00')`)
	if err != nil {
		t.Fatal(err)
	}
	content, _ := res.LastInsertId()
	now := time.Now().Unix()
	if _, err := tx.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM c WHERE i+1 < ?)
		INSERT INTO message (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content)
		SELECT ?, ? + i, ? + 1 + i, i % 3, CASE WHEN i % 10 = 0 THEN '$Label1 NonJunk' ELSE '' END, ? - (? - i) * 60, 3600, 1000, ? FROM c`,
		n, mbox, next, hms, now, n, content); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mailbox SET uidnext = ?, highestmodseq = ? WHERE id = ?`, next+int64(n), hms+int64(n), mbox); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

// TestViewFlagsFromStore checks what changes now that the view keeps no
// flags (docs/imap-scale.md): FETCH reports the store's current flags,
// and a flag change another session made is reported exactly once, by
// FETCH or by the next sync point, whichever comes first, also when this
// session's STORE .SILENT touched the same message in between.
func TestViewFlagsFromStore(t *testing.T) {
	// Once with the flag cache (flagcache.go) used for every FETCH, once
	// with metadata read from the store.
	for _, minCache := range []int{1, 1 << 30} {
		t.Run(fmt.Sprint("minFlagCache=", minCache), func(t *testing.T) {
			old := minFlagCache
			minFlagCache = minCache
			defer func() { minFlagCache = old }()
			testViewFlagsFromStore(t)
		})
	}
}

func testViewFlagsFromStore(t *testing.T) {
	ts := newTestServer(t)
	for i := range 3 {
		ts.deliver("alice", "INBOX", testMsg(fmt.Sprint("m", i)))
	}
	a := ts.login("alice")
	b := ts.login("alice")
	a.do("s SELECT INBOX").ok()
	b.do("s SELECT INBOX").ok()

	a.do("f FETCH 1:* (FLAGS)").ok() // fills the cache when it is used

	// b flags 2; a's FETCH sees it before any sync point (from the store,
	// the cache has no newer state) and the sync point after it does not
	// repeat it; or a's FETCH shows what a knows (the cache) and the sync
	// point reports the change. Either way it is reported exactly once.
	b.do(`t STORE 2 +FLAGS.SILENT (\Flagged)`).ok()
	r := a.do("f FETCH 2 (FLAGS)")
	r2 := a.do("n NOOP")
	var told []string
	for _, x := range [][]string{r.untaggedPrefix("* 2 FETCH ("), r2.untaggedPrefix("* 2 FETCH (")} {
		for _, l := range x {
			if strings.Contains(l, `\Flagged`) {
				told = append(told, l)
			}
		}
	}
	if len(told) != 1 {
		t.Fatalf("\\Flagged on 2 told %d times: %s\n%s", len(told), r, r2)
	}
	a.do("n NOOP").lacks("* 2 FETCH")
	r = a.do("f FETCH 1:* (FLAGS)")
	if l := r.untaggedPrefix("* 2 FETCH ("); len(l) != 1 || !strings.Contains(l[0], `\Flagged`) {
		t.Fatalf("FETCH 1:* after the sync: %s", r)
	}

	// b answers 3; a's own STORE .SILENT on 3 must not hide b's change.
	b.do(`t STORE 3 +FLAGS.SILENT (\Answered)`).ok()
	// (The sync point before STORE's tagged OK reports it.)
	r = a.do(`t STORE 3 +FLAGS.SILENT (\Seen)`).ok()
	if l := r.untaggedPrefix("* 3 FETCH ("); len(l) != 1 || !strings.Contains(l[0], `\Answered \Seen`) {
		t.Fatalf("STORE .SILENT over another session's change: %s", r)
	}
	a.do("n NOOP").lacks("* 3 FETCH")

	// a's own STORE .SILENT on a message nobody else changed: nothing is
	// reported back.
	a.do(`t STORE 1 +FLAGS.SILENT (\Draft)`).ok()
	a.do("n NOOP").lacks("* 1 FETCH")
	// b learns all three at its sync point.
	r = b.do("n NOOP")
	for _, p := range []string{"* 1 FETCH (", "* 3 FETCH ("} {
		if len(r.untaggedPrefix(p)) != 1 {
			t.Fatalf("other session's NOOP: want %s...: %s", p, r)
		}
	}
	r.lacks("* 2 FETCH")

	// a's view (and cache) after all this agrees with the store.
	r = a.do("f FETCH 1:* (FLAGS)")
	want := map[string]string{"* 1 FETCH (": `\Draft`, "* 2 FETCH (": `\Flagged`, "* 3 FETCH (": `\Answered \Seen`}
	for p, f := range want {
		if l := r.untaggedPrefix(p); len(l) != 1 || !strings.Contains(l[0], f) {
			t.Fatalf("final FETCH: want %s...%s: %s", p, f, r)
		}
	}
	// An expunge by b: a's cache and UID list stay aligned.
	b.do(`t STORE 1 +FLAGS.SILENT (\Deleted)`).ok()
	b.do("x EXPUNGE").ok()
	a.do("n NOOP").contains("* 1 EXPUNGE")
	r = a.do("f FETCH 1:* (FLAGS)")
	if l := r.untaggedPrefix("* 1 FETCH ("); len(l) != 1 || !strings.Contains(l[0], `\Flagged`) {
		t.Fatalf("FETCH after EXPUNGE: %s", r)
	}
	if l := r.untaggedPrefix("* 2 FETCH ("); len(l) != 1 || !strings.Contains(l[0], `\Answered \Seen`) {
		t.Fatalf("FETCH after EXPUNGE: %s", r)
	}
}
