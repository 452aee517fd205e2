package sio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Disconnect reasons passed to OnDisconnecting / OnDisconnect handlers. Reasons coming
// from the Engine.IO session ("transport close", "transport error", "ping timeout",
// "parse error", "forced close", "server shutting down", "slow consumer") are passed
// through unchanged.
const (
	ReasonClientNamespaceDisconnect = "client namespace disconnect"
	ReasonServerNamespaceDisconnect = "server namespace disconnect"
	ReasonParseError                = "parse error"
	ReasonServerShuttingDown        = "server shutting down"
)

// EventHandler handles one event. args are the event's arguments (without the name); ack
// is nil unless the client asked for an acknowledgement.
type EventHandler func(s *Socket, args Args, ack AckFunc)

// AnyHandler handles every event, before the event's own handler.
type AnyHandler func(s *Socket, event string, args Args, ack AckFunc)

// AckFunc acknowledges an event with arguments encoded as for Emit (an ACK packet, or a
// BINARY_ACK when they hold []byte). Only the first call sends; later calls return
// ErrAckUsed. It is safe to call from any goroutine.
type AckFunc func(args ...any) error

// Handshake describes how a socket connected.
type Handshake struct {
	Auth    json.RawMessage // CONNECT payload as sent; `{}` when the client sent none
	Headers http.Header     // headers of the first Engine.IO request
	Query   url.Values      // query of the first Engine.IO request
	Address string          // remote address
	Time    time.Time       // time of the first Engine.IO request
	Secure  bool            // TLS
	URL     string          // URL of the first Engine.IO request
}

type pendingAck struct {
	fn    func(Args, error)
	timer *time.Timer
}

// Socket is one client connected to one namespace. Its methods are safe for concurrent
// use. Event handlers of a socket run one at a time, in arrival order, on the Engine.IO
// session's deliverer: a handler that blocks delays the following packets of the whole
// connection (every namespace), so long work belongs in another goroutine.
type Socket struct {
	id        string
	nsp       *Namespace
	client    *client
	handshake *Handshake
	ackSeq    atomic.Int64

	mu              sync.Mutex // guards the fields below
	connected       bool
	handlers        map[string]EventHandler
	anyHandler      AnyHandler
	onDisconnecting []func(string)
	onDisconnect    []func(string)
	acks            map[int64]*pendingAck
	data            map[string]any
}

func newSocketID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ID returns the socket id: random, distinct from the Engine.IO session id, and the name
// of a room the socket is in while connected.
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake returns the connection details and the CONNECT payload.
func (s *Socket) Handshake() *Handshake { return s.handshake }

// Transport returns the current Engine.IO transport, "polling" or "websocket".
func (s *Socket) Transport() string { return s.client.sess.Transport() }

// Connected reports whether the socket is still connected to its namespace.
func (s *Socket) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// Set stores an application value on the socket.
func (s *Socket) Set(key string, v any) {
	s.mu.Lock()
	if s.data == nil {
		s.data = make(map[string]any)
	}
	s.data[key] = v
	s.mu.Unlock()
}

// Get returns an application value stored with Set.
func (s *Socket) Get(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[key]
	return v, ok
}

// On sets the handler of an event, replacing any previous one.
func (s *Socket) On(event string, fn EventHandler) {
	s.mu.Lock()
	if s.handlers == nil {
		s.handlers = make(map[string]EventHandler)
	}
	s.handlers[event] = fn
	s.mu.Unlock()
}

// OnAny sets a handler called for every event before the event's own handler.
func (s *Socket) OnAny(fn AnyHandler) {
	s.mu.Lock()
	s.anyHandler = fn
	s.mu.Unlock()
}

// OnDisconnecting adds a handler called when the socket starts disconnecting, while it is
// still in its rooms.
func (s *Socket) OnDisconnecting(fn func(reason string)) {
	s.mu.Lock()
	s.onDisconnecting = append(s.onDisconnecting, fn)
	s.mu.Unlock()
}

// OnDisconnect adds a handler called once the socket has left its rooms and namespace.
// No event handler of the socket starts after it.
func (s *Socket) OnDisconnect(fn func(reason string)) {
	s.mu.Lock()
	s.onDisconnect = append(s.onDisconnect, fn)
	s.mu.Unlock()
}

