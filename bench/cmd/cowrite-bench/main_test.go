package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cowrite/cowrite/internal/testwait"
)

// The tests run every workload for about a second against real servers:
// bin/sio-echo and bin/cowrite built from this repository into a temporary
// directory (go build, cached), and the Node peers of bench/peers when node
// is installed (npm ci is run when node_modules is missing).

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cowrite-bench-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found at %s", root)
	}
	return root
}

// build compiles pkg (relative to the repo root) once per test binary.
func build(t *testing.T, name, pkg string) string {
	t.Helper()
	out := filepath.Join(binDir, name)
	if _, err := os.Stat(out); err == nil {
		return out
	}
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = repoRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// serve starts a server process listening on addr and waits until it
// accepts connections; it is killed when the test ends.
func serve(t *testing.T, addr string, name string, args ...string) int {
	t.Helper()
	cmd := exec.Command(name, args...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(name), logs.String())
		}
	})
	listening := func() bool {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	testwait.Until(t, 15*time.Second, name+" listening on "+addr, listening)
	return cmd.Process.Pid
}

func startEcho(t *testing.T) (string, int) {
	bin := build(t, "sio-echo", "./e2e/sio-echo")
	addr := freePort(t)
	pid := serve(t, addr, bin, "-addr", addr, "-ping-interval", "25s", "-ping-timeout", "20s")
	return "http://" + addr, pid
}

func startCowrite(t *testing.T, args ...string) (string, int) {
	return startCowriteOn(t, t.TempDir(), args...)
}

// startCowriteOn runs the server on the data directory data.
func startCowriteOn(t *testing.T, data string, args ...string) (string, int) {
	bin := build(t, "cowrite", ".")
	addr := freePort(t)
	pid := serve(t, addr, bin, append([]string{"--addr", addr, "--data", data, "--ops-per-second", "-1", "--log-level", "warn"}, args...)...)
	return "http://" + addr, pid
}

// startNode runs a peer script of bench/peers on a free port.
func startNode(t *testing.T, script string) (string, int) {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the Node peer workloads were not run")
	}
	peers := filepath.Join(repoRoot(t), "bench", "peers")
	if _, err := os.Stat(filepath.Join(peers, "node_modules", "sharedb")); err != nil {
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = peers
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in bench/peers: %v\n%s", err, b)
		}
	}
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	pid := serve(t, addr, node, filepath.Join(peers, script), port)
	return "http://" + addr, pid
}

func runOK(t *testing.T, cfg config) *Result {
	t.Helper()
	cfg.quiet = true
	if cfg.duration == 0 {
		cfg.duration = time.Second
	}
	if cfg.proto == "" {
		cfg.proto = "cowrite"
	}
	res, err := run(context.Background(), &cfg)
	if err != nil {
		t.Fatalf("%s: %v", cfg.workload, err)
	}
	if res.Errors != 0 {
		t.Fatalf("%s: %d errors (%s)", cfg.workload, res.Errors, res.Note)
	}
	return res
}

func TestSocketIOWorkloads(t *testing.T) {
	servers := map[string]func(*testing.T) (string, int){
		"go":   startEcho,
		"node": func(t *testing.T) (string, int) { return startNode(t, "sio-peer.js") },
	}
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			url, pid := start(t)
			t.Run("echo", func(t *testing.T) {
				r := runOK(t, config{url: url, workload: "echo", clients: 8, serverPID: pid})
				if r.Ops <= 0 || r.Rate <= 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms || r.MaxMs < r.P99Ms {
					t.Fatalf("implausible echo result %+v", r)
				}
				if r.ServerCPU <= 0 {
					t.Fatalf("no server CPU measured: %+v", r)
				}
			})
			t.Run("fanout", func(t *testing.T) {
				r := runOK(t, config{url: url, workload: "fanout", clients: 10, window: 4, serverPID: pid})
				if r.Ops <= 0 || r.P50Ms <= 0 || r.P99Ms < r.P50Ms {
					t.Fatalf("implausible fanout result %+v", r)
				}
			})
			t.Run("idle", func(t *testing.T) {
				r := runOK(t, config{url: url, workload: "idle", clients: 50, serverPID: pid, duration: 300 * time.Millisecond})
				if r.Ops != 50 || r.RSSAfterKiB <= 0 || r.RSSBeforeKiB <= 0 {
					t.Fatalf("implausible idle result %+v", r)
				}
			})
		})
	}
}

