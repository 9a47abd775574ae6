package sqlite

import (
	"context"
	"strings"
	"testing"
)

// TestDeletedPlan checks that EXPUNGE's and View's queries use their
// indexes instead of scanning every message of the mailbox
// (docs/imap-scale.md).
func TestDeletedPlan(t *testing.T) {
	st := openTestStore(t, t.TempDir())
	defer st.Close()
	ctx := context.Background()
	acc, err := st.Account(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	defer acc.Close()
	a := acc.(*accountRef).account
	for _, tc := range []struct{ query, want string }{
		{expungeDeletedQuery, "USING INDEX message_deleted (mailbox_id=?)"},
		{keywordsInUseQuery, "message_keywords (mailbox_id=?"},
		{minUIDQuery, "SEARCH message USING PRIMARY KEY (mailbox_id=?)"},
		{firstUnseenQuery, "SEARCH message USING PRIMARY KEY (mailbox_id=?)"},
	} {
		rows, err := a.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+tc.query, 1)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, tc.want) {
			t.Errorf("plan for %s: %s, want %q", tc.query, p, tc.want)
		}
	}
}
