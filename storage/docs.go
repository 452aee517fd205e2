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
	Length  int    // optional: code points of content at Version
}

// write queues apply through the group committer and waits for it.
// If ctx ends first, ctx.Err() is returned and the write may still commit.
func (db *DB) write(ctx context.Context, apply func(tx *bolt.Tx, now time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.enqueue(apply).Wait(ctx)
}

// CreateDoc creates a document at version 0 with the given content (stored
// as the snapshot at version 0). meta.ID is required; Title is kept;
// zero Created/Updated become the commit time; Version must be 0; Size is
// computed from content (Length is stored as given).
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
	err := db.write(ctx, func(tx *bolt.Tx, now time.Time) error {
		docs := tx.Bucket(bktDocs)
		if docs.Bucket([]byte(meta.ID)) != nil {
			return fmt.Errorf("%w: %q", ErrExists, meta.ID)
		}
		if meta.Created.IsZero() {
			meta.Created = now
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
		for _, name := range [][]byte{bktOps, bktSnaps, bktSeq} {
			if _, err := b.CreateBucket(name); err != nil {
				return abort(err)
			}
		}
		if err := b.Bucket(bktSnaps).Put(u64(0), []byte(content)); err != nil {
			return abort(err)
		}
		return abort(putMeta(tx, b, DocMeta{}, meta))
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
	err := db.view(func(tx *bolt.Tx) error {
		var err error
		_, m, err = docBucket(tx, id)
		return err
	})
	return m, err
}

// RenameDoc sets a document's title (Updated is not changed: it tracks
// content). Error: ErrNotFound.
func (db *DB) RenameDoc(ctx context.Context, id, title string) (DocMeta, error) {
	var m DocMeta
	err := db.write(ctx, func(tx *bolt.Tx, now time.Time) error {
		b, old, err := docBucket(tx, id)
		if err != nil {
			return err
		}
		m = old
		m.Title = title
		return abort(putMeta(tx, b, old, m))
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
	return db.write(ctx, func(tx *bolt.Tx, now time.Time) error {
		_, m, err := docBucket(tx, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bktUpdated).Delete(updatedKey(m.Updated, id)); err != nil {
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
	// A cursor only works with the same ByUpdated setting.
	Cursor string
	// ByUpdated orders by last update, newest first (ties by id);
	// otherwise by id, ascending (byte order).
	ByUpdated bool
}

const defaultListLimit = 100

// ListDocs returns one page of documents and the cursor of the next page
// ("" when this is the last page). Error: ErrInvalid for a bad cursor.
func (db *DB) ListDocs(ctx context.Context, o ListOptions) ([]DocMeta, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", err
	}
	if o.Limit <= 0 {
		o.Limit = defaultListLimit
	}
	mode := byte('i')
	if o.ByUpdated {
		mode = 'u'
	}
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
	err := db.view(func(tx *bolt.Tx) error {
		docs := tx.Bucket(bktDocs)
		var c *bolt.Cursor
		if o.ByUpdated {
			c = tx.Bucket(bktUpdated).Cursor()
		} else {
			c = docs.Cursor()
		}
		var k []byte
		if after == nil {
			k, _ = c.First()
		} else {
			k, _ = c.Seek(after)
			if k != nil && bytes.Equal(k, after) {
				k, _ = c.Next()
			}
		}
		var last []byte
		for ; k != nil; k, _ = c.Next() {
			if len(out) == o.Limit {
				next = base64.RawURLEncoding.EncodeToString(append([]byte{mode}, last...))
				return nil
			}
			id := k
			if o.ByUpdated {
				if len(k) < 8 {
					return fmt.Errorf("%w: bad updated-index key", ErrCorrupt)
				}
				id = k[8:]
			}
			_, m, err := docBucket(tx, string(id))
			if err != nil {
				return err
			}
			out = append(out, m)
			last = k
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	return out, next, nil
}
