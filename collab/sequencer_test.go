package collab_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"encoding/json"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

func TestSubmitBasics(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "hello")
	c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: 0, Op: op(ot.Retain(5), ot.Ins(" world"))})
	if err != nil || c.Version != 1 || c.Duplicate {
		t.Fatalf("Submit = %+v, %v", c, err)
	}
	// Stale base: transformed against version 1 (incoming side Left).
	c, err = e.hub.Submit(ctx, "d", "", collab.Submission{Version: 0, Op: op(ot.Ins("¡"), ot.Ins("😀"))})
	if err != nil || c.Version != 2 {
		t.Fatalf("Submit = %+v, %v", c, err)
	}
	if got := c.Op.String(); got != `["¡😀"]` {
		t.Errorf("committed op %s, want normalized [\"¡😀\"]", got)
	}
	if got, v := content(t, e.hub, "d"); got != "¡😀hello world" || v != 2 {
		t.Errorf("content %q v%d", got, v)
	}
	evs := e.rec.opEvents()
	if len(evs) != 2 || evs[0].ev.Version != 1 || evs[1].ev.Version != 2 || evs[1].except != "" {
		t.Errorf("broadcasts %+v", evs)
	}
}

func TestInvalidOpsChangeNothing(t *testing.T) {
	e := newEnv(t, &collab.Options{MaxOpBytes: 100, MaxDocBytes: 20}, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "abc😀")
	cases := []struct {
		name string
		sub  collab.Submission
		code collab.Code
	}{
		{"skip past end", collab.Submission{Op: op(ot.Retain(5), ot.Ins("x"))}, collab.CodeInvalidOp},
		{"delete past end", collab.Submission{Op: op(ot.Retain(3), ot.Del(2))}, collab.CodeInvalidOp},
		{"mismatching delete text", collab.Submission{Op: op(ot.DelText("abd"))}, collab.CodeInvalidOp},
		{"trailing skip", collab.Submission{Op: op(ot.Ins("x"), ot.Retain(1))}, collab.CodeInvalidOp},
		{"adjacent skips", collab.Submission{Op: op(ot.Retain(1), ot.Retain(1), ot.Ins("x"))}, collab.CodeInvalidOp},
		{"empty component", collab.Submission{Op: op(ot.Component{})}, collab.CodeInvalidOp},
		{"version ahead", collab.Submission{Version: 1, Op: op(ot.Ins("x"))}, collab.CodeVersionAhead},
		{"op too large", collab.Submission{Op: op(ot.Ins(strings.Repeat("x", 200)))}, collab.CodeTooLarge},
		{"doc too large", collab.Submission{Op: op(ot.Ins(strings.Repeat("x", 30)))}, collab.CodeTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.hub.Submit(ctx, "d", "", tc.sub)
			wantCode(t, err, tc.code)
			if got, v := content(t, e.hub, "d"); got != "abc😀" || v != 0 {
				t.Errorf("state changed: %q v%d", got, v)
			}
		})
	}
	if evs := e.rec.opEvents(); len(evs) != 0 {
		t.Errorf("rejected ops were broadcast: %+v", evs)
	}
	// A shrinking op on a doc over the limit is fine; deleting the emoji
	// counts one code point.
	if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Op: op(ot.Retain(3), ot.DelText("😀"))}); err != nil {
		t.Fatal(err)
	}
	if got, _ := content(t, e.hub, "d"); got != "abc" {
		t.Errorf("content %q", got)
	}
}

// randomOp returns a random valid op against s (code points), with inserts
// tagged by tag so they can be found again.
func randomOp(r *rand.Rand, s string, tag string) ot.Op {
	n := utf8.RuneCountInString(s)
	var o ot.Op
	pos := 0
	for pos <= n && len(o) < 6 {
		if skip := r.IntN(n - pos + 1); skip > 0 {
			o = append(o, ot.Retain(skip))
			pos += skip
		}
		switch r.IntN(3) {
		case 0:
			o = append(o, ot.Ins(tag))
		case 1:
			if pos < n {
				d := 1 + r.IntN(min(3, n-pos))
				o = append(o, ot.Del(d))
				pos += d
			}
		}
		if r.IntN(3) == 0 {
			break
		}
	}
	return ot.Normalize(o)
}

