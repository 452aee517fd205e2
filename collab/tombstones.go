package collab

import (
	"context"
	"fmt"
	"time"
)

// TombstoneStore is the part of Store that remembers deleted documents.
// A doc:join of a deleted id answers not_found
// with Reason "deleted" even when auto-create is on, so an old link does not
// bring back an empty document; Create of the id (an explicit choice) makes
// it a new document again.
type TombstoneStore interface {
	// DeletedAt reports when id was deleted; ok false if it never was, or
	// was created again since.
	DeletedAt(ctx context.Context, id string) (at time.Time, ok bool, err error)
}

// deletedErr returns not_found with Reason "deleted" when the store
// remembers id as deleted, else nil.
func (h *Hub) deletedErr(ctx context.Context, id string) error {
	at, ok, err := h.store.DeletedAt(ctx, id)
	if err != nil || !ok {
		return nil
	}
	return &Error{Code: CodeNotFound, Reason: ReasonDeleted,
		Message: fmt.Sprintf("document %q was deleted at %s; create it again to reuse the id", id, at.Format(time.RFC3339))}
}
