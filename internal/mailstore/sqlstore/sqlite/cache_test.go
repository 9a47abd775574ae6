package sqlite

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// TestCacheSelection checks that Cache returns exactly the requested,
// existing messages in the requested order, both for dense UID sets (range
// query) and sparse ones (json_each), with expunged UIDs left out.
func TestCacheSelection(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	defer st.Close()
	ctx := context.Background()
	acc, err := st.Account(ctx, "u")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	for i := 1; i <= 20; i++ {
		msg := fmt.Sprintf("Subject: m%d\r\n\r\nbody\r\n", i)
		if _, _, err := acc.Append(ctx, "INBOX", mailstore.NewMessage{}, strings.NewReader(msg)); err != nil {
			t.Fatal(err)
		}
	}
	inbox, err := acc.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Expunge(ctx, inbox.ID, mailstore.ExpungeOptions{UIDs: []mailstore.UID{5, 6}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ ask, want []mailstore.UID }{
		{[]mailstore.UID{3, 4, 5, 6, 7, 9}, []mailstore.UID{3, 4, 7, 9}}, // dense, 8 not asked for
		{[]mailstore.UID{9, 7, 3, 4}, []mailstore.UID{9, 7, 3, 4}},       // dense, unsorted
		{[]mailstore.UID{1, 20}, []mailstore.UID{1, 20}},                 // sparse
		{[]mailstore.UID{20, 2, 6, 99}, []mailstore.UID{20, 2}},          // sparse, unsorted, expunged, unknown
		{[]mailstore.UID{5}, nil},                                        // only expunged
		{[]mailstore.UID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, []mailstore.UID{1, 2, 3, 4, 7, 8, 9, 10}},
	} {
		c, err := acc.Cache(ctx, inbox.ID, tc.ask)
		if err != nil {
			t.Fatal(err)
		}
		var got []mailstore.UID
		for _, m := range c {
			got = append(got, m.UID)
			if want := fmt.Sprintf(`"m%d"`, m.UID); !strings.Contains(m.Envelope, want) {
				t.Errorf("uid %d: envelope %s lacks %s", m.UID, m.Envelope, want)
			}
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Cache(%v) = %v, want %v", tc.ask, got, tc.want)
		}
	}
}
