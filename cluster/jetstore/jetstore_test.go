package jetstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/cowrite/cowrite/cluster/natsd"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// quiet is a Broadcaster that drops events (the tests look at the store).
type quiet struct{}

func (quiet) BroadcastOp(string, collab.SocketID, collab.OpEvent)             {}
func (quiet) BroadcastPresence(string, collab.SocketID, collab.PresenceEvent) {}
func (quiet) DocDeleted(string)                                               {}
func (quiet) DocMeta(string, collab.DocInfo)                                  {}

func startServers(t *testing.T, n int) []*server.Server {
	t.Helper()
	srvs, err := natsd.StartCluster(t.TempDir(), n)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { natsd.Shutdown(srvs) })
	return srvs
}

// node is one Cowrite node's storage side: a connection to one server, a
// Store and a Hub.
type node struct {
	nc    *nats.Conn
	store *Store
	hub   *collab.Hub
}

func newNode(t *testing.T, s *server.Server, id string, replicas int) *node {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := New(ctx, nc, &Options{NodeID: id, Replicas: replicas, RetryBackoff: 10 * time.Millisecond})
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	n := &node{nc: nc, store: st, hub: collab.NewHub(st, quiet{}, &collab.Options{OpsPerSecond: -1})}
	t.Cleanup(n.close)
	return n
}

