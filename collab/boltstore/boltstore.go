// Package boltstore adapts the storage package (bbolt) to collab.Store.
//
// Ops are stored as their JSON encoding (ot.Op's MarshalJSON) and decoded
// with ot.Parse when read back. storage's sentinels are translated:
// ErrNotFound → collab.ErrDocNotFound, ErrExists → collab.ErrDocExists,
// ErrPruned → version_too_old, ErrVersionAhead → version_ahead,
// ErrInvalid → bad_request; anything else stays an internal error.
// LastSeq answers a client storage does not know with storage's dedupe
// floor (storage.DB.DedupeFloor).
//
// Append hands the batch to storage's committer (storage.DB.AppendThen),
// which calls done itself right after the batch is on disk (or failed; on
// a closed DB, before Append returns): no goroutine waits per batch. done therefore runs on the committer and must
// not block; collab's dones send on a channel with room for every batch in
// flight. A Store has no goroutine of its own; closing the storage.DB (after
// collab.Hub.Close) is the caller's job.
package boltstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

// Store is a collab.Store over a storage.DB.
type Store struct {
	db *storage.DB
}

var _ collab.Store = (*Store)(nil)

// New returns a collab.Store over db.
func New(db *storage.DB) *Store { return &Store{db: db} }

func convErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return fmt.Errorf("%w (%w)", collab.ErrDocNotFound, err)
	case errors.Is(err, storage.ErrExists):
		return fmt.Errorf("%w (%w)", collab.ErrDocExists, err)
	case errors.Is(err, storage.ErrPruned):
		return &collab.Error{Code: collab.CodeVersionTooOld, Message: "the history needed was pruned"}
	case errors.Is(err, storage.ErrVersionAhead):
		return &collab.Error{Code: collab.CodeVersionAhead, Message: "version is ahead of the document"}
	case errors.Is(err, storage.ErrInvalid):
		return &collab.Error{Code: collab.CodeBadRequest, Message: err.Error()}
	}
	return err
}

func info(m storage.DocMeta) collab.DocInfo {
	return collab.DocInfo{ID: m.ID, Title: m.Title, Version: m.Version, Size: m.Size, Created: m.Created, Updated: m.Updated}
}

func fromRecords(recs []storage.OpRecord) ([]collab.OpRecord, error) {
	out := make([]collab.OpRecord, len(recs))
	for i, r := range recs {
		op, err := ot.Parse(r.Op)
		if err != nil {
			return nil, fmt.Errorf("boltstore: stored op %d is not valid: %w", r.Version, err)
		}
		out[i] = collab.OpRecord{Version: r.Version, Op: op, Client: r.Client, Seq: r.Seq, Time: r.Time,
			Author: collab.Author{ID: r.AuthorID, Name: r.AuthorName}}
	}
	return out, nil
}

// CreateDoc implements collab.Store.
func (s *Store) CreateDoc(ctx context.Context, in collab.DocInfo, content string) error {
	_, err := s.db.CreateDoc(ctx, storage.DocMeta{
		ID: in.ID, Title: in.Title, Created: in.Created, Updated: in.Updated,
	}, content)
	return convErr(err)
}

// GetDoc implements collab.Store.
func (s *Store) GetDoc(ctx context.Context, id string) (collab.DocInfo, error) {
	m, err := s.db.GetDoc(ctx, id)
	if err != nil {
		return collab.DocInfo{}, convErr(err)
	}
	return info(m), nil
}

// ListDocs implements collab.Store (ordered by id).
func (s *Store) ListDocs(ctx context.Context, limit int, cursor string) ([]collab.DocInfo, string, error) {
	ms, next, err := s.db.ListDocs(ctx, storage.ListOptions{Limit: limit, Cursor: cursor})
	if err != nil {
		return nil, "", convErr(err)
	}
	out := make([]collab.DocInfo, len(ms))
	for i, m := range ms {
		out[i] = info(m)
	}
	return out, next, nil
}

// RenameDoc implements collab.Store.
func (s *Store) RenameDoc(ctx context.Context, id, title string) (collab.DocInfo, error) {
	m, err := s.db.RenameDoc(ctx, id, title)
	if err != nil {
		return collab.DocInfo{}, convErr(err)
	}
	return info(m), nil
}

// DeleteDoc implements collab.Store.
func (s *Store) DeleteDoc(ctx context.Context, id string) error {
	return convErr(s.db.DeleteDoc(ctx, id))
}

// LoadDoc implements collab.Store.
func (s *Store) LoadDoc(ctx context.Context, id string) (*collab.LoadedDoc, error) {
	m, snap, recs, err := s.db.Load(ctx, id)
	if err != nil {
		return nil, convErr(err)
	}
	ops, err := fromRecords(recs)
	if err != nil {
		return nil, err
	}
	return &collab.LoadedDoc{
		Info:     info(m),
		Snapshot: collab.Snapshot{Version: snap.Version, Content: snap.Content},
		Ops:      ops,
	}, nil
}

