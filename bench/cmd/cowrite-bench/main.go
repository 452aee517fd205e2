// Command cowrite-bench is the load generator of Cowrite's benchmarks. It
// speaks raw Engine.IO v4 / Socket.IO v5 frames over WebSocket (its own
// client, bench/internal/ws: epoll event loops, no goroutine per
// connection; handshake straight at /socket.io/?EIO=4&transport=websocket,
// pings answered) or ShareDB's JSON protocol, and runs one workload:
//
//	fanout  C clients in one room, one sender (to-room); deliveries/s, latency
//	echo    C clients doing closed-loop acked round trips (message-with-ack)
//	idle    C idle connections; server RSS per connection (-server-pid)
//	collab  D docs × E editors doing closed-loop doc:op with client-side OT
//	join    time doc:join of a large document (content and catch-up)
//	scale   C connections over D docs typing at -per-conn-rate (open loop):
//	        RSS per connection and per loaded document, ack p99, CPU
//	gen-docs  create -gen-docs documents in -data's file (server stopped)
//	list    page through GET /api/docs, latency per page
//
// collab takes -rate N for an open loop (N ops/s in total, Poisson or
// uniform arrivals over the editors) instead of the closed loop.
//
// fanout, echo and idle need the conformance echo server's handlers
// (e2e/sio-echo or bench/peers/sio-peer.js); collab and join need Cowrite
// (or, with -proto sharedb, bench/peers/sharedb-peer.js for collab).
// Progress goes to stderr once per second; the result is printed as a table
// and written as JSON with -json. With -server-pid the server's CPU time
// (/proc/<pid>/stat) and RSS (/proc/<pid>/status) are measured too.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"runtime/pprof"
	"sync/atomic"
	"time"
)

// config holds the flags.
type config struct {
	url       string
	workload  string
	proto     string
	clients   int
	docs      int
	editors   int
	duration  time.Duration
	serverPID int
	jsonPath  string
	label     string
	window    int
	docLen    int
	joinBytes int
	joinOps   int
	joinRuns  int
	quiet     bool
	rate      float64
	arrivals  string
	// scale, gen-docs, list
	perConnRate float64
	unloadWait  time.Duration
	dataDir     string
	genDocs     int
	listLimit   int
	listPages   int
	pprofURL    string
	heapDir     string
}

