package collab

import (
	"context"
	"time"

	"github.com/cowrite/cowrite/collab/ot"
)

// Store is everything the Hub needs from durable storage. collab/boltstore
// implements it over the storage package (bbolt); tests may use any
// implementation. Methods other than Append are called synchronously, possibly
// from a document goroutine, and must be safe for concurrent use.
//
// Errors: a missing document is reported as (a wrap of) ErrDocNotFound, an
// existing id in CreateDoc as ErrDocExists; a *Error is passed through; any
// other error becomes CodeInternal.
type Store interface {
	// CreateDoc creates a document at version 0 with the given content (its
	// version-0 snapshot). info.Version is 0; info.Size is len(content).
	CreateDoc(ctx context.Context, info DocInfo, content string) error
	// GetDoc returns the document's metadata (durable version, size, times).
	GetDoc(ctx context.Context, id string) (DocInfo, error)
	// ListDocs lists documents ordered by id, starting after cursor ("" = from
	// the start), at most limit; next is "" when there are no more.
	ListDocs(ctx context.Context, limit int, cursor string) (docs []DocInfo, next string, err error)
	// RenameDoc sets the title and returns the updated metadata.
	RenameDoc(ctx context.Context, id, title string) (DocInfo, error)
	// DeleteDoc removes the document, its ops, snapshots and dedupe records.
	DeleteDoc(ctx context.Context, id string) error
	// LoadDoc returns the metadata, the latest snapshot and every op after it.
	LoadDoc(ctx context.Context, id string) (*LoadedDoc, error)
	// Append hands a batch of committed ops (consecutive versions, the first
	// being the stored head + 1) to the group commit. It must not wait for the
	// fsync: done is called exactly once, from any goroutine, with nil once the
	// batch is durable or with the error that made it fail (then nothing of the
	// batch is stored). Appending to a deleted document fails with
	// ErrDocNotFound. The store also records, per (doc, client), the highest
	// seq and its version (for LastSeq).
	Append(b *Batch, done func(error))
	// ReadOps returns the ops with versions from+1 .. to, in order, at most
	// limit of them (limit <= 0: no limit). Ops that were pruned are missing:
	// callers check the versions they get.
	ReadOps(ctx context.Context, id string, from, to uint64, limit int) ([]OpRecord, error)
	// SnapshotAtOrBelow returns the newest snapshot whose version is <= version.
	SnapshotAtOrBelow(ctx context.Context, id string, version uint64) (Snapshot, error)
	// LastSeq returns the highest seq committed for (doc, client) and the
	// version that op was committed as. When the store has no entry for the
	// client, seq is 0 and floor is the dedupe floor: a store that bounds
	// its dedupe entries guarantees that a client it forgot committed its
	// last op at a version <= floor (0 for a store that forgets nothing).
	LastSeq(ctx context.Context, id, client string) (seq, version, floor uint64, err error)
	// CatchUpFloor returns the lowest base version b such that every op
	// b+1 .. head is still stored (0 when nothing was pruned).
	CatchUpFloor(ctx context.Context, id string) (uint64, error)

	// Named versions and tombstones are part of every Store (not optional
	// interfaces found by type assertion), so that a wrapper — a test's
	// fault store, a cluster's store — cannot hide them.
	VersionStore
	TombstoneStore
}

// Snapshot is the full content of a document at a version.
type Snapshot struct {
	Version uint64
	Content string
}

// LoadedDoc is what LoadDoc returns: the latest snapshot and the ops after it
// (versions Snapshot.Version+1 .. Info.Version, in order).
type LoadedDoc struct {
	Info     DocInfo
	Snapshot Snapshot
	Ops      []OpRecord
}

// Batch is one Append: ops (at least one) of one document with consecutive
// versions, and optionally a snapshot of the content at the batch's last
// version. Size and Updated are the document's new metadata once the batch is
// stored.
type Batch struct {
	Doc      string
	Ops      []OpRecord
	Snapshot *Snapshot // nil: no snapshot in this batch
	Size     int64     // UTF-8 size of the content at the last version
	Updated  time.Time
}

// OpRecord is a committed op as stored and as listed by the REST API.
type OpRecord struct {
	Version uint64
	Op      ot.Op
	Client  string
	Seq     uint64
	Time    time.Time
	Author  Author // Submission.Author; zero when unknown (ops stored before authors were)
}

// DocInfo is a document's metadata.
type DocInfo struct {
	ID      string
	Title   string
	Version uint64
	Size    int64
	Created time.Time
	Updated time.Time
}
