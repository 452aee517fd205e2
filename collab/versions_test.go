package collab_test

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/boltstore"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

// TestNamedVersionSurvivesRetention: a named version's content stays
// retrievable after retention pruned the ops and snapshots around it, and
// after a restart; an unnamed version as old is gone (version_too_old).
func TestNamedVersionSurvivesRetention(t *testing.T) {
	// Its own hub straight over boltstore (reopened below).
	path := filepath.Join(t.TempDir(), "data.db")
	var db *storage.DB
	var hub *collab.Hub
	open := func() {
		var err error
		if db, err = storage.Open(path, &storage.Options{NoSync: true, Retention: 1, CheckpointOps: 1}); err != nil {
			t.Fatal(err)
		}
		hub = collab.NewHub(boltstore.New(db), &recorder{}, &collab.Options{SnapshotEveryOps: 2, HistoryOps: 2})
	}
	shut := func() {
		if err := hub.Close(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	open()
	defer func() { shut() }()
	ctx := ctxT(t)
	mustCreate(t, hub, "d", "")
	for i := range 3 {
		if _, err := hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i), Op: op(ot.Ins("a"))}); err != nil {
			t.Fatal(err)
		}
	}
	three := uint64(3)
	nv, err := hub.NameVersion(ctx, "d", &three, "draft", collab.Author{ID: "u1", Name: "Ada"})
	if err != nil || nv.Version != 3 || nv.Label != "draft" || nv.Author.Name != "Ada" || nv.Created.IsZero() {
		t.Fatalf("NameVersion = %+v, %v", nv, err)
	}
	if _, err := hub.NameVersion(ctx, "d", nil, "", collab.Author{}); collab.CodeOf(err) != collab.CodeBadRequest {
		t.Errorf("empty label: %v", err)
	}
	nine := uint64(9)
	if _, err := hub.NameVersion(ctx, "d", &nine, "future", collab.Author{}); collab.CodeOf(err) != collab.CodeNotFound {
		t.Errorf("version above head: %v", err)
	}
	for i := 3; i < 30; i++ {
		if _, err := hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i), Op: op(ot.Ins("b"))}); err != nil {
			t.Fatal(err)
		}
	}
	shut()
	open()
	if oldest, err := db.OldestKeptOp(ctx, "d"); err != nil || oldest <= 4 {
		t.Fatalf("the log was not pruned past version 3: oldest kept op %d, %v", oldest, err)
	}
	if got, err := hub.ContentAt(ctx, "d", 3); err != nil || got != "aaa" {
		t.Errorf("named version 3 after pruning: %q, %v", got, err)
	}
	if _, err := hub.ContentAt(ctx, "d", 2); collab.CodeOf(err) != collab.CodeVersionTooOld {
		t.Errorf("unnamed version 2 after pruning: %v, want version_too_old", err)
	}
	vs, err := hub.Versions(ctx, "d")
	if err != nil || len(vs) != 1 || vs[0].Version != 3 || vs[0].Author.ID != "u1" {
		t.Fatalf("Versions = %+v, %v", vs, err)
	}
	if err := hub.DeleteVersion(ctx, "d", 3); err != nil {
		t.Fatal(err)
	}
	if err := hub.DeleteVersion(ctx, "d", 3); collab.CodeOf(err) != collab.CodeNotFound {
		t.Errorf("deleting a name twice: %v, want not_found", err)
	}
	if _, err := hub.ContentAt(ctx, "d", 3); collab.CodeOf(err) != collab.CodeVersionTooOld {
		t.Errorf("version 3 once unnamed: %v, want version_too_old", err)
	}
}

// TestWrappedStoreKeepsFeatures: named versions, tombstones and doc:meta
// work through a Store wrapper (the env's fault store, like the cluster's
// wrappers) — they are part of Store and Broadcaster, not optional
// interfaces a wrapper hides.
func TestWrappedStoreKeepsFeatures(t *testing.T) {
	e := newEnv(t, nil, nil)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "abc")
	if _, err := e.hub.NameVersion(ctx, "d", nil, "v", collab.Author{}); err != nil {
		t.Fatalf("name a version through the wrapper: %v", err)
	}
	if vs, err := e.hub.Versions(ctx, "d"); err != nil || len(vs) != 1 {
		t.Fatalf("versions: %+v %v", vs, err)
	}
	if _, err := e.hub.Rename(ctx, "d", "New"); err != nil {
		t.Fatal(err)
	}
	e.rec.mu.Lock()
	meta := slices.Clone(e.rec.meta)
	e.rec.mu.Unlock()
	if len(meta) != 1 || meta[0].Title != "New" {
		t.Fatalf("doc:meta broadcasts: %+v", meta)
	}
	if err := e.hub.Delete(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	_, err := e.hub.Join(ctx, "d", "s", "c", collab.User{}, nil)
	var ce *collab.Error
	if !errors.As(err, &ce) || ce.Code != collab.CodeNotFound || ce.Reason != collab.ReasonDeleted {
		t.Fatalf("join of a deleted document through the wrapper: %v, want not_found reason deleted", err)
	}
}