// TestConcurrentStaleSubmitters: clients submit from random stale versions
// concurrently; the server's content must equal the replay of its log, every
// op is acked exactly once, broadcasts come in version order, and (in an
// insert-only phase) no insert is lost.
func TestConcurrentStaleSubmitters(t *testing.T) {
	e := newEnv(t, &collab.Options{HistoryOps: 20, SnapshotEveryOps: 7, OpsPerSecond: -1}, nil)
	ctx := ctxT(t)
	const initial = "the quick brown fox"
	mustCreate(t, e.hub, "d", initial)
	const clients, perClient = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 7))
			for i := range perClient {
				info, _, err := e.hub.Get(ctx, "d")
				if err != nil {
					errs <- err
					return
				}
				base := info.Version - min(info.Version, uint64(r.IntN(30)))
				text, err := e.hub.ContentAt(ctx, "d", base)
				if err != nil {
					errs <- fmt.Errorf("ContentAt(%d): %w", base, err)
					return
				}
				tag := fmt.Sprintf("<%d.%d>", c, i)
				if i%2 == 0 {
					tag = "" // deletes and skips only, sometimes
				}
				o := randomOp(r, text, tag)
				if tag == "" {
					o = randomOp(r, text, "·")
				}
				if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: base, Op: o, Client: fmt.Sprint("c", c), Seq: uint64(i + 1)}); err != nil {
					errs <- fmt.Errorf("client %d op %d %s at %d: %w", c, i, o, base, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkLog(t, e, "d", initial, clients*perClient)

	// Insert-only phase: every tag must survive exactly once.
	info, _, _ := e.hub.Get(ctx, "d")
	start := info.Version
	var tags sync.Map
	wg = sync.WaitGroup{}
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 9))
			for i := range 20 {
				base := start + uint64(r.IntN(int(c*3+1)))
				text, err := e.hub.ContentAt(ctx, "d", base)
				if err != nil {
					base, text = start, ""
					if text, err = e.hub.ContentAt(ctx, "d", start); err != nil {
						t.Error(err)
						return
					}
				}
				tag := string(rune(0x4E00 + c*20 + i)) // one code point: cannot be split
				pos := r.IntN(utf8.RuneCountInString(text) + 1)
				o := ot.Op{ot.Ins(tag)}
				if pos > 0 {
					o = ot.Op{ot.Retain(pos), ot.Ins(tag)}
				}
				if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: base, Op: o}); err != nil {
					t.Error(err)
					return
				}
				tags.Store(tag, true)
			}
		}()
	}
	wg.Wait()
	final, _ := content(t, e.hub, "d")
	n := 0
	tags.Range(func(k, _ any) bool {
		n++
		if c := strings.Count(final, k.(string)); c != 1 {
			t.Errorf("tag %s appears %d times", k, c)
		}
		return true
	})
	if n != clients*20 {
		t.Errorf("%d tags", n)
	}
	checkLog(t, e, "d", initial, clients*perClient+clients*20)
}

