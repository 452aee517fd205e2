// Command bench-report aggregates the JSON results that bench/run.sh
// collects with cowrite-bench (one file per run, labelled
// variant/case/peer): it takes the median of each group, compares Cowrite
// with its peer of the same variant and case, checks the targets of the
// benchmark issue, and writes summary.json, summary.md (Markdown tables)
// and chart.svg (throughput, latency and resource figures per peer, drawn
// here without external tools).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// run is the part of cowrite-bench's Result this report reads.
type run struct {
	Label          string  `json:"label"`
	Workload       string  `json:"workload"`
	Rate           float64 `json:"rate"`
	P50Ms          float64 `json:"p50_ms"`
	P99Ms          float64 `json:"p99_ms"`
	MaxMs          float64 `json:"max_ms"`
	BcastP99       float64 `json:"bcast_p99_ms"`
	Errors         int64   `json:"errors"`
	ServerCPUPerOp float64 `json:"server_cpu_us_per_op"`
	ToolCPU        float64 `json:"tool_cpu_s"`
	Seconds        float64 `json:"seconds"`
	RSSPerConnKiB  float64 `json:"rss_per_conn_kib"`
	JoinContent    float64 `json:"join_content_ms"`
	JoinOld        float64 `json:"join_old_ms"`
	JoinOldest     float64 `json:"join_oldest_ms"`
	JoinOldestBy   string  `json:"join_oldest_reply"`
	DocBytes       int     `json:"doc_bytes"`
	DocVersion     uint64  `json:"doc_version"`
	Note           string  `json:"note"`
	CommitP50      float64 `json:"commit_p50_ms"`
	CommitP99      float64 `json:"commit_p99_ms"`
	CommitOps      float64 `json:"commit_ops_per_batch"`
}

// Group is the medians of one variant/case/peer.
type Group struct {
	Variant string `json:"variant"`
	Case    string `json:"case"`
	Peer    string `json:"peer"`
	Runs    int    `json:"runs"`
	Errors  int64  `json:"errors"`
	// Medians over the runs.
	Rate          float64   `json:"rate"`
	Rates         []float64 `json:"rates"`
	P50Ms         float64   `json:"p50_ms"`
	P99Ms         float64   `json:"p99_ms"`
	MaxMs         float64   `json:"max_ms"`
	BcastP99Ms    float64   `json:"bcast_p99_ms,omitempty"`
	CPUPerOpUs    float64   `json:"server_cpu_us_per_op"`
	ToolCPUShare  float64   `json:"tool_cpu_share"`
	RSSPerConnKiB float64   `json:"rss_per_conn_kib,omitempty"`
	JoinContentMs float64   `json:"join_content_ms,omitempty"`
	JoinOldMs     float64   `json:"join_old_ms,omitempty"`
	JoinOldestMs  float64   `json:"join_oldest_ms,omitempty"`
	JoinOldestBy  string    `json:"join_oldest_reply,omitempty"`
	DocBytes      int       `json:"doc_bytes,omitempty"`
	DocVersion    uint64    `json:"doc_version,omitempty"`
	Notes         []string  `json:"notes,omitempty"`
	CommitP50Ms   float64   `json:"commit_p50_ms,omitempty"`
	CommitP99Ms   float64   `json:"commit_p99_ms,omitempty"`
	CommitOps     float64   `json:"commit_ops_per_batch,omitempty"`
}

// Target is one goal of the issue, met or not.
type Target struct {
	Name   string  `json:"name"`
	Goal   string  `json:"goal"`
	Value  float64 `json:"value"`
	Figure string  `json:"figure"`
	Met    bool    `json:"met"`
}

// Summary is summary.json.
type Summary struct {
	Date    string   `json:"date"`
	Meta    string   `json:"meta"`
	Machine Machine  `json:"machine"`
	Groups  []*Group `json:"groups"`
	Targets []Target `json:"targets"`
}

// Machine describes where the figures were taken.
type Machine struct {
	NProc   int    `json:"nproc"`
	CPU     string `json:"cpu"`
	LoadAvg string `json:"loadavg"`
	Go      string `json:"go"`
}

func main() {
	raw := flag.String("raw", "bench/results/raw", "directory of cowrite-bench JSON results")
	out := flag.String("out", "bench/results", "directory for summary.json, summary.md and chart.svg")
	meta := flag.String("meta", "", "free text stored in the summary (run settings)")
	flag.Parse()
	s, err := summarize(*raw)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-report:", err)
		os.Exit(1)
	}
	s.Meta = *meta
	md := markdown(s)
	fmt.Print(md)
	b, _ := json.MarshalIndent(s, "", "  ")
	for name, data := range map[string][]byte{
		"summary.json": append(b, '\n'),
		"summary.md":   []byte(md),
		"chart.svg":    []byte(chart(s)),
	} {
		if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench-report:", err)
			os.Exit(1)
		}
	}
}

