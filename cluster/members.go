package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Member is one live node as written in the membership bucket.
type Member struct {
	ID        string `json:"id"`
	Advertise string `json:"advertise"` // base URL of the node's HTTP server
	Epoch     string `json:"epoch"`     // changes on every start of the process
	State     string `json:"state"`     // "active" or "draining"
}

const (
	membersBucket = "CW_NODES"
	stateJoining  = "joining"
	stateActive   = "active"
	stateDraining = "draining"
)

// membership keeps this node's key in CW_NODES fresh and the view of the
// live members current, both every heartbeat.
type membership struct {
	kv   jetstream.KeyValue
	self Member
	hb   time.Duration

	mu       sync.Mutex // guards the fields below
	members  map[string]Member
	beats    int          // heartbeats written
	activeAt time.Time    // when this node wrote itself active
	onGone   func(Member) // called (without mu) for each member that left
}

// ErrDuplicateNode: a live node already uses this node id.
var ErrDuplicateNode = errors.New("cluster: a live node already uses this node id")

func newMembership(ctx context.Context, js jetstream.JetStream, self Member, hb, ttl time.Duration, replicas int) (*membership, error) {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: membersBucket, History: 1, TTL: ttl, Storage: jetstream.MemoryStorage, Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: create bucket %s with %d replicas: %w", membersBucket, replicas, err)
	}
	m := &membership{kv: kv, self: self, hb: hb, members: map[string]Member{}}
	data, _ := json.Marshal(self)
	// A key left by a crashed process with this id expires within ttl; a
	// live one is refreshed every heartbeat and keeps us out.
	deadline := time.Now().Add(ttl + hb)
	for {
		_, err := kv.Create(ctx, self.ID, data)
		if err == nil {
			break
		}
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("cluster: register node %q: %w", self.ID, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %q", ErrDuplicateNode, self.ID)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("cluster: register node %q: %w", self.ID, ctx.Err())
		case <-time.After(hb):
		}
	}
	if err := m.refresh(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// beat writes this node's key and reloads the members.
//
// A node starts as joining (no document is routed to it) and turns active
// at its joinBeats-th heartbeat, so that by then every other node has
// read its key; it takes documents itself only one more heartbeat later,
// once the others have read "active" too. This keeps two nodes from both
// sequencing a document while their views differ (the fence would refuse
// one of them).
func (m *membership) beat(ctx context.Context) error {
	m.mu.Lock()
	m.beats++
	if m.self.State == stateJoining && m.beats >= joinBeats {
		m.self.State = stateActive
		m.activeAt = time.Now()
	}
	data, _ := json.Marshal(m.self)
	m.mu.Unlock()
	if _, err := m.kv.Put(ctx, m.self.ID, data); err != nil {
		return fmt.Errorf("cluster: heartbeat: %w", err)
	}
	return m.refresh(ctx)
}

func (m *membership) refresh(ctx context.Context) error {
	kl, err := m.kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("cluster: list members: %w", err)
	}
	var keys []string
	for k := range kl.Keys() {
		keys = append(keys, k)
	}
	_ = kl.Stop()
	now := map[string]Member{}
	for _, k := range keys {
		e, err := m.kv.Get(ctx, k)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cluster: read member %q: %w", k, err)
		}
		var mb Member
		if json.Unmarshal(e.Value(), &mb) == nil && mb.ID == k {
			now[k] = mb
		}
	}
	m.mu.Lock()
	now[m.self.ID] = m.self
	var gone []Member
	for id, old := range m.members {
		if cur, ok := now[id]; !ok || cur.Epoch != old.Epoch {
			gone = append(gone, old)
		}
	}
	m.members = now
	onGone := m.onGone
	m.mu.Unlock()
	if onGone != nil {
		for _, g := range gone {
			onGone(g)
		}
	}
	return nil
}

// leave deletes this node's key (a graceful stop).
func (m *membership) leave(ctx context.Context) {
	_ = m.kv.Delete(ctx, m.self.ID)
}

func (m *membership) setState(state string) {
	m.mu.Lock()
	m.self.State = state
	m.mu.Unlock()
}

// get returns the member with id, if live.
func (m *membership) get(id string) (Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mb, ok := m.members[id]
	return mb, ok
}

// list returns the live members ordered by id.
func (m *membership) list() []Member {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Member, 0, len(m.members))
	for _, mb := range m.members {
		out = append(out, mb)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// joinBeats: heartbeats a new node stays joining.
const joinBeats = 2

// candidates returns the ids of the active members in rendezvous-hash order
// for doc: the first is its owner, the next ones take over in turn. When
// no member is active (a cluster starting), every live member is one.
func (m *membership) candidates(doc string) []string {
	m.mu.Lock()
	ids := m.activeLocked()
	if len(ids) == 0 {
		for id := range m.members {
			ids = append(ids, id)
		}
	}
	m.mu.Unlock()
	return RendezvousOrder(doc, ids)
}

// activeLocked lists the members that take documents (this node one
// heartbeat after it turned active). m.mu is held.
func (m *membership) activeLocked() []string {
	ids := make([]string, 0, len(m.members))
	for id, mb := range m.members {
		ok := mb.State == stateActive
		if id == m.self.ID {
			ok = ok && time.Since(m.activeAt) >= m.hb
		}
		if ok {
			ids = append(ids, id)
		}
	}
	return ids
}

// activeCount is how many members take documents in this node's view.
func (m *membership) activeCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.activeLocked())
}

// RendezvousOrder orders node ids by their highest-random-weight score for
// key (best first; ties by id). Removing a node moves only the keys it
// owned; adding one takes about 1/N of the keys.
func RendezvousOrder(key string, ids []string) []string {
	type scored struct {
		id    string
		score uint64
	}
	s := make([]scored, len(ids))
	for i, id := range ids {
		s[i] = scored{id, hrw(id, key)}
	}
	slices.SortFunc(s, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return cmpString(a.id, b.id)
	})
	out := make([]string, len(s))
	for i := range s {
		out[i] = s[i].id
	}
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// hrw is the score of (node, key): FNV-1a of both, then a 64-bit finalizer
// (splitmix64) so that similar ids spread.
func hrw(node, key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(node))
	h.Write([]byte{0})
	h.Write([]byte(key))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
