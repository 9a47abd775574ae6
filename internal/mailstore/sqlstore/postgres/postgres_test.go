package postgres

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/blob"
	"github.com/roost-mail/roost/internal/blob/blobtest"
	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/storetest"
	"github.com/roost-mail/roost/internal/testutil/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openStore opens a store on dsn with the suite's size limit, closed when
// t ends.
func openStore(t testing.TB, dsn string, mod ...func(*Options)) *Store {
	t.Helper()
	opts := Options{DSN: dsn, MaxMessageSize: storetest.MaxMessageSize, ReconnectDelay: 50 * time.Millisecond, NoSweep: true}
	for _, f := range mod {
		f(&opts)
	}
	st, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) mailstore.Store {
		return openStore(t, pgtest.DSN(t))
	})
}

func TestPersistence(t *testing.T) {
	dsns := map[string]string{}
	storetest.RunPersistence(t, func(t *testing.T, id string) mailstore.Store {
		if dsns[id] == "" {
			dsns[id] = pgtest.DSN(t)
		}
		return openStore(t, dsns[id])
	})
}

func TestImporter(t *testing.T) {
	storetest.RunImporter(t, func(t *testing.T) mailstore.Store {
		return openStore(t, pgtest.DSN(t))
	})
}

func TestImportLedger(t *testing.T) {
	storetest.RunImportLedger(t, func(t *testing.T) mailstore.Store {
		return openStore(t, pgtest.DSN(t))
	})
}

func TestQuota(t *testing.T) {
	storetest.RunQuota(t, func(t *testing.T, limits *storetest.QuotaLimits) mailstore.Store {
		return openStore(t, pgtest.DSN(t), func(o *Options) { o.Quota = limits.Func })
	})
}

// TestBlobConformance runs the blob.Backend suite on the PostgreSQL blob
// store, with bodies of several chunks.
func TestBlobConformance(t *testing.T) {
	blobtest.Run(t, blobtest.Options{
		Open: func(t *testing.T) blob.Backend {
			return openStore(t, pgtest.DSN(t)).blobs
		},
		Age: func(t *testing.T, b blob.Backend, id string, d time.Duration) {
			bs := b.(*BlobStore)
			if _, err := bs.pool.Exec(context.Background(), `UPDATE blobs SET created = created - $2::interval WHERE id = $1`,
				id, d.String()); err != nil {
				t.Fatal(err)
			}
		},
		Large: 3*ChunkSize + 12345,
	})
}

// pgtestExternal reports whether the tests use a server named by
// ROOST_TEST_POSTGRES rather than pgtest's private cluster.
func pgtestExternal() bool { return os.Getenv(pgtest.EnvServer) != "" }
