package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cowrite/cowrite/cluster/jetstore"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// Defaults of Options.
const (
	DefaultHeartbeat      = time.Second
	DefaultMemberTTL      = 5 * time.Second
	DefaultForwardTimeout = 10 * time.Second
	// DefaultInboxMessages bounds the broadcasts and replies waiting to be
	// delivered to this node's sockets.
	DefaultInboxMessages = 1 << 16
	// DefaultNATSGrace: how long NATS may stay unreachable before
	// OnNATSLost runs.
	DefaultNATSGrace = 10 * time.Second
)

// Options configure a Node. NodeID is required.
type Options struct {
	NodeID    string // unique, stable node name
	Advertise string // base URL other nodes reach this one's HTTP server at
	// Replicas of the streams and buckets (default 3); OpStreams: K op
	// streams (default 3, the same on every node).
	Replicas  int
	OpStreams int
	// Heartbeat: how often the node refreshes its membership key and
	// reads the others' (default 1 s). MemberTTL: a node that stops
	// refreshing is gone after this long (default 5 s).
	Heartbeat time.Duration
	MemberTTL time.Duration
	// ForwardTimeout bounds a call forwarded to another node, and the wait
	// for a forwarded op's answer (default 10 s).
	ForwardTimeout time.Duration
	// Hub configures the local document engine (its Logger defaults to
	// Logger).
	Hub    *collab.Options
	Logger *slog.Logger
	// StoreObserver receives the store's commit events (metrics).
	StoreObserver jetstore.Observer
	// OnNATSLost runs (on the heartbeat goroutine; it must not block for
	// long) when the NATS connection has been down for NATSGrace, and
	// again after each further NATSGrace while it stays down: the edge
	// closes its sessions so that clients move to a healthy node. NATSGrace
	// 0 means DefaultNATSGrace; nil OnNATSLost, nothing.
	OnNATSLost func()
	NATSGrace  time.Duration

	// Test hooks: testDrop loses a broadcast received from another node
	// (as core NATS may), testSeen sees each one that arrived.
	testDrop func(*bcast) bool
	testSeen func(doc string)
}

// Node is one Cowrite process in a cluster: a collab.Engine that runs each
// document's calls on the document's owner (this node's Hub, or another
// node's over NATS request/reply) and delivers the owners' broadcasts to
// this node's sockets. See the package documentation.
type Node struct {
	nc      *nats.Conn
	store   *jetstore.Store
	hub     *collab.Hub
	members *membership
	local   collab.Broadcaster
	opts    Options
	log     *slog.Logger
	id      string

	inbox chan *nats.Msg
	subs  []*nats.Subscription
	ctx   context.Context
	stop  context.CancelFunc
	wg    sync.WaitGroup

	natsLost  atomic.Uint64 // OnNATSLost calls
	recovered atomic.Uint64 // ops of lost broadcasts read from the stream
	forwarded atomic.Uint64
	moves     atomic.Uint64
	reqN      atomic.Uint64

	mu      sync.Mutex // guards the fields below
	pending map[uint64]*pendingOp
	joins   map[collab.SocketID]map[string]*joinRec
	remote  map[string]map[collab.SocketID]map[string]struct{} // node id → its sockets → docs joined here
	rooms   map[string]*room                                   // docs with local members (rooms.go)
	closed  bool
}

// joinRec is a local socket's join of a document at its owner.
type joinRec struct {
	owner  string // node id the socket is a member at
	epoch  string
	client string
	user   collab.User
}

// pendingOp is a forwarded op waiting for its owner's answer.
type pendingOp struct {
	doc   string
	sid   collab.SocketID
	sub   collab.Submission
	reply collab.ReplyFunc
	owner string
	timer *time.Timer
}

var _ collab.Engine = (*Node)(nil)

// Subjects.
func rpcSubject(node string) string  { return "cw.node." + node + ".rpc" }
func opSubject(node string) string   { return "cw.node." + node + ".op" }
func replyPrefix(node string) string { return "cw.rep." + node + "." }
func bcastSubject(doc string) string { return "cw.bc." + jetstore.Key(doc) }
func validNodeID(id string) error {
	if id == "" || len(id) > 64 {
		return errors.New("cluster: a node id must be 1 to 64 characters")
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("cluster: node id %q may only hold A-Z a-z 0-9 - _", id)
		}
	}
	return nil
}

