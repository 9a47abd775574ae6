// Command imap100k-load puts the same generated messages (package mailgen)
// into a Dovecot Maildir and/or a Roost SQLite store, for side-by-side IMAP
// benchmarks (bench/imap100k.sh).
//
//	imap100k-load -n 100000 -maildir DIR/mail/testuser1/Maildir
//	imap100k-load -n 100000 -roost DATADIR -user testuser1
//
// Maildir: files go straight into cur/ with Dovecot-style names carrying
// S= (size) and W= (size with CRLF) and the :2,S flag for \Seen; the file's
// mtime is the internal date, and a dovecot-uidlist is written so that
// Dovecot gives message i UID i+1, as Roost does. Dovecot indexes the
// mailbox on first SELECT.
//
// Roost: messages are appended in order through the store API
// (sqlite.Store, Account.Append: durable, one transaction each, exactly as
// an importer or delivery would), with \Seen and the internal date set at
// append.
//
// With -distinct D (D < n, used for the 1,000,000-message runs), only
// messages 0..D-1 are generated and stored; message i >= D is a copy of
// message i mod D (same bytes, date, size and \Seen) under its own UID. In
// the Maildir the copies are hard links to the D files (1M distinct files
// would take ~7 GB and a long time to write; Dovecot reads a Maildir file
// only for message content, never for SELECT, flags, modseqs, sizes taken
// from S=/W=, or dates after its cache holds them). In Roost the D
// messages are appended through the store API as above and the copies are
// inserted as rows of the message table sharing the D stored bodies, in one
// SQL statement (the triggers keep the mailbox counters). Either way each
// server holds n messages with n UIDs, D distinct bodies, and the same
// flags, dates and sizes.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/roost-mail/roost/internal/bench/mailgen"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"

	_ "modernc.org/sqlite"
)

func main() {
	n := flag.Int("n", 100000, "number of messages")
	seed := flag.Uint64("seed", 1, "corpus seed")
	maildir := flag.String("maildir", "", "write a Maildir here (creates cur/ new/ tmp/)")
	roostDir := flag.String("roost", "", "append into the Roost SQLite store with this data directory")
	user := flag.String("user", "testuser1", "Roost user")
	distinct := flag.Int("distinct", 0, "generate only this many distinct messages; the rest are copies (hard links / shared bodies)")
	flag.Parse()
	if *distinct <= 0 || *distinct > *n {
		*distinct = *n
	}
	if *maildir == "" && *roostDir == "" {
		log.Fatal("need -maildir or -roost")
	}
	if *maildir != "" {
		start := time.Now()
		total, err := writeMaildir(*maildir, *seed, *n, *distinct)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("maildir: %d messages, %d bytes (LF), %.1fs\n", *n, total, time.Since(start).Seconds())
	}
	if *roostDir != "" {
		start := time.Now()
		total, err := loadRoost(*roostDir, *user, *seed, *n, *distinct)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("roost: %d messages, %d bytes (CRLF), %.1fs\n", *n, total, time.Since(start).Seconds())
	}
}

func writeMaildir(dir string, seed uint64, n, distinct int) (int64, error) {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return 0, err
		}
	}
	var uidlist bytes.Buffer
	const uidValidity = 1700000000
	fmt.Fprintf(&uidlist, "3 V%d N%d\n", uidValidity, n+1)
	var total int64
	type orig struct {
		path       string
		date       int64
		size, vsiz int
		seen       bool
	}
	origs := make([]orig, 0, distinct)
	for i := 0; i < n; i++ {
		var o orig
		if i < distinct {
			m := mailgen.Generate(seed, i)
			o = orig{date: m.Date.Unix(), size: len(m.Body), vsiz: len(m.Body) + bytes.Count(m.Body, []byte("\n")), seen: m.Seen}
			o.path = filepath.Join(dir, "cur", name(o.date, i, o.size, o.vsiz, o.seen))
			if err := os.WriteFile(o.path, m.Body, 0o600); err != nil {
				return 0, err
			}
			if err := os.Chtimes(o.path, m.Date, m.Date); err != nil {
				return 0, err
			}
			origs = append(origs, o)
		} else {
			o = origs[i%distinct]
			if err := os.Link(o.path, filepath.Join(dir, "cur", name(o.date, i, o.size, o.vsiz, o.seen))); err != nil {
				return 0, err
			}
		}
		fmt.Fprintf(&uidlist, "%d :%s\n", i+1, base(o.date, i, o.size, o.vsiz))
		total += int64(o.size)
	}
	return total, os.WriteFile(filepath.Join(dir, "dovecot-uidlist"), uidlist.Bytes(), 0o600)
}

