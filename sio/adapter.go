package sio

import (
	"sort"
	"sync"

	"github.com/cowrite/cowrite/sio/engine"
)

// BroadcastOptions select the sockets of a namespace a broadcast reaches.
type BroadcastOptions struct {
	Rooms    []string // sockets in at least one of these rooms; every socket when empty
	Except   []string // sockets in any of these rooms are skipped
	Volatile bool     // drop the packet for a socket that cannot take it right now
}

// Adapter stores the rooms of one namespace and delivers broadcasts. Every socket is in
// the room named after its own id from connect to disconnect. The default is the in-memory
// MemoryAdapter; a cluster adapter can embed *MemoryAdapter and override Broadcast (and
// the membership queries) to reach other nodes, without any change to sockets.
// Implementations must be safe for concurrent use and must not call back into the
// Socket.IO layer while holding their own locks.
type Adapter interface {
	AddAll(id string, rooms ...string) // add socket id to rooms
	Del(id, room string)               // remove socket id from room
	DelAll(id string)                  // remove socket id from every room
	SocketRooms(id string) []string    // the rooms of socket id, sorted
	SocketIDs(opts BroadcastOptions) []string
	// Broadcast sends p to the sockets opts selects; the packet is encoded once and the
	// same bytes are handed to every target session.
	Broadcast(p *Packet, opts BroadcastOptions)
}

// MemoryAdapter is the default in-process Adapter.
//
// It reports to the server's Observer (Options.Observer): AddRooms(+1) when a room gets
// its first member and AddRooms(-1) when it loses its last one — except for the room
// named after a socket's own id, joined at connect (one per socket, already counted as a
// socket) — and, once per Broadcast, ObserveBroadcast with the number of sockets whose
// session took the packet.
type MemoryAdapter struct {
	nsp *Namespace
	obs Observer

	mu    sync.RWMutex                   // guards the fields below
	rooms map[string]map[string]struct{} // room → set of socket ids
	sids  map[string]map[string]struct{} // socket id → set of rooms
	own   map[string]struct{}            // rooms created by their socket's own join (not counted)
}

// NewMemoryAdapter returns an empty in-memory adapter for nsp.
func NewMemoryAdapter(nsp *Namespace) *MemoryAdapter {
	a := &MemoryAdapter{
		nsp:   nsp,
		obs:   nopObserver{},
		rooms: make(map[string]map[string]struct{}),
		sids:  make(map[string]map[string]struct{}),
		own:   make(map[string]struct{}),
	}
	if nsp != nil && nsp.server != nil {
		a.obs = nsp.server.opts.Observer
	}
	return a
}

// AddAll implements Adapter.
func (a *MemoryAdapter) AddAll(id string, rooms ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	mine := a.sids[id]
	if mine == nil {
		mine = make(map[string]struct{}, len(rooms)+1)
		a.sids[id] = mine
	}
	for _, r := range rooms {
		mine[r] = struct{}{}
		set := a.rooms[r]
		if set == nil {
			set = make(map[string]struct{})
			a.rooms[r] = set
			if r == id {
				a.own[r] = struct{}{}
			} else {
				a.obs.AddRooms(1)
			}
		}
		set[id] = struct{}{}
	}
}

// Del implements Adapter.
func (a *MemoryAdapter) Del(id, room string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if mine := a.sids[id]; mine != nil {
		delete(mine, room)
	}
	a.delFromRoom(id, room)
}

func (a *MemoryAdapter) delFromRoom(id, room string) {
	if set := a.rooms[room]; set != nil {
		delete(set, id)
		if len(set) == 0 {
			delete(a.rooms, room)
			if _, own := a.own[room]; own {
				delete(a.own, room)
			} else {
				a.obs.AddRooms(-1)
			}
		}
	}
}

// DelAll implements Adapter.
func (a *MemoryAdapter) DelAll(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for r := range a.sids[id] {
		a.delFromRoom(id, r)
	}
	delete(a.sids, id)
}

// SocketRooms implements Adapter.
func (a *MemoryAdapter) SocketRooms(id string) []string {
	a.mu.RLock()
	out := make([]string, 0, len(a.sids[id]))
	for r := range a.sids[id] {
		out = append(out, r)
	}
	a.mu.RUnlock()
	sort.Strings(out)
	return out
}

// SocketIDs implements Adapter; the ids are sorted.
func (a *MemoryAdapter) SocketIDs(opts BroadcastOptions) []string {
	ids := a.targets(opts)
	sort.Strings(ids)
	return ids
}

// targets returns each selected socket id once (rooms may overlap).
func (a *MemoryAdapter) targets(opts BroadcastOptions) []string {
	a.mu.RLock()
	defer a.mu.RUnlock()
	excluded := func(id string) bool {
		for _, r := range opts.Except {
			if _, ok := a.rooms[r][id]; ok {
				return true
			}
		}
		return false
	}
	if len(opts.Rooms) == 0 {
		out := make([]string, 0, len(a.sids))
		for id := range a.sids {
			if !excluded(id) {
				out = append(out, id)
			}
		}
		return out
	}
	if len(opts.Rooms) == 1 {
		set := a.rooms[opts.Rooms[0]]
		out := make([]string, 0, len(set))
		for id := range set {
			if !excluded(id) {
				out = append(out, id)
			}
		}
		return out
	}
	seen := make(map[string]struct{})
	var out []string
	for _, r := range opts.Rooms {
		for id := range a.rooms[r] {
			if _, dup := seen[id]; dup {
				continue
			}
			seen[id] = struct{}{}
			if !excluded(id) {
				out = append(out, id)
			}
		}
	}
	return out
}

// Broadcast implements Adapter.
func (a *MemoryAdapter) Broadcast(p *Packet, opts BroadcastOptions) {
	msgs := encodeMessages(p)
	n := 0
	for _, id := range a.targets(opts) {
		if a.nsp.deliver(id, msgs, opts.Volatile) {
			n++
		}
	}
	a.obs.ObserveBroadcast(n)
}

// encodeMessages turns a packet into the Engine.IO messages that carry it.
func encodeMessages(p *Packet) []engine.Message {
	text, bufs := p.Encode()
	msgs := make([]engine.Message, 1+len(bufs))
	msgs[0] = engine.Message{Data: text}
	for i, b := range bufs {
		msgs[i+1] = engine.Message{Binary: true, Data: b}
	}
	return msgs
}