func TestCollabCowrite(t *testing.T) {
	url, pid := startCowrite(t)
	r := runOK(t, config{url: url, workload: "collab", docs: 3, editors: 4, docLen: 200, serverPID: pid})
	if r.Ops <= 0 || r.Broadcast <= 0 || r.P50Ms <= 0 || r.BcastP50 <= 0 {
		t.Fatalf("implausible collab result %+v", r)
	}
	t.Run("open-loop", func(t *testing.T) {
		r := runOK(t, config{url: url, workload: "collab", docs: 3, editors: 4, docLen: 200, serverPID: pid, rate: 200, arrivals: "poisson"})
		var n float64
		for _, b := range r.AckHist {
			n += b[1]
		}
		if r.Ops <= 0 || r.OfferedRate != 200 || int64(n) != r.Ops || r.RSSAfterKiB <= 0 {
			t.Fatalf("implausible open-loop result (ack histogram holds %v): %+v", n, r)
		}
	})
	// Every committed op reaches the 3 other editors of its document.
	t.Run("join", func(t *testing.T) {
		r := runOK(t, config{url: url, workload: "join", editors: 4, joinBytes: 64 << 10, joinOps: 1500, joinRuns: 2, docLen: 200})
		if r.DocVersion < 1500 || r.DocBytes < 64<<10 || r.JoinContent <= 0 || r.JoinOld <= 0 || r.JoinOldOps != 1000 {
			t.Fatalf("implausible join result %+v", r)
		}
	})
}

func TestCollabShareDB(t *testing.T) {
	url, pid := startNode(t, "sharedb-peer.js")
	r := runOK(t, config{url: url, workload: "collab", proto: "sharedb", docs: 2, editors: 3, docLen: 200, serverPID: pid})
	if r.Ops <= 0 || r.Broadcast <= 0 || r.P50Ms <= 0 {
		t.Fatalf("implausible sharedb collab result %+v", r)
	}
}

func TestUnknownWorkload(t *testing.T) {
	_, err := run(context.Background(), &config{workload: "nope", quiet: true})
	if err == nil || !strings.Contains(err.Error(), "unknown workload") {
		t.Fatalf("err = %v", err)
	}
}

// TestScaleWorkloads: scale over a few connections (memory phases, open
// loop, unload), then gen-docs into a fresh data directory and list
// through every page of it.
func TestScaleWorkloads(t *testing.T) {
	url, pid := startCowrite(t, "--idle-unload", "1s")
	r := runOK(t, config{url: url, workload: "scale", clients: 12, docs: 3, docLen: 200, serverPID: pid,
		perConnRate: 20, arrivals: "poisson", unloadWait: time.Minute})
	sr := r.Scale
	if r.Ops <= 0 || r.Editors != 4 || sr == nil || len(sr.Phases) != 5 || sr.RSSJoinedKiB <= 0 || r.OfferedRate != 240 {
		t.Fatalf("implausible scale result %+v %+v", r, sr)
	}
	if sr.Phases[2].DocsLoaded != 3 || sr.Phases[4].DocsLoaded != 0 {
		t.Fatalf("documents loaded by phase: %+v (want 3 when joined, 0 after unload)", sr.Phases)
	}

	data := t.TempDir()
	g := runOK(t, config{workload: "gen-docs", dataDir: data, genDocs: 230, clients: 16})
	if g.Scale.GeneratedDocs != 230 {
		t.Fatalf("generated %d documents, want 230", g.Scale.GeneratedDocs)
	}
	url, pid = startCowriteOn(t, data)
	l := runOK(t, config{url: url, workload: "list", listLimit: 50, serverPID: pid})
	if l.Scale.ListDocs != 230 || l.Scale.ListPages != 5 || l.Scale.ListPageP50Ms <= 0 {
		t.Fatalf("list result %+v", l.Scale)
	}
}

// TestHocuspocusDriver runs bench/peers/hocuspocus (server and Yjs driver,
// closed loop then open loop) when its node_modules are installed
// (`npm ci` there builds better-sqlite3, which takes minutes).
func TestHocuspocusDriver(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed")
	}
	dir := filepath.Join(repoRoot(t), "bench", "peers", "hocuspocus")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@hocuspocus", "server")); err != nil {
		t.Skip("bench/peers/hocuspocus/node_modules is not installed (npm ci there): the Hocuspocus peer was not run")
	}
	addr := freePort(t)
	_, port, _ := net.SplitHostPort(addr)
	pid := serve(t, addr, node, filepath.Join(dir, "server.js"), port, filepath.Join(t.TempDir(), "hp.sqlite"))
	for _, tc := range []struct{ rate, observers string }{{"0", "0"}, {"100", "0"}, {"100", "1"}} {
		rate := tc.rate
		out := filepath.Join(t.TempDir(), "r.json")
		cmd := exec.Command(node, filepath.Join(dir, "driver.js"), "-q", "-url", "ws://"+addr, "-docs", "3", "-editors", "3",
			"-duration", "1s", "-procs", "2", "-rate", rate, "-observers", tc.observers, "-server-pid", strconv.Itoa(pid), "-json", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("driver -rate %s: %v\n%s", rate, err, b)
		}
		var r Result
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		// Errors count documents whose editors did not converge after the
		// run; how many broadcasts land inside the window depends on the
		// machine's load, so only that some did is checked.
		if r.Errors != 0 || r.Ops <= 0 || r.Broadcast <= 0 || r.ServerCPU <= 0 || r.BcastP50 <= 0 || len(r.AckHist) == 0 {
			t.Fatalf("driver -rate %s -observers %s: implausible result: errors %d (%s), ops %d, broadcasts %d, server cpu %v, delivery p50 %v, %d ack buckets",
				rate, tc.observers, r.Errors, r.Note, r.Ops, r.Broadcast, r.ServerCPU, r.BcastP50, len(r.AckHist))
		}
	}
}
