package collab_test

// Test doubles and helpers shared by this package's tests: a recording
// Broadcaster, a store that can hold or fail commits, an Observer counting
// accepted ops, a Hub over a real bbolt file, and eventually.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/internal/storetest"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/internal/testwait"
	"github.com/cowrite/cowrite/storage"
)

// eventually fails the test unless cond holds within 10 seconds; it polls
// (every millisecond). It is the package's one polling helper, only for
// states that no event announces (an idle unload, a queued delete); waits
// for events use a counter (below).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, 10*time.Second, what, cond)
}

// counter counts events and lets a test wait for a count: no polling, the
// wait wakes on each event.
type counter struct {
	mu     sync.Mutex
	n      int
	signal chan struct{} // closed and replaced on each add
}

func (c *counter) add() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.signal != nil {
		close(c.signal)
	}
	c.signal = make(chan struct{})
}

// wait waits until at least n events were counted (a watchdog fails the
// test after 10 s).
func (c *counter) wait(t testing.TB, what string, n int) {
	t.Helper()
	watchdog := time.NewTimer(10 * time.Second)
	defer watchdog.Stop()
	for {
		c.mu.Lock()
		if c.signal == nil {
			c.signal = make(chan struct{})
		}
		got, signal := c.n, c.signal
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-signal:
		case <-watchdog.C:
			t.Fatalf("%d of %d %s after 10s", got, n, what)
		}
	}
}

// acceptCounter is an Observer that counts the ops sequencers accept: once
// it counted one, the sequencer's head has moved past it (the document
// goroutine handles the next request after), though nothing is broadcast
// before the op is durable.
type acceptCounter struct{ counter }

func (a *acceptCounter) ObserveCommit(int, time.Duration) {}
func (a *acceptCounter) ObserveTransform(int)             { a.add() }

// state reads the sequencer's state of doc on its goroutine.
func state(t testing.TB, e *env, doc string) collab.TestState {
	t.Helper()
	st, err := e.hub.TestState(ctxT(t), doc)
	if err != nil {
		t.Fatalf("TestState(%q): %v", doc, err)
	}
	return st
}

// recorder is a Broadcaster that records every event (a seam, not a mock).
type recorder struct {
	mu       sync.Mutex
	ops      []sent[collab.OpEvent]
	presence []sent[collab.PresenceEvent]
	deleted  []string
	meta     []collab.DocInfo
}

type sent[T any] struct {
	except collab.SocketID
	ev     T
}

func (r *recorder) BroadcastOp(doc string, except collab.SocketID, ev collab.OpEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, sent[collab.OpEvent]{except, ev})
}

func (r *recorder) BroadcastPresence(doc string, except collab.SocketID, ev collab.PresenceEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.presence = append(r.presence, sent[collab.PresenceEvent]{except, ev})
}

func (r *recorder) DocDeleted(doc string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.deleted = append(r.deleted, doc)
}

func (r *recorder) DocMeta(doc string, info collab.DocInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.meta = append(r.meta, info)
}

func (r *recorder) opEvents() []sent[collab.OpEvent] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sent[collab.OpEvent](nil), r.ops...)
}

func (r *recorder) presenceEvents() []sent[collab.PresenceEvent] {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sent[collab.PresenceEvent](nil), r.presence...)
}

// faultStore wraps the real store and can hold or fail Appends; it records
// the batches handed to it and the deletes it ran.
type faultStore struct {
	collab.Store
	failNext atomic.Int32 // fail this many next Appends
	mu       sync.Mutex
	gate     chan struct{} // when non-nil, Append completions wait for it
	batches  []string      // "doc:first-last" per Append, in call order
	deletes  []string      // DeleteDoc calls
	appends  atomic.Int32
	appended counter // the same count, to wait for
}

func (f *faultStore) Append(b *collab.Batch, done func(error)) {
	f.appends.Add(1)
	f.appended.add()
	f.mu.Lock()
	gate := f.gate
	f.batches = append(f.batches, fmt.Sprintf("%s:%d-%d", b.Doc, b.Ops[0].Version, b.Ops[len(b.Ops)-1].Version))
	f.mu.Unlock()
	if f.failNext.Load() > 0 {
		f.failNext.Add(-1)
		go func() {
			if gate != nil {
				<-gate
			}
			done(errors.New("injected commit failure"))
		}()
		return
	}
	if gate == nil {
		f.Store.Append(b, done)
		return
	}
	f.Store.Append(b, func(err error) {
		<-gate
		done(err)
	})
}

func (f *faultStore) DeleteDoc(ctx context.Context, id string) error {
	f.mu.Lock()
	f.deletes = append(f.deletes, id)
	f.mu.Unlock()
	return f.Store.DeleteDoc(ctx, id)
}

// log returns the batches and deletes seen so far.
func (f *faultStore) log() (batches, deletes []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.batches...), append([]string(nil), f.deletes...)
}

func (f *faultStore) hold() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.gate = make(chan struct{})
	return f.gate
}

func (f *faultStore) release(g chan struct{}) {
	f.mu.Lock()
	f.gate = nil
	f.mu.Unlock()
	close(g)
}

// env is a Hub over a real bbolt file (storetest.Env) whose store is a
// faultStore and whose broadcaster is a recorder (or bc).
type env struct {
	t    testing.TB
	path string
	sopt *storage.Options
	opts *collab.Options
	se   *storetest.Env
	db   *storage.DB
	fs   *faultStore
	rec  *recorder
	bc   collab.Broadcaster // if set, used instead of rec
	hub  *collab.Hub
}

func newEnv(t testing.TB, opts *collab.Options, sopt *storage.Options) *env {
	t.Helper()
	return newEnvBC(t, opts, sopt, nil)
}

func newEnvBC(t testing.TB, opts *collab.Options, sopt *storage.Options, bc collab.Broadcaster) *env {
	t.Helper()
	if sopt == nil {
		sopt = &storage.Options{NoSync: true}
	}
	e := &env{t: t, path: t.TempDir() + "/data.db", sopt: sopt, opts: opts, bc: bc}
	e.se = &storetest.Env{T: t,
		WrapStore: func(st collab.Store) collab.Store {
			e.fs = &faultStore{Store: st}
			return e.fs
		},
		NewBroadcaster: func() collab.Broadcaster {
			e.rec = &recorder{}
			if e.bc != nil {
				return e.bc
			}
			return e.rec
		},
	}
	e.open()
	t.Cleanup(e.close)
	return e
}

// open opens the file and a Hub over it, with the env's current path and
// options (tests may change them before a restart).
func (e *env) open() {
	e.t.Helper()
	e.se.Path, e.se.Storage, e.se.HubOptions = e.path, e.sopt, e.opts
	e.se.Open()
	e.db, e.hub = e.se.DB, e.se.Hub
}

func (e *env) close() {
	e.se.Close()
	e.hub = nil
}

// restart closes the Hub and the file and opens both again.
func (e *env) restart() {
	e.close()
	e.open()
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustCreate(t testing.TB, h *collab.Hub, id, content string) {
	t.Helper()
	if _, err := h.Create(ctxT(t), id, "", content); err != nil {
		t.Fatalf("Create(%q): %v", id, err)
	}
}

func content(t testing.TB, h *collab.Hub, id string) (string, uint64) {
	t.Helper()
	info, c, err := h.Get(ctxT(t), id)
	if err != nil {
		t.Fatalf("Get(%q): %v", id, err)
	}
	return c, info.Version
}

func wantCode(t testing.TB, err error, code collab.Code) {
	t.Helper()
	if got := collab.CodeOf(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func op(cs ...ot.Component) ot.Op { return ot.Op(cs) }
