package collab_test

import (
	"fmt"
	"testing"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

type result struct {
	c   *collab.Committed
	err error
}

// submitAsync submits an insert of text at version base of doc "d" under
// client/seq and delivers the answer on the returned channel.
func submitAsync(e *env, t *testing.T, base uint64, text, client string, seq uint64) <-chan result {
	ch := make(chan result, 1)
	ctx := ctxT(t)
	go func() {
		c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: base, Op: op(ot.Ins(text)), Client: client, Seq: seq})
		ch <- result{c, err}
	}()
	return ch
}

func waitAppends(t *testing.T, e *env, n int32) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d appends", n), func() bool { return e.fs.appends.Load() >= n })
}

func waitHead(t *testing.T, e *env, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("head %d", n), func() bool { return headOf(t, e) == n })
}

func noAnswer(t *testing.T, e *env, chs ...<-chan result) {
	t.Helper()
	for i, ch := range chs {
		select {
		case r := <-ch:
			t.Fatalf("submission %d answered before its commit completed: %+v %v", i, r.c, r.err)
		default:
		}
	}
	if got := e.rec.opEvents(); len(got) != 0 {
		t.Fatalf("broadcast before durable: %+v", got)
	}
}

// While a document's batch is being written, the next one is handed to the
// store (not held back until the first is durable); a third waits staged.
// Acks and broadcasts come only after durability, in version order.
func TestSecondBatchHandedOverWhileFirstInFlight(t *testing.T) {
	e := newEnv(t, &collab.Options{OpsPerSecond: -1}, nil)
	mustCreate(t, e.hub, "d", "")
	g := e.fs.hold()
	a := submitAsync(e, t, 0, "a", "ca", 1)
	waitAppends(t, e, 1)
	b := submitAsync(e, t, 1, "b", "cb", 1)
	waitAppends(t, e, 2) // handed over while the first is still in flight
	c := submitAsync(e, t, 2, "c", "cc", 1)
	waitHead(t, e, 3)
	if n := e.fs.appends.Load(); n != 2 {
		t.Fatalf("%d appends with two batches in flight, want 2 (the third op staged)", n)
	}
	noAnswer(t, e, a, b, c)
	e.fs.release(g)
	for i, ch := range []<-chan result{a, b, c} {
		r := <-ch
		if r.err != nil || r.c.Version != uint64(i+1) {
			t.Fatalf("submission %d: %+v %v, want version %d", i, r.c, r.err, i+1)
		}
	}
	if n := e.fs.appends.Load(); n != 3 {
		t.Fatalf("%d appends, want 3", n)
	}
	checkLog(t, e, "d", "", 3) // also checks broadcasts in version order
	if got := len(e.rec.opEvents()); got != 3 {
		t.Fatalf("%d broadcasts, want 3", got)
	}
}

// The first batch fails while the second is in flight (the store then fails
// the second too) and a third op is staged: all three fail with internal,
// nothing is acked or broadcast, and the document is reloaded at its
// durable state and keeps working; their (client, seq) were never committed.
func TestCommitFailureWithSecondBatchInFlight(t *testing.T) {
	e := newEnv(t, &collab.Options{OpsPerSecond: -1}, nil)
	mustCreate(t, e.hub, "d", "x")
	g := e.fs.hold()
	e.fs.failNext.Store(1)
	a := submitAsync(e, t, 0, "a", "ca", 1)
	waitAppends(t, e, 1)
	b := submitAsync(e, t, 1, "b", "cb", 1)
	waitAppends(t, e, 2)
	c := submitAsync(e, t, 2, "c", "cc", 1)
	waitHead(t, e, 3)
	noAnswer(t, e, a, b, c)
	e.fs.release(g)
	for i, ch := range []<-chan result{a, b, c} {
		r := <-ch
		if r.err == nil {
			t.Fatalf("submission %d acked: %+v", i, r.c)
		}
		wantCode(t, r.err, collab.CodeInternal)
	}
	if got := e.rec.opEvents(); len(got) != 0 {
		t.Fatalf("broadcasts of failed ops: %+v", got)
	}
	if got, v := content(t, e.hub, "d"); got != "x" || v != 0 {
		t.Fatalf("after the failure: %q v%d, want \"x\" v0", got, v)
	}
	r := <-submitAsync(e, t, 0, "b", "cb", 1)
	if r.err != nil || r.c.Version != 1 || r.c.Duplicate {
		t.Fatalf("resubmission: %+v %v", r.c, r.err)
	}
	checkLog(t, e, "d", "x", 1)
}

// The first batch is durable, the second fails: the first is acked and
// broadcast, the second and the staged op fail, the document is reloaded
// at the first batch's version.
func TestCommitFailureOfSecondBatch(t *testing.T) {
	e := newEnv(t, &collab.Options{OpsPerSecond: -1}, nil)
	mustCreate(t, e.hub, "d", "")
	g := e.fs.hold()
	a := submitAsync(e, t, 0, "a", "ca", 1)
	waitAppends(t, e, 1)
	e.fs.failNext.Store(1)
	b := submitAsync(e, t, 1, "b", "cb", 1)
	waitAppends(t, e, 2)
	c := submitAsync(e, t, 2, "c", "cc", 1)
	waitHead(t, e, 3)
	noAnswer(t, e, a, b, c)
	e.fs.release(g)
	if r := <-a; r.err != nil || r.c.Version != 1 {
		t.Fatalf("first: %+v %v", r.c, r.err)
	}
	for i, ch := range []<-chan result{b, c} {
		r := <-ch
		if r.err == nil {
			t.Fatalf("submission %d acked: %+v", i+1, r.c)
		}
		wantCode(t, r.err, collab.CodeInternal)
	}
	evs := e.rec.opEvents()
	if len(evs) != 1 || evs[0].ev.Version != 1 {
		t.Fatalf("broadcasts %+v, want only version 1", evs)
	}
	if got, v := content(t, e.hub, "d"); got != "a" || v != 1 {
		t.Fatalf("after the failure: %q v%d, want \"a\" v1", got, v)
	}
	for i, text := range []string{"b", "c"} {
		r := <-submitAsync(e, t, uint64(i+1), text, fmt.Sprint("c", text), 1)
		if r.err != nil || r.c.Version != uint64(i+2) {
			t.Fatalf("resubmission %q: %+v %v", text, r.c, r.err)
		}
	}
	checkLog(t, e, "d", "", 3)
}
