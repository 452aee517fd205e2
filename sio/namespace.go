package sio

import (
	"sync"

	"github.com/cowrite/cowrite/sio/engine"
)

// Namespace is a Socket.IO namespace ("/" or "/name"): its own middlewares, connection
// handlers, sockets and rooms. Create it with Server.Of before clients connect to it;
// CONNECTs to a namespace that does not exist are refused with "Invalid namespace".
type Namespace struct {
	name    string
	server  *Server
	adapter Adapter

	mu          sync.RWMutex // guards the fields below
	sockets     map[string]*Socket
	middlewares []func(*Socket) error
	onConn      []func(*Socket)
}

func newNamespace(srv *Server, name string) *Namespace {
	n := &Namespace{name: name, server: srv, sockets: make(map[string]*Socket)}
	if srv.opts.Adapter != nil {
		n.adapter = srv.opts.Adapter(n)
	} else {
		n.adapter = NewMemoryAdapter(n)
	}
	return n
}

// Name returns the namespace name, such as "/" or "/custom".
func (n *Namespace) Name() string { return n.name }

// Adapter returns the namespace's room adapter.
func (n *Namespace) Adapter() Adapter { return n.adapter }

// Use adds a middleware run, in order, for every CONNECT before the socket is connected.
// The socket's Handshake is available; returning an error refuses the connection with a
// CONNECT_ERROR (use *ConnectError to add data). Middlewares run on the session's
// deliverer: packets of that session wait while they run.
func (n *Namespace) Use(fn func(s *Socket) error) {
	n.mu.Lock()
	n.middlewares = append(n.middlewares, fn)
	n.mu.Unlock()
}

// OnConnection adds a handler called for each socket once connected (after the CONNECT
// reply was queued). It runs before any event of that socket is dispatched, so it is the
// place to register the socket's event handlers.
func (n *Namespace) OnConnection(fn func(s *Socket)) {
	n.mu.Lock()
	n.onConn = append(n.onConn, fn)
	n.mu.Unlock()
}

// To returns a broadcast operator targeting the given rooms of this namespace.
func (n *Namespace) To(rooms ...string) *BroadcastOperator {
	return (&BroadcastOperator{nsp: n}).To(rooms...)
}

// In is a synonym of To.
func (n *Namespace) In(rooms ...string) *BroadcastOperator { return n.To(rooms...) }

// Except returns a broadcast operator targeting every socket except those in rooms.
func (n *Namespace) Except(rooms ...string) *BroadcastOperator {
	return (&BroadcastOperator{nsp: n}).Except(rooms...)
}

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error {
	return (&BroadcastOperator{nsp: n}).Emit(event, args...)
}

// Socket returns the connected socket with the given id, or nil.
func (n *Namespace) Socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// SocketCount returns the number of connected sockets.
func (n *Namespace) SocketCount() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

func (n *Namespace) socketsByID(ids []string) []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Socket, 0, len(ids))
	for _, id := range ids {
		if s := n.sockets[id]; s != nil {
			out = append(out, s)
		}
	}
	return out
}

// deliver hands already encoded messages to the session of socket id, if still there,
// and reports whether the session took them.
func (n *Namespace) deliver(id string, msgs []engine.Message, volatile bool) bool {
	n.mu.RLock()
	s := n.sockets[id]
	n.mu.RUnlock()
	if s == nil {
		return false
	}
	if volatile {
		return s.client.sess.SendVolatile(msgs...)
	}
	return s.client.sess.Send(msgs...) == nil // a closed or overflowing session is closing itself
}

func (n *Namespace) handlers() ([]func(*Socket) error, []func(*Socket)) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.middlewares, n.onConn
}

// add registers a connected socket; it is called once per socket.
func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets[s.id] = s
	n.mu.Unlock()
	n.server.opts.Observer.SocketConnected()
	n.adapter.AddAll(s.id, s.id)
}

// remove forgets a disconnected socket; it is called once per socket, after add.
func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	delete(n.sockets, s.id)
	n.mu.Unlock()
	n.server.opts.Observer.SocketDisconnected()
}