// Emit sends an event to this client. args may be any JSON-encodable Go values,
// json.RawMessage (sent unchanged), []byte (sent as a binary attachment, also inside
// []any and map[string]any) and Args (spliced, byte-exact). It returns ErrClosed once the
// socket is disconnected.
func (s *Socket) Emit(event string, args ...any) error {
	p, err := newEventPacket(s.nsp.name, event, args)
	if err != nil {
		return err
	}
	if !s.Connected() {
		return ErrClosed
	}
	return s.send(p)
}

// EmitWithAckFunc sends an event asking the client for an acknowledgement. fn is called
// exactly once: with the client's ack arguments (on the session's deliverer), or
// with ErrAckTimeout after timeout, or with ErrClosed if the socket disconnects first.
// timeout <= 0 means Options.AckTimeout, and no timeout if that is 0 too.
func (s *Socket) EmitWithAckFunc(event string, timeout time.Duration, fn func(args Args, err error), args ...any) error {
	if timeout <= 0 {
		timeout = s.nsp.server.opts.AckTimeout
	}
	_, err := s.emitWithAck(event, timeout, fn, args)
	return err
}

// EmitWithAck sends an event and waits for the client's acknowledgement or ctx's end.
// It must not be called from an event handler of the same connection (the ack is
// delivered by the same deliverer); use EmitWithAckFunc there.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	type result struct {
		args Args
		err  error
	}
	ch := make(chan result, 1)
	id, err := s.emitWithAck(event, 0, func(a Args, err error) { ch <- result{a, err} }, args)
	if err != nil {
		return Args{}, err
	}
	select {
	case r := <-ch:
		return r.args, r.err
	case <-ctx.Done():
		if pa := s.takeAck(id); pa == nil {
			r := <-ch // the ack won the race
			return r.args, r.err
		}
		return Args{}, ctx.Err()
	}
}

func (s *Socket) emitWithAck(event string, timeout time.Duration, fn func(Args, error), args []any) (int64, error) {
	p, err := newEventPacket(s.nsp.name, event, args)
	if err != nil {
		return 0, err
	}
	id := s.ackSeq.Add(1) - 1
	p.ID = id
	pa := &pendingAck{fn: fn}
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	if s.acks == nil {
		s.acks = make(map[int64]*pendingAck)
	}
	s.acks[id] = pa
	if timeout > 0 {
		pa.timer = time.AfterFunc(timeout, func() {
			if s.takeAck(id) != nil {
				fn(Args{}, ErrAckTimeout)
			}
		})
	}
	s.mu.Unlock()
	if err := s.send(p); err != nil {
		if s.takeAck(id) != nil {
			return 0, err
		}
	}
	return id, nil
}

// takeAck removes and returns the pending ack id, stopping its timer; nil if gone.
func (s *Socket) takeAck(id int64) *pendingAck {
	s.mu.Lock()
	pa := s.acks[id]
	delete(s.acks, id)
	s.mu.Unlock()
	if pa != nil && pa.timer != nil {
		pa.timer.Stop()
	}
	return pa
}

// Join adds the socket to rooms. It does nothing once the socket is disconnected.
func (s *Socket) Join(rooms ...string) {
	s.mu.Lock()
	defer s.mu.Unlock() // held so that a concurrent disconnect cannot miss the new rooms
	if s.connected {
		s.nsp.adapter.AddAll(s.id, rooms...)
	}
}

// Leave removes the socket from room.
func (s *Socket) Leave(room string) { s.nsp.adapter.Del(s.id, room) }

// Rooms returns the socket's rooms, sorted (its own id included).
func (s *Socket) Rooms() []string { return s.nsp.adapter.SocketRooms(s.id) }

// To returns a broadcast operator targeting rooms, excluding this socket.
func (s *Socket) To(rooms ...string) *BroadcastOperator {
	return s.Broadcast().To(rooms...)
}

// In is a synonym of To.
func (s *Socket) In(rooms ...string) *BroadcastOperator { return s.To(rooms...) }

// Except returns a broadcast operator targeting the namespace except rooms and this socket.
func (s *Socket) Except(rooms ...string) *BroadcastOperator {
	return s.Broadcast().Except(rooms...)
}

// Broadcast returns a broadcast operator targeting every socket of the namespace but this one.
func (s *Socket) Broadcast() *BroadcastOperator {
	return &BroadcastOperator{nsp: s.nsp, except: []string{s.id}}
}

