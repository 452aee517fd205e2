package collab_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// room is a Broadcaster that delivers doc:op events to per-session inboxes,
// like Socket.IO rooms: in call order, never to the excepted session.
type room struct {
	mu     sync.Mutex
	inbox  map[collab.SocketID]chan collab.OpEvent
	closed bool
}

func (r *room) add(s collab.SocketID) chan collab.OpEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan collab.OpEvent, 100000)
	r.inbox[s] = ch
	return ch
}

func (r *room) BroadcastOp(doc string, except collab.SocketID, ev collab.OpEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for s, ch := range r.inbox {
		if s != except {
			ch <- ev
		}
	}
}
func (r *room) BroadcastPresence(string, collab.SocketID, collab.PresenceEvent) {}
func (r *room) DocDeleted(string)                                               {}
func (r *room) DocMeta(string, collab.DocInfo)                                  {}

// simClient is a ShareDB-style client: one op in flight, later local edits
// composed into a pending op; incoming ops are transformed against them.
type simClient struct {
	t        *testing.T
	hub      *collab.Hub
	s        collab.SocketID
	inbox    chan collab.OpEvent
	version  uint64
	text     string
	inflight ot.Op // nil: none
	pending  ot.Op // nil: none
	seq      uint64
	acks     chan *collab.Committed
}

func (c *simClient) receive(ev collab.OpEvent) {
	if ev.Version <= c.version {
		return // already in the state the join gave us
	}
	if ev.Version > c.version+1 && c.inflight != nil {
		// The gap is our own op: its ack travels on another channel here
		// (on a socket it would come first, in the same stream).
		cm := <-c.acks
		if cm == nil {
			c.t.Fatalf("%s: submit failed", c.s)
		}
		c.ack(context.Background(), cm)
	}
	if ev.Version != c.version+1 {
		c.t.Fatalf("%s: got op %d at version %d", c.s, ev.Version, c.version)
	}
	o := ev.Op
	var err error
	if c.inflight != nil {
		in := c.inflight
		if c.inflight, err = ot.Transform(in, o, ot.Left); err != nil {
			c.t.Fatal(err)
		}
		if o, err = ot.Transform(o, in, ot.Right); err != nil {
			c.t.Fatal(err)
		}
	}
	if c.pending != nil {
		p := c.pending
		if c.pending, err = ot.Transform(p, o, ot.Left); err != nil {
			c.t.Fatal(err)
		}
		if o, err = ot.Transform(o, p, ot.Right); err != nil {
			c.t.Fatal(err)
		}
	}
	if c.text, err = ot.Apply(c.text, o); err != nil {
		c.t.Fatalf("%s: apply incoming %d: %v", c.s, ev.Version, err)
	}
	c.version = ev.Version
}

func (c *simClient) send(ctx context.Context) {
	c.inflight, c.pending = c.pending, nil
	c.seq++
	sub := collab.Submission{Version: c.version, Op: c.inflight, Client: string(c.s), Seq: c.seq}
	go func() {
		cm, err := c.hub.Submit(ctx, "d", c.s, sub)
		if err != nil {
			c.t.Errorf("%s: submit: %v", c.s, err)
			cm = nil
		}
		c.acks <- cm
	}()
}

func (c *simClient) ack(ctx context.Context, cm *collab.Committed) {
	// Every op below cm.Version was broadcast before this ack was released.
	for c.version+1 < cm.Version {
		select {
		case ev := <-c.inbox:
			c.receive(ev)
		default:
			c.t.Fatalf("%s: ack %d while at %d with no op queued", c.s, cm.Version, c.version)
		}
	}
	c.version = cm.Version
	c.inflight = nil
	if c.pending != nil {
		c.send(ctx)
	}
}

func (c *simClient) edit(ctx context.Context, r *rand.Rand, tag string) {
	o := randomOp(r, c.text, tag)
	var err error
	if c.text, err = ot.Apply(c.text, o); err != nil {
		c.t.Fatal(err)
	}
	if c.pending == nil {
		c.pending = o
	} else if c.pending, err = ot.Compose(c.pending, o); err != nil {
		c.t.Fatal(err)
	}
	if c.inflight == nil {
		c.send(ctx)
	}
}

// TestClientsConverge runs ShareDB-style clients against the Hub, with
// random edits and random delivery timing; every client must end with the
// server's content.
func TestClientsConverge(t *testing.T) {
	rm := &room{inbox: map[collab.SocketID]chan collab.OpEvent{}}
	e := newEnvBC(t, &collab.Options{OpsPerSecond: -1, HistoryOps: 50}, nil, rm)
	ctx := ctxT(t)
	mustCreate(t, e.hub, "d", "shared text")
	const n, edits = 5, 40
	clients := make([]*simClient, n)
	for i := range clients {
		s := collab.SocketID(fmt.Sprint("s", i))
		c := &simClient{t: t, hub: e.hub, s: s, inbox: rm.add(s), acks: make(chan *collab.Committed, 1)}
		j, err := e.hub.Join(ctx, "d", s, string(s), collab.User{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.version, c.text = j.Version, *j.Content
		clients[i] = c
	}
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(i), 42))
			done := 0
			deadline := time.After(30 * time.Second)
			for done < edits || c.inflight != nil || c.pending != nil {
				if done < edits && r.IntN(3) == 0 {
					c.edit(ctx, r, fmt.Sprint(i))
					done++
					continue
				}
				select {
				case ev := <-c.inbox:
					c.receive(ev)
				case cm := <-c.acks:
					if cm == nil {
						return
					}
					c.ack(ctx, cm)
				case <-time.After(time.Duration(r.IntN(200)) * time.Microsecond):
				case <-deadline:
					t.Errorf("%s: stuck", c.s)
					return
				}
			}
		}()
	}
	wg.Wait()
	server, head := content(t, e.hub, "d")
	for _, c := range clients {
		for c.version < head {
			select {
			case ev := <-c.inbox:
				c.receive(ev)
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: stuck at %d of %d", c.s, c.version, head)
			}
		}
		if c.text != server {
			t.Errorf("%s: %q, server %q", c.s, c.text, server)
		}
	}
	if head == 0 || head > n*edits {
		t.Errorf("head %d", head)
	}
}
