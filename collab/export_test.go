package collab

import (
	"context"
	"time"

	"github.com/cowrite/cowrite/collab/ot"
)

// TestState is a sequencer's state as the tests observe it.
type TestState struct {
	Head, Durable  uint64 // last accepted and last durable version
	InflightTo     uint64 // last version handed to the store
	Flights        int    // batches in flight
	PendingDeletes int    // Delete calls waiting for the flights
	HistOps        int    // ops kept in memory
	HistBytes      int    // their op bytes (opBytes), summed here
	HistBytesKept  int    // the sequencer's running count of the same
	Seqs           int    // cached dedupe entries
}

// TestState reads the state of document id on its goroutine (loading it).
func (h *Hub) TestState(ctx context.Context, id string) (TestState, error) {
	return call(ctx, h, id, func(d *sequencer) (TestState, error) {
		st := TestState{Head: d.head, Durable: d.durable, InflightTo: d.inflightTo, Flights: len(d.flights),
			PendingDeletes: len(d.deletes), HistOps: len(d.hist), HistBytesKept: d.histBytes, Seqs: len(d.seqs)}
		for i := range d.hist {
			st.HistBytes += opBytes(d.hist[i].rec.Op)
		}
		return st, nil
	})
}

// DiffOpBounded is Diff of characters with explicit bounds.
func DiffOpBounded(old, new string, maxBytes int, timeout time.Duration) ot.Op {
	return Diff(old, new, DiffOptions{MaxBytes: maxBytes, Timeout: timeout})
}

// BlameCachedAt returns the version of document id's cached attribution.
func (h *Hub) BlameCachedAt(id string) (uint64, bool) {
	h.blames.mu.Lock()
	defer h.blames.mu.Unlock()
	el, ok := h.blames.entries[id]
	if !ok {
		return 0, false
	}
	return el.Value.(*blameEntry).st.version, true
}
