package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DocMeta is a document's metadata.
type DocMeta struct {
	ID      string
	Title   string
	Created time.Time
	Updated time.Time
	Version uint64 // number of ops committed
	Size    int64  // bytes of content at Version
}

// write queues apply through the group committer and waits for it.
// If ctx ends first, ctx.Err() is returned and the write may still commit.
func (db *DB) write(ctx context.Context, apply func(tx *bolt.Tx, bt *batch) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.enqueue(apply).Wait(ctx)
}

// CreateDoc creates a document at version 0 with the given content (stored
// as the snapshot at version 0). meta.ID is required; Title is kept;
// zero Created/Updated become the commit time; Version must be 0; Size is
// computed from content.
// Errors: ErrExists, ErrInvalid.
func (db *DB) CreateDoc(ctx context.Context, meta DocMeta, content string) (DocMeta, error) {
	if err := checkID(meta.ID); err != nil {
		return DocMeta{}, err
	}
	if meta.Version != 0 {
		return DocMeta{}, fmt.Errorf("%w: a new document has version 0", ErrInvalid)
	}
	if len(content) > maxValue {
		return DocMeta{}, fmt.Errorf("%w: content larger than %d bytes", ErrInvalid, maxValue)
	}
	meta.Size = int64(len(content))
	err := db.write(ctx, func(tx *bolt.Tx, bt *batch) error {
		docs := tx.Bucket(bktDocs)
		if docs.Bucket([]byte(meta.ID)) != nil {
			return fmt.Errorf("%w: %q", ErrExists, meta.ID)
		}
		if meta.Created.IsZero() {
			meta.Created = bt.now
		}
		if meta.Updated.IsZero() {
			meta.Updated = meta.Created
		}
		meta.Created = meta.Created.UTC()
		meta.Updated = meta.Updated.UTC()
		b, err := docs.CreateBucket([]byte(meta.ID))
		if err != nil {
			return abort(err)
		}
		// A unique incarnation number tells this document apart from an
		// earlier one with the same id (see view.doc).
		inc, err := tx.Bucket(bktSys).NextSequence()
		if err != nil {
			return abort(err)
		}
		if err := b.SetSequence(inc); err != nil {
			return abort(err)
		}
		for _, name := range [][]byte{bktOps, bktSnaps, bktSeq} {
			if _, err := b.CreateBucket(name); err != nil {
				return abort(err)
			}
		}
		if err := b.Bucket(bktSnaps).Put(u64(0), []byte(content)); err != nil {
			return abort(err)
		}
		if err := db.outbox.Load().created(tx, bt.now, meta); err != nil { // outbox.go
			return abort(err)
		}
		if err := clearTombstone(tx, meta.ID); err != nil { // tombstones.go
			return abort(err)
		}
		return abort(b.Put(keyMeta, encodeMeta(meta)))
	})
	if err != nil {
		return DocMeta{}, err
	}
	// Round trip through the stored form (nanosecond times, UTC).
	return decodeMeta(meta.ID, encodeMeta(meta))
}

// GetDoc returns a document's metadata. Error: ErrNotFound.
func (db *DB) GetDoc(ctx context.Context, id string) (DocMeta, error) {
	if err := ctx.Err(); err != nil {
		return DocMeta{}, err
	}
	var m DocMeta
	err := db.read(oneOverlay, id, func(v view) error {
		var err error
		_, m, _, err = v.doc(id)
		return err
	})
	return m, err
}

// RenameDoc sets a document's title (Updated is not changed: it tracks
// content). Error: ErrNotFound.
func (db *DB) RenameDoc(ctx context.Context, id, title string) (DocMeta, error) {
	var m DocMeta
	err := db.write(ctx, func(tx *bolt.Tx, bt *batch) error {
		b, stored, err := storedDoc(tx, id)
		if err != nil {
			return err
		}
		nm := stored
		nm.Title = title
		if err := b.Put(keyMeta, encodeMeta(nm)); err != nil {
			return abort(err)
		}
		m = nm
		if db.lookup(bt, id) != nil {
			p := db.touch(bt, id, b.Sequence(), stored)
			p.meta.Title = title
			m = p.meta
		}
		return nil
	})
	if err != nil {
		return DocMeta{}, err
	}
	return m, nil
}

// DeleteDoc removes everything of a document: metadata, ops, snapshots and
// dedupe entries. Appends still queued for it fail with ErrNotFound.
// Error: ErrNotFound.
func (db *DB) DeleteDoc(ctx context.Context, id string) error {
	return db.write(ctx, func(tx *bolt.Tx, bt *batch) error {
		if _, _, err := storedDoc(tx, id); err != nil {
			return err
		}
		// Its journal entries stay until the next checkpoint, which skips
		// them: they name an incarnation that no longer exists.
		bt.docs[id] = nil
		if err := db.outbox.Load().deleted(tx, bt.now, id); err != nil { // outbox.go
			return abort(err)
		}
		if err := putTombstone(tx, id, bt.now); err != nil { // tombstones.go
			return abort(err)
		}
		return abort(tx.Bucket(bktDocs).DeleteBucket([]byte(id)))
	})
}

// ListOptions selects a page of ListDocs.
type ListOptions struct {
	// Limit is the page size; <= 0 means 100.
	Limit int
	// Cursor is the NextCursor of the previous page, "" for the first.
	Cursor string
}

const defaultListLimit = 100

// ListDocs returns one page of documents ordered by id, ascending (byte
// order), and the cursor of the next page ("" when this is the last page).
// Error: ErrInvalid for a bad cursor.
func (db *DB) ListDocs(ctx context.Context, o ListOptions) ([]DocMeta, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if o.Limit <= 0 {
		o.Limit = defaultListLimit
	}
	const mode = 'i'
	var after []byte
	if o.Cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(o.Cursor)
		if err != nil || len(raw) < 2 || raw[0] != mode {
			return nil, "", fmt.Errorf("%w: bad cursor", ErrInvalid)
		}
		after = raw[1:]
	}
	var out []DocMeta
	var next string
	err := db.read(allOverlay, "", func(v view) error {
		var err error
		out, next, err = v.listByID(after, o.Limit)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}

func cursorOf(mode byte, key []byte) string {
	return base64.RawURLEncoding.EncodeToString(append([]byte{mode}, key...))
}

func (v view) listByID(after []byte, limit int) ([]DocMeta, string, error) {
	var out []DocMeta
	c := v.tx.Bucket(bktDocs).Cursor()
	k, _ := c.First()
	if after != nil {
		k, _ = c.Seek(after)
		if k != nil && bytes.Equal(k, after) {
			k, _ = c.Next()
		}
	}
	for ; k != nil; k, _ = c.Next() {
		if len(out) == limit {
			return out, cursorOf('i', []byte(out[len(out)-1].ID)), nil
		}
		_, m, _, err := v.doc(string(k))
		if err != nil {
			return nil, "", err
		}
		out = append(out, m)
	}
	return out, "", nil
}
