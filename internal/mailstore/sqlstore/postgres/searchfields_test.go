package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// TestSearchFieldsFill: messages stored before migration 3 (their
// search_fields NULL) get their fields from the header at their first
// header SEARCH, equal to what an append keeps, and keep them; a header
// over SearchHeaderMax is reported as not kept.
func TestSearchFieldsFill(t *testing.T) {
	ctx := context.Background()
	st := openStore(t, pgtest.DSN(t))
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	big := "Subject: big\r\n" + strings.Repeat("X-Filler: 0123456789012345678901234567890123456789\r\n", sqlstore.SearchHeaderMax/40) + "\r\nx\r\n"
	var uids []mailstore.UID
	for _, m := range []string{"Subject: =?UTF-8?Q?=C3=84lter?=\r\nTo: a@x\r\nTo: b@x\r\n\r\nx\r\n", "Subject: other\r\n\r\nx\r\n", big} {
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
		err := acc.(mailstore.HeaderSearcher).SearchFields(ctx, inbox.ID, uids, func(uid mailstore.UID, f *mailstore.SearchFields) error {
			if f == nil {
				got[uid] = "not kept"
				return nil
			}
			var b strings.Builder
			for i, vs := range f.Values {
				for _, v := range vs {
					b.WriteString(mailstore.SearchField(i).String() + ":" + string(v) + ";")
				}
			}
			got[uid] = b.String()
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
		if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM contents WHERE search_fields IS NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := read() // as kept at append
	if want[uids[0]] != "Subject: älter;To: a@x;To: b@x;" || want[uids[2]] != "not kept" || nulls() != 1 {
		t.Fatalf("after append: %v, %d rows without fields", want, nulls())
	}
	// As an account from before migration 3.
	if _, err := st.pool.Exec(ctx, `UPDATE contents SET search_fields = NULL`); err != nil {
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
			t.Errorf("round %d: %d rows without fields after the search, want 1 (the big header)", round, n)
		}
	}
}
