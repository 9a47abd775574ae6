package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// TestPurgeAccount: an account with an open handle is refused (KindInUse)
// and keeps its mail; once closed, every row and body of it goes, the
// name opens again as a new, empty account, a purge of nothing is
// KindNotFound, and other accounts are untouched.
func TestPurgeAccount(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.DSN(t), func(o *Options) { o.BlobDeleteDelay = -1 })
	msg := "From: a@example.org\r\nSubject: x\r\n\r\nbody\r\n"
	for _, u := range []string{"alice", "bob"} {
		acc, err := st.Account(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{Flags: []string{"$Label"}}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
		inbox, _ := acc.Mailbox(ctx, "INBOX")
		if _, err := acc.Copy(ctx, inbox.ID, []mailstore.UID{1}, "Archive"); err != nil {
			t.Fatal(err)
		}
		if u == "bob" {
			acc.Close()
			continue
		}
		if err := st.PurgeAccount(ctx, "alice"); mailstore.KindOf(err) != mailstore.KindInUse {
			t.Fatalf("purge of an open account: %v, want KindInUse", err)
		}
		if s, err := acc.Status(ctx, "INBOX"); err != nil || s.Messages != 1 {
			t.Fatalf("after a refused purge: %+v, %v", s, err)
		}
		acc.Close()
		acc.Close() // idempotent: must not make bob's count or a later handle wrong
	}
	if err := st.PurgeAccount(ctx, "alice"); err != nil {
		t.Fatalf("purge: %v", err)
	}
	count := func(q string) int {
		var n int
		if err := st.pool.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM accounts`: 1,
		`SELECT count(*) FROM mailboxes m JOIN accounts a ON a.id = m.account_id WHERE a.username <> 'bob'`: 0,
		`SELECT count(*) FROM messages`: 2, // bob's two copies
		`SELECT count(*) FROM contents`: 1,
		`SELECT count(*) FROM blobs`:    1,
		`SELECT count(*) FROM keywords`: 1,
		`SELECT count(*) FROM subscriptions s JOIN accounts a ON a.id = s.account_id WHERE a.username <> 'bob'`: 0,
	} {
		if n := count(q); n != want {
			t.Errorf("%s: %d, want %d", q, n, want)
		}
	}
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if s, err := acc.Status(ctx, "INBOX"); err != nil || s.Messages != 0 || s.UIDNext != 1 {
		t.Errorf("INBOX of the new account: %+v, %v", s, err)
	}
	if _, u, err := acc.Quota(ctx); err != nil || u != (mailstore.Usage{}) {
		t.Errorf("usage of the new account: %+v, %v", u, err)
	}
	acc.Close()
	if err := st.PurgeAccount(ctx, "alice"); err != nil {
		t.Fatalf("second purge: %v", err)
	}
	if err := st.PurgeAccount(ctx, "alice"); mailstore.KindOf(err) != mailstore.KindNotFound {
		t.Errorf("purge of nothing: %v, want KindNotFound", err)
	}
	bob, err := st.Account(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	defer bob.Close()
	if s, err := bob.Status(ctx, "INBOX"); err != nil || s.Messages != 1 {
		t.Errorf("bob after alice's purge: %+v, %v", s, err)
	}
	if _, u, err := bob.Quota(ctx); err != nil || u.Messages != 2 {
		t.Errorf("bob's usage after alice's purge: %+v, %v", u, err)
	}
}
