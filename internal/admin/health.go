package admin

import (
	"context"
	"time"
)

// Health (the "health" command, roost who --health): whether this node can
// serve. A node is healthy when every check passes: the mail store reaches
// its database (for PostgreSQL a ping and a live LISTEN connection, so
// that changes made through other nodes reach this node's sessions), and
// each extra Check (the object store of mail_blob_location) answers. The
// checks run with HealthTimeout each, so an unreachable database makes the
// node unhealthy within that time instead of hanging the caller. A load
// balancer or monitoring script uses the exit status of roost who
// --health (0 healthy, 1 not).

// HealthTimeout bounds each health check.
const HealthTimeout = 3 * time.Second

// Check is one named health check.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// HealthChecker is implemented by stores that depend on a service that can
// go away (the PostgreSQL store). Stores without it (SQLite, in-process)
// are healthy while the server runs.
type HealthChecker interface {
	Healthy(ctx context.Context) error
}

// HealthResult is the result of health.
type HealthResult struct {
	OK     bool          `json:"ok"`
	Checks []CheckResult `json:"checks"`
}

// CheckResult is the outcome of one check.
type CheckResult struct {
	Name    string  `json:"name"`
	OK      bool    `json:"ok"`
	Error   string  `json:"error,omitempty"`
	Seconds float64 `json:"seconds"`
}

// health runs the store's check and the extra checks, one after another
// (they are few and each is bounded by HealthTimeout).
func (s *Service) health(ctx context.Context) HealthResult {
	checks := []Check{{Name: "store", Fn: func(ctx context.Context) error {
		if hc, ok := s.Store.(HealthChecker); ok {
			return hc.Healthy(ctx)
		}
		return nil
	}}}
	checks = append(checks, s.Checks...)
	res := HealthResult{OK: true}
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, HealthTimeout)
		start := time.Now()
		err := c.Fn(cctx)
		cancel()
		r := CheckResult{Name: c.Name, OK: err == nil, Seconds: time.Since(start).Seconds()}
		if err != nil {
			r.Error = err.Error()
			res.OK = false
		}
		res.Checks = append(res.Checks, r)
	}
	return res
}
