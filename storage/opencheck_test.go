package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// damageDocPage changes the root page of document id's bucket in the
// closed file at path with fn (given the page's bytes).
func damageDocPage(t *testing.T, path, id string, fn func(page []byte)) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	var root uint64
	_ = bdb.View(func(tx *bolt.Tx) error {
		root = uint64(tx.Bucket(bktDocs).Bucket([]byte(id)).Root())
		return nil
	})
	ps := uint64(bdb.Info().PageSize)
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
	if root == 0 {
		t.Fatalf("document %s's bucket is inline", id)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := make([]byte, ps)
	if _, err := f.ReadAt(page, int64(root*ps)); err != nil {
		t.Fatal(err)
	}
	fn(page)
	if _, err := f.WriteAt(page, int64(root*ps)); err != nil {
		t.Fatal(err)
	}
}

// TestOpenDamagedDocumentPage: Open reads only the meta, freelist and
// top-level bucket pages of a file over fullCheckBytes, so a damaged page of one document's bucket is
// found when that document is read or written. That gives ErrCorrupt
// (bbolt's panic, or a fault on an element pointing outside the file, is
// recovered), the committer goes on, the other documents still work, and
// Verify (cowrite check) reports the damage.
func TestOpenDamagedDocumentPage(t *testing.T) {
	ne := binary.NativeEndian
	for _, tc := range []struct {
		name string
		fn   func(page []byte)
	}{
		// bbolt asserts page types with a panic on the caller's goroutine.
		{"page type", func(page []byte) { ne.PutUint16(page[8:], 0x40) }},
		// Element positions 32 MiB away: past the end of the file, inside
		// bbolt's 64 MiB mapping (a SIGBUS without SetPanicOnFault).
		{"elements outside the file", func(page []byte) {
			for i := range int(ne.Uint16(page[10:])) {
				ne.PutUint32(page[pageHeader+i*pageElem+4:], 32<<20)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := openTest(t, &Options{NoSync: true})
			// Over fullCheckBytes, so that Open does not walk every page.
			mustCreate(t, db, "big", strings.Repeat("x", fullCheckBytes+1<<20))
			mustCreate(t, db, "a", strings.Repeat("a", 100))
			mustCreate(t, db, "b", strings.Repeat("b", 100))
			mustAppend(t, db, "a", 1, 5, nil)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			damageDocPage(t, path, "a", tc.fn)

			db, err := Open(path, &Options{NoSync: true, Timeout: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err != nil {
				t.Fatalf("Open: %v (want the damage found later)", err)
			}
			defer db.Close()
			if _, _, _, err := db.Load(bg, "a"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Load(a) = %v, want ErrCorrupt", err)
			}
			if _, err := db.RenameDoc(bg, "a", "x"); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("RenameDoc(a) = %v, want ErrCorrupt", err)
			}
			// The walk of every page after Open finds the damage: every
			// write is refused, and Err says why.
			if _, err := db.RenameDoc(bg, "b", "x"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "damaged page") {
				t.Fatalf("RenameDoc(b) = %v, want ErrCorrupt (damaged page)", err)
			}
			if err := db.Err(); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Err() = %v, want ErrCorrupt", err)
			}
			if _, _, _, err := db.Load(bg, "b"); err != nil {
				t.Fatalf("Load(b) = %v", err)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			// Without a freelist (as after a crash) Open walks every page
			// and refuses the file.
			crashed := filepath.Join(t.TempDir(), "crashed.db")
			copyFile(t, path, crashed)
			dropFreelist(t, crashed)
			if db, err := Open(crashed, &Options{NoSync: true, Timeout: time.Second}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "damaged page") {
				if err == nil {
					db.Close()
				}
				t.Fatalf("Open without a freelist = %v, want ErrCorrupt (damaged page)", err)
			}
			r, err := Verify(path, time.Second, newAppendReplay)
			if err == nil && len(r.Problems) == 0 {
				t.Fatalf("Verify found nothing: %+v", r)
			}
			t.Logf("Verify: %v %v", err, r)
		})
	}
}

// metaFreelist returns the freelist page id in the newest meta page of the
// file at path (noFreelist if it has none).
func metaFreelist(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, ok := readMeta(f)
	if !ok {
		t.Fatal("no valid meta page")
	}
	return m.freelist
}

// TestFreelistWrittenAtClose: commits leave no freelist in the file (the
// next Open would walk it, as after a crash); Close writes one, so that
// the next Open reads it; a damaged freelist page is refused at Open.
func TestFreelistWrittenAtClose(t *testing.T) {
	db, path := openTest(t, &Options{NoSync: true})
	mustCreate(t, db, "a", "x")
	mustAppend(t, db, "a", 1, 3, nil)
	if fl := metaFreelist(t, path); fl != noFreelist {
		t.Fatalf("after a commit the meta page has freelist page %d, want none", fl)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	fl := metaFreelist(t, path)
	if fl == noFreelist {
		t.Fatal("after Close the meta page has no freelist")
	}
	db, err := Open(path, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ops, err := db.Load(bg, "a"); err != nil || len(ops) != 3 {
		t.Fatalf("Load = %d ops, %v", len(ops), err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	fl = metaFreelist(t, path)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	ps := int64(os.Getpagesize())
	if _, err := f.WriteAt([]byte{0x02, 0x00}, int64(fl)*ps+8); err != nil { // a leaf page's type
		t.Fatal(err)
	}
	f.Close()
	if db, err := Open(path, &Options{NoSync: true}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "damaged freelist") {
		if err == nil {
			db.Close()
		}
		t.Fatalf("Open with a damaged freelist page = %v, want ErrCorrupt (damaged freelist)", err)
	}
}

// TestOpenMutatedLargeFile: like TestOpenMutatedFiles, for a file over
// fullCheckBytes (Open checks only its freelist and top-level bucket
// pages, then walks every page in the background before any write):
// random bytes changed in its newest pages (the small documents and the
// top-level buckets); Open, reading every document, writing to each and
// Close return errors or not, never crash.
func TestOpenMutatedLargeFile(t *testing.T) {
	db, path := openTest(t, &Options{NoSync: true})
	mustCreate(t, db, "big", strings.Repeat("x", fullCheckBytes+1<<20))
	var ids []string
	for i := range 30 {
		id := string(rune('a'+i%26)) + strings.Repeat("z", i/26)
		ids = append(ids, id)
		mustCreate(t, db, id, strings.Repeat(id, 50))
		mustAppend(t, db, id, 1, uint64(1+i), nil)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := readMeta(f)
	f.Close()
	r := rand.New(rand.NewPCG(3, 4))
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	p := filepath.Join(t.TempDir(), "x.db")
	const n = 40
	refused, failed := 0, 0
	for range n {
		file := bytes.Clone(seed)
		lo := (m.pgid - 64) * m.pageSize
		for range 1 + r.IntN(4) {
			file[lo+uint64(r.IntN(int(64*m.pageSize)))] ^= byte(1 + r.IntN(255))
		}
		if err := os.WriteFile(p, file, 0o600); err != nil {
			t.Fatal(err)
		}
		db, err := Open(p, &Options{NoSync: true, Timeout: time.Second, Logger: quiet})
		if err != nil {
			refused++
			continue
		}
		for _, id := range append(ids, "big") {
			if _, _, _, err := db.Load(bg, id); err != nil {
				failed++
			}
			if _, err := db.RenameDoc(bg, id, "t"); err != nil {
				failed++
			}
		}
		if _, _, err := db.ListDocs(bg, ListOptions{Limit: 100}); err != nil {
			failed++
		}
		_ = db.Close()
	}
	t.Logf("Open refused %d of %d; %d reads or writes failed", refused, n, failed)
}

// TestOpenDirtyJournalWalksAll: a large file with a freelist whose journal
// still holds records (replayed into the document buckets by Open, before
// any background walk could finish) is walked whole first, so a damaged
// document page is refused at Open rather than written over.
func TestOpenDirtyJournalWalksAll(t *testing.T) {
	db, _ := openTest(t, &Options{NoSync: true})
	mustCreate(t, db, "big", strings.Repeat("x", fullCheckBytes+1<<20))
	mustCreate(t, db, "a", strings.Repeat("a", 100))
	mustAppend(t, db, "a", 1, 5, nil) // journaled, not yet checkpointed
	var buf bytes.Buffer
	if _, err := db.Backup(bg, &buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	// Give the copy a freelist, as a clean Close would.
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
	if err != nil {
		t.Fatal(err)
	}
	dirty := false
	_ = bdb.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bktJournal).Cursor().First()
		dirty = k != nil
		return nil
	})
	if err := bdb.Close(); err != nil {
		t.Fatal(err)
	}
	if !dirty || metaFreelist(t, path) == noFreelist {
		t.Fatalf("setup: journal dirty %v, freelist %d", dirty, metaFreelist(t, path))
	}
	damageDocPage(t, path, "a", func(page []byte) { binary.NativeEndian.PutUint16(page[8:], 0x40) })
	if db, err := Open(path, &Options{NoSync: true}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "damaged page") {
		if err == nil {
			db.Close()
		}
		t.Fatalf("Open = %v, want ErrCorrupt (damaged page)", err)
	}
}