// New joins the cluster over nc: it opens the JetStream store, registers
// this node (ErrDuplicateNode when a live node has its id), and starts
// serving forwarded calls. local delivers broadcasts to this node's
// sockets (api.NewBroadcaster). Close leaves the cluster.
func New(ctx context.Context, nc *nats.Conn, local collab.Broadcaster, opts *Options) (*Node, error) {
	o := *opts
	if err := validNodeID(o.NodeID); err != nil {
		return nil, err
	}
	if o.Replicas <= 0 {
		o.Replicas = jetstore.DefaultReplicas
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.MemberTTL <= 0 {
		o.MemberTTL = DefaultMemberTTL
	}
	if o.ForwardTimeout <= 0 {
		o.ForwardTimeout = DefaultForwardTimeout
	}
	if o.NATSGrace <= 0 {
		o.NATSGrace = DefaultNATSGrace
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	store, err := jetstore.New(ctx, nc, &jetstore.Options{NodeID: o.NodeID, OpStreams: o.OpStreams, Replicas: o.Replicas,
		Logger: o.Logger, Observer: o.StoreObserver})
	if err != nil {
		return nil, err
	}
	js, _ := jetstream.New(nc)
	var epoch [6]byte
	_, _ = rand.Read(epoch[:])
	self := Member{ID: o.NodeID, Advertise: o.Advertise, Epoch: hex.EncodeToString(epoch[:]), State: stateJoining}
	members, err := newMembership(ctx, js, self, o.Heartbeat, o.MemberTTL, o.Replicas)
	if err != nil {
		store.Close()
		return nil, err
	}
	nctx, stop := context.WithCancel(context.Background())
	n := &Node{
		nc: nc, store: store, members: members, local: local, opts: o, log: o.Logger.With("node", o.NodeID), id: o.NodeID,
		inbox:   make(chan *nats.Msg, DefaultInboxMessages),
		ctx:     nctx,
		stop:    stop,
		pending: map[uint64]*pendingOp{},
		joins:   map[collab.SocketID]map[string]*joinRec{},
		remote:  map[string]map[collab.SocketID]map[string]struct{}{},
		rooms:   map[string]*room{},
	}
	hopts := collab.Options{}
	if o.Hub != nil {
		hopts = *o.Hub
	}
	if hopts.Logger == nil {
		hopts.Logger = o.Logger
	}
	n.hub = collab.NewHub(store, ownerBroadcaster{n}, &hopts)
	members.onGone = n.memberGone
	fail := func(err error) (*Node, error) {
		n.unsubscribe()
		stop()
		_ = n.hub.Close(context.Background())
		store.Close()
		members.leave(context.Background())
		return nil, err
	}
	for _, s := range []struct {
		subj string
		cb   nats.MsgHandler
	}{{rpcSubject(n.id), n.serveRPC}, {opSubject(n.id), n.serveOp}} {
		sub, err := nc.Subscribe(s.subj, s.cb)
		if err != nil {
			return fail(fmt.Errorf("cluster: subscribe %s: %w", s.subj, err))
		}
		n.subs = append(n.subs, sub)
	}
	// Broadcasts: one subscription per document with local members
	// (rooms.go); answers to forwarded ops: one for all.
	sub, err := nc.ChanSubscribe(replyPrefix(n.id)+"*", n.inbox)
	if err != nil {
		return fail(fmt.Errorf("cluster: subscribe %s*: %w", replyPrefix(n.id), err))
	}
	_ = sub.SetPendingLimits(-1, -1)
	n.subs = append(n.subs, sub)
	if err := nc.FlushWithContext(ctx); err != nil {
		return fail(fmt.Errorf("cluster: %w", err))
	}
	n.wg.Add(2)
	go n.deliver()
	go n.heartbeat()
	return n, nil
}

// Hub returns the node's local document engine (documents it owns).
func (n *Node) Hub() *collab.Hub { return n.hub }

// ID returns the node id.
func (n *Node) ID() string { return n.id }

// Member returns the live member with id.
func (n *Node) Member(id string) (Member, bool) { return n.members.get(id) }

// Members returns the live members, ordered by id.
func (n *Node) Members() []Member { return n.members.list() }

// ActiveMembers is how many members take documents in this node's view
// (joining and draining ones do not). Until every node counts every
// member, their views of the owners may differ.
func (n *Node) ActiveMembers() int { return n.members.activeCount() }

// Owner returns the id of the node that owns doc in this node's view.
func (n *Node) Owner(doc string) string {
	if c := n.members.candidates(doc); len(c) > 0 {
		return c[0]
	}
	return n.id
}

// Stats are counters for metrics.
type Stats struct {
	Forwarded uint64 // calls and ops sent to another node
	Moves     uint64 // sockets re-joined at a new owner
	Recovered uint64 // ops whose broadcast was lost, read from the op stream
	NATSLost  uint64 // times NATS stayed down past the grace (sessions closed)
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	return Stats{Forwarded: n.forwarded.Load(), Moves: n.moves.Load(), Recovered: n.recovered.Load(), NATSLost: n.natsLost.Load()}
}

// Ready reports an error when the node cannot serve: NATS is not connected.
func (n *Node) Ready() error {
	if !n.nc.IsConnected() {
		return errors.New("cluster: NATS is not connected")
	}
	return nil
}

// Drain marks the node draining: the others stop sending it documents
// (its key says so from the next heartbeat).
func (n *Node) Drain() { n.members.setState(stateDraining) }

// Close leaves the cluster: stops serving forwarded calls, lets the local
// documents finish their commits, deletes the membership key. It does not
// close nc. It is idempotent.
func (n *Node) Close(ctx context.Context) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	n.unsubscribe()
	n.stop()
	err := n.hub.Close(ctx)
	n.store.Close()
	n.members.leave(ctx)
	n.wg.Wait()
	n.mu.Lock()
	pend := n.pending
	n.pending = map[uint64]*pendingOp{}
	n.mu.Unlock()
	for _, p := range pend {
		p.timer.Stop()
		p.reply(nil, collab.ErrClosed)
	}
	return err
}

// goTracked runs fn on a goroutine counted by n.wg, unless the node is
// closed (then it reports false and fn does not run).
func (n *Node) goTracked(fn func()) bool {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return false
	}
	n.wg.Add(1)
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		fn()
	}()
	return true
}

