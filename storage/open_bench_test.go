package storage

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// genDocs creates n small documents in the data file at path (NoSync,
// 64 writers so that the committer batches them), like `cowrite-bench
// -workload gen-docs`, and closes it.
func genDocs(tb testing.TB, path string, n int) {
	tb.Helper()
	db, err := Open(path, &Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(n); i = next.Add(1) - 1 {
				now := time.Now()
				meta := DocMeta{ID: fmt.Sprintf("gen-%07d", i), Title: fmt.Sprintf("Generated document %d", i), Created: now, Updated: now}
				content := fmt.Sprintf("# Generated document %d\n\nSome text of document %d, for the list benchmark.\n", i, i)
				if _, err := db.CreateDoc(bg, meta, content); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

// dropFreelist commits an empty transaction with bbolt's NoFreelistSync,
// so that the file's newest meta page has no freelist, as after a crash.
func dropFreelist(tb testing.TB, path string) {
	tb.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		tb.Fatal(err)
	}
	if err := bdb.Update(func(*bolt.Tx) error { return nil }); err != nil {
		tb.Fatal(err)
	}
	if err := bdb.Close(); err != nil {
		tb.Fatal(err)
	}
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkOpen100kDocs times Open of a data file holding
// 100,000 small documents (about 400 MiB), as the server does at start-up:
//
//   - clean: the file as the previous Close left it;
//   - crashed: its newest meta page has no freelist, as after a crash
//     (each iteration starts from such a copy; the copy is not timed).
func BenchmarkOpen100kDocs(b *testing.B) {
	const n = 100_000
	dir := b.TempDir()
	path := filepath.Join(dir, "cowrite.db")
	start := time.Now()
	genDocs(b, path, n)
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("setup: %d documents, %d MiB, in %v", n, st.Size()>>20, time.Since(start).Round(time.Millisecond))
	quiet := &Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	// openClose times Open only; the first write after it (which waits for
	// the background walk of every page, see Open) is reported apart, as
	// first-write-ms.
	var firstWrite time.Duration
	openClose := func(b *testing.B, p string) {
		db, err := Open(p, quiet)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		start := time.Now()
		if _, err := db.RenameDoc(bg, "gen-0000001", "renamed"); err != nil {
			b.Fatal(err)
		}
		firstWrite += time.Since(start)
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.Run("clean", func(b *testing.B) {
		openClose(b, path) // as a server's Close leaves it
		firstWrite = 0
		b.ResetTimer()
		for range b.N {
			openClose(b, path)
		}
		b.ReportMetric(float64(firstWrite.Milliseconds())/float64(b.N), "first-write-ms")
	})
	b.Run("crashed", func(b *testing.B) {
		firstWrite = 0
		crashed := filepath.Join(dir, "crashed.db")
		for range b.N {
			b.StopTimer()
			copyFile(b, path, crashed)
			dropFreelist(b, crashed)
			b.StartTimer()
			openClose(b, crashed)
		}
		b.ReportMetric(float64(firstWrite.Milliseconds())/float64(b.N), "first-write-ms")
	})
}

// BenchmarkCommitNoSync is the CPU cost of one commit without the fsync
// (Options.NoSync): one writer appending one op at a time to its document,
// on a file that already holds 10,000 documents; "fragmented" deletes every
// other one of them first, so that the file has thousands of free pages
// and its freelist takes several pages. It shows what writing the freelist
// with every commit costs (see Open) without the disk's noise.
func BenchmarkCommitNoSync(b *testing.B) {
	for _, del := range []bool{false, true} {
		name := "compact"
		if del {
			name = "fragmented"
		}
		b.Run(name, func(b *testing.B) { benchCommitNoSync(b, del) })
	}
}

func benchCommitNoSync(b *testing.B, fragment bool) {
	const n = 10_000
	path := filepath.Join(b.TempDir(), "cowrite.db")
	genDocs(b, path, n)
	db, err := Open(path, &Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if fragment {
		for i := 0; i < n; i += 2 {
			if err := db.DeleteDoc(bg, fmt.Sprintf("gen-%07d", i)); err != nil {
				b.Fatal(err)
			}
		}
	}
	mustCreate(b, db, "bench", "")
	free := db.bolt.Stats().FreePageN
	pages0, cpu0 := pagesWritten(db), cpuTime(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		v := uint64(i + 1)
		c := db.Append(Append{Doc: "bench", Records: []OpRecord{{Version: v, Op: benchOp, Client: "w", Seq: v}},
			Meta: DocMeta{Version: v, Size: int64(v)}})
		if err := c.Err(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(free), "free-pages")
	b.ReportMetric(float64(pagesWritten(db)-pages0)/float64(b.N), "pages/commit")
	// CPU time of the process (user+system), less noisy than wall time on
	// a shared machine.
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/commit")
}

func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
