package imapserver

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

// wireBench100k starts a test server whose alice has a 100,000-message
// INBOX (metadata rows written straight into SQLite, as TestScale1M does:
// every third message \Seen, every tenth with two keywords, sizes 1000,
// one minute apart) and returns a session with INBOX selected. These
// benchmarks measure whole commands through the real session code over
// loopback, including the store; the client only counts lines.
func wireBench100k(b *testing.B) *testClient {
	b.Helper()
	ts := newTestServer(b)
	ctx := context.Background()
	mb, err := ts.account("alice").Mailbox(ctx, "INBOX")
	if err != nil {
		b.Fatal(err)
	}
	sq, ok := ts.store.(*sqlite.Store)
	if !ok {
		b.Skip("fills the SQLite database directly; run with the default store")
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
	const n = 100_000
	for _, q := range []string{
		`INSERT INTO message_cache (blob_id, size, header_size, envelope, bodystructure, body, parts) VALUES (lower(hex(randomblob(16))), 1000, 300, '(NIL)', '("text" "plain")', '("text" "plain")', x'00')`,
		`WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM c WHERE i+1 < 100000)
		 INSERT INTO message (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content)
		 SELECT ?1, 1 + i, 2 + i, CASE WHEN i % 3 = 0 THEN 1 ELSE 0 END, CASE WHEN i % 10 = 0 THEN '$Label1 NonJunk' ELSE '' END,
		        ?2 - (100000 - i) * 60, 3600, 1000, (SELECT max(id) FROM message_cache) FROM c`,
		`UPDATE mailbox SET uidnext = 100001, highestmodseq = 100002 WHERE id = ?1`,
	} {
		if _, err := db.ExecContext(ctx, q, mb.ID, time.Now().Unix()); err != nil {
			b.Fatalf("%v: %s", err, q)
		}
	}
	c := ts.login("alice")
	c.do("s SELECT INBOX").contains("* 100000 EXISTS")
	return c
}

// wireDo sends line and reads to the tagged OK, counting untagged lines
// (answers without literals only).
func wireDo(b *testing.B, c *testClient, line string) int {
	tag, _, _ := strings.Cut(line, " ")
	c.send(line + "\r\n")
	c.conn.SetReadDeadline(time.Now().Add(time.Minute))
	n := 0
	for {
		l, err := c.r.ReadString('\n')
		if err != nil {
			b.Fatal(err)
		}
		if strings.HasPrefix(l, tag+" ") {
			if !strings.HasPrefix(l, tag+" OK") {
				b.Fatalf("%s: %s", line, l)
			}
			return n
		}
		n++
	}
}

// BenchmarkWireStoreFlags100k: UID STORE on 1000 messages of a 100k
// INBOX, adding and removing \Flagged in turn (one durable transaction
// each), with the FETCH responses the client gets back.
func BenchmarkWireStoreFlags100k(b *testing.B) {
	c := wireBench100k(b)
	op := "+"
	for b.Loop() {
		if n := wireDo(b, c, "f UID STORE 50000:50999 "+op+`FLAGS (\Flagged)`); n != 1000 {
			b.Fatalf("%d FETCH responses, want 1000", n)
		}
		op = map[string]string{"+": "-", "-": "+"}[op]
	}
}

// BenchmarkWireSearch100k: SEARCH on a 100k INBOX, flag-only (answered
// from the session's flag cache once filled) and by size and date
// (every message's metadata from the store).
func BenchmarkWireSearch100k(b *testing.B) {
	c := wireBench100k(b)
	for _, q := range []string{"UID SEARCH UNSEEN", "UID SEARCH FLAGGED", "UID SEARCH LARGER 500 SINCE 1-Jan-2000 UNSEEN"} {
		b.Run(strings.ReplaceAll(strings.TrimPrefix(q, "UID SEARCH "), " ", "_"), func(b *testing.B) {
			wireDo(b, c, "w "+q) // fill what the session caches
			for b.Loop() {
				if n := wireDo(b, c, "s "+q); n != 1 {
					b.Fatalf("%d untagged lines, want one SEARCH", n)
				}
			}
		})
	}
}
