package collab_test

import (
	"fmt"
	"testing"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// TestSeqCacheBounded: past maxTracked client ids the cache of last seqs
// drops only durable marks, so dedupe stays exact — for durable ops (read
// back from the store) and for an op still in flight.
func TestSeqCacheBounded(t *testing.T) {
	e := newEnv(t, &collab.Options{OpsPerSecond: -1}, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	// maxTracked (4096) + 4090: the first 4096 clients fill the cache, the
	// next one evicts their durable marks, the cache then holds 4090, the
	// resubmissions below read 3 evicted clients back (4093), so that the
	// 4th new client after them (f1, f2, staged, evictor) evicts.
	const n = 4096 + 4090
	for i := range n {
		sub := collab.Submission{Version: uint64(i), Op: op(ot.Ins("x")), Client: fmt.Sprint("c", i), Seq: 1}
		if _, err := e.hub.Submit(ctx, "d", "", sub); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{0, 1, n / 2, n - 1} {
		c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: 0, Op: op(ot.Ins("x")), Client: fmt.Sprint("c", i), Seq: 1})
		if err != nil || !c.Duplicate || c.Version != uint64(i+1) {
			t.Fatalf("resubmission of c%d: %+v %v", i, c, err)
		}
	}
	// Two batches in flight (the most a document hands the store), an op
	// staged behind them (not in the store yet), a new client that makes
	// the cache evict, then a duplicate of the staged op.
	g := e.fs.hold()
	replies := make(chan *collab.Committed, 5)
	submit := func(client string) {
		t.Helper()
		err := e.hub.SubmitAsync(ctx, "d", "", collab.Submission{Version: n, Op: op(ot.Ins("y")), Client: client, Seq: 1},
			func(c *collab.Committed, err error) {
				if err != nil {
					t.Error(err)
				}
				replies <- c
			})
		if err != nil {
			t.Fatal(err)
		}
	}
	submit("f1")
	submit("f2")
	submit("staged")
	submit("evictor")
	submit("staged")
	e.fs.release(g)
	got := map[bool][]uint64{}
	for range 5 {
		c := <-replies
		if c != nil {
			got[c.Duplicate] = append(got[c.Duplicate], c.Version)
		}
	}
	if len(got[false]) != 4 || len(got[true]) != 1 || got[true][0] != n+3 {
		t.Fatalf("replies %v: want 4 new ops and 1 duplicate of version %d", got, n+3)
	}
	if s, v := content(t, e.hub, "d"); v != n+4 || len(s) != n+4 {
		t.Fatalf("version %d, %d characters", v, len(s))
	}
}
