// Package pgstore lets protocol test suites run on either mail store: with
// ROOST_TEST_STORE=postgres, Open gives each test server a PostgreSQL store
// on a fresh database (pgtest); otherwise (or "sqlite") the SQLite store the
// suites were written for. CI runs the IMAP and POP3 transcript suites both
// ways (.ci/run). A package using it calls pgtest.Main from its TestMain.
package pgstore

import (
	"context"
	"os"
	"sync"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/postgres"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore/sqlite"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

// Env names the environment variable that selects the store.
const Env = "ROOST_TEST_STORE"

// Postgres reports whether the suites run on PostgreSQL.
func Postgres(t testing.TB) bool {
	switch v := os.Getenv(Env); v {
	case "", "sqlite":
		return false
	case "postgres":
		return true
	default:
		t.Fatalf("%s=%q: want sqlite or postgres", Env, v)
		return false
	}
}

var (
	mu   sync.Mutex
	dsns = map[string]string{} // sqlite data directory -> database, for reopening
)

// Open opens the store of a test server. so are the SQLite options the
// suite would use; on PostgreSQL, so.Dir names the data (the same Dir
// reopens the same database), and MaxMessageSize, Logger and Quota carry
// over. The caller closes the store.
func Open(t testing.TB, so sqlite.Options) (mailstore.Store, error) {
	t.Helper()
	if !Postgres(t) {
		return sqlite.Open(so)
	}
	mu.Lock()
	dsn := dsns[so.Dir]
	mu.Unlock()
	if dsn == "" {
		dsn = pgtest.DSN(t)
		mu.Lock()
		dsns[so.Dir] = dsn
		mu.Unlock()
	}
	return postgres.Open(context.Background(), postgres.Options{DSN: dsn, MaxMessageSize: so.MaxMessageSize,
		Logger: so.Logger, Quota: so.Quota, NoSweep: true})
}
