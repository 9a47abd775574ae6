package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/auth/password"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// sqlUsers creates Dovecot's example users table in a fresh database and
// returns its URL and a connection. carol's password is a BLF-CRYPT hash
// (slow on purpose: the timing check below needs a verification that
// costs something), dave's a PLAIN one with a quota column.
func sqlUsers(t *testing.T) (string, *pgx.Conn) {
	t.Helper()
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	carol, err := password.Hash("BLF-CRYPT", "c4rol-pw")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE users (
		username varchar(128) PRIMARY KEY, password varchar(256), quota text);
		INSERT INTO users VALUES ('carol@example.org', '`+carol+`', NULL), ('dave@example.org', '{PLAIN}d4ve', '*:storage=10M')`); err != nil {
		t.Fatal(err)
	}
	return dsn, conn
}

// writeSQLConf writes Dovecot's sql.conf for the users table.
func writeSQLConf(t *testing.T, dir, dsn string) string {
	t.Helper()
	p := filepath.Join(dir, "sql.conf")
	conf := "# as in Dovecot's dovecot-sql.conf.ext\ndriver = pgsql\nconnect = " + dsn + "\ndefault_pass_scheme = BLF-CRYPT\n" +
		"password_query = SELECT username AS user, password, quota AS userdb_quota_rule \\\n  FROM users WHERE username = '%u'\n" +
		"iterate_query = SELECT username AS user FROM users\n"
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSQLPassdbIMAP: users in a PostgreSQL table log in over IMAP through
// passdb driver sql; a wrong password, an unknown user and SQL injection
// attempts in the user name all get the same NO, take the same time path
// (unknown users cost a password verification too), and leave the table
// as it was.
func TestSQLPassdbIMAP(t *testing.T) {
	t.Parallel()
	dsn, conn := sqlUsers(t)
	dir := t.TempDir()
	conf := writeSQLConf(t, dir, dsn)
	n := startNode(t, nodeOpts{passdb: "driver = sql\n  args = " + conf})

	c := n.dialIMAP(t, true)
	c.ok(`LOGIN carol@example.org c4rol-pw`)
	if u := c.ok("SELECT INBOX"); !containsLine(u, "* 0 EXISTS") {
		t.Fatalf("SELECT INBOX: %q", u)
	}
	c.ok("LOGOUT")

	// Delivery finds SQL users too (LMTP RCPT does a passdb lookup).
	n.deliver("dave@example.org", []byte("Subject: to dave\r\n\r\nhi\r\n"))
	d := n.dialIMAP(t, true)
	d.ok(`LOGIN "Dave@Example.org" d4ve`) // auth_username_format %Lu
	if u := d.ok("SELECT INBOX"); !containsLine(u, "* 1 EXISTS") {
		t.Fatalf("dave's INBOX after delivery: %q", u)
	}
	// The quota column is a userdb field (userdb_quota_rule), as in Dovecot.
	if u := d.ok("GETQUOTAROOT INBOX"); !slices.ContainsFunc(u, func(l string) bool {
		return strings.HasPrefix(l, "* QUOTA ") && strings.HasSuffix(l, " 10240)")
	}) {
		t.Fatalf("dave's quota from the users table: %q", u)
	}

	fail := func(user, pass string) time.Duration {
		t.Helper()
		c := n.dialIMAP(t, true)
		start := time.Now()
		_, done := c.cmd("LOGIN " + user + " " + pass)
		took := time.Since(start)
		c.conn.Close() // login_max_preauth_per_ip counts open connections
		if done != "NO [AUTHENTICATIONFAILED] Authentication failed." {
			t.Fatalf("LOGIN %s: %q, want the one failure answer", user, done)
		}
		return took
	}
	var wrong, unknown []time.Duration
	for range 5 {
		wrong = append(wrong, fail("carol@example.org", "not-her-password"))
		unknown = append(unknown, fail("nobody@example.org", "whatever"))
	}
	for _, inj := range []string{
		`"x' OR '1'='1"`, `"carol@example.org' --"`, `"' OR 1=1; DROP TABLE users; --"`,
		`"carol@example.org'; UPDATE users SET password='{PLAIN}x"`, `"%u"`, `"$1"`,
	} {
		fail(inj, `"x"`)
		fail(inj, `"c4rol-pw"`)
	}
	// The unknown user pays a BLF-CRYPT verification as the wrong password
	// does: without it, it would answer tens of times faster.
	slices.Sort(wrong)
	slices.Sort(unknown)
	if mw, mu := wrong[2], unknown[2]; mu < mw/3 {
		t.Errorf("unknown user answered in %v, wrong password in %v (median): the unknown-user path skips the password verification", mu, mw)
	}
	var rows int
	var pw string
	if err := conn.QueryRow(context.Background(), `SELECT count(*), min(password) FILTER (WHERE username = 'carol@example.org') FROM users`).Scan(&rows, &pw); err != nil {
		t.Fatal(err)
	}
	if rows != 2 || !strings.HasPrefix(pw, "{BLF-CRYPT}") {
		t.Fatalf("users table changed by the injection attempts: %d rows, carol's password %q", rows, pw)
	}

	// A password change in the table applies at the next login (no cache).
	if _, err := conn.Exec(context.Background(), `UPDATE users SET password = '{PLAIN}n3w' WHERE username = 'carol@example.org'`); err != nil {
		t.Fatal(err)
	}
	fail("carol@example.org", "c4rol-pw")
	c = n.dialIMAP(t, true)
	c.ok("LOGIN carol@example.org n3w")
}
