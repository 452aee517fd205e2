package collab

import (
	"container/list"
	"sync"
	"time"
)

// DefaultBlameCacheBytes bounds the memory of the attributions the Hub keeps
// between Blame calls (Options.BlameCacheBytes), over all documents; the
// least recently used are dropped first, and one larger than the bound is
// not kept. A 1 MB document with 100,000 ops needs about 10 MB.
const DefaultBlameCacheBytes = 64 << 20

// blameCache keeps the last attribution computed per document, least
// recently used first out. A Blame takes its document's entry out while it
// advances it, so concurrent Blames of one document never share a state
// (the second one starts from the history's start).
type blameCache struct {
	mu      sync.Mutex
	entries map[string]*list.Element // of *blameEntry
	lru     list.List                // front: most recently used
	bytes   int
}

type blameEntry struct {
	id    string
	st    *blameState
	bytes int
}

// take removes and returns document id's attribution when it belongs to
// the document created at created, starts at base and is at or before
// version.
func (c *blameCache) take(id string, created time.Time, base, version uint64) *blameState {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[id]
	if !ok {
		return nil
	}
	e := el.Value.(*blameEntry)
	if !e.st.created.Equal(created) || e.st.base != base || e.st.version > version {
		return nil
	}
	c.remove(el)
	return e.st
}

// put keeps st as document id's attribution, within limit bytes in all,
// unless the one kept is of the same document and newer (a blame of an old
// version does not push out the head's).
func (c *blameCache) put(id string, st *blameState, limit int) {
	n := st.bytes()
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[id]; ok {
		if e := el.Value.(*blameEntry); e.st.created.Equal(st.created) && e.st.base == st.base && e.st.version > st.version {
			c.lru.MoveToFront(el)
			return
		}
		c.remove(el)
	}
	if n > limit {
		return
	}
	if c.entries == nil {
		c.entries = make(map[string]*list.Element)
	}
	c.entries[id] = c.lru.PushFront(&blameEntry{id: id, st: st, bytes: n})
	c.bytes += n
	for c.bytes > limit {
		c.remove(c.lru.Back())
	}
}

// drop forgets document id's attribution (the document was deleted).
func (c *blameCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[id]; ok {
		c.remove(el)
	}
}

func (c *blameCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*blameEntry)
	delete(c.entries, e.id)
	c.bytes -= e.bytes
}
