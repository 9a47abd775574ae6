package sqlite

import (
	"os"
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/storetest"
)

// TestPurgeAccount runs the purge suite; a purged account's directory
// goes, and bob's stays.
func TestPurgeAccount(t *testing.T) {
	var aliceDir string
	storetest.RunPurge(t, func(t *testing.T) mailstore.Store {
		st := openTestStore(t, t.TempDir())
		aliceDir, _ = st.AccountDir("alice")
		return st
	}, func(t *testing.T, ms mailstore.Store) {
		if _, err := os.Stat(aliceDir); !os.IsNotExist(err) {
			t.Fatalf("account directory after purge: %v", err)
		}
		ents, _ := os.ReadDir(ms.(*Store).accountsDir)
		if len(ents) != 1 || ents[0].Name() != "bob" {
			t.Errorf("accounts left: %v, want only bob", ents)
		}
	})
}
