package sqlite

import (
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
	"github.com/roost-mail/roost/internal/mailstore/storetest"
)

func TestQuota(t *testing.T) {
	storetest.RunQuota(t, func(t *testing.T, limits *storetest.QuotaLimits) mailstore.Store {
		st, err := Open(Options{Dir: t.TempDir(), MaxMessageSize: storetest.MaxMessageSize,
			PollInterval: 50 * time.Millisecond, Quota: limits.Func})
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}
