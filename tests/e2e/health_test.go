package e2e

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// TestHealthPostgresOutage: roost who --health on a node whose PostgreSQL
// database goes away and comes back. While the database refuses
// connections (its sessions terminated, new ones not allowed, as during a
// restart) the node reports the store unhealthy with exit status 1; once
// the database is back the node reconnects by itself, health returns to
// exit 0, and IMAP and LMTP serve again without a restart of the node.
func TestHealthPostgresOutage(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	n := startNode(t, nodeOpts{mailLocation: "postgres:" + db.DSN, extra: "base_dir = " + t.TempDir() + "\n"})

	health := func() (int, string) {
		t.Helper()
		stdout, stderr, code := n.cli(nil, "who", "--health", "-c", n.cfg)
		return code, string(stdout) + string(stderr)
	}
	// The admin socket appears just after the listeners.
	if out := waitHealth(t, health, 0, 10*time.Second); !strings.HasPrefix(out, "store: ok") {
		t.Fatalf("healthy node:\n%s", out)
	}

	// The maintenance database of the same server, as its superuser.
	u, err := url.Parse(db.DSN)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/postgres"
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	exec := func(sql string) {
		t.Helper()
		if _, err := admin.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	ident := pgx.Identifier{db.Name}.Sanitize()
	kill := "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + db.Name + "' AND pid <> pg_backend_pid()"

	// 1. Every connection of the node is cut: it reconnects at once.
	exec(kill)
	waitHealth(t, health, 0, 15*time.Second)
	c := n.dialIMAP(t, true)
	c.login()
	c.ok("SELECT INBOX")

	// 2. The database is down (connections refused) for a while.
	exec("ALTER DATABASE " + ident + " ALLOW_CONNECTIONS false")
	t.Cleanup(func() { admin.Exec(context.Background(), "ALTER DATABASE "+ident+" ALLOW_CONNECTIONS true") })
	exec(kill)
	out := waitHealth(t, health, 1, 15*time.Second)
	if !strings.Contains(out, "store: FAILED") {
		t.Fatalf("health while the database is down:\n%s", out)
	}
	if _, done, err := c.tryCmd("NOOP"); err == nil && strings.HasPrefix(done, "OK") {
		// NOOP may succeed from the session's state; a write must not.
		msg := "Subject: during outage\r\n\r\nx\r\n"
		if _, done, err := c.tryCmd("APPEND INBOX {" + strconv.Itoa(len(msg)) + "+}\r\n" + msg); err == nil && strings.HasPrefix(done, "OK") {
			t.Fatalf("APPEND succeeded while the database refused connections")
		}
	}

	// 3. The database is back: the node heals without a restart.
	exec("ALTER DATABASE " + ident + " ALLOW_CONNECTIONS true")
	waitHealth(t, health, 0, 20*time.Second)
	n.deliver("alice", []byte("Subject: after the outage\r\n\r\nback\r\n"))
	c = n.dialIMAP(t, true)
	c.login()
	if u := c.ok("SELECT INBOX"); !containsLine(u, "* 1 EXISTS") {
		t.Fatalf("SELECT after the outage: %q", u)
	}
	msg := "Subject: appended after the outage\r\n\r\nx\r\n"
	c.ok("APPEND INBOX {" + strconv.Itoa(len(msg)) + "+}\r\n" + msg)
}

// waitHealth polls health until it exits with want, and returns its output.
func waitHealth(t *testing.T, health func() (int, string), want int, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		code, out := health()
		if code == want {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("who --health still exits %d after %v, want %d:\n%s", code, within, want, out)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
