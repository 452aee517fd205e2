package sio

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// countingObserver keeps the levels the Observer reports and every fan-out.
type countingObserver struct {
	sockets atomic.Int64
	rooms   atomic.Int64

	mu     sync.Mutex
	fanout []int
}

func (o *countingObserver) SocketConnected()    { o.sockets.Add(1) }
func (o *countingObserver) SocketDisconnected() { o.sockets.Add(-1) }
func (o *countingObserver) AddRooms(d int) {
	if o.rooms.Add(int64(d)) < 0 {
		panic("rooms went negative")
	}
}

func (o *countingObserver) ObserveBroadcast(n int) {
	o.mu.Lock()
	o.fanout = append(o.fanout, n)
	o.mu.Unlock()
}

// takeFanout returns and clears the fan-outs observed.
func (o *countingObserver) takeFanout() []int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.fanout
	o.fanout = nil
	return out
}

func (o *countingObserver) expect(t *testing.T, sockets, rooms int64, fanout ...int) {
	t.Helper()
	if got := o.sockets.Load(); got != sockets {
		t.Errorf("sockets %d, want %d", got, sockets)
	}
	if got := o.rooms.Load(); got != rooms {
		t.Errorf("rooms %d, want %d", got, rooms)
	}
	if got := o.takeFanout(); !slices.Equal(got, fanout) {
		t.Errorf("fan-outs %v, want %v", got, fanout)
	}
}

func TestObserver(t *testing.T) {
	obs := &countingObserver{}
	srv := newTestServer(t, &Options{Observer: obs})
	nsp := srv.Of("/")
	srv.Of("/admin")
	a, b := dial(t, srv), dial(t, srv)
	idA := a.connect("/")
	a.connect("/admin")
	idB := b.connect("/")
	obs.expect(t, 3, 0) // own-id rooms are not counted

	sa, sb := nsp.Socket(idA), nsp.Socket(idB)
	sa.Join("doc1", "doc2")
	sb.Join("doc1")
	sa.Join("doc1") // already in: no new room
	obs.expect(t, 3, 2)

	_ = nsp.To("doc1").Emit("x")
	_ = sa.To("doc1").Emit("x")    // the sender is excluded
	_ = nsp.To("nobody").Emit("x") // an empty room
	_ = nsp.Emit("x")              // every socket of "/"
	obs.expect(t, 3, 2, 2, 1, 0, 2)

	sb.Leave("doc1")
	obs.expect(t, 3, 2) // a is still in doc1
	sa.Leave("doc2")
	sa.Leave("doc2") // not in it any more
	obs.expect(t, 3, 1)

	// A volatile packet a session cannot take is not counted.
	b.f.mu.Lock()
	b.f.full = true
	b.f.mu.Unlock()
	_ = nsp.Emit("x")
	_ = nsp.To().Volatile().Emit("x")
	obs.expect(t, 3, 1, 2, 1)

	// A socket's id room is never counted, even while another socket keeps it after
	// its own socket left: the count stays consistent.
	sb.Join(idA)
	sb.Join("doc3")
	obs.expect(t, 3, 2)
	a.c.onMessage(false, []byte("1")) // a leaves "/" only: doc1 goes
	obs.expect(t, 2, 1)
	sb.Leave(idA)
	obs.expect(t, 2, 1)
	if got := nsp.SocketCount(); got != 1 {
		t.Fatalf("SocketCount %d", got)
	}

	// Closing the sessions disconnects every socket and removes every room.
	a.f.Close()
	b.f.Close()
	obs.expect(t, 0, 0)
	_ = nsp.Emit("x")
	obs.expect(t, 0, 0, 0)
}

func TestObserverNamespaceDisconnect(t *testing.T) {
	obs := &countingObserver{}
	srv := newTestServer(t, &Options{Observer: obs})
	nsp := srv.Of("/")
	c := dial(t, srv)
	id := c.connect("/")
	nsp.Socket(id).Join("doc")
	obs.expect(t, 1, 1)
	s := nsp.Socket(id)
	s.Disconnect(false)
	s.Disconnect(false) // once only
	obs.expect(t, 0, 0)
	c.expect("1")  // the DISCONNECT
	c.connect("/") // the same connection reconnects the namespace
	obs.expect(t, 1, 0)
	nsp.To().DisconnectSockets(true)
	obs.expect(t, 0, 0)
}
