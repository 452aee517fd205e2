package collab_test

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

// benchSubmit runs b.N submissions spread over docs × perDoc submitters,
// each submitting an insert at position 0 against the last version it saw
// (so most ops are transformed against a few concurrent ones), on the real
// bbolt store with fsync.
func benchSubmit(b *testing.B, docs, perDoc int) {
	e := newEnv(b, &collab.Options{OpsPerSecond: -1}, &storage.Options{})
	ctx := ctxT(b)
	for d := range docs {
		mustCreate(b, e.hub, fmt.Sprint("doc", d), "")
	}
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for d := range docs {
		for c := range perDoc {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprint("doc", d)
				client := fmt.Sprint("c", c)
				var v, seq uint64
				for left.Add(-1) >= 0 {
					seq++
					cm, err := e.hub.Submit(ctx, id, "", collab.Submission{Version: v, Op: ot.Op{ot.Ins("x")}, Client: client, Seq: seq})
					if err != nil {
						b.Error(err)
						return
					}
					v = cm.Version
				}
			}()
		}
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	st := e.db.Stats()
	if st.Batches > 0 {
		b.ReportMetric(float64(st.Writes)/float64(st.Batches), "appends/fsync")
		b.ReportMetric(float64(st.CommitTime.Microseconds())/float64(st.Batches), "µs/fsync")
	}
	if n := e.fs.appends.Load(); n > 0 {
		b.ReportMetric(float64(b.N)/float64(n), "ops/append")
	}
}

// BenchmarkHotDoc: one document, 20 concurrent submitters.
func BenchmarkHotDoc(b *testing.B) { benchSubmit(b, 1, 20) }

// BenchmarkManyDocs: 100 documents, 2 concurrent submitters each.
func BenchmarkManyDocs(b *testing.B) { benchSubmit(b, 100, 2) }

// BenchmarkDuplicate: resubmitting an already committed (client, seq) on a
// document of 5000 ops with 100 ops of history in memory. "latest" is the
// client's newest seq (answered from the seq cache), "in-memory" an older
// seq still in the history, "op-log" an older seq about 4000 ops back that
// is read from the store in chunks.
func BenchmarkDuplicate(b *testing.B) {
	e := newEnv(b, &collab.Options{OpsPerSecond: -1, HistoryOps: 100}, nil)
	ctx := ctxT(b)
	mustCreate(b, e.hub, "d", "")
	const n = 5000
	for v := range uint64(n) {
		if _, err := e.hub.Submit(ctx, "d", "", collab.Submission{Version: v, Op: ot.Op{ot.Ins("x")}, Client: "c", Seq: v + 1}); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		seq  uint64
	}{{"latest", n}, {"in-memory", n - 50}, {"op-log", 1000}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c, err := e.hub.Submit(ctx, "d", "", collab.Submission{Op: ot.Op{ot.Ins("x")}, Client: "c", Seq: bc.seq})
				if err != nil || !c.Duplicate || c.Version != bc.seq {
					b.Fatalf("%+v %v", c, err)
				}
			}
		})
	}
}

// BenchmarkDiffOpRandom120K: ReplaceContent's diff of two unrelated 120 KB
// texts (bounded: replaced whole) and, for comparison, what the diff cost
// before the bounds (no size bound, a 2 s timeout; with no timeout at all it
// takes minutes).
func BenchmarkDiffOpRandom120K(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	x, y := randomText(r, 120<<10), randomText(r, 120<<10)
	b.Run("bounded", func(b *testing.B) {
		for b.Loop() {
			collab.DiffOp(x, y)
		}
	})
	b.Run("unbounded", func(b *testing.B) {
		for b.Loop() {
			collab.DiffOpBounded(x, y, 1<<30, 2*time.Second)
		}
	})
}
