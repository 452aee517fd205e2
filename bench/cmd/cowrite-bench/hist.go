package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// hist is a lock-free log-linear latency histogram in units of 1024 ns
// (~1 µs), 16 sub-buckets per power of two (about 6% precision), with an
// exact maximum. Record may be called from many goroutines.
type hist struct {
	counts [64 * 16]atomic.Uint64
	n      atomic.Uint64
	max    atomic.Int64 // ns
}

func bucketOf(v uint64) int {
	if v < 16 {
		return int(v)
	}
	e := bits.Len64(v) - 5
	return (e+1)*16 + int((v>>uint(e))&15)
}

func bucketValue(i int) uint64 {
	if i < 16 {
		return uint64(i)
	}
	e := i/16 - 1
	return uint64(i%16+16) << uint(e)
}

func (h *hist) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d)>>10)].Add(1)
	h.n.Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// quantile returns the q-quantile (0 < q <= 1) in milliseconds, or 0 when
// empty. The value is the bucket's upper edge.
func (h *hist) quantile(q float64) float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	want := uint64(q*float64(n) + 0.5)
	if want < 1 {
		want = 1
	}
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= want {
			v := float64(bucketValue(i+1)<<10) / 1e6
			if m := h.maxMs(); v > m {
				v = m
			}
			return v
		}
	}
	return h.maxMs()
}

func (h *hist) maxMs() float64 { return float64(h.max.Load()) / 1e6 }

// buckets returns the non-empty buckets as [upper edge ms, count] pairs
// (the latency histogram of the JSON result).
func (h *hist) buckets() [][2]float64 {
	var out [][2]float64
	m := h.maxMs()
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			out = append(out, [2]float64{min(float64(bucketValue(i+1)<<10)/1e6, m), float64(c)})
		}
	}
	return out
}
