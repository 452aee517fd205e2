package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/cowrite/cowrite/cluster/natsd"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rooms is a node's local Broadcaster: sockets joined to rooms, each with
// the stream of events it was sent (what the edge does over Socket.IO).
type rooms struct {
	mu      sync.Mutex
	members map[string]map[collab.SocketID]bool
	streams map[collab.SocketID][]string
	cond    *sync.Cond
}

func newRooms() *rooms {
	r := &rooms{members: map[string]map[collab.SocketID]bool{}, streams: map[collab.SocketID][]string{}}
	r.cond = sync.NewCond(&r.mu)
	return r
}

func (r *rooms) join(doc string, s collab.SocketID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.members[doc] == nil {
		r.members[doc] = map[collab.SocketID]bool{}
	}
	r.members[doc][s] = true
}

func (r *rooms) send(doc string, except collab.SocketID, ev string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s := range r.members[doc] {
		if s != except {
			r.streams[s] = append(r.streams[s], ev)
		}
	}
	r.cond.Broadcast()
}

func (r *rooms) BroadcastOp(doc string, except collab.SocketID, ev collab.OpEvent) {
	r.send(doc, except, fmt.Sprintf("op %d %s", ev.Version, ev.Client))
}

func (r *rooms) BroadcastPresence(doc string, except collab.SocketID, ev collab.PresenceEvent) {
	sel := "null"
	if ev.Selection != nil {
		sel = fmt.Sprint(ev.Selection)
	}
	r.send(doc, except, fmt.Sprintf("presence %s %s", ev.Client, sel))
}

func (r *rooms) DocMeta(doc string, info collab.DocInfo) {
	r.send(doc, "", "meta "+info.Title)
}

func (r *rooms) DocDeleted(doc string) {
	r.send(doc, "", "deleted")
	r.mu.Lock()
	delete(r.members, doc)
	r.mu.Unlock()
}

// ack appends an ack to the socket's stream, as the edge's reply does.
func (r *rooms) ack(s collab.SocketID, v uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.streams[s] = append(r.streams[s], fmt.Sprintf("ack %d", v))
	r.cond.Broadcast()
}

// wait blocks until the socket's stream satisfies ok (or fails the test
// when the deadline passes), and returns it.
func (r *rooms) wait(t *testing.T, s collab.SocketID, what string, ok func([]string) bool) []string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	stop := time.AfterFunc(20*time.Second, func() { r.mu.Lock(); r.cond.Broadcast(); r.mu.Unlock() })
	defer stop.Stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	for !ok(r.streams[s]) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s never came; stream %q", s, what, r.streams[s])
		}
		r.cond.Wait()
	}
	return slices.Clone(r.streams[s])
}

type tnode struct {
	*Node
	nc    *nats.Conn
	rooms *rooms
}

func startNode(t *testing.T, srv *server.Server, id string) *tnode {
	t.Helper()
	return startNodeWith(t, srv, id, nil)
}

// startNodeWith starts a node whose options hook may change (test hooks).
func startNodeWith(t *testing.T, srv *server.Server, id string, hook func(*Options)) *tnode {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	r := newRooms()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	o := &Options{NodeID: id, Heartbeat: 250 * time.Millisecond, MemberTTL: 2 * time.Second,
		ForwardTimeout: 10 * time.Second, Hub: &collab.Options{OpsPerSecond: -1}}
	if hook != nil {
		hook(o)
	}
	n, err := New(ctx, nc, r, o)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	tn := &tnode{Node: n, nc: nc, rooms: r}
	t.Cleanup(func() {
		_ = n.Close(context.Background())
		nc.Close()
	})
	return tn
}

// waitMembers waits until every node sees exactly the given ids, all
// active.
func waitMembers(t *testing.T, nodes []*tnode, ids ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		all := true
		for _, n := range nodes {
			var got []string
			for _, m := range n.Members() {
				got = append(got, m.ID)
			}
			if !slices.Equal(got, ids) || len(n.members.candidates("")) != len(ids) {
				all = false // not seen, or not active everywhere yet
			}
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("members never became %v", ids)
		}
		<-tick.C
	}
}

func startCluster(t *testing.T) []*tnode {
	return startClusterWith(t, nil)
}

