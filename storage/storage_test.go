package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenErrors(t *testing.T) {
	t.Run("locked", func(t *testing.T) {
		_, path := openTest(t, nil)
		start := time.Now()
		db2, err := Open(path, &Options{Timeout: 100 * time.Millisecond})
		if err == nil {
			db2.Close()
			t.Fatal("second Open succeeded")
		}
		if !errors.Is(err, ErrLocked) {
			t.Fatalf("err = %v, want ErrLocked", err)
		}
		// Only a hang guard: with Options.Timeout ignored, bbolt would
		// wait for the lock forever.
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("ErrLocked after %v", d)
		}
	})
	cases := []struct {
		name  string
		setup func(t *testing.T, path string)
		want  error
	}{
		{"garbage", func(t *testing.T, path string) {
			b := bytes.Repeat([]byte("not a bbolt file "), 1000)
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt},
		{"short garbage", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("hello"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt},
		{"damaged meta pages", func(t *testing.T, path string) {
			db, err := Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			// Overwrite the checksummed part of both meta pages.
			ps := os.Getpagesize()
			for _, off := range []int64{16, int64(ps) + 16} {
				if _, err := f.WriteAt(bytes.Repeat([]byte{0xAB}, 64), off); err != nil {
					t.Fatal(err)
				}
			}
			f.Close()
		}, ErrCorrupt},
		{"foreign bbolt file", func(t *testing.T, path string) {
			bdb, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer bdb.Close()
			if err := bdb.Update(func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte("other"))
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}, ErrCorrupt},
		{"schema too new", func(t *testing.T, path string) {
			db, err := Open(path, nil)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			bdb, err := bolt.Open(path, 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer bdb.Close()
			if err := bdb.Update(func(tx *bolt.Tx) error {
				return tx.Bucket(bktSys).Put(keySchema, u64(SchemaVersion+1))
			}); err != nil {
				t.Fatal(err)
			}
		}, ErrSchemaTooNew},
		{"empty file is a new database", func(t *testing.T, path string) {
			if err := os.WriteFile(path, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			tc.setup(t, path)
			db, err := Open(path, &Options{Timeout: 200 * time.Millisecond})
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				db.Close()
				return
			}
			if err == nil {
				db.Close()
				t.Fatalf("Open succeeded, want %v", tc.want)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			t.Logf("error: %v", err)
		})
	}
}

// TestOpenDropsUpdatedIndex: the "updated" index that earlier versions
// wrote (and nothing read) is deleted when such a file is opened; the
// documents are untouched.
func TestOpenDropsUpdatedIndex(t *testing.T) {
	db, path := openTest(t, nil)
	mustCreate(t, db, "d", "x")
	mustAppend(t, db, "d", 1, 2, nil)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	bdb, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bdb.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(bktUpdated)
		if err != nil {
			return err
		}
		return b.Put([]byte("\x00\x01d"), nil)
	}); err != nil {
		t.Fatal(err)
	}
	bdb.Close()
	db, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if m, err := db.GetDoc(bg, "d"); err != nil || m.Version != 2 {
		t.Fatalf("GetDoc = %+v, %v", m, err)
	}
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		if tx.Bucket(bktUpdated) != nil {
			return errors.New("the updated index is still there")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestCreateGetDoc(t *testing.T) {
	db, _ := openTest(t, nil)
	created := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	first, err := db.CreateDoc(bg, DocMeta{ID: "a", Title: "A", Created: created}, "héllo")
	if err != nil {
		t.Fatal(err)
	}
	if first.Version != 0 || first.Size != int64(len("héllo")) || !first.Created.Equal(created) || !first.Updated.Equal(created) || first.Title != "A" {
		t.Fatalf("created meta = %+v", first)
	}
	cases := []struct {
		name string
		meta DocMeta
		want error
	}{
		{"new", DocMeta{ID: "b"}, nil},
		{"unicode id", DocMeta{ID: "日本語 doc"}, nil},
		{"exists", DocMeta{ID: "a"}, ErrExists},
		{"empty id", DocMeta{}, ErrInvalid},
		{"long id", DocMeta{ID: strings.Repeat("x", MaxIDLen+1)}, ErrInvalid},
		{"bad utf8 id", DocMeta{ID: "\xff"}, ErrInvalid},
		{"nonzero version", DocMeta{ID: "c", Version: 3}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := db.CreateDoc(bg, tc.meta, "x")
			if !errors.Is(err, tc.want) {
				t.Fatalf("CreateDoc err = %v, want %v", err, tc.want)
			}
			if tc.want != nil {
				return
			}
			got, err := db.GetDoc(bg, tc.meta.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got != m || got.Created.IsZero() || got.Size != 1 {
				t.Fatalf("GetDoc = %+v, CreateDoc returned %+v", got, m)
			}
			s, err := latestSnapshot(db, tc.meta.ID)
			if err != nil || s != (Snapshot{0, "x"}) {
				t.Fatalf("LatestSnapshot = %+v, %v", s, err)
			}
		})
	}
	if got, _ := db.GetDoc(bg, "a"); got != first {
		t.Fatalf("doc a changed by failed create: %+v", got)
	}
	if _, err := db.GetDoc(bg, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("GetDoc missing: %v", err)
	}
}

func TestAppend(t *testing.T) {
	cases := []struct {
		name  string
		start uint64 // ops committed before
		a     func() Append
		want  error
		head  uint64
	}{
		{"first op", 0, func() Append {
			return Append{Doc: "d", Records: []OpRecord{rec("d", 1, "", 0)}, Meta: DocMeta{Version: 1}}
		}, nil, 1},
		{"several ops", 2, func() Append {
			return Append{Doc: "d", Records: []OpRecord{rec("d", 3, "", 0), rec("d", 4, "", 0)}, Meta: DocMeta{Version: 4}}
		}, nil, 4},
		{"snapshot only", 2, func() Append {
			return Append{Doc: "d", Meta: DocMeta{Version: 2}, Snapshot: &Snapshot{Version: 2, Content: "s"}}
		}, nil, 2},
		{"gap", 2, func() Append {
			return Append{Doc: "d", Records: []OpRecord{rec("d", 4, "", 0)}, Meta: DocMeta{Version: 4}}
		}, ErrVersionConflict, 2},
		{"duplicate version", 2, func() Append {
			return Append{Doc: "d", Records: []OpRecord{rec("d", 2, "", 0)}, Meta: DocMeta{Version: 2}}
		}, ErrVersionConflict, 2},
		{"not contiguous", 0, func() Append {
			return Append{Doc: "d", Records: []OpRecord{rec("d", 1, "", 0), rec("d", 3, "", 0)}, Meta: DocMeta{Version: 3}}
		}, ErrVersionConflict, 0},
		{"meta version mismatch", 0, func() Append {
			return Append{Doc: "d", Records: []OpRecord{rec("d", 1, "", 0)}, Meta: DocMeta{Version: 2}}
		}, ErrVersionConflict, 0},
		{"snapshot ahead", 0, func() Append {
			return Append{Doc: "d", Records: []OpRecord{rec("d", 1, "", 0)}, Meta: DocMeta{Version: 1}, Snapshot: &Snapshot{Version: 2}}
		}, ErrVersionConflict, 0},
		{"missing doc", 0, func() Append {
			return Append{Doc: "zz", Records: []OpRecord{rec("zz", 1, "", 0)}, Meta: DocMeta{Version: 1}}
		}, ErrNotFound, 0},
		{"long client", 0, func() Append {
			r := rec("d", 1, strings.Repeat("c", MaxClientLen+1), 1)
			return Append{Doc: "d", Records: []OpRecord{r}, Meta: DocMeta{Version: 1}}
		}, ErrInvalid, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openTest(t, nil)
			mustCreate(t, db, "d", "")
			if tc.start > 0 {
				mustAppend(t, db, "d", 1, tc.start, nil)
			}
			before, _ := db.GetDoc(bg, "d")
			a := tc.a()
			err := db.Append(a).Err()
			if !errors.Is(err, tc.want) {
				t.Fatalf("Append err = %v, want %v", err, tc.want)
			}
			m, err := db.GetDoc(bg, "d")
			if err != nil {
				t.Fatal(err)
			}
			if m.Version != tc.head {
				t.Fatalf("head = %d, want %d", m.Version, tc.head)
			}
			if tc.want != nil {
				if m != before {
					t.Fatalf("failed append changed meta: %+v -> %+v", before, m)
				}
				return
			}
			ops, err := db.ReadOps(bg, "d", tc.start, Head, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(ops) != len(a.Records) {
				t.Fatalf("read %d ops, want %d", len(ops), len(a.Records))
			}
			for i, r := range ops {
				w := a.Records[i]
				if r.Version != w.Version || !bytes.Equal(r.Op, w.Op) || r.Client != w.Client || r.Seq != w.Seq || r.Time.IsZero() {
					t.Fatalf("op %d = %+v, want %+v", i, r, w)
				}
			}
			if a.Snapshot != nil {
				s, err := latestSnapshot(db, "d")
				if err != nil || s != *a.Snapshot {
					t.Fatalf("snapshot = %+v, %v", s, err)
				}
			}
		})
	}
}

func TestAppendKeepsMetaFields(t *testing.T) {
	db, _ := openTest(t, nil)
	m0 := mustCreate(t, db, "d", "abc")
	upd := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	err := db.Append(Append{Doc: "d", Records: []OpRecord{rec("d", 1, "", 0)},
		Meta: DocMeta{ID: "other", Title: "ignored", Version: 1, Size: 42, Updated: upd}}).Err()
	if err != nil {
		t.Fatal(err)
	}
	m, _ := db.GetDoc(bg, "d")
	want := DocMeta{ID: "d", Title: m0.Title, Created: m0.Created, Updated: upd, Version: 1, Size: 42}
	if m != want {
		t.Fatalf("meta = %+v, want %+v", m, want)
	}
	ops, _ := db.ReadOps(bg, "d", 0, 1, 0)
	if len(ops) != 1 || ops[0].Time.IsZero() {
		t.Fatalf("ops = %+v", ops)
	}
}

func TestBatchIsolatesBadAppends(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "a", "")
	mustCreate(t, db, "b", "")
	release := holdCommitter(t, db)
	batches := db.Stats().Batches
	a1 := appendOps(db, "a", 1, 1, nil)
	bBad := appendOps(db, "b", 5, 5, nil) // gap: conflict
	a2 := appendOps(db, "a", 2, 3, nil)
	b1 := appendOps(db, "b", 1, 1, nil)
	missing := appendOps(db, "x", 1, 1, nil)
	release()
	for name, c := range map[string]*Commit{"a1": a1, "a2": a2, "b1": b1} {
		if err := c.Err(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := bBad.Err(); !errors.Is(err, ErrVersionConflict) {
		t.Errorf("bBad: %v", err)
	}
	if err := missing.Err(); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing: %v", err)
	}
	if got := db.Stats().Batches - batches; got != 2 { // the holding batch + one
		t.Errorf("%d batches, want 2 (held + one group)", got)
	}
	for doc, want := range map[string]uint64{"a": 3, "b": 1} {
		if m, _ := db.GetDoc(bg, doc); m.Version != want {
			t.Errorf("%s at %d, want %d", doc, m.Version, want)
		}
	}
}

func TestPipelinedFailureLeavesNoGap(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "d", "")
	release := holdCommitter(t, db)
	bad := db.Append(Append{Doc: "d", Records: []OpRecord{rec("d", 1, "", 0)}, Meta: DocMeta{Version: 7}})
	next := appendOps(db, "d", 2, 2, nil)
	release()
	if err := bad.Err(); !errors.Is(err, ErrVersionConflict) {
		t.Fatal(err)
	}
	if err := next.Err(); !errors.Is(err, ErrVersionConflict) {
		t.Fatalf("pipelined v2 after failed v1: %v", err)
	}
}

func TestFailedBatchIsAtomic(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "a", "")
	release := holdCommitter(t, db)
	a1 := appendOps(db, "a", 1, 1, nil)
	boom := errors.New("disk on fire")
	ab := db.enqueue(func(*bolt.Tx, *batch) error { return abort(boom) })
	a2 := appendOps(db, "a", 2, 2, nil)
	release()
	for _, c := range []*Commit{a1, ab, a2} {
		if err := c.Err(); !errors.Is(err, boom) {
			t.Fatalf("err = %v, want the batch failure", err)
		}
	}
	if m, _ := db.GetDoc(bg, "a"); m.Version != 0 {
		t.Fatalf("version %d after failed batch", m.Version)
	}
	if ops, _ := db.ReadOps(bg, "a", 0, Head, 0); len(ops) != 0 {
		t.Fatalf("ops after failed batch: %v", ops)
	}
	if db.Stats().FailedBatches != 1 {
		t.Fatalf("stats: %+v", db.Stats())
	}
	mustAppend(t, db, "a", 1, 1, nil) // the committer goes on
}

func TestReadOps(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "d", "")
	mustAppend(t, db, "d", 1, 10, nil)
	cases := []struct {
		name     string
		from, to uint64
		limit    int
		first    uint64
		n        int
		want     error
	}{
		{"all", 0, Head, 0, 1, 10, nil},
		{"middle", 3, 6, 0, 4, 3, nil},
		{"limit", 2, Head, 4, 3, 4, nil},
		{"to capped", 8, 100, 0, 9, 2, nil},
		{"empty at head", 10, Head, 0, 0, 0, nil},
		{"to below from", 5, 3, 0, 0, 0, nil},
		{"ahead", 11, Head, 0, 0, 0, ErrVersionAhead},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ops, err := db.ReadOps(bg, "d", tc.from, tc.to, tc.limit)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(ops) != tc.n {
				t.Fatalf("%d ops, want %d", len(ops), tc.n)
			}
			for i, r := range ops {
				if w := rec("d", tc.first+uint64(i), "c1", tc.first+uint64(i)); r.Version != w.Version || !bytes.Equal(r.Op, w.Op) {
					t.Fatalf("op %d = %+v", i, r)
				}
			}
		})
	}
	if _, err := db.ReadOps(bg, "nope", 0, Head, 0); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if _, err := db.ReadOps(ctx, "d", 0, Head, 0); !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}

