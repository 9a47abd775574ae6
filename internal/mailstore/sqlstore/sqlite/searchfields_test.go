package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// TestSearchFieldsMigration: an account whose messages were stored before
// migration 6 keeps working: the migration adds the column, the old
// messages report no kept fields (the IMAP server then reads their
// header), messages stored afterwards have them.
func TestSearchFieldsMigration(t *testing.T) {
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
	if _, _, err := acct.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader("Subject: old\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	acct.Close()
	adir, _ := st.AccountDir("alice")
	st.Close()

	// Take the database back to before migration 6.
	db, err := sql.Open("sqlite", dsn(indexPath(adir), time.Second, true))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`ALTER TABLE message_cache DROP COLUMN search_fields`, `UPDATE schema_version SET version = 5`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

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
	inbox, err := acct.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	got := map[mailstore.UID]string{}
	err = acct.(mailstore.HeaderSearcher).SearchFields(ctx, inbox.ID, []mailstore.UID{1, uid2}, func(uid mailstore.UID, f *mailstore.SearchFields) error {
		if f == nil {
			got[uid] = "not kept"
		} else {
			got[uid] = string(f.Values[mailstore.SearchSubject][0])
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got[1] != "not kept" || got[uid2] != " new" || len(got) != 2 {
		t.Errorf("after migration: %v, want UID 1 not kept, UID %d \" new\"", got, uid2)
	}
}