// checkLog replays the stored log and compares with the content, and checks
// the broadcasts: versions 1..want, in order.
func checkLog(t *testing.T, e *env, id, initial string, want int) {
	t.Helper()
	ctx := ctxT(t)
	got, v := content(t, e.hub, id)
	if v != uint64(want) {
		t.Fatalf("version %d, want %d", v, want)
	}
	recs, err := e.hub.Ops(ctx, id, 0, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	s := initial
	for i, r := range recs {
		if r.Version != uint64(i+1) {
			t.Fatalf("record %d has version %d", i, r.Version)
		}
		if s, err = ot.Apply(s, r.Op); err != nil {
			t.Fatalf("replay %d: %v", r.Version, err)
		}
	}
	if s != got || len(recs) != want {
		t.Fatalf("replay of %d ops = %q, content %q", len(recs), s, got)
	}
	for i, ev := range e.rec.opEvents() {
		if ev.ev.Version != uint64(i+1) {
			t.Fatalf("broadcast %d has version %d", i, ev.ev.Version)
		}
		if ev.ev.Op.String() != recs[i].Op.String() {
			t.Fatalf("broadcast %d op %s, stored %s", i+1, ev.ev.Op, recs[i].Op)
		}
	}
}

func TestDedupe(t *testing.T) {
	e := newEnv(t, &collab.Options{SnapshotEveryOps: 2}, &storage.Options{NoSync: true, Retention: 1, CheckpointOps: 1})
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	sub := collab.Submission{Op: op(ot.Ins("a")), Client: "alice", Seq: 1}
	c1, err := e.hub.Submit(ctx, "d", "", sub)
	if err != nil || c1.Version != 1 || c1.Duplicate {
		t.Fatalf("%+v %v", c1, err)
	}
	check := func(when string, s collab.Submission, wantV uint64) {
		t.Helper()
		c, err := e.hub.Submit(ctx, "d", "", s)
		if err != nil || !c.Duplicate || c.Version != wantV {
			t.Fatalf("%s: resubmit = %+v, %v; want duplicate of v%d", when, c, err, wantV)
		}
	}
	check("in memory", sub, 1)
	if got, v := content(t, e.hub, "d"); got != "a" || v != 1 {
		t.Fatalf("applied twice: %q v%d", got, v)
	}
	e.restart()
	check("after restart", sub, 1)
	// Many more ops, with snapshots and retention pruning the log.
	for i := range 30 {
		if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i + 1), Op: op(ot.Ins("b")), Client: "bob", Seq: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	e.restart()
	if oldest, err := e.db.OldestKeptOp(ctx, "d"); err != nil || oldest < 5 {
		t.Fatalf("log was not pruned: oldest %d, %v", oldest, err)
	}
	check("after pruning", sub, 1)
	check("older seq after pruning (bob 3 ≤ 30)", collab.Submission{Op: op(ot.Ins("zz")), Client: "bob", Seq: 3}, 31)
	check("last seq", collab.Submission{Op: op(ot.Ins("zz")), Client: "bob", Seq: 30}, 31)
	if got, v := content(t, e.hub, "d"); got != strings.Repeat("b", 30)+"a" || v != 31 {
		t.Fatalf("content %q v%d", got, v)
	}
	// A new seq is applied.
	if c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: 31, Op: op(ot.Ins("c")), Client: "alice", Seq: 2}); err != nil || c.Duplicate || c.Version != 32 {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestRestartRecovery(t *testing.T) {
	e := newEnv(t, &collab.Options{SnapshotEveryOps: 5}, &storage.Options{})
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "start")
	r := rand.New(rand.NewPCG(1, 2))
	texts := []string{"start"}
	for i := range 23 {
		o := randomOp(r, texts[i], fmt.Sprint(i))
		c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i), Op: o})
		if err != nil {
			t.Fatal(err)
		}
		next, _ := ot.Apply(texts[i], c.Op)
		texts = append(texts, next)
	}
	e.restart()
	got, v := content(t, e.hub, "d")
	if got != texts[23] || v != 23 {
		t.Fatalf("after restart %q v%d, want %q v23", got, v, texts[23])
	}
	for ver, want := range texts {
		if got, err := e.hub.ContentAt(ctx, "d", uint64(ver)); err != nil || got != want {
			t.Fatalf("ContentAt(%d) = %q, %v; want %q", ver, got, err, want)
		}
	}
	_, err := e.hub.ContentAt(ctx, "d", 24)
	wantCode(t, err, collab.CodeVersionAhead)
}

func TestVersionTooOld(t *testing.T) {
	e := newEnv(t, &collab.Options{SnapshotEveryOps: 3, HistoryOps: 2}, &storage.Options{NoSync: true, Retention: 2, CheckpointOps: 1})
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	for i := range 20 {
		if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i), Op: op(ot.Ins("x"))}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: 0, Op: op(ot.Ins("y"))})
	wantCode(t, err, collab.CodeVersionTooOld)
	_, err = e.hub.Ops(ctx, "d", 0, 0, 0)
	wantCode(t, err, collab.CodeVersionTooOld)
	_, err = e.hub.ContentAt(ctx, "d", 1)
	wantCode(t, err, collab.CodeVersionTooOld)
	// A base older than the in-memory history but still stored works.
	oldest, _ := e.db.OldestKeptOp(ctx, "d")
	c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: oldest - 1, Op: op(ot.Ins("y"))})
	if err != nil || c.Version != 21 {
		t.Fatalf("submit at stored base %d: %+v %v", oldest-1, c, err)
	}
	// Join with a version whose ops are gone gets the content.
	since := uint64(0)
	j, err := e.hub.Join(ctx, "d", "s1", "", collab.User{}, &since)
	if err != nil || j.Content == nil || j.Ops != nil || j.Version != 21 {
		t.Fatalf("join = %+v, %v", j, err)
	}
}