// startClusterWith starts three nodes; hook(i, o) may change node i's
// options.
func startClusterWith(t *testing.T, hook func(i int, o *Options)) []*tnode {
	srvs, err := natsd.StartCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { natsd.Shutdown(srvs) })
	var nodes []*tnode
	for i, s := range srvs {
		var h func(*Options)
		if hook != nil {
			h = func(o *Options) { hook(i, o) }
		}
		nodes = append(nodes, startNodeWith(t, s, fmt.Sprintf("cw%d", i+1), h))
	}
	waitMembers(t, nodes, "cw1", "cw2", "cw3")
	return nodes
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func joinSock(t *testing.T, n *tnode, doc string, s collab.SocketID) *collab.JoinResult {
	t.Helper()
	n.rooms.join(doc, s)
	jr, err := n.Join(ctxT(t), doc, s, string(s), collab.User{ID: string(s), Name: string(s)}, nil)
	if err != nil {
		t.Fatalf("%s joins: %v", s, err)
	}
	return jr
}

func submit(t *testing.T, n *tnode, doc string, s collab.SocketID, base uint64, op ot.Op, seq uint64) {
	t.Helper()
	err := n.SubmitAsync(ctxT(t), doc, s, collab.Submission{Version: base, Op: op, Client: string(s), Seq: seq}, func(c *collab.Committed, err error) {
		if err != nil {
			n.rooms.send(doc, "", "error "+err.Error())
			return
		}
		n.rooms.ack(s, c.Version)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func count(stream []string, prefix string) int {
	k := 0
	for _, e := range stream {
		if len(e) >= len(prefix) && e[:len(prefix)] == prefix {
			k++
		}
	}
	return k
}

// TestOpsAcrossNodes: sockets on three nodes edit one document. Each sees
// the others' ops (never its own) in version order, its acks after the
// broadcasts below them; REST works on every node.
func TestOpsAcrossNodes(t *testing.T) {
	nodes := startCluster(t)
	ctx := ctxT(t)
	const doc = "shared"
	owner := nodes[0].Owner(doc)
	for _, n := range nodes {
		if o := n.Owner(doc); o != owner {
			t.Fatalf("nodes disagree on the owner: %s vs %s", o, owner)
		}
	}
	socks := []collab.SocketID{"s1", "s2", "s3"}
	for i, n := range nodes {
		joinSock(t, n, doc, socks[i])
	}
	const perSock = 20
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range perSock {
				// Base 0: the owner transforms every op against all before.
				submit(t, n, doc, socks[i], 0, ot.Op{{Insert: string(rune('a' + i))}}, uint64(k+1))
			}
		}()
	}
	wg.Wait()
	total := 3 * perSock
	for i, n := range nodes {
		s := socks[i]
		st := n.rooms.wait(t, s, "every op", func(st []string) bool { return count(st, "op ")+count(st, "ack ") >= total || count(st, "error") > 0 })
		if count(st, "error") > 0 {
			t.Fatalf("%s: %q", s, st)
		}
		seen := uint64(0)
		for _, e := range st {
			var v uint64
			var who string
			if n, _ := fmt.Sscanf(e, "op %d %s", &v, &who); n == 2 {
				if who == string(s) {
					t.Fatalf("%s got its own op back: %q", s, st)
				}
			} else if n, _ := fmt.Sscanf(e, "ack %d", &v); n != 1 {
				continue
			}
			if v != seen+1 {
				t.Fatalf("%s: version %d after %d (stream %q)", s, v, seen, st)
			}
			seen = v
		}
		if count(st, "ack ") != perSock {
			t.Fatalf("%s: %d acks, want %d", s, count(st, "ack "), perSock)
		}
	}
	var want string
	for i, n := range nodes {
		info, c, err := n.Get(ctx, doc)
		if err != nil {
			t.Fatal(err)
		}
		if info.Version != uint64(total) || len(c) != total {
			t.Fatalf("node %d: version %d content %q", i, info.Version, c)
		}
		if want == "" {
			want = c
		} else if c != want {
			t.Fatalf("node %d sees %q, node 1 %q", i, c, want)
		}
	}
	// REST writes on a node that does not own the document.
	var other *tnode
	for _, n := range nodes {
		if n.ID() != owner {
			other = n
		}
	}
	c, err := other.ReplaceContent(ctx, doc, "replaced", nil)
	if err != nil || c.Version != uint64(total+1) {
		t.Fatalf("replace on %s: %+v %v", other.ID(), c, err)
	}
	for i, n := range nodes {
		n.rooms.wait(t, socks[i], "the REST op", func(st []string) bool { return slices.Contains(st, fmt.Sprintf("op %d ", total+1)) })
	}
	if info, err := other.Rename(ctx, doc, "T"); err != nil || info.Title != "T" {
		t.Fatalf("rename: %+v %v", info, err)
	}
	if err := other.Delete(ctx, doc); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		n.rooms.wait(t, socks[i], "doc:deleted", func(st []string) bool { return slices.Contains(st, "deleted") })
	}
}

