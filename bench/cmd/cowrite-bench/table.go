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
	unit := map[string]string{"fanout": "deliveries", "echo": "round trips", "collab": "committed ops", "scale": "committed ops"}[r.Workload]
	if unit != "" {
		row(unit, "%d (%.0f/s)", r.Ops, r.Rate)
		row("latency p50/p99/max", "%.2f / %.2f / %.2f ms", r.P50Ms, r.P99Ms, r.MaxMs)
	}
	if r.Workload == "collab" || r.Workload == "scale" {
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
	if sr := r.Scale; sr != nil {
		switch r.Workload {
		case "scale":
			row("phases", "connect %.1fs, join %.1fs", sr.ConnectSeconds, sr.JoinSeconds)
			row("server rss", "start %d, connected %d, joined %d, typing %d KiB", sr.RSSStartKiB, sr.RSSConnectedKiB, sr.RSSJoinedKiB, r.RSSAfterKiB)
			row("rss per connection", "%.2f KiB (idle, before joining)", r.RSSPerConnKiB)
			row("rss per loaded doc", "%.2f KiB (its %d editors' join state included)", sr.RSSPerDocKiB, r.Editors)
			if sr.RSSUnloadedKiB > 0 {
				row("rss unloaded", "%d KiB (connections closed, idle documents unloaded after %.1fs)", sr.RSSUnloadedKiB, sr.UnloadSeconds)
			}
			row("server cores", "%.2f while typing", sr.ServerCores)
		}
		for _, ph := range sr.Phases {
			gc := ""
			if ph.AfterGC {
				gc = " after GC"
			}
			row("  "+ph.Name, "rss %d KiB (anon %d), heap in use%s %.0f KiB, %.0f docs loaded", ph.RSSKiB, ph.AnonKiB, gc, ph.HeapKiB, ph.DocsLoaded)
		}
		switch r.Workload {
		case "gen-docs":
			row("generated", "%d documents in %.1fs", sr.GeneratedDocs, sr.GenerateSeconds)
		case "list":
			row("pages", "%d of %d (%d documents) in %.2fs", sr.ListPages, sr.ListPageSize, sr.ListDocs, sr.ListTotalSeconds)
			row("page latency", "first %.2f ms, p50 %.2f, p99 %.2f, max %.2f ms", sr.ListFirstPageMs, sr.ListPageP50Ms, sr.ListPageP99Ms, sr.ListPageMaxMs)
		}
	}
	row("tool cpu", "%.2fs", r.ToolCPU)
	if r.RSSAfterKiB > 0 && r.Scale == nil {
		row("server rss", "%d -> %d KiB (%.2f KiB/conn)", r.RSSBeforeKiB, r.RSSAfterKiB, r.RSSPerConnKiB)
	}
	row("errors", "%d", r.Errors)
	if r.Note != "" {
		row("note", "%s", r.Note)
	}
}