func (n *Node) unsubscribe() {
	for _, s := range n.subs {
		_ = s.Unsubscribe()
	}
	n.mu.Lock()
	for doc, r := range n.rooms {
		_ = r.sub.Unsubscribe()
		delete(n.rooms, doc)
	}
	n.mu.Unlock()
}

func (n *Node) heartbeat() {
	defer n.wg.Done()
	t := time.NewTicker(n.opts.Heartbeat)
	defer t.Stop()
	var downSince time.Time // zero while NATS is connected
	for {
		select {
		case <-n.ctx.Done():
			return
		case <-t.C:
		}
		switch {
		case n.nc.IsConnected():
			downSince = time.Time{}
		case downSince.IsZero():
			downSince = time.Now()
		case time.Since(downSince) >= n.opts.NATSGrace && n.opts.OnNATSLost != nil:
			n.log.Warn("cluster: NATS unreachable", "for", time.Since(downSince).Round(time.Millisecond))
			n.natsLost.Add(1)
			n.opts.OnNATSLost()
			downSince = time.Now() // again after another grace
		}
		if !n.nc.IsConnected() {
			continue // the beat would only wait for its timeout
		}
		ctx, cancel := context.WithTimeout(n.ctx, max(n.opts.Heartbeat*2, n.opts.MemberTTL/2))
		if err := n.members.beat(ctx); err != nil && n.ctx.Err() == nil {
			n.log.Warn("cluster: heartbeat failed", "err", err)
		}
		cancel()
	}
}

// memberGone runs when a member's key expired or it restarted: the
// documents owned here forget its sockets (their presence becomes null for
// the others), and ops forwarded to it fail (their clients resubmit).
func (n *Node) memberGone(m Member) {
	if m.ID == n.id {
		return
	}
	n.log.Info("cluster: member left", "member", m.ID)
	n.mu.Lock()
	socks := n.remote[m.ID]
	delete(n.remote, m.ID)
	var failed []*pendingOp
	for k, p := range n.pending {
		if p.owner == m.ID {
			failed = append(failed, p)
			delete(n.pending, k)
		}
	}
	n.mu.Unlock()
	for _, p := range failed {
		p.timer.Stop()
		p.reply(nil, &collab.Error{Code: collab.CodeInternal, Message: "the document's node left before answering; resubmit"})
	}
	if len(socks) == 0 {
		return
	}
	n.goTracked(func() {
		for s, docs := range socks {
			for doc := range docs {
				ctx, cancel := context.WithTimeout(n.ctx, n.opts.ForwardTimeout)
				_ = n.hub.Leave(ctx, doc, s)
				cancel()
			}
		}
	})
}

// ownerBroadcaster is the local Hub's Broadcaster: this node's sockets,
// then every other node's (one core NATS message per event).
type ownerBroadcaster struct{ n *Node }

func (b ownerBroadcaster) BroadcastOp(doc string, except collab.SocketID, ev collab.OpEvent) {
	b.n.local.BroadcastOp(doc, except, ev)
	b.n.sawOp(doc, ev.Version)
	w := toWOpEvent(ev)
	b.n.publishBcast(bcast{Kind: "op", Doc: doc, Except: except, Op: &w})
}

func (b ownerBroadcaster) BroadcastPresence(doc string, except collab.SocketID, ev collab.PresenceEvent) {
	b.n.local.BroadcastPresence(doc, except, ev)
	b.n.publishBcast(bcast{Kind: "presence", Doc: doc, Except: except, Presence: &ev})
}

func (b ownerBroadcaster) DocMeta(doc string, info collab.DocInfo) {
	b.n.local.DocMeta(doc, info)
	b.n.publishBcast(bcast{Kind: "meta", Doc: doc, Info: &info})
}

func (b ownerBroadcaster) DocDeleted(doc string) {
	b.n.local.DocDeleted(doc)
	b.n.roomDrop(doc)
	b.n.publishBcast(bcast{Kind: "deleted", Doc: doc})
	// Sockets of other nodes are gone from the room: forget their joins
	// here (they are forgotten on their nodes when doc:deleted arrives).
	b.n.mu.Lock()
	for _, socks := range b.n.remote {
		for _, docs := range socks {
			delete(docs, doc)
		}
	}
	for _, docs := range b.n.joins {
		delete(docs, doc)
	}
	b.n.mu.Unlock()
}

