package boltstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/boltstore"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func open(t *testing.T, o *storage.Options) *boltstore.Store {
	t.Helper()
	db, err := storage.Open(t.TempDir()+"/d.db", o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return boltstore.New(db)
}

func appendSync(s *boltstore.Store, b *collab.Batch) error {
	ch := make(chan error, 1)
	s.Append(b, func(err error) { ch <- err })
	return <-ch
}

func TestRoundTrip(t *testing.T) {
	s := open(t, &storage.Options{NoSync: true, Retention: 1, CheckpointOps: 1})
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	if err := s.CreateDoc(ctx, collab.DocInfo{ID: "d", Title: "T", Created: now, Updated: now}, "a😀"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateDoc(ctx, collab.DocInfo{ID: "d"}, ""); !errors.Is(err, collab.ErrDocExists) || collab.CodeOf(err) != collab.CodeConflict {
		t.Fatalf("second create: %v", err)
	}
	info, err := s.GetDoc(ctx, "d")
	if err != nil || info.Title != "T" || info.Size != 5 || info.Version != 0 || !info.Created.Equal(now) {
		t.Fatalf("%+v %v", info, err)
	}
	_, err = s.GetDoc(ctx, "nope")
	if !errors.Is(err, collab.ErrDocNotFound) || collab.CodeOf(err) != collab.CodeNotFound {
		t.Fatalf("missing: %v", err)
	}
	ops := []collab.OpRecord{
		{Version: 1, Op: ot.Op{ot.Retain(1), ot.DelText("😀"), ot.Ins("é")}, Client: "c", Seq: 7, Time: now},
		{Version: 2, Op: ot.Op{ot.Del(1)}, Time: now},
		{Version: 3, Op: ot.Op{ot.Ins("xyz")}, Client: "c", Seq: 9, Time: now},
	}
	if err := appendSync(s, &collab.Batch{Doc: "d", Ops: ops[:2], Size: 2, Updated: now}); err != nil {
		t.Fatal(err)
	}
	// A gap is refused.
	if err := appendSync(s, &collab.Batch{Doc: "d", Ops: ops[2:2], Size: 2}); err == nil {
		t.Fatal("empty batch accepted")
	}
	if err := appendSync(s, &collab.Batch{Doc: "d", Ops: []collab.OpRecord{{Version: 5, Op: ot.Op{ot.Ins("q")}}}}); err == nil {
		t.Fatal("append with a gap succeeded")
	}
	if err := appendSync(s, &collab.Batch{Doc: "d", Ops: ops[2:], Size: 4, Snapshot: &collab.Snapshot{Version: 3, Content: "xyzé"}}); err != nil {
		t.Fatal(err)
	}
	ld, err := s.LoadDoc(ctx, "d")
	if err != nil || ld.Info.Version != 3 || ld.Snapshot.Version != 3 || ld.Snapshot.Content != "xyzé" || len(ld.Ops) != 0 {
		t.Fatalf("%+v %v", ld, err)
	}
	recs, err := s.ReadOps(ctx, "d", 0, 3, 0)
	if err != nil || len(recs) != 3 {
		t.Fatalf("%+v %v", recs, err)
	}
	for i, r := range recs {
		if r.Version != ops[i].Version || r.Op.String() != ops[i].Op.String() || r.Client != ops[i].Client || r.Seq != ops[i].Seq || !r.Time.Equal(now) {
			t.Errorf("record %d = %+v, want %+v", i, r, ops[i])
		}
	}
	seq, v, floor, err := s.LastSeq(ctx, "d", "c")
	if err != nil || seq != 9 || v != 3 || floor != 0 {
		t.Fatalf("LastSeq = %d %d %d %v", seq, v, floor, err)
	}
	if seq, v, floor, err := s.LastSeq(ctx, "d", "nobody"); err != nil || seq != 0 || v != 0 || floor != 0 {
		t.Fatalf("LastSeq(nobody) = %d %d %d %v", seq, v, floor, err)
	}
	snap, err := s.SnapshotAtOrBelow(ctx, "d", 2)
	if err != nil || snap.Version != 0 || snap.Content != "a😀" {
		t.Fatalf("%+v %v", snap, err)
	}
	if oldest, err := s.CatchUpFloor(ctx, "d"); err != nil || oldest != 0 {
		t.Fatalf("oldest %d %v", oldest, err)
	}
	if _, err := s.ReadOps(ctx, "d", 4, 5, 0); collab.CodeOf(err) != collab.CodeVersionAhead {
		t.Fatalf("read ahead: %v", err)
	}
	docs, next, err := s.ListDocs(ctx, 10, "")
	if err != nil || len(docs) != 1 || next != "" || docs[0].Version != 3 {
		t.Fatalf("%+v %q %v", docs, next, err)
	}
	if _, _, err := s.ListDocs(ctx, 10, "!!bad cursor"); collab.CodeOf(err) != collab.CodeBadRequest {
		t.Fatalf("bad cursor: %v", err)
	}
	if info, err := s.RenameDoc(ctx, "d", "U"); err != nil || info.Title != "U" {
		t.Fatalf("%+v %v", info, err)
	}
	if err := s.DeleteDoc(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteDoc(ctx, "d"); !errors.Is(err, collab.ErrDocNotFound) {
		t.Fatal(err)
	}
	if err := appendSync(s, &collab.Batch{Doc: "d", Ops: []collab.OpRecord{{Version: 4, Op: ot.Op{ot.Ins("q")}}}}); !errors.Is(err, collab.ErrDocNotFound) {
		t.Fatalf("append to deleted: %v", err)
	}
}

func TestPruned(t *testing.T) {
	s := open(t, &storage.Options{NoSync: true, Retention: 1, CheckpointOps: 1})
	ctx := context.Background()
	if err := s.CreateDoc(ctx, collab.DocInfo{ID: "d"}, ""); err != nil {
		t.Fatal(err)
	}
	text := ""
	for v := uint64(1); v <= 10; v++ {
		text += "x"
		b := &collab.Batch{Doc: "d", Ops: []collab.OpRecord{{Version: v, Op: ot.Op{ot.Ins("x")}}}, Size: int64(v)}
		if v%3 == 0 {
			b.Snapshot = &collab.Snapshot{Version: v, Content: text}
		}
		if err := appendSync(s, b); err != nil {
			t.Fatal(err)
		}
	}
	oldest, err := s.CatchUpFloor(ctx, "d")
	if err != nil || oldest == 0 {
		t.Fatalf("not pruned: %d %v", oldest, err)
	}
	if recs, err := s.ReadOps(ctx, "d", oldest, 10, 0); err != nil || len(recs) != int(10-oldest) {
		t.Fatalf("read from the oldest kept base %d: %d ops, %v", oldest, len(recs), err)
	}
	if _, err := s.ReadOps(ctx, "d", 0, 10, 0); collab.CodeOf(err) != collab.CodeVersionTooOld {
		t.Fatalf("read pruned: %v", err)
	}
	if _, err := s.SnapshotAtOrBelow(ctx, "d", 1); collab.CodeOf(err) != collab.CodeVersionTooOld {
		t.Fatalf("pruned snapshot: %v", err)
	}
}
