package load

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Report is the result of a run. Latencies are in milliseconds in JSON.
type Report struct {
	Profile     string    `json:"profile"`
	Proto       string    `json:"proto"`
	Addr        string    `json:"addr"`
	TLS         string    `json:"tls"`
	Concurrency int       `json:"concurrency"`
	Users       int       `json:"users"`
	Started     time.Time `json:"started"`
	Seconds     float64   `json:"seconds"`
	Sessions    uint64    `json:"sessions"` // completed without error
	// Ops counts successful commands (sessions and connects excluded);
	// OpsPerSec is the throughput figure the comparison uses, and
	// All the latency of every such command together.
	Ops            uint64          `json:"ops"`
	OpsPerSec      float64         `json:"ops_per_sec"`
	All            OpReport        `json:"all"`
	Errors         uint64          `json:"errors"`
	ProtocolErrors uint64          `json:"protocol_errors"`
	ErrorsByKind   map[Kind]uint64 `json:"errors_by_kind,omitempty"`
	ErrorSamples   []string        `json:"error_samples,omitempty"`
	Commands       []OpReport      `json:"commands"`
	Memory         *MemoryReport   `json:"memory,omitempty"`
	// ServerCPUSeconds is the CPU time the server's process tree used
	// during the run (with --server-pid); per successful command it is a
	// measure of efficiency that does not depend on how busy the machine
	// was.
	ServerCPUSeconds float64 `json:"server_cpu_seconds,omitempty"`
	ServerCPUPerOpMs float64 `json:"server_cpu_ms_per_op,omitempty"`
	MemoryError      string  `json:"memory_error,omitempty"`
}

// OpReport is one operation's throughput and latency.
type OpReport struct {
	Name      string  `json:"name"`
	Count     uint64  `json:"count"`
	Errors    uint64  `json:"errors"`
	PerSec    float64 `json:"per_sec"`
	MeanMs    float64 `json:"mean_ms"`
	P50Ms     float64 `json:"p50_ms"`
	P95Ms     float64 `json:"p95_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	hist      *Histogram
	isCommand bool
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func opReport(name string, h *Histogram, errs uint64, secs float64) OpReport {
	r := OpReport{Name: name, Count: h.Count(), Errors: errs, MeanMs: ms(h.Mean()),
		P50Ms: ms(h.Quantile(0.50)), P95Ms: ms(h.Quantile(0.95)), P99Ms: ms(h.Quantile(0.99)), MaxMs: ms(h.Max()), hist: h}
	if secs > 0 {
		r.PerSec = float64(h.Count()) / secs
	}
	return r
}

// notCommands are operation names that are not protocol commands.
var notCommands = map[string]bool{"session": true, "connect": true}

func (r *Report) finish(e *Engine, workers []*Worker, elapsed time.Duration) {
	r.Seconds = elapsed.Seconds()
	merged := map[string]*opStat{}
	for _, w := range workers {
		w.mu.Lock()
		for name, s := range w.ops {
			m := merged[name]
			if m == nil {
				m = &opStat{}
				merged[name] = m
			}
			m.hist.Merge(&s.hist)
			m.errors += s.errors
		}
		w.mu.Unlock()
	}
	var all Histogram
	for _, name := range sortedOps(merged) {
		s := merged[name]
		or := opReport(name, &s.hist, s.errors, r.Seconds)
		if name == "session" {
			r.Sessions = s.hist.Count()
		}
		if !notCommands[name] {
			all.Merge(&s.hist)
			r.Ops += s.hist.Count()
		}
		r.Commands = append(r.Commands, or)
	}
	r.All = opReport("all commands", &all, 0, r.Seconds)
	r.OpsPerSec = r.All.PerSec
	r.Errors = uint64(e.errs.Load())
	r.ProtocolErrors = uint64(e.perrs.Load())
	e.mu.Lock()
	if len(e.kinds) > 0 {
		r.ErrorsByKind = map[Kind]uint64{}
		for k, n := range e.kinds {
			r.ErrorsByKind[k] = n
		}
	}
	kinds := make([]string, 0, len(e.samples))
	for k := range e.samples {
		kinds = append(kinds, string(k))
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		r.ErrorSamples = append(r.ErrorSamples, e.samples[Kind(k)]...)
	}
	e.mu.Unlock()
}

// WriteText prints the report as a table.
func (r *Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\nprofile %s (%s) against %s, TLS %s: %d concurrent users (%d accounts), %.1f s\n",
		r.Profile, r.Proto, r.Addr, r.TLS, r.Concurrency, r.Users, r.Seconds)
	fmt.Fprintf(w, "%d commands (%.1f/s), %d sessions (%.1f/s); errors %d, of which protocol errors %d\n\n",
		r.Ops, r.OpsPerSec, r.Sessions, float64(r.Sessions)/max(r.Seconds, 1e-9), r.Errors, r.ProtocolErrors)
	fmt.Fprintf(w, "%-28s %9s %7s %9s %9s %9s %9s %9s\n", "operation", "count", "errors", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms")
	row := func(o OpReport) {
		fmt.Fprintf(w, "%-28s %9d %7d %9.1f %9.2f %9.2f %9.2f %9.2f\n", o.Name, o.Count, o.Errors, o.PerSec, o.P50Ms, o.P95Ms, o.P99Ms, o.MaxMs)
	}
	for _, o := range r.Commands {
		row(o)
	}
	row(r.All)
	if len(r.ErrorsByKind) > 0 {
		var parts []string
		for k, n := range r.ErrorsByKind {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
		sort.Strings(parts)
		fmt.Fprintf(w, "\nerrors by kind: %s\n", strings.Join(parts, ", "))
		for _, s := range r.ErrorSamples {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(w, "\nserver memory (%d processes before, %d during): RSS %d -> %d KiB, PSS %d -> %d KiB\n",
			m.Before.Processes, m.During.Processes, m.Before.RSSKiB, m.During.RSSKiB, m.Before.PSSKiB, m.During.PSSKiB)
		fmt.Fprintf(w, "per connection (%d): RSS %.1f KiB, PSS %.1f KiB\n", m.Connections, m.RSSPerConn, m.PSSPerConn)
	}
	if r.ServerCPUSeconds > 0 {
		fmt.Fprintf(w, "\nserver CPU: %.2f s, %.3f ms per command\n", r.ServerCPUSeconds, r.ServerCPUPerOpMs)
	}
	if r.MemoryError != "" {
		fmt.Fprintf(w, "\nserver memory: %s\n", r.MemoryError)
	}
}