func (n *Node) publishBcast(b bcast) {
	b.From = n.id
	data, err := json.Marshal(b)
	if err != nil {
		n.log.Error("cluster: encode broadcast", "err", err)
		return
	}
	if err := n.nc.Publish(bcastSubject(b.Doc), data); err != nil {
		n.log.Warn("cluster: broadcast not sent", "doc", b.Doc, "err", err)
	}
}

// deliver is the one goroutine that hands the owners' broadcasts and
// answers to forwarded ops to this node's sockets, in the order NATS
// delivered them: an owner sends an op's broadcast before its answer on one
// connection, so a socket gets the ops before its ack in version order.
func (n *Node) deliver() {
	defer n.wg.Done()
	pre := replyPrefix(n.id)
	for {
		var m *nats.Msg
		select {
		case <-n.ctx.Done():
			return
		case m = <-n.inbox:
		}
		if strings.HasPrefix(m.Subject, pre) {
			n.onOpReply(m, strings.TrimPrefix(m.Subject, pre))
			continue
		}
		var b bcast
		if err := json.Unmarshal(m.Data, &b); err != nil || b.From == n.id {
			continue
		}
		if n.opts.testSeen != nil {
			n.opts.testSeen(b.Doc)
		}
		if n.opts.testDrop != nil && n.opts.testDrop(&b) {
			continue
		}
		switch b.Kind {
		case "op":
			if b.Op != nil {
				n.deliverOp(b.Doc, b.Except, b.Op.ev())
			}
		case "presence":
			if b.Presence != nil {
				n.local.BroadcastPresence(b.Doc, b.Except, *b.Presence)
			}
		case "meta":
			if b.Info != nil {
				n.local.DocMeta(b.Doc, *b.Info)
			}
		case "deleted":
			n.local.DocDeleted(b.Doc)
			n.roomDrop(b.Doc)
			n.mu.Lock()
			for _, docs := range n.joins {
				delete(docs, b.Doc)
			}
			n.mu.Unlock()
		}
	}
}

func (n *Node) onOpReply(m *nats.Msg, key string) {
	k, err := strconv.ParseUint(key, 10, 64)
	if err != nil {
		return
	}
	n.mu.Lock()
	p := n.pending[k]
	delete(n.pending, k)
	n.mu.Unlock()
	if p == nil {
		return // timed out or failed already
	}
	p.timer.Stop()
	if m.Header.Get("Status") == "503" {
		// No responder: the owner's process is gone. The socket joins
		// at the next candidate, which takes the op.
		dead := p.owner
		if !n.goTracked(func() { n.reroute(p, dead) }) {
			p.reply(nil, collab.ErrClosed)
		}
		return
	}
	var r response
	if err := json.Unmarshal(m.Data, &r); err != nil {
		p.reply(nil, &collab.Error{Code: collab.CodeInternal, Message: "bad answer from the document's node"})
		return
	}
	if r.Err != nil {
		p.reply(nil, r.Err.err())
		return
	}
	c := r.Committed.committed()
	if c != nil {
		// The ops up to this one reach the local sockets before the ack,
		// even when their broadcasts were lost.
		n.catchUp(p.doc, c.Version)
	}
	p.reply(c, nil)
}

// reroute sends an op whose owner had no responder to the next candidate,
// re-joining its socket there first.
func (n *Node) reroute(p *pendingOp, dead string) {
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.ForwardTimeout)
	defer cancel()
	owner := ""
	for _, id := range n.members.candidates(p.doc) {
		if id != dead {
			owner = id
			break
		}
	}
	if rec := n.record(p.sid, p.doc); rec != nil && p.sid != "" {
		if _, err := n.Join(ctx, p.doc, p.sid, rec.client, rec.user, nil); err != nil {
			p.reply(nil, err)
			return
		}
		owner = n.record(p.sid, p.doc).owner
	}
	switch owner {
	case "":
		p.reply(nil, &collab.Error{Code: collab.CodeInternal, Message: "no node serves the document; resubmit"})
	case n.id:
		if err := n.hub.SubmitAsync(n.ctx, p.doc, p.sid, p.sub, p.reply); err != nil {
			p.reply(nil, err)
		}
	default:
		n.sendOp(p, owner)
	}
}

// call runs req on doc's owner (this node or another), trying the next
// candidate when a node has no responder (its process is gone).
func (n *Node) call(ctx context.Context, doc string, req request, local func() (*response, error)) (*response, error) {
	for _, owner := range n.members.candidates(doc) {
		if owner == n.id {
			return local()
		}
		r, err := n.callAt(ctx, owner, req)
		if errors.Is(err, nats.ErrNoResponders) {
			continue
		}
		return r, err
	}
	return local()
}

// callAt forwards req to node owner.
func (n *Node) callAt(ctx context.Context, owner string, req request) (*response, error) {
	req.Node = n.id
	data, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, n.opts.ForwardTimeout)
	defer cancel()
	n.forwarded.Add(1)
	m, err := n.nc.RequestWithContext(ctx, rpcSubject(owner), data)
	if err != nil {
		if errors.Is(err, nats.ErrNoResponders) {
			return nil, err
		}
		return nil, &collab.Error{Code: collab.CodeInternal, Message: fmt.Sprintf("node %s did not answer: %v", owner, err)}
	}
	var r response
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return nil, &collab.Error{Code: collab.CodeInternal, Message: "bad answer from node " + owner}
	}
	if r.Err != nil {
		return &r, r.Err.err()
	}
	return &r, nil
}