func TestSnapshots(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "d", "v0")
	mustAppend(t, db, "d", 1, 5, &Snapshot{Version: 5, Content: "v5"})
	mustAppend(t, db, "d", 6, 9, &Snapshot{Version: 8, Content: "v8"})
	cases := []struct {
		v    uint64
		want Snapshot
	}{{0, Snapshot{0, "v0"}}, {4, Snapshot{0, "v0"}}, {5, Snapshot{5, "v5"}}, {7, Snapshot{5, "v5"}}, {8, Snapshot{8, "v8"}}, {9, Snapshot{8, "v8"}}, {Head, Snapshot{8, "v8"}}}
	for _, tc := range cases {
		s, err := db.SnapshotAtOrBelow(bg, "d", tc.v)
		if err != nil || s != tc.want {
			t.Errorf("SnapshotAtOrBelow(%d) = %+v, %v; want %+v", tc.v, s, err, tc.want)
		}
	}
	m, s, ops, err := db.Load(bg, "d")
	if err != nil || m.Version != 9 || s.Version != 8 || len(ops) != 1 || ops[0].Version != 9 {
		t.Fatalf("Load = %+v %+v %v %v", m, s, ops, err)
	}
	if _, err := latestSnapshot(db, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestRetentionAndContentAt(t *testing.T) {
	db, path := openTest(t, &Options{Retention: 10})
	mustCreate(t, db, "d", "")
	for v := uint64(1); v <= 100; v++ {
		var snap *Snapshot
		if v%20 == 0 {
			snap = &Snapshot{Version: v, Content: contentOf(v)}
		}
		mustAppend(t, db, "d", v, v, snap)
	}
	// Pruning happens at checkpoints; Close checkpoints.
	if oldest, _ := db.OldestKeptOp(bg, "d"); oldest != 1 {
		t.Fatalf("pruned before a checkpoint: oldest %d", oldest)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, &Options{Retention: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Newest snapshot 100, limit 90, base = snapshot 80: ops <= 80 gone.
	oldest, err := db.OldestKeptOp(bg, "d")
	if err != nil || oldest != 81 {
		t.Fatalf("OldestKeptOp = %d, %v; want 81", oldest, err)
	}
	if _, err := db.ReadOps(bg, "d", 79, Head, 0); !errors.Is(err, ErrPruned) {
		t.Fatalf("ReadOps below oldest: %v", err)
	}
	if ops, err := db.ReadOps(bg, "d", 80, Head, 0); err != nil || len(ops) != 20 {
		t.Fatalf("ReadOps from oldest-1: %d, %v", len(ops), err)
	}
	if _, err := db.SnapshotAtOrBelow(bg, "d", 79); !errors.Is(err, ErrPruned) {
		t.Fatalf("snapshot 60 should be pruned: %v", err)
	}
	for _, v := range []uint64{80, 85, 100} {
		got, err := contentAt(db, "d", v, applyTest)
		if err != nil || got != contentOf(v) {
			t.Fatalf("ContentAt(%d) = %q, %v", v, got, err)
		}
	}
	if _, err := contentAt(db, "d", 50, applyTest); !errors.Is(err, ErrPruned) {
		t.Fatalf("ContentAt(50): %v", err)
	}
	if _, err := contentAt(db, "d", 101, applyTest); !errors.Is(err, ErrVersionAhead) {
		t.Fatalf("ContentAt(101): %v", err)
	}
	// Dedupe survives pruning.
	if seq, v, ok, err := db.LastSeq(bg, "d", "c1"); !ok || err != nil || seq != 100 || v != 100 {
		t.Fatalf("LastSeq = %d %d %v %v", seq, v, ok, err)
	}
}

func TestContentAtNoRetention(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "d", "")
	mustAppend(t, db, "d", 1, 30, &Snapshot{Version: 10, Content: contentOf(10)})
	for _, v := range []uint64{0, 1, 9, 10, 11, 30} {
		got, err := contentAt(db, "d", v, applyTest)
		if err != nil || got != contentOf(v) {
			t.Fatalf("ContentAt(%d) = %q, %v", v, got, err)
		}
	}
	if oldest, _ := db.OldestKeptOp(bg, "d"); oldest != 1 {
		t.Fatalf("oldest = %d", oldest)
	}
	err := db.Append(Append{Doc: "d", Records: []OpRecord{{Version: 31, Op: []byte(`"bad"`)}}, Meta: DocMeta{Version: 31}}).Err()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := contentAt(db, "d", 31, applyTest); err == nil || !strings.Contains(err.Error(), "bad op") {
		t.Fatalf("apply error not returned: %v", err)
	}
}

func TestLastSeq(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "d", "")
	recs := []OpRecord{
		{Version: 1, Op: []byte(`[]`), Client: "alice", Seq: 1},
		{Version: 2, Op: []byte(`[]`), Client: "bob", Seq: 7},
		{Version: 3, Op: []byte(`[]`), Client: "alice", Seq: 2},
		{Version: 4, Op: []byte(`[]`), Client: "", Seq: 0},
		{Version: 5, Op: []byte(`[]`), Client: "bob", Seq: 3}, // lower seq: does not move back
	}
	if err := db.Append(Append{Doc: "d", Records: recs, Meta: DocMeta{Version: 5}}).Err(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		client       string
		seq, version uint64
		ok           bool
	}{{"alice", 2, 3, true}, {"bob", 7, 2, true}, {"carol", 0, 0, false}, {"", 0, 0, false}}
	for _, tc := range cases {
		seq, v, ok, err := db.LastSeq(bg, "d", tc.client)
		if err != nil || seq != tc.seq || v != tc.version || ok != tc.ok {
			t.Errorf("LastSeq(%q) = %d %d %v %v", tc.client, seq, v, ok, err)
		}
	}
	if _, _, _, err := db.LastSeq(bg, "nope", "alice"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestListDocs(t *testing.T) {
	db, _ := openTest(t, nil)
	ids := []string{"d03", "d01", "d05", "d02", "d04"}
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, id := range ids {
		if _, err := db.CreateDoc(bg, DocMeta{ID: id, Created: base.Add(time.Duration(i) * time.Minute)}, ""); err != nil {
			t.Fatal(err)
		}
	}
	collect := func(limit int) ([]string, int) {
		var got []string
		pages, cursor := 0, ""
		for {
			docs, next, err := db.ListDocs(bg, ListOptions{Limit: limit, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for _, d := range docs {
				got = append(got, d.ID)
			}
			if next == "" {
				return got, pages
			}
			cursor = next
		}
	}
	cases := []struct {
		name  string
		limit int
		want  string
		pages int
	}{
		{"one page", 0, "d01 d02 d03 d04 d05", 1},
		{"pages of 2", 2, "d01 d02 d03 d04 d05", 3},
		{"exact pages", 5, "d01 d02 d03 d04 d05", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, pages := collect(tc.limit)
			if strings.Join(got, " ") != tc.want || pages != tc.pages {
				t.Fatalf("got %v in %d pages, want %s in %d", got, pages, tc.want, tc.pages)
			}
		})
	}
	_, next, _ := db.ListDocs(bg, ListOptions{Limit: 1})
	for _, bad := range []string{"!!!", "eA", "dWQwMQ", next[:1]} {
		if _, _, err := db.ListDocs(bg, ListOptions{Cursor: bad}); !errors.Is(err, ErrInvalid) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
	// Deleted documents disappear.
	if err := db.DeleteDoc(bg, "d04"); err != nil {
		t.Fatal(err)
	}
	if got, _ := collect(0); strings.Join(got, " ") != "d01 d02 d03 d05" {
		t.Fatalf("after delete: %v", got)
	}
}

func TestRenameDoc(t *testing.T) {
	db, _ := openTest(t, nil)
	m0 := mustCreate(t, db, "d", "x")
	m, err := db.RenameDoc(bg, "d", "New title")
	if err != nil || m.Title != "New title" || m.Version != m0.Version || !m.Updated.Equal(m0.Updated) {
		t.Fatalf("RenameDoc = %+v, %v", m, err)
	}
	if got, _ := db.GetDoc(bg, "d"); got != m {
		t.Fatalf("GetDoc = %+v", got)
	}
	if _, err := db.RenameDoc(bg, "nope", "t"); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
}

func TestDeleteDoc(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "d", "x")
	mustCreate(t, db, "keep", "y")
	mustAppend(t, db, "d", 1, 5, &Snapshot{Version: 5, Content: "five"})
	mustAppend(t, db, "keep", 1, 2, nil)
	if err := db.DeleteDoc(bg, "d"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteDoc(bg, "d"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := appendOps(db, "d", 6, 6, nil).Err(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("append after delete: %v", err)
	}
	if _, err := db.ReadOps(bg, "d", 0, Head, 0); !errors.Is(err, ErrNotFound) {
		t.Fatal(err)
	}
	// Recreating the id starts from scratch: no old ops, snapshots or seqs.
	mustCreate(t, db, "d", "fresh")
	if s, _ := latestSnapshot(db, "d"); s != (Snapshot{0, "fresh"}) {
		t.Fatalf("snapshot after recreate: %+v", s)
	}
	if _, _, ok, _ := db.LastSeq(bg, "d", "c1"); ok {
		t.Fatal("dedupe entry survived delete")
	}
	if m, _ := db.GetDoc(bg, "keep"); m.Version != 2 {
		t.Fatalf("other doc: %+v", m)
	}
}

func TestQueuedAppendsFailAfterDelete(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "d", "")
	release := holdCommitter(t, db)
	a1 := appendOps(db, "d", 1, 1, nil)
	errc := make(chan error, 1)
	go func() { errc <- db.DeleteDoc(bg, "d") }()
	waitQueued(db, 2) // the delete, behind a1
	a2 := appendOps(db, "d", 2, 2, nil)
	release()
	if err := a1.Err(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if err := a2.Err(); !errors.Is(err, ErrNotFound) {
		t.Fatalf("append queued after delete: %v", err)
	}
}

func TestCloseFlushesAndPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	db, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, "d", "")
	var commits []*Commit
	for v := uint64(1); v <= 200; v++ {
		commits = append(commits, appendOps(db, "d", v, v, nil))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for i, c := range commits {
		select {
		case <-c.Done():
		default:
			t.Fatalf("commit %d not done after Close", i)
		}
		if c.Err() != nil {
			t.Fatalf("commit %d: %v", i, c.Err())
		}
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := appendOps(db, "d", 201, 201, nil).Err(); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if _, err := db.GetDoc(bg, "d"); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	if _, err := db.CreateDoc(bg, DocMeta{ID: "e"}, ""); !errors.Is(err, ErrClosed) {
		t.Fatalf("create after close: %v", err)
	}

	db, err = Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ops, err := db.ReadOps(bg, "d", 0, Head, 0)
	if err != nil || len(ops) != 200 {
		t.Fatalf("after reopen: %d ops, %v", len(ops), err)
	}
}

func TestBackup(t *testing.T) {
	db, _ := openTest(t, nil)
	mustCreate(t, db, "d", "hello")
	mustAppend(t, db, "d", 1, 3, nil)
	var buf bytes.Buffer
	n, err := db.Backup(bg, &buf)
	if err != nil || n != int64(buf.Len()) || n == 0 {
		t.Fatalf("Backup = %d, %v (buffer %d)", n, err, buf.Len())
	}
	mustAppend(t, db, "d", 4, 4, nil) // not in the backup
	path := filepath.Join(t.TempDir(), "restored.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	rdb, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	m, err := rdb.GetDoc(bg, "d")
	if err != nil || m.Version != 3 {
		t.Fatalf("restored meta %+v, %v", m, err)
	}
	if got, err := contentAt(rdb, "d", 0, applyTest); err != nil || got != "hello" {
		t.Fatalf("restored content %q %v", got, err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	db, _ := openTest(t, &Options{NoSync: true, Retention: 5, CheckpointOps: 16})
	const docs, writers, perWriter = 4, 4, 30
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for d := range docs {
		id := fmt.Sprintf("doc%d", d)
		mustCreate(t, db, id, "")
		var mu sync.Mutex // the "sequencer" of this doc
		next := uint64(1)
		var acked atomic.Uint64 // highest version acknowledged so far
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				client := fmt.Sprintf("w%d", w)
				for s := uint64(1); s <= perWriter; s++ {
					mu.Lock()
					v := next
					next++
					var snap *Snapshot
					if v%7 == 0 {
						snap = &Snapshot{Version: v, Content: contentOf(v)}
					}
					c := db.Append(Append{Doc: id, Records: []OpRecord{{Version: v, Op: rec("d", v, client, s).Op, Client: client, Seq: s}},
						Meta: DocMeta{Version: v}, Snapshot: snap})
					mu.Unlock()
					if err := c.Err(); err != nil {
						t.Error(err)
						return
					}
					for { // acked only grows
						cur := acked.Load()
						if v <= cur || acked.CompareAndSwap(cur, v) {
							break
						}
					}
				}
			}()
		}
		// A reader racing the committer and its checkpoints: every view is
		// consistent (snapshot + contiguous ops up to the head), never older
		// than what was acknowledged before it started.
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				floor := acked.Load()
				m, s, ops, err := db.Load(bg, id)
				if err != nil {
					t.Error(err)
					return
				}
				if m.Version < floor {
					t.Errorf("%s: read version %d after %d was acknowledged", id, m.Version, floor)
					return
				}
				if s.Version+uint64(len(ops)) != m.Version {
					t.Errorf("%s: snapshot %d + %d ops != version %d", id, s.Version, len(ops), m.Version)
					return
				}
				content := s.Content
				for i, r := range ops {
					if r.Version != s.Version+uint64(i)+1 {
						t.Errorf("%s: op %d has version %d", id, i, r.Version)
						return
					}
					content, _ = applyTest(content, r.Op)
				}
				if content != contentOf(m.Version) {
					t.Errorf("%s: content at %d wrong", id, m.Version)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	for d := range docs {
		id := fmt.Sprintf("doc%d", d)
		m, _ := db.GetDoc(bg, id)
		if m.Version != writers*perWriter {
			t.Fatalf("%s at %d", id, m.Version)
		}
		// The committer goes on with checkpoint steps (which prune) after
		// the last write is acknowledged: hold it, so that the oldest kept
		// version cannot move on between the two reads.
		release := holdCommitter(t, db)
		oldest, _ := db.OldestKeptOp(bg, id)
		ops, err := db.ReadOps(bg, id, oldest-1, Head, 0)
		release()
		if oldest == 1 {
			t.Errorf("%s: nothing pruned", id)
		}
		if err != nil || uint64(len(ops)) != m.Version-oldest+1 {
			t.Fatalf("%s: %d ops from %d, %v", id, len(ops), oldest, err)
		}
		for w := range writers {
			if seq, _, ok, _ := db.LastSeq(bg, id, fmt.Sprintf("w%d", w)); !ok || seq != perWriter {
				t.Fatalf("%s w%d seq %d", id, w, seq)
			}
		}
	}
	if st := db.Stats(); st.Checkpoints == 0 || st.FailedCheckpoints > 0 {
		t.Fatalf("checkpoints: %+v", st)
	}
}
