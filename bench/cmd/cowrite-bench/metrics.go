package main

import (
	"bufio"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// commitMetrics is a snapshot of Cowrite's per-document commit series from
// GET /metrics (cowrite_commit_duration_seconds, cowrite_commit_batch_ops):
// how long a document's batch took from hand-off to the store until
// durable, and how many ops it held.
type commitMetrics struct {
	buckets  map[float64]float64 // le → cumulative count (duration)
	count    float64
	opsSum   float64
	opsCount float64
}

// scrapeCommits reads the commit series; nil when the server has none.
func scrapeCommits(base string) *commitMetrics {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(strings.TrimRight(base, "/") + "/metrics")
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	defer c.CloseIdleConnections()
	if resp.StatusCode != http.StatusOK {
		return nil
	}
	return parseCommits(resp.Body)
}

func parseCommits(r io.Reader) *commitMetrics {
	m := &commitMetrics{buckets: map[float64]float64{}}
	found := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
		if err != nil {
			continue
		}
		switch {
		case strings.HasPrefix(name, `cowrite_commit_duration_seconds_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(name, `cowrite_commit_duration_seconds_bucket{le="`), `"}`)
			b := math.Inf(1)
			if le != "+Inf" {
				if b, err = strconv.ParseFloat(le, 64); err != nil {
					continue
				}
			}
			m.buckets[b] = v
			found = true
		case name == "cowrite_commit_duration_seconds_count":
			m.count = v
		case name == "cowrite_commit_batch_ops_sum":
			m.opsSum = v
		case name == "cowrite_commit_batch_ops_count":
			m.opsCount = v
		}
	}
	if !found {
		return nil
	}
	return m
}

// since returns the quantiles (ms, upper bucket edges) of the commits
// between two snapshots and their mean ops per batch.
func (m *commitMetrics) since(before *commitMetrics) (p50, p99, opsPerBatch float64, n float64) {
	if m == nil || before == nil {
		return 0, 0, 0, 0
	}
	var les []float64
	for le := range m.buckets {
		les = append(les, le)
	}
	sortFloats(les)
	n = m.count - before.count
	if n <= 0 {
		return 0, 0, 0, 0
	}
	q := func(p float64) float64 {
		for _, le := range les {
			if m.buckets[le]-before.buckets[le] >= p*n {
				return le * 1000
			}
		}
		return math.Inf(1)
	}
	if d := m.opsCount - before.opsCount; d > 0 {
		opsPerBatch = (m.opsSum - before.opsSum) / d
	}
	return q(0.5), q(0.99), opsPerBatch, n
}

func sortFloats(v []float64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// scrapeGauges returns the values of the named unlabelled series from GET
// /metrics (missing names are absent from the map).
func scrapeGauges(base string, names ...string) map[string]float64 {
	out := map[string]float64{}
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	resp, err := c.Get(strings.TrimRight(base, "/") + "/metrics")
	if err != nil {
		return out
	}
	defer resp.Body.Close()
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), " ")
		if !ok || !want[name] {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
			out[name] = v
		}
	}
	return out
}