func summarize(dir string) (*Summary, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no results in %s", dir)
	}
	runs := map[string][]run{}
	var order []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r run
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if strings.Count(r.Label, "/") != 2 {
			return nil, fmt.Errorf("%s: label %q is not variant/case/peer", f, r.Label)
		}
		if _, ok := runs[r.Label]; !ok {
			order = append(order, r.Label)
		}
		runs[r.Label] = append(runs[r.Label], r)
	}
	s := &Summary{Date: time.Now().UTC().Format(time.RFC3339), Machine: machine()}
	for _, label := range order {
		s.Groups = append(s.Groups, aggregate(label, runs[label]))
	}
	slices.SortStableFunc(s.Groups, func(a, b *Group) int {
		return strings.Compare(a.Variant+"/"+caseKey(a.Case)+"/"+peerKey(a.Peer), b.Variant+"/"+caseKey(b.Case)+"/"+peerKey(b.Peer))
	})
	s.Targets = targets(s)
	return s, nil
}

// caseKey orders cases as the issue lists them.
func caseKey(c string) string {
	i := slices.Index([]string{"echo", "fanout", "idle", "collab-1x20", "collab-100x5", "join"}, c)
	return fmt.Sprintf("%d%s", i+1, c)
}

// peerKey puts Cowrite's side first.
func peerKey(p string) string {
	if isCowrite(p) {
		return "0" + p
	}
	return "1" + p
}

func isCowrite(peer string) bool { return peer == "cowrite" || peer == "sio-echo" }

