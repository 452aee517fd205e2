package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFsync is the baseline: this machine's serial rate of writing a
// small block to a file and fsyncing it (what one-commit-per-op would cost).
func BenchmarkFsync(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := writeSync(f, i); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "fsyncs/s")
}

var syncBuf = make([]byte, 128)

func writeSync(f *os.File, i int) error {
	if _, err := f.WriteAt(syncBuf, int64(i%64)*128); err != nil {
		return err
	}
	return f.Sync()
}

// fsyncRate measures the serial write+fsync rate for about d, so that a
// benchmark can report its throughput relative to the disk as it is right
// now (the disk of a shared machine is noisy).
func fsyncRate(b *testing.B, d time.Duration) float64 {
	f, err := os.Create(filepath.Join(b.TempDir(), "fsync-rate"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	n, start := 0, time.Now()
	for ; time.Since(start) < d; n++ {
		if err := writeSync(f, n); err != nil {
			b.Fatal(err)
		}
	}
	return float64(n) / time.Since(start).Seconds()
}

var benchOp = []byte(`[1234,"hello, world: a typical small insert",{"d":3}]`)

// BenchmarkAppend measures confirmed (durable) appends per second: each
// writer queues one op and waits for its commit before the next.
//
//   - docs: every writer has its own document;
//   - onedoc: all writers share one document and take versions through a
//     mutex, like a sequencer; version v+1 may be queued before v is durable.
func BenchmarkAppend(b *testing.B) {
	for _, n := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("docs/writers=%d", n), func(b *testing.B) { benchAppend(b, n, n) })
	}
	b.Run("onedoc/writers=64", func(b *testing.B) { benchAppend(b, 1, 64) })
}

func benchAppend(b *testing.B, docs, writers int) { benchAppendDB(b, docs, writers) }

func benchAppendDB(b *testing.B, docs, writers int) *DB {
	db, _ := openTest(b, nil)
	type seqr struct {
		mu   sync.Mutex
		id   string
		next uint64
	}
	ds := make([]*seqr, docs)
	for i := range ds {
		ds[i] = &seqr{id: fmt.Sprintf("doc%04d", i), next: 1}
		mustCreate(b, db, ds[i].id, "")
	}
	fsyncBefore := fsyncRate(b, 150*time.Millisecond)
	st0, pages0 := db.Stats(), pagesWritten(db)
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	for w := range writers {
		d := ds[w%docs]
		client := fmt.Sprintf("w%d", w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(1); left.Add(-1) >= 0; seq++ {
				d.mu.Lock()
				v := d.next
				d.next++
				c := db.Append(Append{Doc: d.id, Records: []OpRecord{{Version: v, Op: benchOp, Client: client, Seq: seq}},
					Meta: DocMeta{Version: v, Size: int64(v)}})
				d.mu.Unlock()
				if err := c.Err(); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	st := db.Stats()
	rate := float64(b.N) / b.Elapsed().Seconds()
	b.ReportMetric(rate, "appends/s")
	// Relative to the serial fsync rate measured right before and after,
	// on the same disk.
	fsync := (fsyncBefore + fsyncRate(b, 150*time.Millisecond)) / 2
	b.ReportMetric(rate/fsync, "x-fsync")

	if batches := st.Batches - st0.Batches; batches > 0 {
		b.ReportMetric(float64(st.Writes-st0.Writes)/float64(batches), "appends/commit")
		pages := pagesWritten(db) - pages0 // incl. checkpoints
		b.ReportMetric(float64(pages)/float64(batches), "pages/commit")
	}
	return db
}

// BenchmarkLoad compares opening a document with 1,000,000 ops of history
// (newest snapshot 100 ops behind head) with one that has a short history
// (100 ops after its creation snapshot): both read one snapshot of the same
// size and 100 ops, so they should cost about the same.
func BenchmarkLoad(b *testing.B) {
	const (
		long  = 1_000_000
		after = 100
		chunk = 25_000
	)
	content := strings.Repeat("Lorem ipsum dolor sit amet. ", 400) // ~11 KB
	start := time.Now()
	db, path := openTest(b, &Options{NoSync: true})
	mustCreate(b, db, "long", content)
	mustCreate(b, db, "short", content)
	var pending []*Commit
	recs := make([]OpRecord, 0, chunk)
	for v := uint64(1); v <= long; v++ {
		recs = append(recs, OpRecord{Version: v, Op: benchOp, Client: "bulk", Seq: v})
		if len(recs) == chunk || v == long {
			var snap *Snapshot
			if v == long {
				snap = &Snapshot{Version: long - after, Content: content}
			}
			pending = append(pending, db.Append(Append{Doc: "long", Records: recs, Meta: DocMeta{Version: v}, Snapshot: snap}))
			recs = make([]OpRecord, 0, chunk)
		}
	}
	for v := uint64(1); v <= after; v++ {
		recs = append(recs, OpRecord{Version: v, Op: benchOp, Client: "bulk", Seq: v})
	}
	pending = append(pending, db.Append(Append{Doc: "short", Records: recs, Meta: DocMeta{Version: after}}))
	for _, c := range pending {
		if err := c.Err(); err != nil {
			b.Fatal(err)
		}
	}
	// Close checkpoints the journal: both documents are read from their
	// buckets, as after a restart.
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	db, err := Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.Logf("setup: %d ops in %v", long+after, time.Since(start).Round(time.Millisecond))

	for _, doc := range []string{"short", "long"} {
		b.Run(doc, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s, err := latestSnapshot(db, doc)
				if err != nil {
					b.Fatal(err)
				}
				ops, err := db.ReadOps(bg, doc, s.Version, Head, 0)
				if err != nil || len(ops) != after || len(s.Content) != len(content) {
					b.Fatalf("%s: snapshot %d, %d ops, %v", doc, s.Version, len(ops), err)
				}
			}
		})
	}
}

func pagesWritten(db *DB) int64 {
	st := db.bolt.Stats()
	return st.TxStats.GetWrite()
}
