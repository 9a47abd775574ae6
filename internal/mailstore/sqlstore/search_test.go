package sqlstore

import (
	"slices"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
)

// TestMetaSQL renders SEARCH ON 2 Jan 1970 OR LARGER 100 NOT SMALLER 5
// after a first parameter (the mailbox id) in both dialects.
func TestMetaSQL(t *testing.T) {
	cond := mailstore.MetaCond{Op: mailstore.MetaOr, Children: []mailstore.MetaCond{
		{Op: mailstore.MetaDayOn, Day: 1},
		{Op: mailstore.MetaAnd, Children: []mailstore.MetaCond{
			{Op: mailstore.MetaLarger, Size: 100},
			{Op: mailstore.MetaNot, Children: []mailstore.MetaCond{{Op: mailstore.MetaSmaller, Size: 5}}},
		}},
	}}
	for _, tc := range []struct {
		d    Dialect
		want string
	}{
		{SQLite, "(((internal_date + internal_tz) >= ? AND (internal_date + internal_tz) < ?) OR (size > ? AND NOT (size < ?)))"},
		{Postgres, "(((internal_date + internal_tz) >= $2 AND (internal_date + internal_tz) < $3) OR (size > $4 AND NOT (size < $5)))"},
	} {
		var b strings.Builder
		args := []any{int64(7)}
		if err := MetaSQL(tc.d, &b, &args, cond); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("dialect %d:\n got %s\nwant %s", tc.d, b.String(), tc.want)
		}
		if want := []any{int64(7), int64(86400), int64(2 * 86400), int64(100), int64(5)}; !slices.Equal(args, want) {
			t.Errorf("dialect %d: args %v, want %v", tc.d, args, want)
		}
	}
	var b strings.Builder
	var args []any
	if err := MetaSQL(Postgres, &b, &args, mailstore.MetaCond{Op: mailstore.MetaAnd}); err == nil {
		t.Error("AND without operands accepted")
	}
}