// TestOwnerDies: the owner of a document dies (its connection drops, its
// membership expires). The others serve the document, the dead node's
// socket's presence is cleared, and sockets that had joined at the dead
// owner keep editing (re-joined at the new owner).
func TestOwnerDies(t *testing.T) {
	nodes := startCluster(t)
	ctx := ctxT(t)
	// A document owned by cw1, and one owned by another node whose
	// collaborators include a socket on cw1.
	byOwner := map[string]string{}
	for i := 0; len(byOwner) < 3; i++ {
		d := fmt.Sprintf("doc%d", i)
		if _, ok := byOwner[nodes[0].Owner(d)]; !ok {
			byOwner[nodes[0].Owner(d)] = d
		}
	}
	dead, a, b := nodes[0], nodes[1], nodes[2]
	docDead := byOwner["cw1"]
	docLive := byOwner["cw2"]

	joinSock(t, a, docDead, "a1")
	joinSock(t, b, docDead, "b1")
	submit(t, a, docDead, "a1", 0, ot.Op{{Insert: "x"}}, 1)
	a.rooms.wait(t, "a1", "ack 1", func(st []string) bool { return slices.Contains(st, "ack 1") })

	joinSock(t, dead, docLive, "d1")
	joinSock(t, b, docLive, "b2")
	if err := dead.SetPresence(ctx, docLive, "d1", 0, []ot.Selection{{Anchor: 0, Head: 0}}); err != nil {
		t.Fatal(err)
	}
	b.rooms.wait(t, "b2", "d1's presence", func(st []string) bool { return slices.Contains(st, "presence d1 [{0 0}]") })

	// Crash: the connection goes, nothing is said.
	dead.stop()
	dead.nc.Close()
	waitMembers(t, []*tnode{a, b}, "cw2", "cw3")

	b.rooms.wait(t, "b2", "d1's presence cleared", func(st []string) bool { return slices.Contains(st, "presence d1 null") })
	submit(t, a, docDead, "a1", 1, ot.Op{{Skip: 1}, {Insert: "y"}}, 2)
	a.rooms.wait(t, "a1", "ack 2", func(st []string) bool { return slices.Contains(st, "ack 2") || count(st, "error") > 0 })
	b.rooms.wait(t, "b1", "op 2", func(st []string) bool { return slices.Contains(st, "op 2 a1") })
	if _, c, err := b.Get(ctx, docDead); err != nil || c != "xy" {
		t.Fatalf("after the owner died: %q %v", c, err)
	}
}

