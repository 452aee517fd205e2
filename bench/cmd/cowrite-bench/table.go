package main

import (
	"fmt"
	"io"
)

// printTable writes res as an aligned two-column table.
func printTable(w io.Writer, r *Result) {
	row := func(k string, format string, v ...any) {
		fmt.Fprintf(w, "%-22s %s\n", k, fmt.Sprintf(format, v...))
	}
	row("workload", "%s (%s) %s", r.Workload, r.Proto, r.URL)
	switch r.Workload {
	case "collab":
		row("docs x editors", "%d x %d", r.Docs, r.Editors)
	case "join":
		row("document", "%d bytes, version %d (prepared in %.1fs)", r.DocBytes, r.DocVersion, r.PrepSeconds)
	default:
		row("clients", "%d", r.Clients)
	}
	if r.Seconds > 0 {
		row("seconds", "%.2f", r.Seconds)
	}
	unit := map[string]string{"fanout": "deliveries", "echo": "round trips", "collab": "committed ops"}[r.Workload]
	if unit != "" {
		row(unit, "%d (%.0f/s)", r.Ops, r.Rate)
		row("latency p50/p99/max", "%.2f / %.2f / %.2f ms", r.P50Ms, r.P99Ms, r.MaxMs)
	}
	if r.Workload == "collab" {
		if r.OfferedRate > 0 {
			row("offered", "%.0f ops/s (%s), send lag p99 %.2f ms", r.OfferedRate, r.Arrivals, r.SendLagP99)
		}
		row("ack p999", "%.2f ms", r.P999Ms)
		row("broadcast p50/p99/p999", "%.2f / %.2f / %.2f ms (%d received)", r.BcastP50, r.BcastP99, r.BcastP999, r.Broadcast)
		if r.CommitP50 > 0 {
			row("doc commit p50/p99", "≤ %.1f / ≤ %.1f ms, %.2f ops per batch (server /metrics)", r.CommitP50, r.CommitP99, r.CommitOps)
		}
	}
	if r.Workload == "join" {
		row("join (content)", "%.2f ms (median of runs)", r.JoinContent)
		row("join (old version)", "%.2f ms, %d ops caught up", r.JoinOld, r.JoinOldOps)
		row("join (version 1)", "%.2f ms (%s)", r.JoinOldest, r.JoinOldestBy)
	}
	if r.ServerCPU > 0 {
		row("server cpu", "%.2fs (%.2f µs/op)", r.ServerCPU, r.ServerCPUPerOp)
	}
	row("tool cpu", "%.2fs", r.ToolCPU)
	if r.RSSAfterKiB > 0 {
		row("server rss", "%d -> %d KiB (%.2f KiB/conn)", r.RSSBeforeKiB, r.RSSAfterKiB, r.RSSPerConnKiB)
	}
	row("errors", "%d", r.Errors)
	if r.Note != "" {
		row("note", "%s", r.Note)
	}
}