// Disconnect disconnects the socket from its namespace: the client gets a DISCONNECT
// packet (its reason is "io server disconnect") and the socket's reason is
// "server namespace disconnect". With close, every namespace of the connection is
// disconnected and the Engine.IO session is closed.
func (s *Socket) Disconnect(close bool) {
	if close {
		s.client.disconnectAll()
		return
	}
	if !s.Connected() {
		return
	}
	_ = s.send(&Packet{Type: PacketDisconnect, Nsp: s.nsp.name, ID: -1})
	s.onClose(ReasonServerNamespaceDisconnect)
}

func (s *Socket) send(p *Packet) error {
	return s.client.sess.Send(encodeMessages(p)...)
}

// onClose tears the socket down once: disconnecting handlers, leave all rooms, leave the
// namespace and client, fail pending acks, disconnect handlers.
func (s *Socket) onClose(reason string) {
	s.mu.Lock()
	if !s.connected {
		s.mu.Unlock()
		return
	}
	s.connected = false
	disconnecting := s.onDisconnecting
	s.mu.Unlock()
	for _, fn := range disconnecting {
		s.safeCall("disconnecting", func() { fn(reason) })
	}
	s.nsp.adapter.DelAll(s.id)
	s.nsp.remove(s)
	s.client.remove(s)
	s.mu.Lock()
	acks := s.acks
	s.acks = nil
	disconnect := s.onDisconnect
	s.mu.Unlock()
	for _, pa := range acks {
		if pa.timer != nil {
			pa.timer.Stop()
		}
		s.safeCall("ack", func() { pa.fn(Args{}, ErrClosed) })
	}
	for _, fn := range disconnect {
		s.safeCall("disconnect", func() { fn(reason) })
	}
}

// onPacket dispatches a packet addressed to this socket (on the session's deliverer).
func (s *Socket) onPacket(p *Packet) {
	switch p.Type {
	case PacketEvent, PacketBinaryEvent:
		s.onEvent(p)
	case PacketAck, PacketBinaryAck:
		if pa := s.takeAck(p.ID); pa != nil {
			args := Args{raw: p.Args, bufs: p.Attachments}
			s.safeCall("ack", func() { pa.fn(args, nil) })
		}
	case PacketDisconnect:
		s.onClose(ReasonClientNamespaceDisconnect)
	}
}

func (s *Socket) onEvent(p *Packet) {
	name, _ := stringValue(p.Args[0]) // validated by DecodePacket
	args := Args{raw: p.Args[1:], bufs: p.Attachments}
	var ack AckFunc
	if p.ID >= 0 {
		ack = s.newAck(p.ID)
	}
	s.mu.Lock()
	h, anyH, connected := s.handlers[name], s.anyHandler, s.connected
	s.mu.Unlock()
	if !connected {
		return
	}
	if anyH != nil {
		s.safeCall(name, func() { anyH(s, name, args, ack) })
	}
	if h != nil {
		s.safeCall(name, func() { h(s, args, ack) })
	}
}

func (s *Socket) newAck(id int64) AckFunc {
	var used atomic.Bool
	return func(args ...any) error {
		var e argEncoder
		raw, err := e.encodeAll(args)
		if err != nil {
			return err
		}
		if !used.CompareAndSwap(false, true) {
			return ErrAckUsed
		}
		if !s.Connected() {
			return ErrClosed
		}
		return s.send(&Packet{Type: PacketAck, Nsp: s.nsp.name, ID: id, Args: raw, Attachments: e.bufs})
	}
}

// safeCall runs an application callback, turning a panic into a logged error so that one
// faulty handler cannot bring the server down.
func (s *Socket) safeCall(what string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			s.client.log.Error("sio: handler panic", logKeyNsp, s.nsp.name, logKeySocket, s.id,
				logKeyEvent, what, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	fn()
}

// newEventPacket builds an EVENT packet (BINARY_EVENT when args hold []byte).
func newEventPacket(nsp, event string, args []any) (*Packet, error) {
	if reservedEvents[event] {
		return nil, fmt.Errorf("%w: %q", ErrReservedEvent, event)
	}
	name, err := appendJSON(nil, event)
	if err != nil {
		return nil, err
	}
	e := argEncoder{}
	raw := make([]json.RawMessage, 1, len(args)+1)
	raw[0] = name
	for _, a := range args {
		if raw, err = e.appendArg(raw, a); err != nil {
			return nil, err
		}
	}
	return &Packet{Type: PacketEvent, Nsp: nsp, ID: -1, Args: raw, Attachments: e.bufs}, nil
}
