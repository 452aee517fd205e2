package engine

import "sync/atomic"

// queueBudget is the server-wide budget of queued message data: the sum,
// over every session of one Server, of the bytes of message data in its
// outbound queue (Session.outBytes). It is shared by the sessions through
// their config.
//
// Owner: the counter is an atomic, changed only by a session holding its
// own mutex, and only together with that session's outBytes (reserve
// before appendLocked adds the same bytes, release as outBytes drops to
// zero), so that at every moment outside a session's critical section
// total equals the sum of the open sessions' outBytes. Closed sessions
// hold none (close releases theirs).
type queueBudget struct {
	max   int64 // bytes; 0: no global budget
	total atomic.Int64
}

// reserve adds n bytes to the total if that keeps it within limit
// (a fraction of max, or max), or unconditionally with force, and
// reports whether it did. Without a budget it always adds.
func (b *queueBudget) reserve(n, limit int64, force bool) bool {
	if b.max == 0 || force {
		b.total.Add(n)
		return true
	}
	for {
		cur := b.total.Load()
		if cur+n > limit {
			return false
		}
		if b.total.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

// release gives back n bytes reserved before.
func (b *queueBudget) release(n int64) {
	if n != 0 {
		b.total.Add(-n)
	}
}
