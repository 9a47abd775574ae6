package sqlpassdb

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/auth/password"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestParameterize(t *testing.T) {
	for _, tt := range []struct {
		in, sql string
		args    []any // for user "Alice@Example.org"
	}{
		{"SELECT username AS user, password FROM users WHERE username = '%u'",
			"SELECT username AS user, password FROM users WHERE username = $1::text", []any{"Alice@Example.org"}},
		{"SELECT password FROM users WHERE userid = '%n' AND domain = '%d'",
			"SELECT password FROM users WHERE userid = $1::text AND domain = $2::text", []any{"Alice", "Example.org"}},
		{"SELECT password FROM users WHERE email = '%Ln@%Ld' OR email = '%u'",
			"SELECT password FROM users WHERE email = ($1::text || '@' || $2::text) OR email = $3::text", []any{"alice", "example.org", "Alice@Example.org"}},
		{"SELECT password FROM users WHERE name = '%{user}' AND alias = '%{user}'",
			"SELECT password FROM users WHERE name = $1::text AND alias = $1::text", []any{"Alice@Example.org"}},
		{"SELECT password, 'it''s %%' AS note FROM users WHERE name LIKE '%%x' AND u = %u",
			"SELECT password, 'it''s %' AS note FROM users WHERE name LIKE '%x' AND u = $1", []any{"Alice@Example.org"}},
		{`SELECT "pass%u" AS password FROM "u'sers" WHERE n = '%{username}'`,
			`SELECT "pass%u" AS password FROM "u'sers" WHERE n = $1::text`, []any{"Alice"}},
	} {
		q, err := Parameterize(tt.in)
		if err != nil {
			t.Errorf("Parameterize(%q): %v", tt.in, err)
			continue
		}
		if q.SQL != tt.sql {
			t.Errorf("Parameterize(%q)\n got %q\nwant %q", tt.in, q.SQL, tt.sql)
		}
		if got := q.Args("Alice@Example.org"); !reflect.DeepEqual(got, tt.args) {
			t.Errorf("Parameterize(%q) args %q, want %q", tt.in, got, tt.args)
		}
	}
	for _, bad := range []string{
		"SELECT password FROM users WHERE name = $1",
		"SELECT password FROM users WHERE name = $$%u$$",
		"SELECT password FROM users WHERE name = E'%u'",
		"SELECT password FROM users WHERE name = '%u",
		"SELECT password FROM users WHERE name = '%r'",
		"SELECT password FROM users WHERE name = '%{rip}'",
		"SELECT password FROM users WHERE name = '%",
	} {
		if q, err := Parameterize(bad); err == nil {
			t.Errorf("Parameterize(%q) accepted: %q", bad, q.SQL)
		}
	}
}

func writeConf(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sql.conf")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestParseConfig(t *testing.T) {
	p := writeConf(t, `# Dovecot-style
driver = pgsql
connect = "host=/run/postgresql dbname=mail user=roost password=s3cret"
default_pass_scheme = sha512-crypt

password_query = \
  SELECT username AS user, password \
  FROM users WHERE username = '%u'
user_query = SELECT home FROM users WHERE username = '%u'
iterate_query = SELECT username AS user FROM users
`)
	c, err := ParseConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Driver: "pgsql", Connect: "host=/run/postgresql dbname=mail user=roost password=s3cret",
		DefaultPassScheme: "sha512-crypt",
		PasswordQuery:     "SELECT username AS user, password FROM users WHERE username = '%u'",
		IterateQuery:      "SELECT username AS user FROM users"}
	if c != want {
		t.Fatalf("got %+v\nwant %+v", c, want)
	}
	for _, bad := range []string{
		"driver = mysql\nconnect = x\npassword_query = SELECT 1",
		"driver = pgsql\npassword_query = SELECT 1",
		"driver = pgsql\nconnect = x",
		"driver = pgsql\nconnect = x\npassword_query = SELECT 1\nfrobnicate = yes",
		"driver = pgsql\nconnect = x\npassword_query = SELECT 1\ndefault_pass_scheme = ROT13",
		"driver = pgsql\nconnect = x\npassword_query = SELECT \\",
	} {
		if _, err := ParseConfig(writeConf(t, bad)); err == nil {
			t.Errorf("ParseConfig accepted %q", bad)
		}
	}
	// A bad connect string is refused without quoting it (it holds the password).
	_, err = Open(writeConf(t, "driver = pgsql\nconnect = host=x password=hunter2 sslmode=bogus\npassword_query = SELECT 1"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("bad connect string: %v", err)
	}
}

