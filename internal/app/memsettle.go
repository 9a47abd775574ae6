package app

import (
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// memSettler hands the heap memory the Go runtime keeps after a burst of
// activity back to the OS once the server has gone quiet (DESIGN.md "Idle
// connections" 8). After a burst of logins the runtime keeps freed heap
// pages mapped up to about its next GC goal, i.e. as much again as the
// live heap (2,000 idle sessions of 2,000 users: 20 MB free but not
// released, 10 KiB per session, 150 s after the burst), and the stacks of
// sessions that grew deep in SQLite during login shrink by half per GC
// only, which an idle server runs every two minutes. A settle is one
// forced GC plus a full scavenge (debug.FreeOSMemory).
//
// It is bounded: it runs only when the runtime holds at least minFree
// bytes free and unreleased, more than twice what the last interval
// allocated (so the pages are not about to be reused: a server busy
// enough to need them never pays for a settle), and at most once per
// minGap.
type memSettler struct {
	every   time.Duration // sampling interval
	minFree uint64        // at least this many bytes free and not yet released
	minGap  time.Duration // between two settles
	sample  func() memSample
	settle  func()
	log     *slog.Logger
}

// memSample is what the settler reads from the runtime.
type memSample struct {
	allocs uint64 // bytes allocated on the heap since the process started
	free   uint64 // heap bytes free and not released to the OS
}

const (
	settleEvery   = 10 * time.Second
	settleMinFree = 8 << 20 // below this a settle is not worth a GC
	settleMinGap  = time.Minute
)

func newMemSettler(log *slog.Logger) *memSettler {
	return &memSettler{
		every:   settleEvery,
		minFree: settleMinFree,
		minGap:  settleMinGap,
		sample:  readMemSample,
		settle:  debug.FreeOSMemory,
		log:     log,
	}
}

// due reports whether a settle should run, given the samples at the
// start and the end of the last interval and the time since the last
// settle.
func (m *memSettler) due(prev, cur memSample, sinceLast time.Duration) bool {
	return cur.free >= m.minFree && cur.allocs-prev.allocs <= cur.free/2 && sinceLast >= m.minGap
}

// run samples every interval until stop is closed and settles when due.
func (m *memSettler) run(stop <-chan struct{}) {
	t := time.NewTicker(m.every)
	defer t.Stop()
	prev := m.sample()
	last := time.Now().Add(-m.minGap)
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		cur := m.sample()
		if m.due(prev, cur, time.Since(last)) {
			last = time.Now()
			m.settle()
			after := m.sample()
			m.log.Debug("returned idle memory to the OS", "free_before", cur.free, "free_after", after.free, "took", time.Since(last))
			cur = after
		}
		prev = cur
	}
}

var memMetrics = []string{"/gc/heap/allocs:bytes", "/memory/classes/heap/free:bytes"}

// readMemSample reads a memSample from runtime/metrics.
func readMemSample() memSample {
	s := make([]metrics.Sample, len(memMetrics))
	for i, name := range memMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	var out memSample
	if s[0].Value.Kind() == metrics.KindUint64 {
		out.allocs = s[0].Value.Uint64()
	}
	if s[1].Value.Kind() == metrics.KindUint64 {
		out.free = s[1].Value.Uint64()
	}
	return out
}
