package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/storetest"
)

func TestQuota(t *testing.T) {
	storetest.RunQuota(t, func(t *testing.T, limits *storetest.QuotaLimits) mailstore.Store {
		st, err := Open(Options{Dir: t.TempDir(), MaxMessageSize: storetest.MaxMessageSize,
			PollInterval: 50 * time.Millisecond, Quota: limits.Func})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

// TestQuotaMigration: an account created before migration 4 gets its usage
// counted when the migration runs (the migration's backfill), and the
// triggers keep it from then on.
func TestQuotaMigration(t *testing.T) {
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
	if _, err := acct.CreateMailbox(ctx, "Old", ""); err != nil {
		t.Fatal(err)
	}
	var want mailstore.Usage
	for i, mbox := range []string{"INBOX", "INBOX", "Old"} {
		body := fmt.Sprintf("Subject: %d\r\n\r\n%s\r\n", i, strings.Repeat("x", 100*i))
		if _, _, err := acct.Append(ctx, mbox, mailstore.NewMessage{}, strings.NewReader(body)); err != nil {
			t.Fatal(err)
		}
		want.Storage += int64(len(body))
		want.Messages++
	}
	acct.Close()
	adir, _ := st.AccountDir("alice")
	st.Close()

	// Take the database back to before migration 4.
	db, err := sql.Open("sqlite", dsn(indexPath(adir), time.Second, true))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TRIGGER message_usage_insert`, `DROP TRIGGER message_usage_delete`,
		`ALTER TABLE account DROP COLUMN usage_storage`, `ALTER TABLE account DROP COLUMN usage_messages`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Migration 4 as an older account meets it.
	if _, err := db.Exec(migrations[3]); err != nil {
		t.Fatalf("migration 4: %v", err)
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
	if _, u, err := acct.Quota(ctx); err != nil || u != want {
		t.Fatalf("usage after migration: %+v, %v; want %+v", u, err, want)
	}
	if err := acct.DeleteMailbox(ctx, "Old"); err != nil {
		t.Fatal(err)
	}
	want.Messages--
	want.Storage -= int64(len("Subject: 2\r\n\r\n" + strings.Repeat("x", 200) + "\r\n"))
	if _, u, _ := acct.Quota(ctx); u != want {
		t.Fatalf("usage after deleting a mailbox: %+v, want %+v", u, want)
	}
}