func TestPipelinedAcksInOrder(t *testing.T) {
	e := newEnv(t, &collab.Options{OpsPerSecond: -1}, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	g := e.fs.hold()
	type ack struct {
		c   *collab.Committed
		err error
	}
	const n = 12
	acks := make(chan ack, n)
	for i := range n {
		go func() {
			c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Op: op(ot.Ins(fmt.Sprint(i % 10))), Client: fmt.Sprint("c", i), Seq: 1})
			acks <- ack{c, err}
		}()
	}
	// All n ops are ordered while the first commit is held.
	eventually(t, "all ops ordered while the first commit is held", func() bool {
		return e.fs.appends.Load() >= 1 && headOf(t, e) == n
	})
	select {
	case a := <-acks:
		t.Fatalf("ack before the commit was durable: %+v", a)
	default:
	}
	if got := e.rec.opEvents(); len(got) != 0 {
		t.Fatalf("broadcast before durable: %+v", got)
	}
	e.fs.release(g)
	seen := map[uint64]bool{}
	for range n {
		a := <-acks
		if a.err != nil {
			t.Fatal(a.err)
		}
		seen[a.c.Version] = true
	}
	if len(seen) != n {
		t.Fatalf("versions %v", seen)
	}
	if a := e.fs.appends.Load(); a != 3 {
		t.Errorf("%d appends, want 3 (first op, second op handed over while the first is in flight, then the %d staged as one batch)", a, n-2)
	}
	checkLog(t, e, "d", "", n)
}

// headOf is the version including ops not yet durable (via ReplaceContent's
// If-Match probing would commit; use Ops count instead): Get reports durable
// only, so probe with a precondition that always fails.
func headOf(t *testing.T, e *env) int {
	return int(state(t, e, "d").Head)
}

func TestCommitFailureReloads(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "abc")
	if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Op: op(ot.Ins("1"))}); err != nil {
		t.Fatal(err)
	}
	e.fs.failNext.Store(1)
	_, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: 1, Op: op(ot.Ins("2")), Client: "x", Seq: 1})
	wantCode(t, err, collab.CodeInternal)
	if got, v := content(t, e.hub, "d"); got != "1abc" || v != 1 {
		t.Fatalf("after failed commit: %q v%d", got, v)
	}
	// The same (client, seq) is not a duplicate: it was never committed.
	c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: 1, Op: op(ot.Ins("2")), Client: "x", Seq: 1})
	if err != nil || c.Version != 2 || c.Duplicate {
		t.Fatalf("%+v %v", c, err)
	}
	checkLog(t, e, "d", "abc", 2)
}

type countingObserver struct {
	mu        sync.Mutex
	committed int
	depths    []int
}

func (o *countingObserver) ObserveCommit(ops int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.committed += ops
}

func (o *countingObserver) ObserveTransform(depth int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.depths = append(o.depths, depth)
}

func TestObserver(t *testing.T) {
	obs := &countingObserver{}
	e := newEnv(t, &collab.Options{Observer: obs}, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	for range 3 {
		if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: 0, Op: op(ot.Ins("a"))}); err != nil {
			t.Fatal(err)
		}
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.committed != 3 || fmt.Sprint(obs.depths) != "[0 1 2]" {
		t.Fatalf("committed %d, depths %v", obs.committed, obs.depths)
	}
}

