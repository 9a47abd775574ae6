package sqlite

import (
	"testing"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/storetest"
)

func TestImporter(t *testing.T) {
	storetest.RunImporter(t, func(t *testing.T) mailstore.Store {
		return openTestStore(t, t.TempDir())
	})
}

func TestImportLedger(t *testing.T) {
	storetest.RunImportLedger(t, func(t *testing.T) mailstore.Store {
		return openTestStore(t, t.TempDir())
	})
}
