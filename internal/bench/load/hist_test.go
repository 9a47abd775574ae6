package load

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramSmallValuesExact(t *testing.T) {
	var h Histogram
	for v := 1; v <= 100; v++ {
		h.Record(time.Duration(v) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.01, 1}, {0.5, 50}, {0.95, 95}, {0.99, 99}, {1, 100}} {
		if got := h.Quantile(c.q); got != c.want*time.Microsecond {
			t.Errorf("Quantile(%v) = %v, want %v", c.q, got, c.want*time.Microsecond)
		}
	}
	if h.Count() != 100 || h.Min() != time.Microsecond || h.Max() != 100*time.Microsecond {
		t.Errorf("count %d min %v max %v", h.Count(), h.Min(), h.Max())
	}
	if h.Mean() != 50*time.Microsecond { // 50.5 truncated to whole µs
		t.Errorf("mean %v", h.Mean())
	}
}

// Against exact percentiles of sorted samples spread over 7 decades, the
// histogram must stay within its 1/128 relative error bound.
func TestHistogramRelativeError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var samples []int64
	for range 50000 {
		// log-uniform between 1 µs and 100 s
		v := int64(1)
		for e := r.IntN(27); e > 0; e-- {
			v *= 2
		}
		v += r.Int64N(v)
		samples = append(samples, v)
		h.Record(time.Duration(v) * time.Microsecond)
	}
	slices.Sort(samples)
	for _, q := range []float64{0.1, 0.5, 0.9, 0.95, 0.99, 0.999} {
		exact := samples[int(q*float64(len(samples)))-1]
		got := h.Quantile(q).Microseconds()
		if got < exact || float64(got-exact) > float64(exact)/128+1 {
			t.Errorf("q %v: histogram %d µs, exact %d µs", q, got, exact)
		}
	}
}

func TestHistogramMerge(t *testing.T) {
	var a, b, all Histogram
	for v := 1; v <= 5000; v++ {
		d := time.Duration(v*v) * time.Microsecond
		all.Record(d)
		if v%3 == 0 {
			a.Record(d)
		} else {
			b.Record(d)
		}
	}
	var m Histogram
	m.Merge(&a)
	m.Merge(&b)
	for _, q := range []float64{0.5, 0.9, 0.99, 1} {
		if m.Quantile(q) != all.Quantile(q) {
			t.Errorf("merged q %v = %v, direct %v", q, m.Quantile(q), all.Quantile(q))
		}
	}
	if m.Count() != all.Count() || m.Min() != all.Min() || m.Max() != all.Max() || m.Mean() != all.Mean() {
		t.Errorf("merged %d/%v/%v/%v, direct %d/%v/%v/%v", m.Count(), m.Min(), m.Max(), m.Mean(), all.Count(), all.Min(), all.Max(), all.Mean())
	}
}

func TestBucketRoundTrip(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<22; v += 1 + v/300 {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucketOf not monotonic at %d", v)
		}
		prev = i
		if hi := bucketHigh(i); hi < v || float64(hi-v) > float64(v)/128+1 {
			t.Fatalf("value %d: bucket %d ends at %d", v, i, hi)
		}
	}
}

func TestEmptyHistogram(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Mean() != 0 || h.Count() != 0 {
		t.Error("empty histogram reports values")
	}
}