// TestVersionsRenameTombstonesAcrossNodes: what once ran on one node only.
// A version named on a node that does not own the document is read on
// another; a rename reaches a socket on every node (doc:meta); a deleted
// document answers not_found "deleted" on every node, not auto-created.
func TestVersionsRenameTombstonesAcrossNodes(t *testing.T) {
	nodes := startCluster(t)
	ctx := ctxT(t)
	const doc = "named"
	var a, b *tnode // neither owns doc
	for _, n := range nodes {
		if n.ID() != nodes[0].Owner(doc) {
			if a == nil {
				a = n
			} else {
				b = n
			}
		}
	}
	socks := []collab.SocketID{"s1", "s2", "s3"}
	for i, n := range nodes {
		joinSock(t, n, doc, socks[i])
	}
	submit(t, a, doc, socks[slices.Index(nodes, a)], 0, ot.Op{{Insert: "hello"}}, 1)
	a.rooms.wait(t, socks[slices.Index(nodes, a)], "ack 1", func(st []string) bool { return slices.Contains(st, "ack 1") })

	nv, err := a.NameVersion(ctx, doc, nil, "draft", collab.Author{ID: "u", Name: "Una"})
	if err != nil {
		t.Fatalf("name a version on %s: %v", a.ID(), err)
	}
	if nv.Version != 1 || nv.Label != "draft" {
		t.Fatalf("named %+v", nv)
	}
	vs, err := b.Versions(ctx, doc)
	if err != nil || len(vs) != 1 || vs[0].Version != 1 || vs[0].Label != "draft" || vs[0].Author.Name != "Una" {
		t.Fatalf("versions on %s: %+v %v", b.ID(), vs, err)
	}
	if c, err := b.ContentAt(ctx, doc, 1); err != nil || c != "hello" {
		t.Fatalf("content of the named version on %s: %q %v", b.ID(), c, err)
	}
	if _, err := a.NameVersion(ctx, doc, nil, "", collab.Author{}); collab.CodeOf(err) != collab.CodeBadRequest {
		t.Fatalf("empty label: %v, want bad_request", err)
	}
	// The history diff composes the range's ops on a node that does not own
	// the document (api finds ComposeRange on the engine by interface).
	if op, err := b.ComposeRange(ctx, doc, 0, 1, 0, "hello"); err != nil || !slices.Equal(op, ot.Op{{Insert: "hello"}}) {
		t.Fatalf("compose 0..1 on %s: %v %v", b.ID(), op, err)
	}

	if _, err := a.Rename(ctx, doc, "Title 2"); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		n.rooms.wait(t, socks[i], "doc:meta", func(st []string) bool { return slices.Contains(st, "meta Title 2") })
	}

	if err := b.Delete(ctx, doc); err != nil {
		t.Fatal(err)
	}
	for i, n := range nodes {
		n.rooms.wait(t, socks[i], "doc:deleted", func(st []string) bool { return slices.Contains(st, "deleted") })
		_, err := n.Join(ctx, doc, "late", "late", collab.User{}, nil)
		var e *collab.Error
		if !errors.As(err, &e) || e.Code != collab.CodeNotFound || e.Reason != collab.ReasonDeleted {
			t.Fatalf("join of the deleted document on %s: %v, want not_found reason deleted", n.ID(), err)
		}
	}
}

// seenCounter counts, per node and document, the broadcasts a node
// received from others (Options.testSeen).
type seenCounter struct {
	mu sync.Mutex
	n  map[int]map[string]int
}

func (c *seenCounter) hook(i int, o *Options) {
	o.testSeen = func(doc string) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.n[i] == nil {
			c.n[i] = map[string]int{}
		}
		c.n[i][doc]++
	}
}

func (c *seenCounter) get(i int, doc string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[i][doc]
}

// docsOwnedBy returns k document ids that node owner owns.
func docsOwnedBy(n *tnode, owner string, k int) []string {
	var out []string
	for i := 0; len(out) < k; i++ {
		if d := fmt.Sprintf("room%d", i); n.Owner(d) == owner {
			out = append(out, d)
		}
	}
	return out
}

