package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// TestHeaderFieldsFill: messages stored before migration 4 (their
// header_fields NULL) get their kept lines from the header at their first
// HeaderFields read, equal to what an append keeps, and keep them; a
// header over SearchHeaderMax is reported as not kept.
func TestHeaderFieldsFill(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.DSN(t))
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	big := "Subject: big\r\n" + strings.Repeat("X-Filler: 0123456789012345678901234567890123456789\r\n", sqlstore.SearchHeaderMax/40) + "\r\nx\r\n"
	var uids []mailstore.UID
	for _, m := range []string{"Received: x\r\nSubject: one\r\n folded\r\nTo: a@x\r\n\r\nx\r\n", "X-TUID: t\r\n\r\nx\r\n", big} {
		_, uid, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(m))
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, uid)
	}
	inbox, err := acc.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	read := func() map[mailstore.UID]string {
		t.Helper()
		got := map[mailstore.UID]string{}
		err := acc.(mailstore.HeaderFieldsReader).HeaderFields(ctx, inbox.ID, uids, func(uid mailstore.UID, kept []byte) error {
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
		return got
	}
	nulls := func() int {
		t.Helper()
		var n int
		if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM contents WHERE header_fields IS NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := read() // as kept at append
	if want[uids[0]] != "Subject: one\r\n folded\r\nTo: a@x\r\n\r\n" || want[uids[1]] != "X-TUID: t\r\n\r\n" || want[uids[2]] != "not kept" || nulls() != 1 {
		t.Fatalf("after append: %v, %d rows without lines", want, nulls())
	}
	// As an account from before migration 4.
	if _, err := st.pool.Exec(ctx, `UPDATE contents SET header_fields = NULL`); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		got := read()
		for _, u := range uids {
			if got[u] != want[u] {
				t.Errorf("round %d, uid %d: %q, want %q", round, u, got[u], want[u])
			}
		}
		if n := nulls(); n != 1 {
			t.Errorf("round %d: %d rows without lines after the read, want 1 (the big header)", round, n)
		}
	}
}
