package storage

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// appendReplay is a Replayer for applyTest's "OT type".
type appendReplay struct{ s string }

func (a *appendReplay) Apply(op []byte) error {
	var err error
	a.s, err = applyTest(a.s, op)
	return err
}
func (a *appendReplay) Content() string { return a.s }

func newAppendReplay(content string) Replayer { return &appendReplay{content} }

// TestVerifyJournal: Verify merges the journal a crash leaves (here: an
// online backup, taken before any checkpoint) with the document buckets.
func TestVerifyJournal(t *testing.T) {
	db, _ := openTest(t, &Options{CheckpointOps: 1 << 20})
	mustCreate(t, db, "d", "")
	for v := uint64(1); v <= 20; v++ {
		var snap *Snapshot
		if v%6 == 0 {
			snap = &Snapshot{Version: v, Content: contentOf(v)}
		}
		if err := db.Append(Append{Doc: "d", Records: []OpRecord{rec("d", v, "c", v)},
			Meta: DocMeta{Version: v, Size: int64(len(contentOf(v)))}, Snapshot: snap}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	var buf bytes.Buffer
	if _, err := db.Backup(bg, &buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Verify(path, time.Second, newAppendReplay)
	if err != nil || len(r.Problems) != 0 || r.JournalRecords != 20 || r.Ops != 20 || r.Snapshots != 4 {
		t.Fatalf("Verify = %+v, %v", r, err)
	}
}

// FuzzCheckFile: whatever bytes a data file holds, Open's checks and then
// Open itself fail with an error or succeed; they never crash (bbolt
// panics in goroutines of its own on damaged pages, which walkPages must
// catch first).
func FuzzCheckFile(f *testing.F) {
	dir := f.TempDir()
	path := filepath.Join(dir, "seed.db")
	db, err := Open(path, &Options{NoSync: true})
	if err != nil {
		f.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := db.CreateDoc(bg, DocMeta{ID: id}, strings.Repeat(id, 3000)); err != nil {
			f.Fatal(err)
		}
	}
	// The backup holds only the pages in use (the file itself is grown
	// in 16 MiB steps, too large to fuzz).
	var buf bytes.Buffer
	if _, err := db.Backup(bg, &buf); err != nil {
		f.Fatal(err)
	}
	if err := db.Close(); err != nil {
		f.Fatal(err)
	}
	seed := buf.Bytes()
	f.Add(seed, 0, byte(0))
	f.Add(seed, 2*4096, byte(0xff))
	f.Add(seed, 3*4096+16, byte(1))
	f.Fuzz(func(t *testing.T, file []byte, at int, b byte) {
		if len(file) > 1<<20 {
			return
		}
		file = bytes.Clone(file)
		if at >= 0 && at < len(file) {
			file[at] ^= b
		}
		p := filepath.Join(t.TempDir(), "x.db")
		if err := os.WriteFile(p, file, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(p, &Options{NoSync: true, Timeout: time.Second})
		if err == nil {
			_ = db.Close()
		}
	})
}

// TestOpenMutatedFiles: 500 copies of a small data file with a few random
// bytes changed each: Open and Verify return (an error or not), never
// crash or hang.
func TestOpenMutatedFiles(t *testing.T) {
	db, _ := openTest(t, &Options{NoSync: true})
	for _, id := range []string{"a", "b"} {
		mustCreate(t, db, id, strings.Repeat(id, 3000))
		mustAppend(t, db, id, 1, 5, nil)
	}
	var buf bytes.Buffer
	if _, err := db.Backup(bg, &buf); err != nil {
		t.Fatal(err)
	}
	seed := buf.Bytes()
	r := rand.New(rand.NewPCG(1, 2))
	refused := 0
	for range 500 {
		f := bytes.Clone(seed)
		for range 1 + r.IntN(4) {
			f[r.IntN(len(f))] ^= byte(1 + r.IntN(255))
		}
		p := filepath.Join(t.TempDir(), "x.db")
		if err := os.WriteFile(p, f, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Verify(p, time.Second, newAppendReplay); err != nil {
			refused++
		}
		db, err := Open(p, &Options{NoSync: true, Timeout: time.Second})
		if err != nil {
			continue
		}
		if err := db.Close(); err != nil {
			t.Logf("close: %v", err)
		}
	}
	t.Logf("Verify could not read %d of 500", refused)
}
