package app

import (
	"log/slog"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestMemSettlerDue(t *testing.T) {
	m := &memSettler{minFree: 16 << 20, minGap: time.Minute} // bounds of the table below, not the defaults
	for _, tc := range []struct {
		name      string
		prev, cur memSample
		since     time.Duration
		want      bool
	}{
		{"quiet after a burst, much free", memSample{allocs: 500 << 20}, memSample{allocs: 501 << 20, free: 40 << 20}, time.Hour, true},
		{"busy: allocating more than half the free memory", memSample{allocs: 500 << 20}, memSample{allocs: 521 << 20, free: 40 << 20}, time.Hour, false},
		{"quiet, little free", memSample{allocs: 500 << 20}, memSample{allocs: 500 << 20, free: 4 << 20}, time.Hour, false},
		{"settled less than minGap ago", memSample{allocs: 500 << 20}, memSample{allocs: 501 << 20, free: 40 << 20}, 30 * time.Second, false},
		{"at the bounds", memSample{allocs: 0}, memSample{allocs: 8 << 20, free: 16 << 20}, time.Minute, true},
	} {
		if got := m.due(tc.prev, tc.cur, tc.since); got != tc.want {
			t.Errorf("%s: due = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestMemSettlerRun drives the loop with a scripted runtime: a burst
// (allocating), then quiet with free memory: one settle; then free
// memory again but within minGap: none; then it stops when told.
func TestMemSettlerRun(t *testing.T) {
	var mu sync.Mutex
	script := []memSample{
		{allocs: 0},                         // start
		{allocs: 300 << 20, free: 60 << 20}, // burst: not due
		{allocs: 301 << 20, free: 60 << 20}, // quiet: due
		{allocs: 301 << 20, free: 0},        // (read right after the settle)
		{allocs: 302 << 20, free: 40 << 20}, // quiet, free again, but within minGap
		{allocs: 302 << 20, free: 40 << 20},
	}
	i := 0
	settles := 0
	done := make(chan struct{})
	m := &memSettler{every: time.Millisecond, minFree: 16 << 20, minGap: time.Hour, log: slog.New(slog.DiscardHandler)}
	m.sample = func() memSample {
		mu.Lock()
		defer mu.Unlock()
		if i >= len(script) {
			select {
			case <-done:
			default:
				close(done)
			}
			return script[len(script)-1]
		}
		s := script[i]
		i++
		return s
	}
	m.settle = func() {
		mu.Lock()
		settles++
		if i != 3 {
			t.Errorf("settled after sample %d, want after the quiet one (3)", i)
		}
		mu.Unlock()
	}
	stop := make(chan struct{})
	ended := make(chan struct{})
	go func() { m.run(stop); close(ended) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the settler stopped sampling")
	}
	close(stop)
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the settler did not stop")
	}
	mu.Lock()
	defer mu.Unlock()
	if settles != 1 {
		t.Fatalf("%d settles, want 1", settles)
	}
}

// TestReadMemSample checks the runtime/metrics names the settler reads
// (a wrong name reads as zero, and the settler would never run), and that
// a settle gives free heap memory back: garbage freed by a GC shows as
// free, and the settle releases it.
func TestReadMemSample(t *testing.T) {
	before := readMemSample()
	if before.allocs == 0 {
		t.Fatal("heap allocations read as 0: wrong metric name?")
	}
	keep := make([][]byte, 0, 4096)
	for range 4096 {
		keep = append(keep, make([]byte, 16<<10)) // 64 MiB in small spans
	}
	runtime.KeepAlive(keep)
	keep = nil
	runtime.GC()
	mid := readMemSample()
	if mid.allocs-before.allocs < 64<<20 {
		t.Fatalf("allocations grew by %d bytes, want >= 64 MiB", mid.allocs-before.allocs)
	}
	if mid.free < 16<<20 {
		t.Fatalf("free heap after a GC of 64 MiB of garbage: %d bytes: wrong metric name?", mid.free)
	}
	newMemSettler(slog.New(slog.DiscardHandler)).settle()
	after := readMemSample()
	if after.free > mid.free/4 {
		t.Fatalf("free heap %d -> %d bytes: the settle released little", mid.free, after.free)
	}
}
