// Package load is the engine of `roost bench`: simulated users running
// workload profiles against any IMAP or POP3 server, with per-command
// latency histograms, protocol-error detection and a report.
package load

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records latencies in microseconds in log-linear buckets, as HDR
// histograms do: values below 2*subBuckets are exact, and above that every
// power of two is split into subBuckets equal buckets, so a recorded value is
// reported with a relative error below 1/subBuckets (under 1%). It covers
// 1 µs to about 2^40 µs (12 days); larger values land in the last bucket.
// The zero value is ready to use; it is not safe for concurrent use.
type Histogram struct {
	counts   []uint64
	n        uint64
	sum      float64 // µs
	min, max int64   // µs
}

const (
	subBits    = 7
	subBuckets = 1 << subBits // 128
	maxExp     = 40
)

// bucketOf maps v (µs, >= 0) to its bucket index.
func bucketOf(v int64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	// e >= 1: v has subBits+1+e significant bits; keep the top subBits+1.
	e := bits.Len64(uint64(v)) - (subBits + 1)
	if e > maxExp {
		return bucketOf(math.MaxInt64 >> (63 - maxExp - subBits - 1))
	}
	return 2*subBuckets + (e-1)*subBuckets + int(v>>uint(e)) - subBuckets
}

// bucketHigh is the largest value that falls in bucket i.
func bucketHigh(i int) int64 {
	if i < 2*subBuckets {
		return int64(i)
	}
	e := (i-2*subBuckets)/subBuckets + 1
	top := int64((i-2*subBuckets)%subBuckets + subBuckets)
	return (top+1)<<uint(e) - 1
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	v := d.Microseconds()
	if v < 0 {
		v = 0
	}
	i := bucketOf(v)
	if i >= len(h.counts) {
		n := max(i+1, 2*len(h.counts), 2*subBuckets)
		c := make([]uint64, n)
		copy(c, h.counts)
		h.counts = c
	}
	h.counts[i]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += float64(v)
}

// Merge adds every value of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if len(o.counts) > len(h.counts) {
		c := make([]uint64, len(o.counts))
		copy(c, h.counts)
		h.counts = c
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Mean is the average latency.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/float64(h.n)) * time.Microsecond
}

// Max is the largest recorded latency (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) * time.Microsecond }

// Min is the smallest recorded latency (exact).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) * time.Microsecond }

// Quantile returns the latency at or below which a fraction q (0..1] of the
// values lie: the upper edge of the bucket holding the value of rank
// ceil(q*n), clamped to the exact maximum. 0 without values.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return time.Duration(min(bucketHigh(i), h.max)) * time.Microsecond
		}
	}
	return h.Max()
}
