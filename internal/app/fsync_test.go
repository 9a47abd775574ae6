package app

import (
	"testing"

	"github.com/roost-mail/roost/internal/config"
	"github.com/roost-mail/roost/internal/mailstore/sqlstore"
)

// Each mail_fsync value reaches the stores as the same mode.
func TestStoreFsync(t *testing.T) {
	for m, want := range map[config.MailFsync]sqlstore.Fsync{
		config.FsyncOptimized: sqlstore.FsyncOptimized,
		config.FsyncAlways:    sqlstore.FsyncAlways,
		config.FsyncNever:     sqlstore.FsyncNever,
	} {
		if got := storeFsync(m); got != want || got.String() != m.String() {
			t.Errorf("storeFsync(%v) = %v, want %v", m, got, want)
		}
	}
}
