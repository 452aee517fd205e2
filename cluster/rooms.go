package cluster

import (
	"context"

	"github.com/nats-io/nats.go"

	"github.com/cowrite/cowrite/collab"
)

// room is this node's interest in a document's broadcasts: its local
// members and the subscription to cw.bc.<doc>, from the first local join
// to the last local leave. last is the highest op version handed to the
// local sockets (known once the first join answered): a broadcast above
// last+1, or an ack of a forwarded op above it, means a core NATS message
// was lost; the ops in between are read from the op stream and delivered
// first (catchUp).
type room struct {
	sub     *nats.Subscription
	members map[collab.SocketID]struct{}
	last    uint64
	known   bool
}

// roomAdd makes socket s a local member of doc's room, subscribing to the
// document's broadcasts when it is the first (before its join is sent, so
// that no broadcast after the join's version is missed).
func (n *Node) roomAdd(doc string, s collab.SocketID) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[doc]
	if r == nil {
		sub, err := n.nc.ChanSubscribe(bcastSubject(doc), n.inbox)
		if err != nil {
			return &collab.Error{Code: collab.CodeInternal, Message: "cannot subscribe to the document's broadcasts: " + err.Error()}
		}
		_ = sub.SetPendingLimits(-1, -1)
		r = &room{sub: sub, members: map[collab.SocketID]struct{}{}}
		n.rooms[doc] = r
	}
	r.members[s] = struct{}{}
	return nil
}

// roomJoined records the version socket s joined doc at: the first join
// of a room sets where its op stream starts.
func (n *Node) roomJoined(doc string, version uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r := n.rooms[doc]; r != nil && !r.known {
		r.known, r.last = true, max(r.last, version)
	}
}

// roomDel removes socket s from doc's room; the last one unsubscribes.
func (n *Node) roomDel(doc string, s collab.SocketID) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r := n.rooms[doc]
	if r == nil {
		return
	}
	delete(r.members, s)
	if len(r.members) == 0 {
		_ = r.sub.Unsubscribe()
		delete(n.rooms, doc)
	}
}

// roomDrop forgets doc's room (the document was deleted).
func (n *Node) roomDrop(doc string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r := n.rooms[doc]; r != nil {
		_ = r.sub.Unsubscribe()
		delete(n.rooms, doc)
	}
}

// sawOp advances doc's room past version (an op the local sockets got from
// this node's own sequencer).
func (n *Node) sawOp(doc string, version uint64) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if r := n.rooms[doc]; r != nil && r.known {
		r.last = max(r.last, version)
	}
}

// deliverOp hands another owner's op broadcast to the local sockets, after
// the ops it skipped (a lost message); an op already delivered is dropped.
// Runs on the deliver goroutine.
func (n *Node) deliverOp(doc string, except collab.SocketID, ev collab.OpEvent) {
	n.mu.Lock()
	r := n.rooms[doc]
	if r == nil {
		n.mu.Unlock()
		return // no local member any more
	}
	known, last := r.known, r.last
	if known && ev.Version <= last {
		n.mu.Unlock()
		return
	}
	if !known {
		r.last = max(r.last, ev.Version)
	}
	n.mu.Unlock()
	if known && ev.Version > last+1 {
		n.catchUp(doc, ev.Version-1)
	}
	n.local.BroadcastOp(doc, except, ev)
	n.sawOp(doc, ev.Version)
}

// catchUp delivers doc's ops after the room's last up to version to the
// local sockets (each except the local socket of its client), reading
// them from the op stream. Runs on the deliver goroutine.
func (n *Node) catchUp(doc string, version uint64) {
	n.mu.Lock()
	r := n.rooms[doc]
	if r == nil || !r.known || r.last >= version {
		n.mu.Unlock()
		return
	}
	from := r.last
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(n.ctx, n.opts.ForwardTimeout)
	defer cancel()
	ops, err := n.store.ReadOps(ctx, doc, from, version, 0)
	if err != nil {
		n.log.Warn("cluster: broadcasts lost and not recovered", "doc", doc, "from", from+1, "to", version, "err", err)
		return
	}
	n.log.Info("cluster: lost broadcasts recovered from the op stream", "doc", doc, "from", from+1, "to", version, "ops", len(ops))
	n.recovered.Add(uint64(len(ops)))
	for _, o := range ops {
		n.local.BroadcastOp(doc, n.localSocketOf(doc, o.Client), collab.OpEvent{Doc: doc, Version: o.Version, Op: o.Op, Client: o.Client})
		n.sawOp(doc, o.Version)
	}
}

// localSocketOf returns the local socket joined to doc as client ("" when
// none or client is "").
func (n *Node) localSocketOf(doc, client string) collab.SocketID {
	if client == "" {
		return ""
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if r := n.rooms[doc]; r != nil {
		for s := range r.members {
			if rec := n.joins[s][doc]; rec != nil && rec.client == client {
				return s
			}
		}
	}
	return ""
}
