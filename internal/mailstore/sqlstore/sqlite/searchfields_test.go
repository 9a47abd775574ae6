package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// TestSearchFieldsMigration: an account whose messages were stored before
// migration 6 keeps working: the migration adds the column, an old
// message's fields are made from its header at its first header SEARCH
// and kept, messages stored afterwards have them from the start, and a
// header over SearchHeaderMax is reported as not kept (testKeptMigration).
func TestSearchFieldsMigration(t *testing.T) {
	testKeptMigration(t, sqlstore.SearchFieldsColumn,
		[]string{`ALTER TABLE message_cache DROP COLUMN search_fields`, `ALTER TABLE message_cache DROP COLUMN header_fields`, `UPDATE schema_version SET version = 5`},
		"Subject: =?UTF-8?Q?=C3=84lter?=\r\n\r\nx\r\n", " älter", " new",
		func(ctx context.Context, acct mailstore.Account, mbox mailstore.MailboxID, uids []mailstore.UID, got map[mailstore.UID]string) error {
			return acct.(mailstore.HeaderSearcher).SearchFields(ctx, mbox, uids, func(uid mailstore.UID, f *mailstore.SearchFields) error {
				if f == nil {
					got[uid] = "not kept"
				} else {
					got[uid] = string(f.Values[mailstore.SearchSubject][0])
				}
				return nil
			})
		})
}

// testKeptMigration stores message old as UID 1, takes the database back
// to before col's migration with the statements downgrade, reopens it
// (which migrates it again) and appends "Subject: New" and a header over
// SearchHeaderMax. Before any read only the new small message has col
// kept; two reads with read (which puts each UID's value, or "not kept",
// in got) must give wantOld, wantNew and "not kept", and leave col kept
// for all but the big header: the first read filled UID 1, the second
// reads what it kept.
func testKeptMigration(t *testing.T, col sqlstore.KeptColumn, downgrade []string, old, wantOld, wantNew string,
	read func(ctx context.Context, acct mailstore.Account, mbox mailstore.MailboxID, uids []mailstore.UID, got map[mailstore.UID]string) error) {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	st, err := Open(Options{Dir: dir, IdleClose: -1})
	if err != nil {
		t.Fatal(err)
	}
	acct, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := acct.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	acct.Close()
	adir, _ := st.AccountDir("alice")
	st.Close()

	// Take the database back to before the column's migration.
	db, err := sql.Open("sqlite", dsn(indexPath(adir), time.Second, true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range downgrade {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}

	st, err = Open(Options{Dir: dir, IdleClose: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	acct, err = st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close()
	_, uid2, err := acct.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: New\r\n\r\nx\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	big := "Subject: big\r\n" + strings.Repeat("X-Filler: 0123456789012345678901234567890123456789\r\n", sqlstore.SearchHeaderMax/40) + "\r\nx\r\n"
	_, uid3, err := acct.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	inbox, err := acct.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	stored := func() map[mailstore.UID]bool {
		t.Helper()
		rows, err := db.Query(`SELECT m.uid, c.` + col.Name + ` IS NOT NULL FROM message m JOIN message_cache c ON c.id = m.content ORDER BY m.uid`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[mailstore.UID]bool{}
		for rows.Next() {
			var u mailstore.UID
			var has bool
			if err := rows.Scan(&u, &has); err != nil {
				t.Fatal(err)
			}
			out[u] = has
		}
		return out
	}
	if got := stored(); got[1] || !got[uid2] || got[uid3] {
		t.Fatalf("kept before the read (uid: kept): %v; want only %d", got, uid2)
	}
	for round := range 2 { // the second round reads what the first kept
		got := map[mailstore.UID]string{}
		if err := read(ctx, acct, inbox.ID, []mailstore.UID{1, uid2, uid3}, got); err != nil {
			t.Fatal(err)
		}
		if got[1] != wantOld || got[uid2] != wantNew || got[uid3] != "not kept" || len(got) != 3 {
			t.Errorf("round %d: %v, want UID 1 %q, UID %d %q, UID %d not kept", round, got, wantOld, uid2, wantNew, uid3)
		}
		if got := stored(); !got[1] || !got[uid2] || got[uid3] {
			t.Errorf("round %d: kept after the read (uid: kept): %v; want all but %d", round, got, uid3)
		}
	}
}

// TestReadPathsMailboxCheck: the read paths that look the mailbox up only
// when no message row came back (mailboxIDExists) still tell a missing
// mailbox (KindNotFound) from UIDs that are not in an existing one (no
// error, nothing), also for a mailbox deleted after it was looked up by
// name, and answer normally when rows come back.
func TestReadPathsMailboxCheck(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	defer st.Close()
	ctx := context.Background()
	acct, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acct.Close()
	if _, err := acct.CreateMailbox(ctx, "Gone", ""); err != nil {
		t.Fatal(err)
	}
	for _, mb := range []string{"INBOX", "Gone"} {
		if _, _, err := acct.Append(ctx, mb, mailstore.NewMessage{}, strings.NewReader("Subject: x\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	inbox, _ := acct.Mailbox(ctx, "INBOX")
	gone, _ := acct.Mailbox(ctx, "Gone")
	if err := acct.DeleteMailbox(ctx, "Gone"); err != nil {
		t.Fatal(err)
	}
	reads := map[string]func(mailstore.MailboxID, []mailstore.UID) (int, error){
		"Metas": func(m mailstore.MailboxID, u []mailstore.UID) (int, error) {
			ms, err := acct.Metas(ctx, m, u)
			return len(ms), err
		},
		"Cache": func(m mailstore.MailboxID, u []mailstore.UID) (int, error) {
			cs, err := acct.Cache(ctx, m, u)
			return len(cs), err
		},
		"Headers": func(m mailstore.MailboxID, u []mailstore.UID) (int, error) {
			n := 0
			err := acct.(mailstore.HeaderReader).Headers(ctx, m, u, 1<<20, func(mailstore.UID, []byte) error { n++; return nil })
			return n, err
		},
		"SearchFields": func(m mailstore.MailboxID, u []mailstore.UID) (int, error) {
			n := 0
			err := acct.(mailstore.HeaderSearcher).SearchFields(ctx, m, u, func(mailstore.UID, *mailstore.SearchFields) error { n++; return nil })
			return n, err
		},
	}
	for name, read := range reads {
		for _, uids := range [][]mailstore.UID{{1}, {1, 5, 9}} { // dense span and json_each
			if n, err := read(inbox.ID, uids); err != nil || n != 1 {
				t.Errorf("%s(INBOX, %v) = %d, %v; want 1 message", name, uids, n, err)
			}
			if n, err := read(inbox.ID, []mailstore.UID{uids[len(uids)-1] + 100}); err != nil || n != 0 {
				t.Errorf("%s(INBOX, absent UID) = %d, %v; want nothing, no error", name, n, err)
			}
			_, err := read(gone.ID, uids)
			if mailstore.KindOf(err) != mailstore.KindNotFound {
				t.Errorf("%s(deleted mailbox, %v): %v, want KindNotFound", name, uids, err)
			}
		}
	}
}
