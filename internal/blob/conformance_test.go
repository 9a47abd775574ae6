package blob_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/blob"
	"github.com/roost-mail/roost/internal/blob/blobtest"
)

// TestConformance runs the blob.Backend conformance suite (shared with the
// PostgreSQL and S3 backends) on the file store.
func TestConformance(t *testing.T) {
	blobtest.Run(t, blobtest.Options{
		Open: func(t *testing.T) blob.Backend {
			s, err := blob.Open(filepath.Join(t.TempDir(), "msg"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Age: func(t *testing.T, b blob.Backend, id string, d time.Duration) {
			s := b.(*blob.Store)
			old := time.Now().Add(-d)
			if err := os.Chtimes(filepath.Join(s.Dir(), id[:2], id), old, old); err != nil {
				t.Fatal(err)
			}
		},
	})
}
