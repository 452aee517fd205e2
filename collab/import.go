package collab

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/cowrite/cowrite/collab/ot"
)

// Import creates a document with a whole history: content at version 0 and
// ops[i] committed as version i+1, each keeping its client, seq and time (the
// dedupe table is filled as if the ops had been submitted live). Every op is
// validated by replaying it on the content before anything is stored, so a
// bad history is refused whole (invalid_op naming the version, too_large
// when a version's content exceeds MaxDocBytes). The ops bypass the
// sequencer and the rate limits: they are written straight to the store in
// batches that each end with a snapshot, pipelined through the group commit.
//
// conflict when the id exists. If the process dies midway, the document
// exists with a prefix of its history; importing it again then answers
// conflict (delete it and retry). A client that joins the document while it
// is being imported sees the versions stored so far, and an op it submits
// meanwhile may make the rest of the import fail with conflict.
func (h *Hub) Import(ctx context.Context, info DocInfo, content string, ops []OpRecord) (DocInfo, error) {
	if info.ID == "" {
		info.ID = randomID()
	}
	if err := h.validateNew(info.ID, info.Title, content); err != nil {
		return DocInfo{}, err
	}
	now := time.Now().UTC()
	if info.Created.IsZero() {
		info.Created = now
	}
	// Replay first: every op must apply, and every version fit the limit.
	every := h.opts.SnapshotEveryOps
	var batches []*Batch
	doc := ot.NewDoc(content)
	for i := range ops {
		r := &ops[i]
		r.Version = uint64(i) + 1
		if r.Time.IsZero() {
			r.Time = now
		}
		if err := r.Op.Validate(); err != nil {
			return DocInfo{}, errorf(CodeInvalidOp, "op of version %d: %v", r.Version, err)
		}
		r.Op = ot.Normalize(r.Op)
		var err error
		if doc, err = doc.Apply(r.Op); err != nil {
			return DocInfo{}, errorf(CodeInvalidOp, "op of version %d: %v", r.Version, err)
		}
		if doc.Size() > h.opts.MaxDocBytes {
			return DocInfo{}, errorf(CodeTooLarge, "content at version %d exceeds the limit of %d bytes", r.Version, h.opts.MaxDocBytes)
		}
		if (i+1)%every == 0 || i == len(ops)-1 {
			text := doc.String()
			start := (i / every) * every
			batches = append(batches, &Batch{
				Doc:      info.ID,
				Ops:      ops[start : i+1],
				Snapshot: &Snapshot{Version: r.Version, Content: text},
				Size:     int64(len(text)),
				Updated:  r.Time,
			})
		}
	}
	info.Version = 0
	info.Size = int64(len(content))
	info.Updated = info.Created
	if err := h.store.CreateDoc(ctx, info, content); err != nil {
		return DocInfo{}, storeErr("import", info.ID, err)
	}
	// Pipeline the batches: the store applies them in order and fails every
	// batch after one that failed (its first version no longer follows).
	results := make(chan error, len(batches))
	for _, b := range batches {
		h.store.Append(b, func(err error) { results <- err })
	}
	var first error
	for range batches {
		select {
		case err := <-results:
			if err != nil && first == nil {
				first = err
			}
		case <-ctx.Done():
			// The appends are queued and will still commit; the caller
			// learns that it did not wait for them.
			return DocInfo{}, ctx.Err()
		}
	}
	if first != nil {
		return DocInfo{}, storeErr("import", info.ID, first)
	}
	got, err := h.store.GetDoc(ctx, info.ID)
	if err != nil {
		return DocInfo{}, storeErr("import", info.ID, err)
	}
	return got, nil
}

// HistoryStart returns the oldest version from which the document's history
// is complete: its content there can be rebuilt and every later op is kept
// (0 unless retention pruned older ops).
func (h *Hub) HistoryStart(ctx context.Context, id string) (uint64, error) {
	v, err := h.store.CatchUpFloor(ctx, id)
	if err != nil {
		return 0, storeErr("oldest kept version", id, err)
	}
	return v, nil
}

// validateNew checks a new document's id, title and initial content.
func (h *Hub) validateNew(id, title, content string) error {
	if err := ValidateDocID(id); err != nil {
		return err
	}
	if err := h.validateTitle(title); err != nil {
		return err
	}
	if !utf8.ValidString(content) {
		return errorf(CodeBadRequest, "content is not valid UTF-8")
	}
	if len(content) > h.opts.MaxDocBytes {
		return errorf(CodeTooLarge, "content of %d bytes exceeds the limit of %d", len(content), h.opts.MaxDocBytes)
	}
	return nil
}
