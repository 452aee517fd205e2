package storetest_test

import (
	"context"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/internal/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// countingStore counts the openings that wrapped a store.
type countingStore struct{ collab.Store }

// TestEnvRestart: a document survives a restart (the file is closed and
// opened again), WrapStore wraps every opening's store, and Close leaves
// the Env closed (a second Close does nothing).
func TestEnvRestart(t *testing.T) {
	wraps := 0
	e := &storetest.Env{T: t, Path: filepath.Join(t.TempDir(), "data.db"),
		WrapStore: func(s collab.Store) collab.Store { wraps++; return countingStore{s} }}
	e.Open()
	t.Cleanup(e.Close)
	ctx := context.Background()
	if _, err := e.Hub.Create(ctx, "d", "", "kept"); err != nil {
		t.Fatal(err)
	}
	e.Restart()
	if _, c, err := e.Hub.Get(ctx, "d"); err != nil || c != "kept" {
		t.Fatalf("after restart: %q, %v", c, err)
	}
	if wraps != 2 {
		t.Fatalf("WrapStore called %d times for 2 openings", wraps)
	}
	e.Close()
	if e.Hub != nil || e.DB != nil {
		t.Fatal("Close left the Hub or the DB set")
	}
	e.Close()
}