func median(rs []run, f func(run) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	n := len(v)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

func aggregate(label string, rs []run) *Group {
	p := strings.SplitN(label, "/", 3)
	g := &Group{Variant: p[0], Case: p[1], Peer: p[2], Runs: len(rs)}
	for _, r := range rs {
		g.Errors += r.Errors
		g.Rates = append(g.Rates, r.Rate)
		if r.Note != "" {
			g.Notes = append(g.Notes, r.Note)
		}
	}
	g.Rate = median(rs, func(r run) float64 { return r.Rate })
	g.P50Ms = median(rs, func(r run) float64 { return r.P50Ms })
	g.P99Ms = median(rs, func(r run) float64 { return r.P99Ms })
	g.MaxMs = median(rs, func(r run) float64 { return r.MaxMs })
	g.BcastP99Ms = median(rs, func(r run) float64 { return r.BcastP99 })
	g.CPUPerOpUs = median(rs, func(r run) float64 { return r.ServerCPUPerOp })
	g.ToolCPUShare = median(rs, func(r run) float64 {
		if r.Seconds == 0 {
			return 0
		}
		return r.ToolCPU / r.Seconds
	})
	g.RSSPerConnKiB = median(rs, func(r run) float64 { return r.RSSPerConnKiB })
	g.JoinContentMs = median(rs, func(r run) float64 { return r.JoinContent })
	g.JoinOldMs = median(rs, func(r run) float64 { return r.JoinOld })
	g.JoinOldestMs = median(rs, func(r run) float64 { return r.JoinOldest })
	g.CommitP50Ms = median(rs, func(r run) float64 { return r.CommitP50 })
	g.CommitP99Ms = median(rs, func(r run) float64 { return r.CommitP99 })
	g.CommitOps = median(rs, func(r run) float64 { return r.CommitOps })
	last := rs[len(rs)-1]
	g.JoinOldestBy, g.DocBytes, g.DocVersion = last.JoinOldestBy, last.DocBytes, last.DocVersion
	return g
}

// find returns the group of variant/case whose peer is (or is not) Cowrite.
func (s *Summary) find(variant, c string, cowrite bool) *Group {
	for _, g := range s.Groups {
		if g.Variant == variant && g.Case == c && isCowrite(g.Peer) == cowrite {
			return g
		}
	}
	return nil
}

// targets checks the goals on the first variant measured (pinned
// when present), where the server has exactly one core.
func targets(s *Summary) []Target {
	variant := "pinned"
	if s.find(variant, "echo", true) == nil && len(s.Groups) > 0 {
		variant = s.Groups[0].Variant
	}
	var ts []Target
	ratio := func(name, c, goal string, f func(*Group) float64, min, max float64) {
		a, b := s.find(variant, c, true), s.find(variant, c, false)
		if a == nil || b == nil || f(b) == 0 {
			return
		}
		v := f(a) / f(b)
		met := (min == 0 || v >= min) && (max == 0 || v <= max)
		ts = append(ts, Target{name, goal, v, fmt.Sprintf("%.2f× (%.4g vs %.4g)", v, f(a), f(b)), met})
	}
	rate := func(g *Group) float64 { return g.Rate }
	ratio("echo round trips/s vs Node socket.io", "echo", "≥ 2×", rate, 2, 0)
	ratio("fanout server CPU per delivery vs Node", "fanout", "≤ ⅓", func(g *Group) float64 { return g.CPUPerOpUs }, 0, 1.0/3)
	if g := s.find(variant, "idle", true); g != nil {
		ts = append(ts, Target{"RSS per idle connection", "≤ 10 KiB", g.RSSPerConnKiB, fmt.Sprintf("%.2f KiB", g.RSSPerConnKiB), g.RSSPerConnKiB <= 10})
	}
	ratio("collab 1×20 committed ops/s vs ShareDB", "collab-1x20", "≥ 4×", rate, 4, 0)
	ratio("collab 100×5 committed ops/s vs ShareDB", "collab-100x5", "≥ 4×", rate, 4, 0)
	if g := s.find(variant, "collab-100x5", true); g != nil {
		ts = append(ts, Target{"collab 100×5 p99 ack latency", "≤ 40 ms", g.P99Ms, fmt.Sprintf("%.1f ms", g.P99Ms), g.P99Ms <= 40})
	}
	for _, g := range s.Groups {
		if g.Case == "join" {
			ts = append(ts, Target{"join 1 MB / 100k ops (content)", "< 50 ms", g.JoinContentMs, fmt.Sprintf("%.1f ms (%d bytes, version %d)", g.JoinContentMs, g.DocBytes, g.DocVersion), g.JoinContentMs < 50})
			ts = append(ts, Target{"join with an old version (head-1000)", "< 50 ms", g.JoinOldMs, fmt.Sprintf("%.1f ms", g.JoinOldMs), g.JoinOldMs < 50})
			break
		}
	}
	return ts
}

func machine() Machine {
	m := Machine{NProc: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.TrimSpace(string(b))
	}
	return m
}

func markdown(s *Summary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Results of %s (%s); %d CPUs (%s), load average %s.\n\n", s.Date, s.Meta, s.Machine.NProc, s.Machine.CPU, s.Machine.LoadAvg)
	b.WriteString("| variant | case | server | runs | rate/s (median) | rates | p50 ms | p99 ms | max ms | server CPU µs/op | tool CPU | errors |\n")
	b.WriteString("| --- | --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, g := range s.Groups {
		if g.Case == "idle" || g.Case == "join" {
			continue
		}
		rates := make([]string, len(g.Rates))
		for i, r := range g.Rates {
			rates[i] = fmt.Sprintf("%.0f", r)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %d | %.0f | %s | %.2f | %.2f | %.2f | %.1f | %.0f%% | %d |\n",
			g.Variant, g.Case, g.Peer, g.Runs, g.Rate, strings.Join(rates, ", "), g.P50Ms, g.P99Ms, g.MaxMs, g.CPUPerOpUs, g.ToolCPUShare*100, g.Errors)
	}
	commits := false
	for _, g := range s.Groups {
		if g.CommitP50Ms > 0 {
			if !commits {
				b.WriteString("\nCowrite's per-document commits (hand-off to the store until durable, from /metrics; bucket upper edges):\n\n| variant | case | commit p50 ms | commit p99 ms | ops per document batch |\n| --- | --- | ---: | ---: | ---: |\n")
				commits = true
			}
			fmt.Fprintf(&b, "| %s | %s | ≤ %.1f | ≤ %.1f | %.2f |\n", g.Variant, g.Case, g.CommitP50Ms, g.CommitP99Ms, g.CommitOps)
		}
	}
	b.WriteString("\n| case | server | runs | RSS per idle connection (KiB) |\n| --- | --- | ---: | ---: |\n")
	for _, g := range s.Groups {
		if g.Case == "idle" {
			fmt.Fprintf(&b, "| %s/idle | %s | %d | %.2f |\n", g.Variant, g.Peer, g.Runs, g.RSSPerConnKiB)
		}
	}
	for _, g := range s.Groups {
		if g.Case == "join" {
			fmt.Fprintf(&b, "\nJoin (%s): document of %d bytes at version %d — doc:join without version %.2f ms, with version head-1000 %.2f ms, with version 1 %.2f ms (%s); medians of 5.\n",
				g.Variant, g.DocBytes, g.DocVersion, g.JoinContentMs, g.JoinOldMs, g.JoinOldestMs, g.JoinOldestBy)
		}
	}
	b.WriteString("\n| target | goal | measured | met |\n| --- | --- | --- | --- |\n")
	for _, t := range s.Targets {
		met := "**missed**"
		if t.Met {
			met = "met"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Name, t.Goal, t.Figure, met)
	}
	var notes []string
	for _, g := range s.Groups {
		for _, n := range g.Notes {
			notes = append(notes, fmt.Sprintf("%s/%s/%s: %s", g.Variant, g.Case, g.Peer, n))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\nNotes from the runs:\n\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}
