package e2e

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestHealthSQLPassdb: roost who --health checks the SQL passdb's database
// as it checks the store: "passdb <args file>: ok" while password_query
// compiles against the database, exit 1 with the reason once its table is
// gone (logins would fail), and exit 0 again once it is back, without a
// restart.
func TestHealthSQLPassdb(t *testing.T) {
	t.Parallel()
	dsn, conn := sqlUsers(t)
	conf := writeSQLConf(t, t.TempDir(), dsn)
	n := startNode(t, nodeOpts{passdb: "driver = sql\n  args = " + conf, extra: "base_dir = " + t.TempDir() + "\n"})
	health := func() (int, string) {
		t.Helper()
		stdout, stderr, code := n.cli(nil, "who", "--health", "-c", n.cfg)
		return code, string(stdout) + string(stderr)
	}
	out := waitHealth(t, health, 0, 10*time.Second)
	if !strings.Contains(out, "\npassdb "+conf+": ok") {
		t.Fatalf("healthy node:\n%s", out)
	}

	ctx := context.Background()
	if _, err := conn.Exec(ctx, "ALTER TABLE users RENAME TO users_moved"); err != nil {
		t.Fatal(err)
	}
	out = waitHealth(t, health, 1, 10*time.Second)
	if !strings.Contains(out, "store: ok") || !strings.Contains(out, "passdb "+conf+": FAILED: sql passdb "+conf+": password_query:") ||
		!strings.Contains(out, `relation "users" does not exist`) {
		t.Fatalf("health with the users table gone:\n%s", out)
	}
	if _, err := conn.Exec(ctx, "ALTER TABLE users_moved RENAME TO users"); err != nil {
		t.Fatal(err)
	}
	waitHealth(t, health, 0, 10*time.Second)
	c := n.dialIMAP(t, true)
	c.ok(`LOGIN dave@example.org d4ve`)
}
