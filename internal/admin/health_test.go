package admin

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/roost-mail/roost/internal/mailstore"
)

// flakyStore is a store whose database can be "down".
type flakyStore struct {
	mailstore.Store
	down atomic.Bool
	hang atomic.Bool
}

func (f *flakyStore) Healthy(ctx context.Context) error {
	if f.hang.Load() {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.down.Load() {
		return errors.New("database unreachable: connection refused")
	}
	return nil
}

// TestHealth: over the socket, health is ok while the store and every
// extra check answer, and names what fails otherwise; a hanging store is
// reported within HealthTimeout.
func TestHealth(t *testing.T) {
	c, svc, _ := start(t)
	fs := &flakyStore{Store: svc.Store}
	svc.Store = fs
	var s3down atomic.Bool
	svc.Checks = []Check{{Name: "object store", Fn: func(context.Context) error {
		if s3down.Load() {
			return errors.New("bucket mail: no route to host")
		}
		return nil
	}}}
	get := func() HealthResult {
		t.Helper()
		var res HealthResult
		if err := c.Call(context.Background(), Request{Cmd: "health"}, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := get(); !res.OK || len(res.Checks) != 2 || res.Checks[0].Name != "store" || !res.Checks[1].OK {
		t.Fatalf("healthy: %+v", res)
	}
	fs.down.Store(true)
	if res := get(); res.OK || res.Checks[0].OK || res.Checks[0].Error != "database unreachable: connection refused" || !res.Checks[1].OK {
		t.Fatalf("store down: %+v", res)
	}
	fs.down.Store(false)
	s3down.Store(true)
	if res := get(); res.OK || !res.Checks[0].OK || res.Checks[1].OK {
		t.Fatalf("object store down: %+v", res)
	}
	s3down.Store(false)
	fs.hang.Store(true)
	start := time.Now()
	res := get()
	if res.OK || res.Checks[0].OK || time.Since(start) > HealthTimeout+2*time.Second {
		t.Fatalf("hanging store: %+v after %v", res, time.Since(start))
	}
	fs.hang.Store(false)
	if res := get(); !res.OK {
		t.Fatalf("recovered: %+v", res)
	}
}
