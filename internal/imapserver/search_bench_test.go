package imapserver

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/roost-mail/roost/internal/bench/mailgen"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

// BenchmarkWireSearchHeader: header SEARCH keys and UNSEEN (what the
// webmail profile of roost bench sends) over loopback on an INBOX of 500
// mailgen messages in the SQLite store: SUBJECT and FROM from the kept
// search fields (mailstore.HeaderSearcher), HEADER Message-ID from each
// message's header (mailstore.HeaderReader), UNSEEN from the store's
// flag query (mailstore.SystemFlagSearcher).
func BenchmarkWireSearchHeader(b *testing.B) {
	ts := newTestServer(b)
	const n = 500
	for i := range n {
		body := bytes.ReplaceAll(mailgen.Generate(1, i).Body, []byte("\n"), []byte("\r\n"))
		ts.deliver("alice", "INBOX", string(body))
	}
	c := ts.login("alice")
	c.do("s SELECT INBOX").contains(fmt.Sprintf("* %d EXISTS", n))
	for _, q := range []string{"UID SEARCH SUBJECT report", "UID SEARCH FROM smith", "UID SEARCH HEADER Message-ID nomatch", "UID SEARCH UNSEEN"} {
		b.Run(q[len("UID SEARCH "):], func(b *testing.B) {
			for b.Loop() {
				if got := wireDo(b, c, "q "+q); got != 1 {
					b.Fatalf("%d untagged lines, want one SEARCH", got)
				}
			}
		})
	}
}

// BenchmarkWireSearchHeader100k: header SEARCH keys over a 100,000-message
// INBOX in the SQLite store, a whole session over loopback. One mailgen
// message is delivered for real; the other 99,999 rows are written
// straight into SQLite as copies of it (same content row and file, as
// COPY makes them), so the per-message path reads one file 100,000 times
// from the page cache: a lower bound of its cost on distinct messages.
func BenchmarkWireSearchHeader100k(b *testing.B) {
	ts := newTestServer(b)
	sq, ok := ts.store.(*sqlite.Store)
	if !ok {
		b.Skip("fills the SQLite database directly; run with the default store")
	}
	body := bytes.ReplaceAll(mailgen.Generate(1, 0).Body, []byte("\n"), []byte("\r\n"))
	ts.deliver("alice", "INBOX", string(body))
	ctx := context.Background()
	mb, err := ts.account("alice").Mailbox(ctx, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	dir, err := sq.AccountDir("alice")
	if err != nil {
		b.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "index.db")+"?_busy_timeout=10000")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i+1 < 100000)
		 INSERT INTO message (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content)
		 SELECT ?1, 1 + i, 2 + i, 0, '', internal_date, internal_tz, size, content FROM c, message WHERE mailbox_id = ?1 AND uid = 1`,
		`UPDATE mailbox SET uidnext = 100001, highestmodseq = 100002 WHERE id = ?1`,
	} {
		if _, err := db.ExecContext(ctx, q, mb.ID); err != nil {
			b.Fatalf("%v: %s", err, q)
		}
	}
	c := ts.login("alice")
	c.do("s SELECT INBOX").contains("* 100000 EXISTS")
	for _, q := range []string{"UID SEARCH SUBJECT nomatch", "UID SEARCH FROM nomatch"} {
		b.Run(q[len("UID SEARCH "):], func(b *testing.B) {
			for b.Loop() {
				if got := wireDo(b, c, "q "+q); got != 1 {
					b.Fatalf("%d untagged lines, want one SEARCH", got)
				}
			}
		})
	}
}