// serveRPC answers a call forwarded by another node, on its own goroutine
// (hub calls wait for loads and commits).
func (n *Node) serveRPC(m *nats.Msg) {
	n.goTracked(func() {
		var req request
		var r response
		if err := json.Unmarshal(m.Data, &req); err != nil {
			r.Err = &wErr{Code: collab.CodeBadRequest, Message: err.Error()}
		} else {
			ctx, cancel := context.WithTimeout(n.ctx, n.opts.ForwardTimeout)
			r = n.runLocal(ctx, &req)
			cancel()
		}
		data, _ := json.Marshal(r)
		_ = m.Respond(data)
	})
}

func (n *Node) runLocal(ctx context.Context, q *request) response {
	var r response
	var err error
	h := n.hub
	switch q.M {
	case "join":
		var jr *collab.JoinResult
		if jr, err = h.JoinAs(ctx, q.Doc, q.Sid, collab.Member{Client: q.Client, User: q.User, Identity: q.Identity, Viewer: q.Viewer}, q.Since); err == nil {
			r.Join = toWJoin(jr)
			n.trackRemote(q.Node, q.Sid, q.Doc, true)
		}
	case "leave":
		err = h.Leave(ctx, q.Doc, q.Sid)
		n.trackRemote(q.Node, q.Sid, q.Doc, false)
	case "presence":
		err = h.SetPresence(ctx, q.Doc, q.Sid, q.Version, q.Sel)
	case "get":
		var info collab.DocInfo
		if info, r.Content, err = h.Get(ctx, q.Doc); err == nil {
			r.Info = &info
		}
	case "contentAt":
		r.Content, err = h.ContentAt(ctx, q.Doc, q.Version)
	case "rename":
		var info collab.DocInfo
		if info, err = h.Rename(ctx, q.Doc, q.Title); err == nil {
			r.Info = &info
		}
	case "delete":
		err = h.Delete(ctx, q.Doc)
	case "nameVersion":
		var nv collab.NamedVersion
		if nv, err = h.NameVersion(ctx, q.Doc, q.At, q.Label, q.Author); err == nil {
			r.Named = &nv
		}
	case "replace":
		var c *collab.Committed
		if c, err = h.ReplaceContent(ctx, q.Doc, q.Text, q.IfMatch); err == nil {
			r.Committed = toWCommitted(c)
		}
	default:
		err = &collab.Error{Code: collab.CodeBadRequest, Message: "unknown call " + q.M}
	}
	r.Err = toWErr(err)
	return r
}

