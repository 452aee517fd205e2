package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime/trace"
	"strings"
	"testing"
)

// stageWorker receives tasks over a channel and logs a stage for each, so
// the trace has a hand-off from the test goroutine to this kind.
func stageWorker(in <-chan context.Context, done chan<- struct{}) {
	for ctx := range in {
		trace.Log(ctx, "stage", "worker")
		done <- struct{}{}
	}
}

// TestAnalyzeOwnTrace traces ten annotated tasks crossing two goroutines
// and checks the per-stage table, the goroutine kinds and the hand-off.
func TestAnalyzeOwnTrace(t *testing.T) {
	var buf bytes.Buffer
	if err := trace.Start(&buf); err != nil {
		t.Fatal(err)
	}
	in, done := make(chan context.Context), make(chan struct{})
	go stageWorker(in, done)
	for i := 0; i < 10; i++ {
		ctx, task := trace.NewTask(context.Background(), "op")
		trace.Log(ctx, "stage", "received")
		in <- ctx
		<-done
		trace.WithRegion(ctx, "ack", func() {})
		task.End()
	}
	close(in)
	trace.Stop()
	path := filepath.Join(t.TempDir(), "trace.out")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := analyze(path, "github.com/cowrite/cowrite/bench/tracestat.")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"op: start → received", "op: received → worker", "op: worker → end"} {
		if n := len(s.stages[k]); n != 10 {
			t.Errorf("stage %q: %d samples, want 10 (stages %v)", k, n, keys(s.stages))
		}
	}
	if n := len(s.tasks["op"]); n != 10 {
		t.Errorf("tasks: %d, want 10", n)
	}
	if n := len(s.regions["ack"]); n != 10 {
		t.Errorf("regions: %d, want 10", n)
	}
	if s.goroutines["stageWorker"] != 1 {
		t.Errorf("goroutine kinds %v, want one stageWorker", s.goroutines)
	}
	woken := 0
	for k, d := range s.edges {
		if strings.HasSuffix(k, "→ stageWorker") {
			woken += len(d)
		}
	}
	if woken < 10 {
		t.Errorf("stageWorker woken %d times, want ≥ 10 (edges %v)", woken, keys(s.edges))
	}
	var out bytes.Buffer
	s.print(&out, 10, 25)
	if !strings.Contains(out.String(), "| op: received → worker | 10 | 1.00 |") {
		t.Errorf("printed table lacks the stage row:\n%s", out.String())
	}
}

func keys(t table) []string {
	var k []string
	for x := range t {
		k = append(k, x)
	}
	return k
}
