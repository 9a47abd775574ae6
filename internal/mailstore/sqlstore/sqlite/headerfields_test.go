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

// TestHeaderFieldsMigration: an account whose messages were stored before
// migration 7 keeps working: the migration adds the column, an old
// message's kept lines are made from its header at its first
// HeaderFields read and kept, messages stored afterwards have them from
// the start, and a header over SearchHeaderMax is reported as not kept
// (and never read for it).
func TestHeaderFieldsMigration(t *testing.T) {
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
	const old = "Received: x\r\nSubject: old\r\n folded\r\nFrom: a@example.org\r\n\r\nx\r\n"
	if _, _, err := acct.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(old)); err != nil {
		t.Fatal(err)
	}
	acct.Close()
	adir, _ := st.AccountDir("alice")
	st.Close()

	// Take the database back to before migration 7.
	db, err := sql.Open("sqlite", dsn(indexPath(adir), time.Second, true))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`ALTER TABLE message_cache DROP COLUMN header_fields`, `UPDATE schema_version SET version = 6`} {
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
		rows, err := db.Query(`SELECT m.uid, c.header_fields IS NOT NULL FROM message m JOIN message_cache c ON c.id = m.content ORDER BY m.uid`)
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
		err = acct.(mailstore.HeaderFieldsReader).HeaderFields(ctx, inbox.ID, []mailstore.UID{1, uid2, uid3}, func(uid mailstore.UID, kept []byte) error {
			if kept == nil {
				got[uid] = "not kept"
			} else {
				got[uid] = string(kept)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got[1] != "Subject: old\r\n folded\r\nFrom: a@example.org\r\n\r\n" || got[uid2] != "Subject: New\r\n\r\n" || got[uid3] != "not kept" || len(got) != 3 {
			t.Errorf("round %d: %v", round, got)
		}
		if got := stored(); !got[1] || !got[uid2] || got[uid3] {
			t.Errorf("round %d: kept after the read (uid: kept): %v; want all but %d", round, got, uid3)
		}
	}
}
