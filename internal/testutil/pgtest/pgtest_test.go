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

// TestReusedDatabaseIsEmpty: a database handed back to the pool comes to
// the next test without the previous test's tables, sequence values,
// connections or advisory locks.
func TestReusedDatabaseIsEmpty(t *testing.T) {
	ctx := context.Background()
	var first string
	t.Run("dirty", func(t *testing.T) {
		db := NewDatabase(t)
		first = db.Name
		conn, err := pgx.Connect(ctx, db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		// Left open on purpose, holding a session advisory lock.
		if _, err := conn.Exec(ctx, `CREATE TABLE t (id bigserial, x int); INSERT INTO t (x) VALUES (1), (2);
			SELECT pg_advisory_lock(42)`); err != nil {
			t.Fatal(err)
		}
	})
	db := NewDatabase(t)
	if db.Name != first {
		t.Fatalf("got database %s, want the released %s back", db.Name, first)
	}
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE s.nspname = 'public'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("reused database has %d relations, %v; want none", n, err)
	}
	var got bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(42)`).Scan(&got); err != nil || !got {
		t.Fatalf("advisory lock of the previous test still held (%v)", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE t (id bigserial, x int)`); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := conn.QueryRow(ctx, `INSERT INTO t (x) VALUES (1) RETURNING id`).Scan(&id); err != nil || id != 1 {
		t.Fatalf("first id in the reused database %d, %v; want 1", id, err)
	}
}
