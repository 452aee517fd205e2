package main

import (
	"strings"
	"testing"
)

func TestCommitMetrics(t *testing.T) {
	before := parseCommits(strings.NewReader(`# HELP x
cowrite_commit_duration_seconds_bucket{le="0.001"} 10
cowrite_commit_duration_seconds_bucket{le="0.01"} 10
cowrite_commit_duration_seconds_bucket{le="0.1"} 10
cowrite_commit_duration_seconds_bucket{le="+Inf"} 10
cowrite_commit_duration_seconds_count 10
cowrite_commit_batch_ops_sum 10
cowrite_commit_batch_ops_count 10
`))
	after := parseCommits(strings.NewReader(`cowrite_commit_duration_seconds_bucket{le="0.001"} 20
cowrite_commit_duration_seconds_bucket{le="0.01"} 108
cowrite_commit_duration_seconds_bucket{le="0.1"} 110
cowrite_commit_duration_seconds_bucket{le="+Inf"} 110
cowrite_commit_duration_seconds_count 110
cowrite_commit_batch_ops_sum 310
cowrite_commit_batch_ops_count 110
`))
	p50, p99, ops, n := after.since(before)
	if n != 100 || p50 != 10 || p99 != 100 || ops != 3 {
		t.Fatalf("p50 %v p99 %v ops %v n %v", p50, p99, ops, n)
	}
	if parseCommits(strings.NewReader("other_metric 1\n")) != nil {
		t.Fatal("metrics without commit series parsed")
	}
}
