package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// TestFreshDatabases checks that each call gives its own empty database
// that the test may create tables in.
func TestFreshDatabases(t *testing.T) {
	ctx := context.Background()
	a, b := NewDatabase(t), NewDatabase(t)
	if a.Name == b.Name || a.DSN == b.DSN {
		t.Fatalf("two calls gave the same database %q", a.Name)
	}
	ca, err := pgx.Connect(ctx, a.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, `CREATE TABLE t (x int); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	var db string
	if err := ca.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil || db != a.Name {
		t.Fatalf("connected to %q, %v; want %q", db, err, a.Name)
	}
	cb, err := pgx.Connect(ctx, b.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	var n int
	if err := cb.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("second database has %d tables, %v; want an empty one", n, err)
	}
}