// newUsersDB creates a users table in a fresh database and returns an
// args file for it with the given password_query.
func newUsersDB(t *testing.T, query string) (*DB, *pgx.Conn) {
	t.Helper()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	if _, err := conn.Exec(ctx, `CREATE TABLE users (username text PRIMARY KEY, domain text, password text,
		quota text, active boolean NOT NULL DEFAULT true)`); err != nil {
		t.Fatal(err)
	}
	h, _ := password.Hash("SHA512-CRYPT", "alicepw")
	if _, err := conn.Exec(ctx, `INSERT INTO users VALUES ('alice@example.org', 'example.org', $1, '*:storage=1G', true),
		('bob@example.org', 'example.org', '{PLAIN}bobpw', NULL, false)`, h); err != nil {
		t.Fatal(err)
	}
	db, err := Open(writeConf(t, "driver = pgsql\nconnect = "+dsn+"\npassword_query = "+query+
		"\niterate_query = SELECT username AS user FROM users ORDER BY 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db, conn
}

func TestLookup(t *testing.T) {
	db, conn := newUsersDB(t, `SELECT username AS "user", password, quota AS userdb_quota_rule, NOT active AS deny FROM users WHERE username = '%Lu'`)
	e, ok, err := db.Lookup("Alice@Example.org")
	if err != nil || !ok {
		t.Fatalf("Lookup alice: %v, %v", ok, err)
	}
	if e.User != "alice@example.org" || e.Extra["user"] != "alice@example.org" || !strings.HasPrefix(e.Password, "{SHA512-CRYPT}$6$") ||
		e.Extra["userdb_quota_rule"] != "*:storage=1G" || e.Extra["deny"] != "false" {
		t.Fatalf("alice: %+v", e)
	}
	if ok, err := password.VerifyDefault(e.Password, "alicepw", db.DefaultScheme()); !ok || err != nil {
		t.Fatalf("stored hash does not verify: %v %v", ok, err)
	}
	e, ok, err = db.Lookup("bob@example.org")
	if err != nil || !ok || e.Extra["deny"] != "true" || e.Password != "{PLAIN}bobpw" {
		t.Fatalf("bob: %+v %v %v", e, ok, err)
	}
	if _, has := e.Extra["userdb_quota_rule"]; has {
		t.Fatal("a NULL column became an extra field")
	}
	// First now has a real hash for the unknown-user path.
	if f, _, _ := db.First(); f.Password != "{PLAIN}bobpw" {
		t.Fatalf("First: %+v", f)
	}
	for _, name := range []string{"nobody@example.org",
		"x' OR '1'='1", "' OR 1=1 --", "alice@example.org'; DROP TABLE users; --", `alice@example.org\'`} {
		if e, ok, err := db.Lookup(name); err != nil || ok {
			t.Errorf("Lookup(%q) = %+v, %v, %v; want no user", name, e, ok, err)
		}
	}
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM users").Scan(&n); err != nil || n != 2 {
		t.Fatalf("users table after injection attempts: %d rows, %v", n, err)
	}
	users, err := db.Users()
	if err != nil || len(users) != 2 || users[0].User != "alice@example.org" || users[1].User != "bob@example.org" {
		t.Fatalf("Users: %+v, %v", users, err)
	}
}

// Dovecot's other spelling: username and domain columns, %n and %d.
func TestLookupUsernameDomain(t *testing.T) {
	db, _ := newUsersDB(t, `SELECT split_part(username, '@', 1) AS username, domain, password FROM users WHERE username = '%Ln@%Ld' AND active`)
	e, ok, err := db.Lookup("Alice@Example.ORG")
	if err != nil || !ok || e.User != "alice@example.org" || e.Extra["user"] != "alice@example.org" {
		t.Fatalf("alice by username/domain: %+v %v %v", e, ok, err)
	}
	if _, ok, err := db.Lookup("bob@example.org"); err != nil || ok {
		t.Fatalf("inactive bob: %v %v", ok, err)
	}
}

func TestLookupErrors(t *testing.T) {
	// Two rows for one user is an error, not a pick.
	db, conn := newUsersDB(t, `SELECT username AS user, password FROM users WHERE domain = '%d'`)
	if _, _, err := db.Lookup("x@example.org"); err == nil {
		t.Fatal("two rows for one user accepted")
	}
	// A database that goes away makes lookups fail (a temporary failure
	// for the auth service), never "unknown user"; it works again after.
	if _, err := conn.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'roost-passdb'`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `ALTER TABLE users RENAME TO users_gone`); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := db.Lookup("alice@example.org"); err == nil || ok {
		t.Fatalf("lookup against a missing table: ok=%v err=%v", ok, err)
	}
	if _, err := conn.Exec(context.Background(), `ALTER TABLE users_gone RENAME TO users`); err != nil {
		t.Fatal(err)
	}
	db2, _ := newUsersDB(t, `SELECT username AS user, password FROM users WHERE username = '%u'`)
	if err := db2.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = 'roost-passdb' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	// The pool notices the dead connection and reconnects.
	var lastErr error
	for range 3 {
		if _, ok, err := db2.Lookup("alice@example.org"); err == nil && ok {
			return
		} else {
			lastErr = err
		}
	}
	t.Fatalf("no reconnect after pg_terminate_backend: %v", lastErr)
}

// TestHealthy: the health check (roost who --health) passes while the
// database answers and password_query compiles; it fails, naming the
// args file, when the query's table is gone or the database cannot be
// reached, and passes again once the table is back. It never runs the
// query.
func TestHealthy(t *testing.T) {
	db, conn := newUsersDB(t, `SELECT username AS user, password FROM users WHERE username = '%u'`)
	ctx := context.Background()
	if err := db.Healthy(ctx); err != nil {
		t.Fatalf("healthy database: %v", err)
	}
	if _, err := conn.Exec(ctx, `ALTER TABLE users RENAME TO users_gone`); err != nil {
		t.Fatal(err)
	}
	err := db.Healthy(ctx)
	if err == nil || !strings.Contains(err.Error(), "password_query") || !strings.Contains(err.Error(), `relation "users" does not exist`) ||
		!strings.Contains(err.Error(), db.Path()) {
		t.Fatalf("missing table: %v", err)
	}
	if _, err := conn.Exec(ctx, `ALTER TABLE users_gone RENAME TO users`); err != nil {
		t.Fatal(err)
	}
	if err := db.Healthy(ctx); err != nil {
		t.Fatalf("table back: %v", err)
	}
	// Prepared, not run: a query that would fail when executed (division
	// by zero for every row) is still healthy.
	div, _ := newUsersDB(t, `SELECT username AS user, password FROM users WHERE 1/0 = 1 AND username = '%u'`)
	if err := div.Healthy(ctx); err != nil {
		t.Fatalf("the check ran the query: %v", err)
	}

	// A database nobody listens for.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	down, err := Open(writeConf(t, fmt.Sprintf("driver = pgsql\nconnect = host=127.0.0.1 port=%d dbname=mail user=roost password=hunter2\n"+
		"password_query = SELECT username AS user, password FROM users WHERE username = '%%u'\n", port)))
	if err != nil {
		t.Fatal(err)
	}
	defer down.Close()
	start := time.Now()
	err = down.Healthy(ctx)
	if err == nil || !strings.Contains(err.Error(), down.Path()) || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("unreachable database: %v", err)
	}
	if d := time.Since(start); d > LookupTimeout+time.Second {
		t.Fatalf("unreachable database took %v", d)
	}
	// And a caller's deadline is honoured.
	cctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	time.Sleep(2 * time.Millisecond)
	if err := db.Healthy(cctx); err == nil {
		t.Fatal("expired context: healthy")
	}
}