// FuzzSubmission decodes a doc:op payload as the edge does and submits it:
// the server must not panic, and either commit an op that took the document
// from the previous content to the new one, or reject it with a non-internal
// code and change nothing.
func FuzzSubmission(f *testing.F) {
	for _, s := range []string{
		`{"version":0,"op":[3,"x"]}`,
		`{"version":2,"op":[1,{"d":2}],"client":"c","seq":1}`,
		`{"version":1,"op":[{"d":"abc"}]}`,
		`{"version":9,"op":["x"]}`,
		`{"version":0,"op":[100,"x"]}`,
		`{"version":0,"op":["a","b",{"d":1},{"d":1}]}`,
		`{"version":0,"op":[1,1]}`,
		`{"version":0,"op":"x"}`,
		`{"op":[2,"😀"],"client":"c","seq":1}`,
	} {
		f.Add([]byte(s))
	}
	e := newEnv(f, &collab.Options{OpsPerSecond: -1, MaxOpBytes: 1 << 10, MaxDocBytes: 1 << 12}, nil)
	ctx := ctxT(f)
	mustCreate(f, e.hub, "d", "abcdef")
	for i := range 3 {
		if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i), Op: op(ot.Ins("z"))}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var sub collab.Submission
		if json.Unmarshal(data, &sub) != nil {
			return
		}
		before, v := content(t, e.hub, "d")
		c, err := e.hub.Submit(ctx, "d", "", sub)
		after, v2 := content(t, e.hub, "d")
		if err != nil {
			if code := collab.CodeOf(err); code == collab.CodeInternal {
				t.Fatalf("internal error for %s: %v", data, err)
			}
			if after != before || v2 != v {
				t.Fatalf("rejected op changed the document: %q v%d → %q v%d", before, v, after, v2)
			}
			return
		}
		if c.Duplicate {
			return
		}
		if c.Version != v+1 || v2 != v+1 {
			t.Fatalf("committed as %d, doc at %d, was %d", c.Version, v2, v)
		}
		if want, err := ot.Apply(before, c.Op); err != nil || want != after {
			t.Fatalf("content %q, want %q (%v)", after, want, err)
		}
	})
}

// TestHistoryBytes: the in-memory history is bounded in bytes as well as in
// ops; ops older than it are read from the store for a stale base.
func TestHistoryBytes(t *testing.T) {
	e := newEnv(t, &collab.Options{HistoryOps: 1000, HistoryBytes: 1000, OpsPerSecond: -1}, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	chunk := strings.Repeat("x", 95) // opBytes 100
	for i := range 30 {
		if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i), Op: op(ot.Ins(chunk))}); err != nil {
			t.Fatal(err)
		}
	}
	st := state(t, e, "d")
	if st.HistOps != 10 || st.HistBytes != 1000 || st.HistBytesKept != st.HistBytes {
		t.Fatalf("history %+v, want the 10 newest ops (1000 bytes)", st)
	}
	c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: 1, Op: op(ot.Ins("y"))})
	if err != nil || c.Version != 31 {
		t.Fatalf("submit at base 1: %+v %v", c, err)
	}
	if got, _ := content(t, e.hub, "d"); got != "y"+strings.Repeat(chunk, 30) {
		t.Fatalf("content %q...", got[:120])
	}
	if st := state(t, e, "d"); st.HistBytesKept != st.HistBytes || st.HistBytes > 1000 {
		t.Fatalf("history after a stale submit: %+v", st)
	}
}

// TestOpComponentsAndTransformWork: an op with more than MaxOpComponents
// components is too_large; a stale op whose transform would cost more than
// MaxTransformWork (its components × those of the ops since its base) is
// version_too_old and changes nothing, while the same op at the head passes.
func TestOpComponentsAndTransformWork(t *testing.T) {
	e := newEnv(t, &collab.Options{MaxOpComponents: 41, MaxTransformWork: 400, OpsPerSecond: -1, HistoryOps: 3}, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", strings.Repeat("ab", 50))
	// n components (n odd): alternately delete 1 and skip 1.
	spread := func(n int) ot.Op {
		var o ot.Op
		for i := range n {
			if i%2 == 0 {
				o = append(o, ot.Component{Delete: 1})
			} else {
				o = append(o, ot.Component{Skip: 1})
			}
		}
		return o
	}
	_, err := e.hub.Submit(ctx, "d", "", collab.Submission{Op: spread(42)})
	wantCode(t, err, collab.CodeTooLarge)
	// 10 ops of 2 components each ([100+i, "z"] normalizes to 2).
	for i := range 10 {
		if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i), Op: op(ot.Retain(100+i), ot.Ins("z"))}); err != nil {
			t.Fatal(err)
		}
	}
	// 41 components from base 0: 41 × 20 = 820 > 400 (7 of the 10 ops
	// come from the store: the history keeps 3).
	_, err = e.hub.Submit(ctx, "d", "", collab.Submission{Version: 0, Op: spread(41)})
	wantCode(t, err, collab.CodeVersionTooOld)
	// From base 5: 41 × 10 = 410 > 400, all in memory.
	_, err = e.hub.Submit(ctx, "d", "", collab.Submission{Version: 5, Op: spread(41)})
	wantCode(t, err, collab.CodeVersionTooOld)
	if st := state(t, e, "d"); st.Head != 10 {
		t.Fatalf("refused ops changed the document: %+v", st)
	}
	// From base 6: 41 × 8 = 328, accepted; at the head, no work at all.
	if c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: 6, Op: spread(41)}); err != nil || c.Version != 11 {
		t.Fatalf("base 6: %+v %v", c, err)
	}
	if c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: 11, Op: spread(41)}); err != nil || c.Version != 12 {
		t.Fatalf("at head: %+v %v", c, err)
	}
}

