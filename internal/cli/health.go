package cli

import (
	"fmt"

	"github.com/roost-mail/roost/internal/admin"
)

// runHealth is roost who --health: it asks the running server's admin
// socket for its health (admin/health.go) and prints one line per check.
// The exit status is for scripts and load balancers: 0 when the server
// answers and every check passes, 1 otherwise (server not running, store
// unreachable, ...), whatever the reason.
func runHealth(e *env, cfgFlag string, asJSON bool) int {
	var res admin.HealthResult
	if code := adminCall(e, cfgFlag, admin.Request{Cmd: "health"}, true, &res); code != exitOK {
		if asJSON {
			printJSON(e, admin.HealthResult{OK: false, Checks: []admin.CheckResult{{Name: "server", Error: "not reachable"}}})
		}
		return exitFailure
	}
	if asJSON {
		printJSON(e, res)
	} else {
		for _, c := range res.Checks {
			if c.OK {
				fmt.Fprintf(e.stdout, "%s: ok (%.3fs)\n", c.Name, c.Seconds)
			} else {
				fmt.Fprintf(e.stdout, "%s: FAILED: %s\n", c.Name, c.Error)
			}
		}
	}
	if !res.OK {
		return exitFailure
	}
	return exitOK
}
