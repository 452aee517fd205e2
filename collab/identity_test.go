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
	const n = 4200 // more than maxTracked (4096)
	// Pipelined: the document accepts them in the order sent (so each is
	// based on the head) and commits them in batches.
	errs := make(chan error, n)
	for i := range n {
		sub := collab.Submission{Version: uint64(i), Op: op(ot.Ins("x")), Client: fmt.Sprint("c", i), Seq: 1}
		if err := e.hub.SubmitAsync(ctx, "d", "", sub, func(_ *collab.Committed, err error) { errs <- err }); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if err := <-errs; err != nil {
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
	// staged behind them (not in the store yet), then more new clients than
	// the cache holds (all staged too), then a duplicate of the staged op.
	g := e.fs.hold()
	const more = 4100
	replies := make(chan *collab.Committed, more+4)
	v := uint64(n)
	submit := func(client string) {
		t.Helper()
		err := e.hub.SubmitAsync(ctx, "d", "", collab.Submission{Version: v, Op: op(ot.Ins("y")), Client: client, Seq: 1},
			func(c *collab.Committed, err error) {
				if err != nil {
					t.Error(err)
				}
				replies <- c
			})
		if err != nil {
			t.Fatal(err)
		}
		v++
	}
	submit("f1")
	submit("f2")
	submit("staged")
	for i := range more {
		submit(fmt.Sprint("e", i))
	}
	v = n + 2 // the duplicate's base: it was accepted as version n+3
	submit("staged")
	e.fs.release(g)
	dups := 0
	for range more + 4 {
		if c := <-replies; c != nil && c.Duplicate {
			dups++
			if c.Version != n+3 {
				t.Errorf("duplicate answered with version %d, want %d", c.Version, n+3)
			}
		}
	}
	if dups != 1 {
		t.Fatalf("%d duplicates, want 1", dups)
	}
	if _, v := content(t, e.hub, "d"); v != n+3+more {
		t.Fatalf("version %d, want %d", v, n+3+more)
	}
}
