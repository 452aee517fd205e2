// Package storetest holds test helpers for collab's packages: Env, a
// collab.Hub over a real bbolt data file (storage and boltstore) that can be
// closed, reopened and restarted, and Nop, a Broadcaster that drops every
// event. It is for tests only (it takes a testing.TB).
package storetest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/boltstore"
	"github.com/cowrite/cowrite/storage"
)

// Nop is a collab.Broadcaster that drops every event.
type Nop struct{}

// BroadcastOp implements collab.Broadcaster.
func (Nop) BroadcastOp(string, collab.SocketID, collab.OpEvent) {}

// BroadcastPresence implements collab.Broadcaster.
func (Nop) BroadcastPresence(string, collab.SocketID, collab.PresenceEvent) {}

// DocDeleted implements collab.Broadcaster.
func (Nop) DocDeleted(string) {}

// DocMeta implements collab.Broadcaster.
func (Nop) DocMeta(string, collab.DocInfo) {}

// Env is a Hub over a real data file. Set the fields before Open; DB and
// Hub are those of the current opening (nil while closed).
type Env struct {
	T    testing.TB
	Path string
	// Storage and HubOptions are passed to storage.Open and collab.NewHub
	// at every opening; a nil Storage is &storage.Options{NoSync: true}, and
	// a nil Storage.Logger discards.
	Storage    *storage.Options
	HubOptions *collab.Options
	// WrapStore, if set, is given the boltstore at every opening and
	// returns the collab.Store the Hub uses (a store that fails or holds
	// commits, say). NewBroadcaster, if set, gives the Hub's Broadcaster at
	// every opening (default Nop).
	WrapStore      func(collab.Store) collab.Store
	NewBroadcaster func() collab.Broadcaster

	DB  *storage.DB
	Hub *collab.Hub
}

// New opens an Env over the data file at path, closed when the test ends.
func New(t testing.TB, path string, sopt *storage.Options, hopt *collab.Options) *Env {
	t.Helper()
	e := &Env{T: t, Path: path, Storage: sopt, HubOptions: hopt}
	e.Open()
	t.Cleanup(e.Close)
	return e
}

// Open opens the data file and a Hub over it.
func (e *Env) Open() {
	e.T.Helper()
	if e.Storage == nil {
		e.Storage = &storage.Options{NoSync: true}
	}
	if e.Storage.Logger == nil {
		e.Storage.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	db, err := storage.Open(e.Path, e.Storage)
	if err != nil {
		e.T.Fatalf("storage.Open: %v", err)
	}
	e.DB = db
	var st collab.Store = boltstore.New(db)
	if e.WrapStore != nil {
		st = e.WrapStore(st)
	}
	var bc collab.Broadcaster = Nop{}
	if e.NewBroadcaster != nil {
		bc = e.NewBroadcaster()
	}
	e.Hub = collab.NewHub(st, bc, e.HubOptions)
}

// Close closes the Hub, then the data file (a test error if either fails).
// It does nothing while closed.
func (e *Env) Close() {
	if e.Hub == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.Hub.Close(ctx); err != nil {
		e.T.Errorf("hub.Close: %v", err)
	}
	if err := e.DB.Close(); err != nil {
		e.T.Errorf("db.Close: %v", err)
	}
	e.Hub, e.DB = nil, nil
}

// Restart closes the Hub and the file and opens both again.
func (e *Env) Restart() {
	e.T.Helper()
	e.Close()
	e.Open()
}