// TestBroadcastsOnlyToRooms: a node receives the broadcasts of the
// documents it has local members of, and none of the others'.
func TestBroadcastsOnlyToRooms(t *testing.T) {
	seen := &seenCounter{n: map[int]map[string]int{}}
	nodes := startClusterWith(t, seen.hook)
	o, a, c := nodes[0], nodes[1], nodes[2]
	docs := docsOwnedBy(o, o.ID(), 2)
	x, z := docs[0], docs[1]
	joinSock(t, o, x, "o1")
	joinSock(t, a, x, "a1")
	joinSock(t, c, z, "c1")
	const k = 10
	for i := range k {
		submit(t, o, x, "o1", uint64(i), insAt(i, "x"), uint64(i+1))
		o.rooms.wait(t, "o1", "the ack", func(st []string) bool { return slices.Contains(st, fmt.Sprintf("ack %d", i+1)) })
	}
	a.rooms.wait(t, "a1", "x's ops", func(st []string) bool { return count(st, "op ") == k })
	// Then one op of z from the same owner: c gets it after whatever
	// of x it would have been sent.
	joinSock(t, o, z, "o2")
	submit(t, o, z, "o2", 0, ot.Op{{Insert: "z"}}, 1)
	c.rooms.wait(t, "c1", "z's op", func(st []string) bool { return slices.Contains(st, "op 1 o2") })
	if got := seen.get(2, x); got != 0 {
		t.Fatalf("%s, with no member of %s, received %d of its broadcasts", c.ID(), x, got)
	}
	if got := seen.get(1, x); got < k {
		t.Fatalf("%s received %d broadcasts of %s, want at least %d", a.ID(), got, x, k)
	}
	// The last member leaves: no more broadcasts of x reach a.
	if err := a.Leave(ctxT(t), x, "a1"); err != nil {
		t.Fatal(err)
	}
	before := seen.get(1, x)
	joinSock(t, a, z, "a2")
	submit(t, o, x, "o1", k, ot.Op{{Insert: "y"}}, k+1)
	o.rooms.wait(t, "o1", "the ack", func(st []string) bool { return slices.Contains(st, fmt.Sprintf("ack %d", k+1)) })
	submit(t, o, z, "o2", 1, ot.Op{{Insert: "z"}}, 2)
	a.rooms.wait(t, "a2", "z's op", func(st []string) bool { return slices.Contains(st, "op 2 o2") })
	if got := seen.get(1, x); got != before {
		t.Fatalf("%s left %s but received %d more of its broadcasts", a.ID(), x, got-before)
	}
}

// TestLostBroadcastRecovered: broadcasts lost on the way to a node (core
// NATS is at most once) are read from the op stream when the next op, or
// the ack of the node's own op, shows the gap; every socket sees every
// op once, in version order, its ack after the ops below it.
func TestLostBroadcastRecovered(t *testing.T) {
	lost := map[uint64]bool{2: true, 4: true, 5: true}
	nodes := startClusterWith(t, func(i int, o *Options) {
		if i == 1 {
			o.testDrop = func(b *bcast) bool { return b.Kind == "op" && b.Op != nil && lost[b.Op.Version] }
		}
	})
	o, b := nodes[0], nodes[1]
	doc := docsOwnedBy(o, o.ID(), 1)[0]
	joinSock(t, o, doc, "o1")
	joinSock(t, b, doc, "b1")
	joinSock(t, b, doc, "b2")
	for i := range 4 { // ops 1..4 by o1; 2 and 4 are lost on their way to b
		submit(t, o, doc, "o1", uint64(i), insAt(i, "o"), uint64(i+1))
		o.rooms.wait(t, "o1", "the ack", func(st []string) bool { return slices.Contains(st, fmt.Sprintf("ack %d", i+1)) })
	}
	b.rooms.wait(t, "b1", "op 3", func(st []string) bool { return slices.Contains(st, "op 3 o1") })
	// b1's op 5: its broadcast to b2 is lost too, the ack shows the gap.
	submit(t, b, doc, "b1", 4, ot.Op{{Insert: "b"}}, 1)
	want := map[collab.SocketID][]string{
		"b1": {"op 1 o1", "op 2 o1", "op 3 o1", "op 4 o1", "ack 5"},
		"b2": {"op 1 o1", "op 2 o1", "op 3 o1", "op 4 o1", "op 5 b1"},
	}
	for s, w := range want {
		got := b.rooms.wait(t, s, "five events", func(st []string) bool { return len(st) >= 5 })
		if !slices.Equal(got, w) {
			t.Fatalf("%s got %q, want %q", s, got, w)
		}
	}
	if r := b.Stats().Recovered; r != 3 {
		t.Fatalf("%s recovered %d ops, want 3", b.ID(), r)
	}
}

// insAt inserts s at pos.
func insAt(pos int, s string) ot.Op {
	if pos == 0 {
		return ot.Op{{Insert: s}}
	}
	return ot.Op{{Skip: pos}, {Insert: s}}
}
