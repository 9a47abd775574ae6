package e2e

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// TestPostgresStore runs the real binary with mail_location =
// postgres:<URL> on a fresh database and drives it with real clients:
// Python's imaplib APPENDs and FETCHes, LMTP delivers, Python's poplib
// RETRs what both stored and deletes it. The rows are checked in the
// database, so the test fails if the server used any other store; and
// `roost config check` must not print the database password.
func TestPostgresStore(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	// A password in the URL (the private cluster trusts local
	// connections, so any password is accepted): it must stay hidden.
	dsn := strings.Replace(db.DSN, "postgres://roost@", "postgres://roost:Pg-s3cret@", 1)
	if !strings.Contains(dsn, "Pg-s3cret") {
		// ROOST_TEST_POSTGRES with a real password: keep it as it is.
		dsn = db.DSN
	}
	dir := t.TempDir()
	n := startNode(t, nodeOpts{mailLocation: "postgres:" + dsn, extra: "base_dir = " + dir + "\n"})

	// config check: valid (a local socket needs no TLS), password hidden.
	stdout, stderr, code := n.cli(nil, "config", "check", "-c", n.cfg)
	if code != 0 {
		t.Fatalf("config check: exit %d\n%s%s", code, stdout, stderr)
	}
	stdout, stderr, _ = n.cli(nil, "config", "dump", "-c", n.cfg)
	if bytes.Contains(stdout, []byte("Pg-s3cret")) || bytes.Contains(stderr, []byte("Pg-s3cret")) {
		t.Fatalf("roost config prints the database password:\n%s%s", stdout, stderr)
	}
	if !bytes.Contains(stdout, []byte("mail_location = postgres:")) {
		t.Fatalf("roost config does not show mail_location:\n%s", stdout)
	}

	// IMAP: APPEND then FETCH, through imaplib.
	appended := crlf(corpus()[0].raw)
	c := n.imaplib(t, "starttls", "")
	c.ok("login", "alice", alicePass)
	c.ok("append", "INBOX", `(\Flagged)`, nil, appended)
	// LMTP delivery (swaks) to the same mailbox.
	lmtpBody := "From: sender@example.org\r\nSubject: via LMTP to PostgreSQL\r\n\r\nbody\r\n"
	if out, code := n.swaks(n.lmtpPort, lmtpBody, "--from", "sender@example.org", "--to", "alice@example.com"); code != 0 ||
		!strings.Contains(out, "250 2.0.0 <alice@example.com>") {
		t.Fatalf("swaks exit %d:\n%s", code, out)
	}
	c.ok("select", "INBOX")
	if got := literalOf(t, fetchOne(t, c, "1", "(BODY.PEEK[])"), "BODY[]"); !bytes.Equal(got, appended) {
		t.Fatalf("FETCH 1 BODY[] differs from the APPEND: %s", diffAt(got, appended))
	}
	if fl := flagsIn(t, fetchOne(t, c, "1", "(FLAGS)")); !strings.Contains(strings.Join(fl, " "), `\Flagged`) {
		t.Fatalf("FETCH 1 FLAGS = %v, want \\Flagged", fl)
	}
	// The delivered message: trace fields, then the body as sent.
	delivered := literalOf(t, fetchOne(t, c, "2", "(BODY.PEEK[])"), "BODY[]")
	if !bytes.HasPrefix(delivered, []byte("Return-Path: <sender@example.org>\r\n")) || !bytes.HasSuffix(delivered, []byte(lmtpBody)) {
		t.Fatalf("FETCH 2 BODY[] is not the LMTP delivery: %q", delivered)
	}
	c.logout()

	// The mail is in PostgreSQL.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, size int64
	if err := conn.QueryRow(ctx, `SELECT count(*), coalesce(sum(m.size), 0) FROM messages m
		JOIN mailboxes b ON b.id = m.mailbox_id JOIN accounts a ON a.id = b.account_id
		WHERE a.username = 'alice' AND b.name = 'INBOX'`).Scan(&rows, &size); err != nil {
		t.Fatal(err)
	}
	if rows != 2 || size != int64(len(appended)+len(delivered)) {
		t.Fatalf("database holds %d messages of %d octets for alice's INBOX, want 2 of %d", rows, size, len(appended)+len(delivered))
	}

	// POP3: RETR both, then DELE; the maildrop lock is the database's.
	res := n.poplib(popReq{Mode: "stls", Action: "fetch", Delete: true, Quit: true})
	if len(res.Msgs) != 2 || !popBodyEqual(res.Msgs[0], appended) || !popBodyEqual(res.Msgs[1], delivered) {
		t.Fatalf("POP3 RETR got %d messages; stat %v", len(res.Msgs), res.Stat)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
		JOIN accounts a ON a.id = b.account_id WHERE a.username = 'alice'`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Fatalf("%d messages left after POP3 DELE and QUIT", rows)
	}
}

// popBodyEqual compares a message retrieved by poplib (lines rejoined with
// CRLF, see popScript) with what was stored.
func popBodyEqual(got, want []byte) bool {
	return bytes.Equal(got, want) || bytes.Equal(got, append(bytes.Clone(want), '\r', '\n'))
}