func (n *node) close() {
	_ = n.hub.Close(context.Background())
	n.store.Close()
	n.nc.Close()
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func ins(pos int, s string) ot.Op {
	if pos == 0 {
		return ot.Op{{Insert: s}}
	}
	return ot.Op{{Skip: pos}, {Insert: s}}
}

func content(t *testing.T, h *collab.Hub, id string) (uint64, string) {
	t.Helper()
	info, c, err := h.Get(ctxT(t), id)
	if err != nil {
		t.Fatal(err)
	}
	return info.Version, c
}

// TestStoreThroughHub runs the engine over the store on one server: create,
// ops (with a snapshot on the way), reload from a fresh node, history,
// listing, rename, delete and re-create.
func TestStoreThroughHub(t *testing.T) {
	srvs := startServers(t, 1)
	a := newNode(t, srvs[0], "a", 1)
	ctx := ctxT(t)
	if _, err := a.hub.Create(ctx, "doc.1", "T", "hello"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.hub.Create(ctx, "doc.1", "", ""); collab.CodeOf(err) != collab.CodeConflict {
		t.Fatalf("second create: %v, want conflict", err)
	}
	for i := range 250 { // SnapshotEveryOps is 100: two snapshots on the way
		c, err := a.hub.Submit(ctx, "doc.1", "", collab.Submission{Version: uint64(i), Op: ins(5+i, "x"), Client: "c", Seq: uint64(i + 1)})
		if err != nil {
			t.Fatal(err)
		}
		if c.Version != uint64(i+1) {
			t.Fatalf("op %d committed as %d", i, c.Version)
		}
	}
	want := "hello"
	for range 250 {
		want += "x"
	}
	a.close()

	b := newNode(t, srvs[0], "b", 1)
	v, got := content(t, b.hub, "doc.1")
	if v != 250 || got != want {
		t.Fatalf("reloaded: version %d %q, want 250 %q", v, got, want)
	}
	old, err := b.hub.ContentAt(ctx, "doc.1", 3)
	if err != nil || old != "helloxxx" {
		t.Fatalf("content at 3: %q %v", old, err)
	}
	recs, err := b.hub.Ops(ctx, "doc.1", 198, 203, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 || recs[0].Version != 199 || recs[4].Version != 203 || recs[0].Seq != 199 {
		t.Fatalf("ops 199..203: %+v", recs)
	}
	dup, err := b.hub.Submit(ctx, "doc.1", "", collab.Submission{Version: 0, Op: ins(0, "y"), Client: "c", Seq: 17})
	if err != nil || !dup.Duplicate || dup.Version != 17 {
		t.Fatalf("old seq after reload: %+v %v, want duplicate at 17", dup, err)
	}
	if _, err := b.hub.Create(ctx, "other", "", ""); err != nil {
		t.Fatal(err)
	}
	if info, err := b.hub.Rename(ctx, "doc.1", "renamed"); err != nil || info.Title != "renamed" {
		t.Fatalf("rename: %+v %v", info, err)
	}
	docs, next, err := b.hub.List(ctx, 1, "")
	if err != nil || len(docs) != 1 || docs[0].ID != "doc.1" || docs[0].Title != "renamed" || docs[0].Version != 250 || next != "doc.1" {
		t.Fatalf("list page 1: %+v %q %v", docs, next, err)
	}
	docs, next, err = b.hub.List(ctx, 1, next)
	if err != nil || len(docs) != 1 || docs[0].ID != "other" || next != "" {
		t.Fatalf("list page 2: %+v %q %v", docs, next, err)
	}
	if err := b.hub.Delete(ctx, "doc.1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.hub.Get(ctx, "doc.1"); collab.CodeOf(err) != collab.CodeNotFound {
		t.Fatalf("get after delete: %v", err)
	}
	if _, err := b.hub.Create(ctx, "doc.1", "", "new"); err != nil {
		t.Fatalf("re-create: %v", err)
	}
	if v, got := content(t, b.hub, "doc.1"); v != 0 || got != "new" {
		t.Fatalf("re-created: %d %q (an old snapshot leaked in?)", v, got)
	}
}

// TestFence: two nodes on different servers of a 3-server cluster serve one
// document. The stale one's commit is refused, nothing of it is stored, and
// after the reload its next op commits on top of the other's.
func TestFence(t *testing.T) {
	srvs := startServers(t, 3)
	a := newNode(t, srvs[0], "a", 3)
	b := newNode(t, srvs[1], "b", 3)
	ctx := ctxT(t)
	if _, err := a.hub.Create(ctx, "d", "", ""); err != nil {
		t.Fatal(err)
	}
	if c, err := a.hub.Submit(ctx, "d", "", collab.Submission{Version: 0, Op: ins(0, "a")}); err != nil || c.Version != 1 {
		t.Fatalf("a's first op: %+v %v", c, err)
	}
	if c, err := b.hub.Submit(ctx, "d", "", collab.Submission{Version: 1, Op: ins(1, "b")}); err != nil || c.Version != 2 {
		t.Fatalf("b's op: %+v %v", c, err)
	}
	// a still believes the head is 1.
	_, err := a.hub.Submit(ctx, "d", "", collab.Submission{Version: 1, Op: ins(1, "A")})
	if err == nil {
		t.Fatal("the stale node's commit succeeded")
	}
	c, err := a.hub.Submit(ctx, "d", "", collab.Submission{Version: 1, Op: ins(1, "A")})
	if err != nil || c.Version != 3 {
		t.Fatalf("after the reload: %+v %v", c, err)
	}
	for _, n := range []*node{a, b} {
		recs, err := n.store.ReadOps(ctx, "d", 0, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 3 {
			t.Fatalf("%d ops stored, want 3: %+v", len(recs), recs)
		}
	}
	if v, got := content(t, a.hub, "d"); v != 3 || got != "aAb" {
		t.Fatalf("a: %d %q, want 3 \"aAb\"", v, got)
	}
	// The store itself: an Append on a stale view is fenced.
	done := make(chan error, 1)
	b.store.Append(&collab.Batch{Doc: "d", Ops: []collab.OpRecord{{Version: 3, Op: ins(0, "z")}}}, func(err error) { done <- err })
	if err := <-done; !errors.Is(err, ErrFenced) {
		t.Fatalf("stale append: %v, want ErrFenced", err)
	}
}

// faulty wraps the real publish: each call pops a fault.
type faulty struct {
	mu     sync.Mutex
	faults []func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error)
	calls  int
}

func (f *faulty) install(s *Store) {
	real := s.publish
	s.publish = func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
		f.mu.Lock()
		f.calls++
		var fault func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error)
		if len(f.faults) > 0 {
			fault, f.faults = f.faults[0], f.faults[1:]
		}
		f.mu.Unlock()
		if fault != nil {
			return fault(ctx, m)
		}
		return real(ctx, m)
	}
}

// TestAmbiguousCommit: a publish whose ack is lost (the message was
// stored), one that timed out before reaching the stream, and a lost ack
// followed by another node's commit on top. Each batch is reported only
// once its outcome is known, and stored exactly once.
func TestAmbiguousCommit(t *testing.T) {
	srvs := startServers(t, 3)
	a := newNode(t, srvs[0], "a", 3)
	b := newNode(t, srvs[2], "b", 3)
	ctx := ctxT(t)
	if _, err := a.hub.Create(ctx, "d", "", ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.hub.Get(ctx, "d"); err != nil { // loaded before the hook
		t.Fatal(err)
	}
	realPub := func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
		return a.store.js.PublishMsg(ctx, m)
	}
	lostAck := func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
		if _, err := realPub(ctx, m); err != nil {
			return nil, err
		}
		return nil, context.DeadlineExceeded
	}
	lostMsg := func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) { return nil, nats.ErrTimeout }
	f := &faulty{faults: []func(context.Context, *nats.Msg) (*jetstream.PubAck, error){lostAck, lostMsg, lostMsg}}
	f.install(a.store)

	c, err := a.hub.Submit(ctx, "d", "", collab.Submission{Version: 0, Op: ins(0, "1"), Client: "c", Seq: 1})
	if err != nil || c.Version != 1 {
		t.Fatalf("lost ack: %+v %v", c, err)
	}
	c, err = a.hub.Submit(ctx, "d", "", collab.Submission{Version: 1, Op: ins(1, "2"), Client: "c", Seq: 2})
	if err != nil || c.Version != 2 {
		t.Fatalf("lost message: %+v %v", c, err)
	}
	if f.calls != 5 {
		t.Fatalf("%d publishes, want 5 (3 faults, 2 retries that got through)", f.calls)
	}
	// Lost ack, and b commits on top before a retries: a's retry is told
	// wrong-last-sequence and finds its own message after the expected one.
	f.mu.Lock()
	f.faults = append(f.faults, func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) {
		if _, err := realPub(ctx, m); err != nil {
			return nil, err
		}
		if _, err := b.hub.Submit(ctx, "d", "", collab.Submission{Version: 3, Op: ins(3, "b"), Client: "other", Seq: 1}); err != nil {
			t.Errorf("b's op: %v", err)
		}
		return nil, context.DeadlineExceeded
	})
	f.mu.Unlock()
	c, err = a.hub.Submit(ctx, "d", "", collab.Submission{Version: 2, Op: ins(2, "3"), Client: "c", Seq: 3})
	if err != nil || c.Version != 3 {
		t.Fatalf("lost ack then another writer: %+v %v", c, err)
	}
	recs, err := b.store.ReadOps(ctx, "d", 0, 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Client)
	}
	if len(recs) != 4 || recs[0].Seq != 1 || recs[1].Seq != 2 || recs[2].Seq != 3 || recs[3].Client != "other" {
		t.Fatalf("stored ops %v (%+v), want c:1 c:2 c:3 other:1 each once", got, recs)
	}
}