// Result is one run's outcome (the JSON output).
type Result struct {
	Label    string  `json:"label,omitempty"`
	Workload string  `json:"workload"`
	Proto    string  `json:"proto"`
	URL      string  `json:"url"`
	Clients  int     `json:"clients,omitempty"`
	Docs     int     `json:"docs,omitempty"`
	Editors  int     `json:"editors,omitempty"`
	Seconds  float64 `json:"seconds"`
	// Ops counts deliveries (fanout), round trips (echo) or committed ops
	// (collab) during the measured window; Rate is Ops per second.
	Ops       int64   `json:"ops"`
	Rate      float64 `json:"rate"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	P999Ms    float64 `json:"p999_ms,omitempty"`
	MaxMs     float64 `json:"max_ms"`
	BcastP50  float64 `json:"bcast_p50_ms,omitempty"`
	BcastP99  float64 `json:"bcast_p99_ms,omitempty"`
	BcastP999 float64 `json:"bcast_p999_ms,omitempty"`
	Broadcast int64   `json:"broadcasts,omitempty"`
	// collab open loop (-rate): the offered rate and arrival process, and
	// the p99 of how long an arrival waited to be submitted (behind the
	// editor's op in flight, or a late wake-up of the tool).
	OfferedRate float64 `json:"offered_rate,omitempty"`
	Arrivals    string  `json:"arrivals,omitempty"`
	SendLagP99  float64 `json:"send_lag_p99_ms,omitempty"`
	// collab latency histograms: [upper bucket edge ms, count] pairs.
	AckHist   [][2]float64 `json:"ack_hist,omitempty"`
	BcastHist [][2]float64 `json:"bcast_hist,omitempty"`
	Errors    int64        `json:"errors"`
	// Cowrite's per-document commits during the window (from /metrics):
	// hand-off to durable, p50/p99 as histogram bucket edges, and mean ops
	// per document batch.
	CommitP50 float64 `json:"commit_p50_ms,omitempty"`
	CommitP99 float64 `json:"commit_p99_ms,omitempty"`
	CommitOps float64 `json:"commit_ops_per_batch,omitempty"`
	// Server and tool CPU seconds over the measured window.
	ServerCPU      float64 `json:"server_cpu_s,omitempty"`
	ServerCPUPerOp float64 `json:"server_cpu_us_per_op,omitempty"`
	ToolCPU        float64 `json:"tool_cpu_s"`
	RSSBeforeKiB   int64   `json:"rss_before_kib,omitempty"`
	RSSAfterKiB    int64   `json:"rss_after_kib,omitempty"`
	RSSPerConnKiB  float64 `json:"rss_per_conn_kib,omitempty"`
	// join workload.
	DocBytes     int     `json:"doc_bytes,omitempty"`
	DocVersion   uint64  `json:"doc_version,omitempty"`
	PrepSeconds  float64 `json:"prep_s,omitempty"`
	JoinContent  float64 `json:"join_content_ms,omitempty"`
	JoinOld      float64 `json:"join_old_ms,omitempty"`
	JoinOldOps   int     `json:"join_old_ops,omitempty"`
	JoinOldest   float64 `json:"join_oldest_ms,omitempty"`
	JoinOldestBy string  `json:"join_oldest_reply,omitempty"`
	// scale, gen-docs and list workloads.
	Scale *scaleResult `json:"scale,omitempty"`
	Note  string       `json:"note,omitempty"`
}

// progress is what the once-a-second reporter prints.
type progress struct {
	ops    atomic.Int64
	errors atomic.Int64
}

func main() {
	var cfg config
	flag.StringVar(&cfg.url, "url", "http://127.0.0.1:3000", "server base URL (http://host:port); collab, echo, fanout, idle: a comma-separated list spreads the connections over cluster nodes in turn")
	flag.StringVar(&cfg.workload, "workload", "echo", "fanout, echo, idle, collab or join")
	flag.StringVar(&cfg.proto, "proto", "cowrite", "collab protocol: cowrite (Socket.IO doc:op) or sharedb")
	flag.IntVar(&cfg.clients, "c", 100, "clients (fanout, echo, idle)")
	flag.IntVar(&cfg.docs, "docs", 1, "documents (collab)")
	flag.IntVar(&cfg.editors, "editors", 20, "editors per document (collab; join preparation)")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time (fanout, echo, collab) or settle time (idle)")
	flag.IntVar(&cfg.serverPID, "server-pid", 0, "server pid for CPU and RSS figures (0 = none)")
	flag.StringVar(&cfg.jsonPath, "json", "", "write the result as JSON to this file")
	flag.StringVar(&cfg.label, "label", "", "label stored in the JSON result")
	flag.IntVar(&cfg.window, "window", 16, "fanout: messages in flight (not yet delivered to every receiver)")
	flag.IntVar(&cfg.docLen, "doc-len", 2000, "collab: documents are kept around this many characters")
	flag.IntVar(&cfg.joinBytes, "join-bytes", 1<<20, "join: document size in bytes")
	flag.IntVar(&cfg.joinOps, "join-ops", 100000, "join: ops of history to build")
	flag.IntVar(&cfg.joinRuns, "join-runs", 5, "join: timed joins of each kind")
	flag.BoolVar(&cfg.quiet, "q", false, "no progress lines")
	flag.Float64Var(&cfg.rate, "rate", 0, "collab: open loop at this many ops/s in total over all editors (0 = closed loop, each editor submits on its ack)")
	flag.StringVar(&cfg.arrivals, "arrivals", "poisson", "collab -rate: arrival process, poisson or uniform")
	flag.Float64Var(&cfg.perConnRate, "per-conn-rate", 1, "scale: ops/s each connection types")
	flag.DurationVar(&cfg.unloadWait, "unload-wait", 0, "scale: after closing the connections, wait until the server has no document loaded (its --idle-unload), at most this long, and measure memory again (0 = skip)")
	flag.StringVar(&cfg.dataDir, "data", "", "gen-docs: the server's data directory (its cowrite.db is written directly; the server must be stopped)")
	flag.IntVar(&cfg.genDocs, "gen-docs", 100000, "gen-docs: documents to create")
	flag.IntVar(&cfg.listLimit, "list-limit", 50, "list: documents per page")
	flag.IntVar(&cfg.listPages, "list-pages", 0, "list: pages to fetch (0 = all)")
	flag.StringVar(&cfg.heapDir, "heap-dir", "", "scale -pprof-url: save each phase's heap profile (after the GC) in this directory as <phase>.heap.pprof")
	flag.StringVar(&cfg.pprofURL, "pprof-url", "", "scale: the server's net/http/pprof base URL (bin/cowrite-prof); each phase then forces a GC first (GET /debug/pprof/heap?gc=1), so its heap figure is the live heap")
	cpuProfile := flag.String("cpuprofile", "", "write the load tool's own CPU profile to this file")
	flag.Parse()
	if cfg.arrivals != "poisson" && cfg.arrivals != "uniform" {
		fmt.Fprintln(os.Stderr, "cowrite-bench: -arrivals: poisson or uniform")
		os.Exit(1)
	}
	// The tool's live heap is a few MB, so the default GOGC collects many
	// times a second under collab load (GC assists were ~6% of its CPU);
	// memory is not what it is short of.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "cowrite-bench:", err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, &cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cowrite-bench:", err)
		os.Exit(1)
	}
	printTable(os.Stdout, res)
	if cfg.jsonPath != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(cfg.jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "cowrite-bench:", err)
			os.Exit(1)
		}
	}
	if res.Errors > 0 {
		pprof.StopCPUProfile()
		os.Exit(2)
	}
}

// run executes cfg.workload and fills a Result.
func run(ctx context.Context, cfg *config) (*Result, error) {
	res := &Result{Label: cfg.label, Workload: cfg.workload, Proto: cfg.proto, URL: cfg.url}
	switch cfg.workload {
	case "collab":
	case "join", "scale", "gen-docs", "list":
		res.Proto = "cowrite"
	default:
		res.Proto = "socket.io"
	}
	var p progress
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !cfg.quiet {
		go report(pctx, cfg.workload, &p)
	}
	var err error
	switch cfg.workload {
	case "fanout":
		err = runFanout(ctx, cfg, res, &p)
	case "echo":
		err = runEcho(ctx, cfg, res, &p)
	case "idle":
		err = runIdle(ctx, cfg, res, &p)
	case "collab":
		err = runCollab(ctx, cfg, res, &p)
	case "join":
		err = runJoin(ctx, cfg, res, &p)
	case "scale":
		err = runScale(ctx, cfg, res, &p)
	case "gen-docs":
		err = runGenDocs(ctx, cfg, res, &p)
	case "list":
		err = runList(ctx, cfg, res, &p)
	default:
		err = fmt.Errorf("unknown workload %q (fanout, echo, idle, collab, join, scale, gen-docs, list)", cfg.workload)
	}
	return res, err
}

// report prints progress once per second until ctx ends.
func report(ctx context.Context, name string, p *progress) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	start := time.Now()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := p.ops.Load()
			fmt.Fprintf(os.Stderr, "[%4.0fs] %s: %d/s (total %d, errors %d)\n",
				now.Sub(start).Seconds(), name, n-last, n, p.errors.Load())
			last = n
		}
	}
}

// measure wraps a measured window: server and tool CPU before/after.
type measure struct {
	pid        int
	start      time.Time
	srv0, self float64
}

func startMeasure(pid int) *measure {
	m := &measure{pid: pid, start: time.Now(), self: selfCPU()}
	if pid > 0 {
		m.srv0, _ = procCPU(pid)
	}
	return m
}

// finish records seconds and CPU figures into res (Ops must be final).
func (m *measure) finish(res *Result) {
	res.Seconds = time.Since(m.start).Seconds()
	res.ToolCPU = selfCPU() - m.self
	if m.pid > 0 {
		if c, err := procCPU(m.pid); err == nil {
			res.ServerCPU = c - m.srv0
			if res.Ops > 0 {
				res.ServerCPUPerOp = res.ServerCPU / float64(res.Ops) * 1e6
			}
		}
	}
	if res.Seconds > 0 {
		res.Rate = float64(res.Ops) / res.Seconds
	}
}
