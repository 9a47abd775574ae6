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
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/roost-mail/roost/internal/bench/mailgen"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
)

func main() {
	n := flag.Int("n", 100000, "number of messages")
	seed := flag.Uint64("seed", 1, "corpus seed")
	maildir := flag.String("maildir", "", "write a Maildir here (creates cur/ new/ tmp/)")
	roostDir := flag.String("roost", "", "append into the Roost SQLite store with this data directory")
	user := flag.String("user", "testuser1", "Roost user")
	flag.Parse()
	if *maildir == "" && *roostDir == "" {
		log.Fatal("need -maildir or -roost")
	}
	if *maildir != "" {
		start := time.Now()
		total, err := writeMaildir(*maildir, *seed, *n)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("maildir: %d messages, %d bytes (LF), %.1fs\n", *n, total, time.Since(start).Seconds())
	}
	if *roostDir != "" {
		start := time.Now()
		total, err := loadRoost(*roostDir, *user, *seed, *n)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("roost: %d messages, %d bytes (CRLF), %.1fs\n", *n, total, time.Since(start).Seconds())
	}
}

func writeMaildir(dir string, seed uint64, n int) (int64, error) {
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return 0, err
		}
	}
	var uidlist bytes.Buffer
	const uidValidity = 1700000000
	fmt.Fprintf(&uidlist, "3 V%d N%d\n", uidValidity, n+1)
	var total int64
	for i := 0; i < n; i++ {
		m := mailgen.Generate(seed, i)
		vsize := len(m.Body) + bytes.Count(m.Body, []byte("\n"))
		base := fmt.Sprintf("%d.M%dP1.bench,S=%d,W=%d", m.Date.Unix(), i, len(m.Body), vsize)
		name := base + ":2,"
		if m.Seen {
			name += "S"
		}
		path := filepath.Join(dir, "cur", name)
		if err := os.WriteFile(path, m.Body, 0o600); err != nil {
			return 0, err
		}
		if err := os.Chtimes(path, m.Date, m.Date); err != nil {
			return 0, err
		}
		fmt.Fprintf(&uidlist, "%d :%s\n", i+1, base)
		total += int64(len(m.Body))
	}
	return total, os.WriteFile(filepath.Join(dir, "dovecot-uidlist"), uidlist.Bytes(), 0o600)
}

func loadRoost(dir, user string, seed uint64, n int) (int64, error) {
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
	for i := 0; i < n; i++ {
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
	return total, nil
}