// trackRemote records (or forgets) that socket s of node joined doc here.
func (n *Node) trackRemote(node string, s collab.SocketID, doc string, joined bool) {
	if node == "" || node == n.id {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	socks := n.remote[node]
	if joined {
		if socks == nil {
			socks = map[collab.SocketID]map[string]struct{}{}
			n.remote[node] = socks
		}
		if socks[s] == nil {
			socks[s] = map[string]struct{}{}
		}
		socks[s][doc] = struct{}{}
		return
	}
	delete(socks[s], doc)
	if len(socks[s]) == 0 {
		delete(socks, s)
	}
}

// serveOp takes a forwarded op. It runs on the subscription's goroutine, so
// the ops of one node reach each document in the order they were sent; the
// answer goes to the sender's reply subject once the op is committed and
// broadcast (from the document's goroutine, on the same connection as the
// broadcast, hence after it).
func (n *Node) serveOp(m *nats.Msg) {
	var req request
	fail := func(err error) {
		data, _ := json.Marshal(response{Err: toWErr(err)})
		_ = m.Respond(data)
	}
	if err := json.Unmarshal(m.Data, &req); err != nil || req.Sub == nil {
		fail(&collab.Error{Code: collab.CodeBadRequest, Message: "bad forwarded op"})
		return
	}
	reply := func(c *collab.Committed, err error) {
		data, _ := json.Marshal(response{Committed: toWCommitted(c), Err: toWErr(err)})
		_ = m.Respond(data)
	}
	if err := n.hub.SubmitAsync(n.ctx, req.Doc, req.Sid, req.Sub.sub(), reply); err != nil {
		fail(err)
	}
}

// sendOp forwards a pending op to owner; the answer arrives in deliver.
func (n *Node) sendOp(p *pendingOp, owner string) {
	p.owner = owner
	data, err := json.Marshal(request{M: "op", Node: n.id, Doc: p.doc, Sid: p.sid, Sub: toWSub(p.sub)})
	if err != nil {
		p.reply(nil, err)
		return
	}
	k := n.reqN.Add(1)
	p.timer = time.AfterFunc(n.opts.ForwardTimeout, func() {
		n.mu.Lock()
		_, ok := n.pending[k]
		delete(n.pending, k)
		n.mu.Unlock()
		if ok {
			p.reply(nil, &collab.Error{Code: collab.CodeInternal, Message: fmt.Sprintf("node %s did not answer in %v; resubmit", owner, n.opts.ForwardTimeout)})
		}
	})
	n.mu.Lock()
	n.pending[k] = p
	n.mu.Unlock()
	n.forwarded.Add(1)
	if err := n.nc.PublishRequest(opSubject(owner), replyPrefix(n.id)+strconv.FormatUint(k, 10), data); err != nil {
		n.mu.Lock()
		_, ok := n.pending[k]
		delete(n.pending, k)
		n.mu.Unlock()
		if ok {
			p.timer.Stop()
			p.reply(nil, &collab.Error{Code: collab.CodeInternal, Message: "cannot reach the cluster: " + err.Error()})
		}
	}
}

// --- collab.Engine ---

func (n *Node) record(s collab.SocketID, doc string) *joinRec {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.joins[s][doc]
}

// Join implements collab.Engine: JoinAs an anonymous member.
func (n *Node) Join(ctx context.Context, doc string, s collab.SocketID, client string, user collab.User, since *uint64) (*collab.JoinResult, error) {
	return n.JoinAs(ctx, doc, s, collab.Member{Client: client, User: user}, since)
}

// JoinAs implements collab.Engine: the socket joins at the document's owner.
func (n *Node) JoinAs(ctx context.Context, doc string, s collab.SocketID, m collab.Member, since *uint64) (*collab.JoinResult, error) {
	var owner string
	client, user := m.Client, m.User
	rejoin := n.record(s, doc) != nil
	if err := n.roomAdd(doc, s); err != nil {
		return nil, err
	}
	r, err := n.call(ctx, doc, request{M: "join", Doc: doc, Sid: s, Client: client, User: user, Since: since, Identity: m.Identity, Viewer: m.Viewer}, func() (*response, error) {
		owner = n.id
		jr, err := n.hub.JoinAs(ctx, doc, s, m, since)
		if err != nil {
			return nil, err
		}
		return &response{Join: toWJoin(jr)}, nil
	})
	if err != nil {
		if !rejoin {
			n.roomDel(doc, s)
		}
		return nil, err
	}
	n.roomJoined(doc, r.Join.Version)
	if owner == "" {
		owner = n.Owner(doc)
	}
	if old := n.record(s, doc); old != nil && old.owner != owner {
		n.leaveOld(doc, s, old.owner)
	}
	n.setJoin(s, doc, owner, client, user)
	return r.Join.result(), nil
}

// Options implements collab.Engine: the options of this node's Hub (every
// node runs with the same flags).
func (n *Node) Options() collab.Options { return n.hub.Options() }

// The history calls run on this node's Hub over the shared JetStream store
// (reads see every committed op, named versions are in CW_NAMES and
// CW_PINS); naming a version runs at the owner, whose sequencer knows the
// head.

// Import implements collab.Engine.
func (n *Node) Import(ctx context.Context, info collab.DocInfo, content string, ops []collab.OpRecord) (collab.DocInfo, error) {
	return n.hub.Import(ctx, info, content, ops)
}

// NameVersion implements collab.Engine.
func (n *Node) NameVersion(ctx context.Context, id string, version *uint64, label string, by collab.Author) (collab.NamedVersion, error) {
	r, err := n.call(ctx, id, request{M: "nameVersion", Doc: id, At: version, Label: label, Author: by}, func() (*response, error) {
		nv, err := n.hub.NameVersion(ctx, id, version, label, by)
		return &response{Named: &nv}, err
	})
	if err != nil {
		return collab.NamedVersion{}, err
	}
	return *r.Named, nil
}

// Versions implements collab.Engine.
func (n *Node) Versions(ctx context.Context, id string) ([]collab.NamedVersion, error) {
	return n.hub.Versions(ctx, id)
}

// DeleteVersion implements collab.Engine.
func (n *Node) DeleteVersion(ctx context.Context, id string, version uint64) error {
	return n.hub.DeleteVersion(ctx, id, version)
}

// HistoryStart implements collab.Engine.
func (n *Node) HistoryStart(ctx context.Context, id string) (uint64, error) {
	return n.hub.HistoryStart(ctx, id)
}

// Blame implements collab.Engine.
func (n *Node) Blame(ctx context.Context, id string, version uint64) ([]collab.BlameSpan, error) {
	return n.hub.Blame(ctx, id, version)
}

// ComposeRange lets the history diff compose a range's ops on every node
// (api finds it by interface; it reads the shared op log, as Blame does).
func (n *Node) ComposeRange(ctx context.Context, id string, from, to uint64, fromLen int, after string) (ot.Op, error) {
	return n.hub.ComposeRange(ctx, id, from, to, fromLen, after)
}

func (n *Node) setJoin(s collab.SocketID, doc, owner, client string, user collab.User) {
	mb, _ := n.members.get(owner)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.joins[s] == nil {
		n.joins[s] = map[string]*joinRec{}
	}
	n.joins[s][doc] = &joinRec{owner: owner, epoch: mb.Epoch, client: client, user: user}
}

// leaveOld leaves doc at a node that no longer owns it (best effort, in
// the background).
func (n *Node) leaveOld(doc string, s collab.SocketID, owner string) {
	if _, ok := n.members.get(owner); !ok {
		return
	}
	n.goTracked(func() {
		ctx, cancel := context.WithTimeout(n.ctx, n.opts.ForwardTimeout)
		defer cancel()
		if owner == n.id {
			_ = n.hub.Leave(ctx, doc, s)
			return
		}
		_, _ = n.callAt(ctx, owner, request{M: "leave", Doc: doc, Sid: s})
	})
}

// forget marks socket s's join of doc stale (the next op re-joins) and
// reports whether there was one.
func (n *Node) forget(s collab.SocketID, doc string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	rec := n.joins[s][doc]
	if rec == nil {
		return false
	}
	rec.epoch = ""
	return true
}

// current makes sure socket s is a member of doc at its current owner
// (re-joining after an ownership move) and returns that owner.
func (n *Node) current(ctx context.Context, doc string, s collab.SocketID) (string, error) {
	owner := n.Owner(doc)
	rec := n.record(s, doc)
	if rec == nil {
		return owner, nil // not joined: the owner answers not_joined
	}
	mb, live := n.members.get(rec.owner)
	if rec.owner == owner && live && mb.Epoch == rec.epoch {
		return owner, nil
	}
	n.moves.Add(1)
	if _, err := n.Join(ctx, doc, s, rec.client, rec.user, nil); err != nil {
		return "", err
	}
	return n.record(s, doc).owner, nil
}

// Leave implements collab.Engine.
func (n *Node) Leave(ctx context.Context, doc string, s collab.SocketID) error {
	rec := n.record(s, doc)
	n.mu.Lock()
	delete(n.joins[s], doc)
	if len(n.joins[s]) == 0 {
		delete(n.joins, s)
	}
	n.mu.Unlock()
	n.roomDel(doc, s)
	owner := n.Owner(doc)
	if rec != nil {
		owner = rec.owner
	}
	if owner == n.id {
		return n.hub.Leave(ctx, doc, s)
	}
	_, err := n.callAt(ctx, owner, request{M: "leave", Doc: doc, Sid: s})
	if errors.Is(err, nats.ErrNoResponders) {
		return nil // that node is gone, and the socket's membership with it
	}
	return err
}

// Disconnect implements collab.Engine.
func (n *Node) Disconnect(s collab.SocketID) {
	n.mu.Lock()
	docs := make([]string, 0, len(n.joins[s]))
	for doc := range n.joins[s] {
		docs = append(docs, doc)
	}
	n.mu.Unlock()
	for _, doc := range docs {
		ctx, cancel := context.WithTimeout(n.ctx, n.opts.ForwardTimeout)
		_ = n.Leave(ctx, doc, s)
		cancel()
	}
	n.hub.Disconnect(s)
}

// Submit implements collab.Engine.
func (n *Node) Submit(ctx context.Context, doc string, s collab.SocketID, sub collab.Submission) (*collab.Committed, error) {
	type res struct {
		c   *collab.Committed
		err error
	}
	ch := make(chan res, 1)
	if err := n.SubmitAsync(ctx, doc, s, sub, func(c *collab.Committed, err error) { ch <- res{c, err} }); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SubmitAsync implements collab.Engine: locally owned documents take the op
// at once; others get it over NATS and answer through deliver.
func (n *Node) SubmitAsync(ctx context.Context, doc string, s collab.SocketID, sub collab.Submission, reply collab.ReplyFunc) error {
	return n.submitAsync(ctx, doc, s, sub, n.retryFenced(doc, s, sub, reply, maxFenceRetries))
}

// maxFenceRetries: how often an op whose commit was fenced (two nodes
// sequenced the document while their views of the members differed) is
// submitted again before its error is passed on. Nothing of a fenced
// commit is stored, so submitting it again is safe.
const maxFenceRetries = 3

// retryFenced wraps reply: a fenced commit is submitted again (after the
// owner reloaded) instead of answered, and so is an op refused not_joined
// by an owner that dropped the socket (after re-joining it).
func (n *Node) retryFenced(doc string, s collab.SocketID, sub collab.Submission, reply collab.ReplyFunc, left int) collab.ReplyFunc {
	if left == 0 {
		return reply
	}
	return func(c *collab.Committed, err error) {
		fenced := collab.CodeOf(err) == collab.CodeInternal && strings.Contains(err.Error(), jetstore.ErrFenced.Error())
		// not_joined for a socket that joined through this node: its owner
		// forgot it (this node was taken for gone while paused): join again.
		forgotten := collab.CodeOf(err) == collab.CodeNotJoined && s != "" && n.forget(s, doc)
		if err == nil || !fenced && !forgotten {
			reply(c, err)
			return
		}
		if !n.goTracked(func() {
			ctx, cancel := context.WithTimeout(n.ctx, n.opts.ForwardTimeout)
			defer cancel()
			if err := n.submitAsync(ctx, doc, s, sub, n.retryFenced(doc, s, sub, reply, left-1)); err != nil {
				reply(nil, err)
			}
		}) {
			reply(c, err)
		}
	}
}

func (n *Node) submitAsync(ctx context.Context, doc string, s collab.SocketID, sub collab.Submission, reply collab.ReplyFunc) error {
	if err := collab.ValidateDocID(doc); err != nil {
		return err
	}
	owner, err := n.current(ctx, doc, s)
	if err != nil {
		return err
	}
	if owner == n.id {
		return n.hub.SubmitAsync(ctx, doc, s, sub, reply)
	}
	n.sendOp(&pendingOp{doc: doc, sid: s, sub: sub, reply: reply}, owner)
	return nil
}

// TrySubmit implements collab.Engine.
func (n *Node) TrySubmit(ctx context.Context, doc string, s collab.SocketID, sub collab.Submission, reply collab.ReplyFunc) bool {
	rec := n.record(s, doc)
	if rec == nil {
		return false
	}
	owner := n.Owner(doc)
	if mb, ok := n.members.get(owner); owner != rec.owner || !ok || mb.Epoch != rec.epoch {
		return false // moved: SubmitAsync re-joins first
	}
	reply = n.retryFenced(doc, s, sub, reply, maxFenceRetries)
	if owner == n.id {
		return n.hub.TrySubmit(ctx, doc, s, sub, reply)
	}
	n.sendOp(&pendingOp{doc: doc, sid: s, sub: sub, reply: reply}, owner)
	return true
}

// SetPresence implements collab.Engine.
func (n *Node) SetPresence(ctx context.Context, doc string, s collab.SocketID, version uint64, sel []ot.Selection) error {
	owner, err := n.current(ctx, doc, s)
	if err != nil {
		return err
	}
	if owner == n.id {
		err = n.hub.SetPresence(ctx, doc, s, version, sel)
	} else {
		_, err = n.callAt(ctx, owner, request{M: "presence", Doc: doc, Sid: s, Version: version, Sel: sel})
	}
	if collab.CodeOf(err) == collab.CodeNotJoined && n.forget(s, doc) {
		return n.SetPresence(ctx, doc, s, version, sel) // re-joins first
	}
	return err
}

// Create implements collab.Engine (the store decides which create wins).
func (n *Node) Create(ctx context.Context, id, title, content string) (collab.DocInfo, error) {
	return n.hub.Create(ctx, id, title, content)
}

// Get implements collab.Engine.
func (n *Node) Get(ctx context.Context, id string) (collab.DocInfo, string, error) {
	r, err := n.call(ctx, id, request{M: "get", Doc: id}, func() (*response, error) {
		info, c, err := n.hub.Get(ctx, id)
		return &response{Info: &info, Content: c}, err
	})
	if err != nil {
		return collab.DocInfo{}, "", err
	}
	return *r.Info, r.Content, nil
}

// ContentAt implements collab.Engine.
func (n *Node) ContentAt(ctx context.Context, id string, version uint64) (string, error) {
	r, err := n.call(ctx, id, request{M: "contentAt", Doc: id, Version: version}, func() (*response, error) {
		c, err := n.hub.ContentAt(ctx, id, version)
		return &response{Content: c}, err
	})
	if err != nil {
		return "", err
	}
	return r.Content, nil
}

// List implements collab.Engine (from the store, on any node).
func (n *Node) List(ctx context.Context, limit int, cursor string) ([]collab.DocInfo, string, error) {
	return n.hub.List(ctx, limit, cursor)
}

// Rename implements collab.Engine.
func (n *Node) Rename(ctx context.Context, id, title string) (collab.DocInfo, error) {
	r, err := n.call(ctx, id, request{M: "rename", Doc: id, Title: title}, func() (*response, error) {
		info, err := n.hub.Rename(ctx, id, title)
		return &response{Info: &info}, err
	})
	if err != nil {
		return collab.DocInfo{}, err
	}
	return *r.Info, nil
}

// Delete implements collab.Engine.
func (n *Node) Delete(ctx context.Context, id string) error {
	_, err := n.call(ctx, id, request{M: "delete", Doc: id}, func() (*response, error) {
		return &response{}, n.hub.Delete(ctx, id)
	})
	return err
}

// Ops implements collab.Engine (from the store, on any node).
func (n *Node) Ops(ctx context.Context, id string, from, to uint64, limit int) ([]collab.OpRecord, error) {
	return n.hub.Ops(ctx, id, from, to, limit)
}

// ReplaceContent implements collab.Engine.
func (n *Node) ReplaceContent(ctx context.Context, id, text string, ifMatch *uint64) (*collab.Committed, error) {
	r, err := n.call(ctx, id, request{M: "replace", Doc: id, Text: text, IfMatch: ifMatch}, func() (*response, error) {
		c, err := n.hub.ReplaceContent(ctx, id, text, ifMatch)
		return &response{Committed: toWCommitted(c)}, err
	})
	if err != nil {
		return nil, err
	}
	return r.Committed.committed(), nil
}
