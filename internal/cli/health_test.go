package cli

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/roost-mail/roost/internal/admin"
)

// roost who --health: exit 0 and "store: ok" with the server running,
// exit 1 without it.
func TestWhoHealth(t *testing.T) {
	cfg, _ := testConfig(t, "")
	code, stdout, stderr := run(t, "", "who", "-c", cfg, "--health")
	if code != exitFailure || !strings.Contains(stderr, "server not running") {
		t.Fatalf("no server: exit %d, %q %q; want 1", code, stdout, stderr)
	}
	_, cfg = startApp(t)
	code, stdout, stderr = run(t, "", "who", "-c", cfg, "--health")
	if code != exitOK || !strings.HasPrefix(stdout, "store: ok (") {
		t.Fatalf("running: exit %d, %q %q", code, stdout, stderr)
	}
	var res admin.HealthResult
	if err := json.Unmarshal([]byte(runOK(t, "who", "-c", cfg, "--health", "--json")), &res); err != nil || !res.OK || len(res.Checks) != 1 {
		t.Fatalf("json: %+v %v", res, err)
	}
}
