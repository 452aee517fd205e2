package collab_test

import (
	"testing"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

// TestClientTakeover: a client reconnects on a new session while its old
// session is still joined (a dead connection not yet noticed).
func TestClientTakeover(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	join := func(s collab.SocketID, client string) {
		t.Helper()
		if _, err := e.hub.Join(ctx, "d", s, client, collab.User{ID: string(s)}, nil); err != nil {
			t.Fatal(err)
		}
	}
	sub := func(s collab.SocketID, v, seq uint64, text string) (*collab.Committed, error) {
		return e.hub.Submit(ctx, "d", s, collab.Submission{Version: v, Op: op(ot.Ins(text)), Client: "c", Seq: seq})
	}

	t.Run("by submitting", func(t *testing.T) {
		join("old", "")
		if c, err := sub("old", 0, 1, "a"); err != nil || c.Version != 1 {
			t.Fatal(c, err)
		}
		join("new", "")
		// The new session resubmits seq 1 (idempotent) and goes on with 2.
		if c, err := sub("new", 0, 1, "a"); err != nil || !c.Duplicate || c.Version != 1 {
			t.Fatalf("resubmission %+v %v", c, err)
		}
		if c, err := sub("new", 1, 2, "b"); err != nil || c.Duplicate || c.Version != 2 {
			t.Fatal(c, err)
		}
		// The old session lost the client id for new ops; a resubmission
		// changes nothing and gets its original version.
		_, err := sub("old", 1, 3, "x")
		wantCode(t, err, collab.CodeForbidden)
		if c, err := sub("old", 0, 1, "a"); err != nil || !c.Duplicate || c.Version != 1 {
			t.Fatalf("old session's resubmission %+v %v", c, err)
		}
		// Its late disconnect leaves the binding with the new session:
		// REST still may not use the client id.
		e.hub.Disconnect("old")
		_, err = sub("", 2, 3, "x")
		wantCode(t, err, collab.CodeForbidden)
		if c, err := sub("new", 2, 3, "c"); err != nil || c.Version != 3 {
			t.Fatal(c, err)
		}
		if got, v := content(t, e.hub, "d"); got != "cba" || v != 3 {
			t.Fatalf("content %q v%d", got, v)
		}
		e.hub.Disconnect("new")
		if c, err := sub("", 3, 4, "d"); err != nil || c.Version != 4 {
			t.Fatalf("released client id: %+v %v", c, err)
		}
	})

	t.Run("by joining with the client id", func(t *testing.T) {
		join("j1", "c")
		join("j2", "c") // claims c before submitting anything
		_, err := sub("j1", 4, 5, "x")
		wantCode(t, err, collab.CodeForbidden)
		if c, err := sub("j2", 4, 5, "e"); err != nil || c.Version != 5 {
			t.Fatal(c, err)
		}
		// j1's leave must not clear the presence client c that j2 shows as.
		before := len(e.rec.presenceEvents())
		if err := e.hub.Leave(ctx, "d", "j1"); err != nil {
			t.Fatal(err)
		}
		if evs := e.rec.presenceEvents()[before:]; len(evs) != 0 {
			t.Fatalf("old session's leave broadcast %+v", evs)
		}
		e.hub.Disconnect("j2")
		if evs := e.rec.presenceEvents()[before:]; len(evs) != 1 || evs[0].ev.Client != "c" || evs[0].ev.Selection != nil {
			t.Fatalf("leave of the holder %+v", evs)
		}
	})

	t.Run("an older session cannot take it back", func(t *testing.T) {
		join("o1", "")
		join("o2", "")
		if _, err := sub("o2", 5, 6, "f"); err != nil {
			t.Fatal(err)
		}
		_, err := sub("o1", 6, 7, "x")
		wantCode(t, err, collab.CodeForbidden)
		// Joining again with the client id is an explicit claim.
		join("o1", "c")
		if c, err := sub("o1", 6, 7, "g"); err != nil || c.Version != 7 {
			t.Fatal(c, err)
		}
		_, err = sub("o2", 7, 8, "x")
		wantCode(t, err, collab.CodeForbidden)
		e.hub.Disconnect("o1")
		e.hub.Disconnect("o2")
	})
}

// TestClientTakeoverKeepsQueuedOrder: ops the old session got accepted
// while a commit is held in flight keep their versions and order; the new
// session's resubmissions of them wait for and get those versions.
func TestClientTakeoverKeepsQueuedOrder(t *testing.T) {
	accepted := &acceptCounter{}
	e := newEnv(t, &collab.Options{Observer: accepted}, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	for _, s := range []collab.SocketID{"old", "new"} {
		if _, err := e.hub.Join(ctx, "d", s, "", collab.User{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// waitHead waits until the sequencer accepted version v (durable or
	// not; nothing is broadcast before it is durable): the Observer counts
	// the accepted ops.
	waitHead := func(v uint64) {
		t.Helper()
		accepted.wait(t, "accepted ops", int(v))
		_, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: v, Op: op(ot.Retain(1))})
		wantCode(t, err, collab.CodeInvalidOp) // v exists: an invalid op based on it is invalid_op, not version_ahead
	}
	type res struct {
		c   *collab.Committed
		err error
	}
	submit := func(s collab.SocketID, v, seq uint64, text string) res {
		c, err := e.hub.Submit(ctx, "d", s, collab.Submission{Version: v, Op: op(ot.Ins(text)), Client: "c", Seq: seq})
		return res{c, err}
	}
	gate := e.fs.hold()
	oldRes := make([]chan res, 3)
	for i := range 3 {
		oldRes[i] = make(chan res, 1)
		go func() { oldRes[i] <- submit("old", uint64(i), uint64(i+1), string(rune('a'+i))) }()
		waitHead(uint64(i + 1))
	}
	// The client reconnects on "new" and resubmits what it has no ack for.
	newRes := make(chan []res, 1)
	go func() {
		newRes <- []res{submit("new", 1, 2, "b"), submit("new", 2, 3, "c"), submit("new", 3, 4, "d")}
	}()
	e.fs.release(gate)
	for i, ch := range oldRes {
		if r := <-ch; r.err != nil || r.c.Duplicate || r.c.Version != uint64(i+1) {
			t.Fatalf("old seq %d: %+v %v", i+1, r.c, r.err)
		}
	}
	got := <-newRes
	for i, want := range []struct {
		v   uint64
		dup bool
	}{{2, true}, {3, true}, {4, false}} {
		if r := got[i]; r.err != nil || r.c.Version != want.v || r.c.Duplicate != want.dup {
			t.Fatalf("new submission %d: %+v %v; want v%d dup %v", i, r.c, r.err, want.v, want.dup)
		}
	}
	r := submit("old", 4, 5, "x")
	wantCode(t, r.err, collab.CodeForbidden)
	if text, v := content(t, e.hub, "d"); text != "dcba" || v != 4 {
		t.Fatalf("content %q v%d", text, v)
	}
}

// TestDedupeOlderSeqExact: after a restart (nothing in memory), an older
// seq of a client is acked with its exact original version as long as the
// op log keeps it, far below the in-memory history and across chunks.
func TestDedupeOlderSeqExact(t *testing.T) {
	e := newEnv(t, &collab.Options{HistoryOps: 10, SnapshotEveryOps: 50, OpsPerSecond: -1}, &storage.Options{NoSync: true})
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	want := map[uint64]uint64{} // alice seq → version
	seq := uint64(0)
	for v := range uint64(1500) {
		s := collab.Submission{Version: v, Op: op(ot.Ins("x"))}
		if v%7 == 0 {
			seq += 2 // seqs need not be contiguous
			s.Client, s.Seq = "alice", seq
		} else {
			s.Client, s.Seq = "bob", v+1
		}
		c, err := e.hub.Submit(ctx, "d", "", s)
		if err != nil {
			t.Fatal(err)
		}
		if s.Client == "alice" {
			want[s.Seq] = c.Version
		}
	}
	check := func(when string) {
		t.Helper()
		for _, s := range []uint64{2, 4, 100, 200, seq - 2, seq} {
			c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Op: op(ot.Ins("zz")), Client: "alice", Seq: s})
			if err != nil || !c.Duplicate || c.Version != want[s] || len(c.Op) == 0 {
				t.Fatalf("%s: alice seq %d = %+v, %v; want duplicate of v%d", when, s, c, err, want[s])
			}
		}
		// A seq that was never committed (skipped) gets the fallback: the
		// client's newest version.
		c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Op: op(ot.Ins("zz")), Client: "alice", Seq: 3})
		if err != nil || !c.Duplicate || c.Version != want[seq] {
			t.Fatalf("%s: skipped seq = %+v, %v; want v%d", when, c, err, want[seq])
		}
	}
	check("in memory and log")
	e.restart()
	check("after restart")
	if got, v := content(t, e.hub, "d"); v != 1500 || len(got) != 1500 {
		t.Fatalf("applied again: len %d v%d", len(got), v)
	}
}