// Append implements collab.Store: the ops are encoded here and queued on
// the committer, which calls done (see the package doc); done must not
// block. An error found before queueing is reported on a fresh goroutine.
func (s *Store) Append(b *collab.Batch, done func(error)) {
	if len(b.Ops) == 0 {
		go done(&collab.Error{Code: collab.CodeInternal, Message: "boltstore: empty batch"})
		return
	}
	a := storage.Append{Doc: b.Doc, Records: make([]storage.OpRecord, len(b.Ops))}
	for i, r := range b.Ops {
		data, err := json.Marshal(r.Op)
		if err != nil {
			go done(fmt.Errorf("boltstore: encode op %d: %w", r.Version, err))
			return
		}
		a.Records[i] = storage.OpRecord{Version: r.Version, Op: data, Client: r.Client, Seq: r.Seq, Time: r.Time,
			AuthorID: r.Author.ID, AuthorName: r.Author.Name}
	}
	a.Meta.Version = b.Ops[len(b.Ops)-1].Version
	a.Meta.Size = b.Size
	a.Meta.Updated = b.Updated
	if b.Snapshot != nil {
		a.Snapshot = &storage.Snapshot{Version: b.Snapshot.Version, Content: b.Snapshot.Content}
	}
	s.db.AppendThen(a, func(err error) { done(convErr(err)) })
}

// ReadOps implements collab.Store.
func (s *Store) ReadOps(ctx context.Context, id string, from, to uint64, limit int) ([]collab.OpRecord, error) {
	recs, err := s.db.ReadOps(ctx, id, from, to, limit)
	if err != nil {
		return nil, convErr(err)
	}
	return fromRecords(recs)
}

// SnapshotAtOrBelow implements collab.Store.
func (s *Store) SnapshotAtOrBelow(ctx context.Context, id string, version uint64) (collab.Snapshot, error) {
	snap, err := s.db.SnapshotAtOrBelow(ctx, id, version)
	if err != nil {
		return collab.Snapshot{}, convErr(err)
	}
	return collab.Snapshot{Version: snap.Version, Content: snap.Content}, nil
}

// LastSeq implements collab.Store.
func (s *Store) LastSeq(ctx context.Context, id, client string) (seq, version, floor uint64, err error) {
	seq, version, ok, err := s.db.LastSeq(ctx, id, client)
	if err != nil {
		return 0, 0, 0, convErr(err)
	}
	if ok {
		return seq, version, 0, nil
	}
	// Read after LastSeq: the floor only grows, so it covers the miss.
	floor, err = s.db.DedupeFloor(ctx, id)
	return 0, 0, floor, convErr(err)
}

// CatchUpFloor implements collab.Store: storage reports the oldest op
// kept (v), collab wants the oldest base version (v-1).
func (s *Store) CatchUpFloor(ctx context.Context, id string) (uint64, error) {
	v, err := s.db.OldestKeptOp(ctx, id)
	if err != nil {
		return 0, convErr(err)
	}
	if v == 0 {
		return 0, nil
	}
	return v - 1, nil
}

// NameVersion implements collab.Store (named versions).
func (s *Store) NameVersion(ctx context.Context, id string, nv collab.NamedVersion, content string) (collab.NamedVersion, error) {
	got, err := s.db.NameVersion(ctx, id, storage.NamedVersion{Version: nv.Version, Label: nv.Label,
		AuthorID: nv.Author.ID, AuthorName: nv.Author.Name, Created: nv.Created}, content)
	if err != nil {
		return collab.NamedVersion{}, convErr(err)
	}
	return namedVersion(got), nil
}

func namedVersion(v storage.NamedVersion) collab.NamedVersion {
	return collab.NamedVersion{Version: v.Version, Label: v.Label, Author: collab.Author{ID: v.AuthorID, Name: v.AuthorName}, Created: v.Created}
}

// NamedVersions implements collab.Store (named versions).
func (s *Store) NamedVersions(ctx context.Context, id string) ([]collab.NamedVersion, error) {
	vs, err := s.db.NamedVersions(ctx, id)
	if err != nil {
		return nil, convErr(err)
	}
	out := make([]collab.NamedVersion, len(vs))
	for i, v := range vs {
		out[i] = namedVersion(v)
	}
	return out, nil
}

// DeleteVersionName implements collab.Store (named versions).
func (s *Store) DeleteVersionName(ctx context.Context, id string, version uint64) error {
	return convErr(s.db.DeleteVersionName(ctx, id, version))
}

// PinnedContent implements collab.Store (named versions).
func (s *Store) PinnedContent(ctx context.Context, id string, version uint64) (string, bool, error) {
	c, ok, err := s.db.PinnedContent(ctx, id, version)
	return c, ok, convErr(err)
}

// DeletedAt implements collab.Store (tombstones).
func (s *Store) DeletedAt(ctx context.Context, id string) (time.Time, bool, error) {
	at, ok, err := s.db.DeletedAt(ctx, id)
	return at, ok, convErr(err)
}
