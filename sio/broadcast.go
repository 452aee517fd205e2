package sio

import "slices"

// BroadcastOperator selects sockets of a namespace by room. It is immutable: To, In,
// Except and Volatile each return a new operator, so one can be kept and reused from any
// goroutine.
type BroadcastOperator struct {
	nsp      *Namespace
	rooms    []string
	except   []string
	volatile bool
}

func (b *BroadcastOperator) clone() *BroadcastOperator {
	nb := *b
	nb.rooms = slices.Clip(nb.rooms)
	nb.except = slices.Clip(nb.except)
	return &nb
}

// To returns an operator that also targets the given rooms.
func (b *BroadcastOperator) To(rooms ...string) *BroadcastOperator {
	nb := b.clone()
	nb.rooms = append(nb.rooms, rooms...)
	return nb
}

// In is a synonym of To.
func (b *BroadcastOperator) In(rooms ...string) *BroadcastOperator { return b.To(rooms...) }

// Except returns an operator that also skips the sockets in the given rooms.
func (b *BroadcastOperator) Except(rooms ...string) *BroadcastOperator {
	nb := b.clone()
	nb.except = append(nb.except, rooms...)
	return nb
}

// Volatile returns an operator whose packets are dropped for sockets that cannot take
// them right now (see engine.Session.SendVolatile) instead of being queued.
func (b *BroadcastOperator) Volatile() *BroadcastOperator {
	nb := b.clone()
	nb.volatile = true
	return nb
}

func (b *BroadcastOperator) options() BroadcastOptions {
	return BroadcastOptions{Rooms: b.rooms, Except: b.except, Volatile: b.volatile}
}

// Emit encodes the event once and sends it to every selected socket. It returns an error
// only when the event cannot be encoded; delivery to a closed socket is skipped.
func (b *BroadcastOperator) Emit(event string, args ...any) error {
	p, err := newEventPacket(b.nsp.name, event, args)
	if err != nil {
		return err
	}
	b.nsp.adapter.Broadcast(p, b.options())
	return nil
}

// SocketIDs returns the sorted ids of the selected sockets.
func (b *BroadcastOperator) SocketIDs() []string {
	return b.nsp.adapter.SocketIDs(b.options())
}

// SocketsJoin makes every selected socket join rooms.
func (b *BroadcastOperator) SocketsJoin(rooms ...string) {
	for _, s := range b.nsp.socketsByID(b.SocketIDs()) {
		s.Join(rooms...)
	}
}

// SocketsLeave makes every selected socket leave rooms.
func (b *BroadcastOperator) SocketsLeave(rooms ...string) {
	for _, s := range b.nsp.socketsByID(b.SocketIDs()) {
		for _, r := range rooms {
			s.Leave(r)
		}
	}
}

// DisconnectSockets disconnects every selected socket (see Socket.Disconnect).
func (b *BroadcastOperator) DisconnectSockets(close bool) {
	for _, s := range b.nsp.socketsByID(b.SocketIDs()) {
		s.Disconnect(close)
	}
}
