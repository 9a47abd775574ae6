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
	testKeptFill(t, sqlstore.SearchFieldsColumn,
		[]string{"Subject: =?UTF-8?Q?=C3=84lter?=\r\nTo: a@x\r\nTo: b@x\r\n\r\nx\r\n", "Subject: other\r\n\r\nx\r\n"},
		[]string{"Subject: älter;To: a@x;To: b@x;", ""},
		func(ctx context.Context, acc mailstore.Account, mbox mailstore.MailboxID, uids []mailstore.UID, got map[mailstore.UID]string) error {
			return acc.(mailstore.HeaderSearcher).SearchFields(ctx, mbox, uids, func(uid mailstore.UID, f *mailstore.SearchFields) error {
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
		})
}

// testKeptFill appends msgs and then a header over SearchHeaderMax, reads
// them with read (which puts each UID's value, or "not kept", in got) and
// checks the value of each message i with a non-empty wantAppend[i], that
// the big header is not kept and that only its row has col NULL. Then, as
// an account from before col's migration (col NULL everywhere), two more
// reads must give the same values as after the append and leave only the
// big header's row NULL: the first read filled the others.
func testKeptFill(t *testing.T, col sqlstore.KeptColumn, msgs, wantAppend []string,
	read func(ctx context.Context, acc mailstore.Account, mbox mailstore.MailboxID, uids []mailstore.UID, got map[mailstore.UID]string) error) {
	t.Helper()
	ctx := context.Background()
	st := openStore(t, pgtest.DSN(t))
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	big := "Subject: big\r\n" + strings.Repeat("X-Filler: 0123456789012345678901234567890123456789\r\n", sqlstore.SearchHeaderMax/40) + "\r\nx\r\n"
	var uids []mailstore.UID
	for _, m := range append(msgs[:len(msgs):len(msgs)], big) {
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
	readAll := func() map[mailstore.UID]string {
		t.Helper()
		got := map[mailstore.UID]string{}
		if err := read(ctx, acc, inbox.ID, uids, got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	nulls := func() int {
		t.Helper()
		var n int
		if err := st.pool.QueryRow(ctx, `SELECT count(*) FROM contents WHERE `+col.Name+` IS NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	want := readAll() // as kept at append
	ok := want[uids[len(msgs)]] == "not kept" && nulls() == 1
	for i, w := range wantAppend {
		ok = ok && (w == "" || want[uids[i]] == w)
	}
	if !ok {
		t.Fatalf("after append: %v, %d rows without %s", want, nulls(), col.What)
	}
	// As an account from before the column's migration.
	if _, err := st.pool.Exec(ctx, `UPDATE contents SET `+col.Name+` = NULL`); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		got := readAll()
		for _, u := range uids {
			if got[u] != want[u] {
				t.Errorf("round %d, uid %d: %q, want %q", round, u, got[u], want[u])
			}
		}
		if n := nulls(); n != 1 {
			t.Errorf("round %d: %d rows without %s after the read, want 1 (the big header)", round, n, col.What)
		}
	}
}