// TestDuplicateLookupRateLimited: an older seq looked up in the op log costs
// a rate-limit token; the newest seq (answered from memory) does not.
func TestDuplicateLookupRateLimited(t *testing.T) {
	e := newEnv(t, &collab.Options{HistoryOps: 5, SnapshotEveryOps: 5, OpsPerSecond: 1}, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	submit := func(s collab.Submission) (*collab.Committed, error) { return e.hub.Submit(ctx, "d", "", s) }
	if _, err := submit(collab.Submission{Op: op(ot.Ins("a")), Client: "alice", Seq: 1}); err != nil {
		t.Fatal(err)
	}
	for v := range uint64(30) { // no client id: not rate limited
		if _, err := submit(collab.Submission{Version: v + 1, Op: op(ot.Ins("x"))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := submit(collab.Submission{Version: 31, Op: op(ot.Ins("b")), Client: "alice", Seq: 2}); err != nil {
		t.Fatal(err)
	}
	e.restart() // fresh buckets (burst of 2), nothing of alice in memory
	old := collab.Submission{Op: op(ot.Ins("a")), Client: "alice", Seq: 1}
	for range 2 {
		if c, err := submit(old); err != nil || c.Version != 1 || !c.Duplicate {
			t.Fatalf("%+v %v", c, err)
		}
	}
	_, err := submit(old)
	wantCode(t, err, collab.CodeRateLimited)
	if c, err := submit(collab.Submission{Op: op(ot.Ins("b")), Client: "alice", Seq: 2}); err != nil || c.Version != 32 || !c.Duplicate {
		t.Fatalf("latest seq: %+v %v", c, err)
	}
}