// TestDedupeAcrossNodes: a client whose op was acked by one node resends
// it to another (its node died): acked again at the original version, not
// applied twice.
func TestDedupeAcrossNodes(t *testing.T) {
	srvs := startServers(t, 3)
	a := newNode(t, srvs[0], "a", 3)
	ctx := ctxT(t)
	if _, err := a.hub.Create(ctx, "d", "", ""); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := a.hub.Submit(ctx, "d", "", collab.Submission{Version: uint64(i), Op: ins(i, "x"), Client: "c", Seq: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	a.close()
	b := newNode(t, srvs[1], "b", 3)
	for seq := uint64(1); seq <= 3; seq++ {
		c, err := b.hub.Submit(ctx, "d", "", collab.Submission{Version: 0, Op: ins(0, "x"), Client: "c", Seq: seq})
		if err != nil || !c.Duplicate || c.Version != seq {
			t.Fatalf("resend of seq %d: %+v %v", seq, c, err)
		}
	}
	if v, got := content(t, b.hub, "d"); v != 3 || got != "xxx" {
		t.Fatalf("after resends: %d %q", v, got)
	}
}

// TestTooManyReplicas: a replica count the servers cannot hold is a clear
// error at start.
func TestTooManyReplicas(t *testing.T) {
	srvs := startServers(t, 1)
	nc, err := nats.Connect(srvs[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := New(ctx, nc, &Options{Replicas: 3}); err == nil {
		t.Fatal("3 replicas on one server accepted")
	}
}

// TestVersionsTombstonesAuthors: named versions, tombstones and op authors
// written through one node's store are seen by another node's.
func TestVersionsTombstonesAuthors(t *testing.T) {
	srvs := startServers(t, 1)
	a := newNode(t, srvs[0], "a", 1)
	b := newNode(t, srvs[0], "b", 1)
	ctx := ctxT(t)
	if _, err := a.hub.Create(ctx, "d", "", "v0"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.hub.Submit(ctx, "d", "", collab.Submission{Version: 0, Op: ins(2, "!"), Client: "c", Seq: 1,
		Author: collab.Author{ID: "u1", Name: "Ann"}}); err != nil {
		t.Fatal(err)
	}
	v0 := uint64(0)
	if _, err := a.hub.NameVersion(ctx, "d", &v0, "first", collab.Author{ID: "u1", Name: "Ann"}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.hub.NameVersion(ctx, "d", nil, "head", collab.Author{}); err != nil {
		t.Fatal(err)
	}
	vs, err := b.hub.Versions(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Version != 0 || vs[0].Label != "first" || vs[0].Author.Name != "Ann" || vs[1].Version != 1 || vs[1].Label != "head" {
		t.Fatalf("versions seen by b: %+v", vs)
	}
	if c, ok, err := b.store.PinnedContent(ctx, "d", 0); err != nil || !ok || c != "v0" {
		t.Fatalf("pinned content of version 0 on b: %q %v %v", c, ok, err)
	}
	ops, err := b.hub.Ops(ctx, "d", 0, 1, 0)
	if err != nil || len(ops) != 1 || ops[0].Author != (collab.Author{ID: "u1", Name: "Ann"}) {
		t.Fatalf("op 1 read on b: %+v %v", ops, err)
	}
	if err := b.hub.DeleteVersion(ctx, "d", 1); err != nil {
		t.Fatal(err)
	}
	if err := a.hub.DeleteVersion(ctx, "d", 1); collab.CodeOf(err) != collab.CodeNotFound {
		t.Fatalf("deleting the name twice: %v, want not_found", err)
	}
	if _, ok, _ := b.store.DeletedAt(ctx, "d"); ok {
		t.Fatal("a live document has a tombstone")
	}
	if err := a.hub.Delete(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := b.store.DeletedAt(ctx, "d"); !ok || err != nil {
		t.Fatalf("b sees no tombstone: %v %v", ok, err)
	}
	if _, err := b.hub.Join(ctx, "d", "s", "c2", collab.User{}, nil); collab.CodeOf(err) != collab.CodeNotFound {
		t.Fatalf("join of the deleted document on b: %v, want not_found (not auto-created)", err)
	} else if e := (*collab.Error)(nil); !errors.As(err, &e) || e.Reason != collab.ReasonDeleted {
		t.Fatalf("join of the deleted document on b: %v, want reason deleted", err)
	}
	// Created again: no tombstone, and the old generation's names are gone.
	if _, err := b.hub.Create(ctx, "d", "", "new"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := a.store.DeletedAt(ctx, "d"); ok {
		t.Fatal("a re-created document keeps its tombstone")
	}
	if vs, err := a.hub.Versions(ctx, "d"); err != nil || len(vs) != 0 {
		t.Fatalf("versions of the re-created document: %+v %v", vs, err)
	}
	if _, _, err := a.store.PinnedContent(ctx, "missing", 0); !errors.Is(err, collab.ErrDocNotFound) {
		t.Fatalf("pinned content of a missing document: %v", err)
	}
}