// base is the Maildir base name of message i (what dovecot-uidlist lists);
// name adds the flags.
func base(date int64, i, size, vsize int) string {
	return fmt.Sprintf("%d.M%dP1.bench,S=%d,W=%d", date, i, size, vsize)
}

func name(date int64, i, size, vsize int, seen bool) string {
	s := base(date, i, size, vsize) + ":2,"
	if seen {
		s += "S"
	}
	return s
}

func loadRoost(dir, user string, seed uint64, n, distinct int) (int64, error) {
	st, err := sqlite.Open(sqlite.Options{Dir: dir})
	if err != nil {
		return 0, err
	}
	defer st.Close()
	ctx := context.Background()
	acc, err := st.Account(ctx, user)
	if err != nil {
		return 0, err
	}
	defer acc.Close()
	var total int64
	last := time.Now()
	for i := 0; i < distinct; i++ {
		m := mailgen.Generate(seed, i)
		body := mailgen.CRLF(m.Body)
		var flags []string
		if m.Seen {
			flags = []string{`\Seen`}
		}
		_, uid, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{Flags: flags, InternalDate: m.Date}, bytes.NewReader(body))
		if err != nil {
			return total, fmt.Errorf("message %d: %w", i, err)
		}
		if int(uid) != i+1 {
			return total, fmt.Errorf("message %d got UID %d: INBOX was not empty", i, uid)
		}
		total += int64(len(body))
		if time.Since(last) > 10*time.Second {
			last = time.Now()
			fmt.Fprintf(os.Stderr, "roost: %d/%d\n", i+1, n)
		}
	}
	if distinct == n {
		return total, nil
	}
	adir, err := st.AccountDir(user)
	if err != nil {
		return total, err
	}
	// The store keeps the database open; write the copies with a
	// connection of our own once it has let go.
	acc.Close()
	st.Close()
	return copyRows(filepath.Join(adir, "index.db"), distinct, n)
}

// copyRows inserts messages distinct+1..n into INBOX of the account
// database at path as copies of messages 1..distinct (UID u copies UID
// (u-1) mod distinct + 1), each with its own MODSEQ, in one transaction.
func copyRows(path string, distinct, n int) (int64, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var mbox, next, hms int64
	if err := tx.QueryRowContext(ctx, `SELECT id, uidnext, highestmodseq FROM mailbox WHERE name = 'INBOX'`).Scan(&mbox, &next, &hms); err != nil {
		return 0, fmt.Errorf("read INBOX: %w", err)
	}
	if next != int64(distinct)+1 {
		return 0, fmt.Errorf("INBOX has UIDNEXT %d, want %d", next, distinct+1)
	}
	if _, err := tx.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i+1 FROM c WHERE i+1 < ?)
		INSERT INTO message (mailbox_id, uid, modseq, flags, keywords, internal_date, internal_tz, size, content)
		SELECT m.mailbox_id, c.i + 1, ? + 1 + c.i - ?, m.flags, m.keywords, m.internal_date, m.internal_tz, m.size, m.content
		FROM c JOIN message m ON m.mailbox_id = ? AND m.uid = c.i % ? + 1`,
		distinct, n, hms, distinct, mbox, distinct); err != nil {
		return 0, fmt.Errorf("copy rows: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE mailbox SET uidnext = ?, highestmodseq = ? WHERE id = ?`,
		n+1, hms+int64(n-distinct), mbox); err != nil {
		return 0, err
	}
	var size int64
	if err := tx.QueryRowContext(ctx, `SELECT size FROM mailbox WHERE id = ?`, mbox).Scan(&size); err != nil {
		return 0, err
	}
	return size, tx.Commit()
}
