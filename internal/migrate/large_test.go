package migrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestImportLargeMaildir imports a synthetic 5000-message Maildir and
// checks that memory stays bounded (bodies stream; only file names are
// held) and reports the speed (docs/BENCHMARKS.md).
func TestImportLargeMaildir(t *testing.T) {
	n := 5000
	if testing.Short() || raceEnabled {
		n = 500
	}
	ctx := context.Background()
	root := t.TempDir()
	for _, d := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(root, d), 0o700)
	}
	var ul strings.Builder
	fmt.Fprintf(&ul, "3 V1600000000 N%d Gx\n", n+1)
	filler := strings.Repeat("All work and no play makes Jack a dull boy.\n", 200) // ~9 KB
	var total int64
	for i := 1; i <= n; i++ {
		base := fmt.Sprintf("1600000000.M%dP1.host", i)
		body := fmt.Sprintf("Message-ID: <%d@example.org>\nSubject: message %d\n\n%s", i, i, filler)
		total += int64(len(body))
		if err := os.WriteFile(filepath.Join(root, "cur", base+":2,S"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&ul, "%d :%s\n", i, base)
	}
	os.WriteFile(filepath.Join(root, "dovecot-uidlist"), []byte(ul.String()), 0o600)

	acc := openAccount(t)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := uint64(0)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() { // sample the live heap while importing
		defer close(done)
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&m)
				peak = max(peak, m.HeapInuse)
			}
		}
	}()
	start := time.Now()
	stats, err := ImportMaildir(ctx, acc, root, Options{})
	elapsed := time.Since(start)
	close(stop)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if stats.Messages != n {
		t.Fatalf("imported %d of %d", stats.Messages, n)
	}
	growth := int64(peak) - int64(before.HeapInuse)
	t.Logf("%d messages, %.1f MB in %v: %.0f messages/s, %.1f MB/s; heap in use %.1f MB before, peak %.1f MB, %.1f MB after GC",
		n, float64(total)/1e6, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), float64(total)/1e6/elapsed.Seconds(),
		float64(before.HeapInuse)/1e6, float64(peak)/1e6, float64(after.HeapInuse)/1e6)
	// The mail is 44 MB at 5000 messages; holding it would show.
	// Measured growth is about 4 MB (SQLite caches, buffers), independent
	// of n; at 500 messages (-race, -short) the check is only a smoke test.
	if growth > 16<<20 {
		t.Errorf("heap grew by %.1f MB importing %.1f MB of mail", float64(growth)/1e6, float64(total)/1e6)
	}
	st, _ := acc.Status(ctx, "INBOX")
	if int(st.Messages) != n || int(st.UIDNext) != n+1 {
		t.Fatalf("INBOX status %+v", st)
	}
}