// TestStaleHugeOpDefaults: the probe of issue 17 (a stale op of 27,000
// components against 300 history ops) is refused at once with the default
// bounds, and so is the largest op allowed from that stale base.
func TestStaleHugeOpDefaults(t *testing.T) {
	e := newEnv(t, &collab.Options{OpsPerSecond: -1}, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", strings.Repeat("a", 30_000))
	for i := range 300 {
		if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i), Op: op(ot.Retain(i+1), ot.Ins("z"))}); err != nil {
			t.Fatal(err)
		}
	}
	spread := func(n int) ot.Op {
		o := make(ot.Op, n)
		for i := range o {
			o[i] = ot.Component{Delete: 1}
			if i%2 == 1 {
				o[i] = ot.Component{Skip: 1}
			}
		}
		return o
	}
	_, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: 0, Op: spread(27_001)})
	wantCode(t, err, collab.CodeTooLarge)
	_, err = e.hub.Submit(ctx, "d", "", collab.Submission{Version: 0, Op: spread(collab.DefaultMaxOpComponents - 1)})
	wantCode(t, err, collab.CodeVersionTooOld)
}

// TestDedupeBounded: the dedupe entries cached per document and those the
// store keeps are bounded. A resend of a (client, seq) whose entry the
// store dropped is refused (version_too_old), never applied twice: its base
// is older than the store's dedupe floor. Known clients still get their
// duplicates answered, and new clients at recent versions are accepted.
func TestDedupeBounded(t *testing.T) {
	e := newEnv(t, &collab.Options{MaxDedupeClients: 8, OpsPerSecond: -1},
		&storage.Options{NoSync: true, MaxDedupeClients: 4})
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "")
	sub := func(client string, base uint64) collab.Submission {
		return collab.Submission{Version: base, Op: op(ot.Ins(client)), Client: client, Seq: 1}
	}
	for i := range 10 {
		if _, err := e.hub.Submit(ctx, "d", "", sub(fmt.Sprint("c", i), uint64(i))); err != nil {
			t.Fatal(err)
		}
		if st := state(t, e, "d"); st.Seqs > 8 {
			t.Fatalf("after %d clients: %d cached dedupe entries", i+1, st.Seqs)
		}
	}
	// The restart checkpoints: the store keeps the entries of versions
	// 7..10 and its floor is 6.
	e.restart()
	if f, err := e.db.DedupeFloor(ctx, "d"); err != nil || f != 6 {
		t.Fatalf("floor %d %v", f, err)
	}
	_, err := e.hub.Submit(ctx, "d", "", sub("c0", 0))
	wantCode(t, err, collab.CodeVersionTooOld)
	if c, err := e.hub.Submit(ctx, "d", "", sub("c9", 9)); err != nil || !c.Duplicate || c.Version != 10 {
		t.Fatalf("known client's resend: %+v %v", c, err)
	}
	_, err = e.hub.Submit(ctx, "d", "", sub("new1", 5))
	wantCode(t, err, collab.CodeVersionTooOld)
	if c, err := e.hub.Submit(ctx, "d", "", sub("new2", 6)); err != nil || c.Version != 11 {
		t.Fatalf("new client at the floor: %+v %v", c, err)
	}
	if st := state(t, e, "d"); st.Head != 11 {
		t.Fatalf("head %d, want 11", st.Head)
	}
}
