package storage

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
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
func (db *DB) write(ctx context.Context, apply func(tx *bolt.Tx, bt *batch) error) error {
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
		if err := putMeta(tx, b, stored, nm); err != nil {
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
		_, m, err := storedDoc(tx, id)
		if err != nil {
			return err
		}
		// Its journal entries stay until the next checkpoint, which skips
		// them: they name an incarnation that no longer exists.
		bt.docs[id] = nil
		if err := tx.Bucket(bktUpdated).Delete(updatedKey(m.Updated, id)); err != nil {
			return abort(err)
		}
		if err := db.outbox.Load().deleted(tx, bt.now, id); err != nil { // outbox.go
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
	err := db.read(allOverlay, "", func(v view) error {
		var err error
		if o.ByUpdated {
			out, next, err = v.listByUpdated(after, o.Limit)
		} else {
			out, next, err = v.listByID(after, o.Limit)
		}
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

// listByUpdated merges the stored "updated" index with the documents whose
// newer metadata is still in the journal overlay.
func (v view) listByUpdated(after []byte, limit int) ([]DocMeta, string, error) {
	type item struct {
		key []byte
		m   DocMeta
	}
	// Overlay documents, in index order, after the cursor.
	var ov []item
	moved := map[string]bool{}
	for id := range v.ov {
		_, m, p, err := v.doc(id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, "", err
		}
		if p == nil {
			continue
		}
		moved[id] = true
		if k := updatedKey(m.Updated, id); after == nil || bytes.Compare(k, after) > 0 {
			ov = append(ov, item{k, m})
		}
	}
	slices.SortFunc(ov, func(a, b item) int { return bytes.Compare(a.key, b.key) })

	var out []item
	c := v.tx.Bucket(bktUpdated).Cursor()
	k, _ := c.First()
	if after != nil {
		k, _ = c.Seek(after)
		if k != nil && bytes.Equal(k, after) {
			k, _ = c.Next()
		}
	}
	for len(out) <= limit && (k != nil || len(ov) > 0) {
		if k != nil && len(k) < 8 {
			return nil, "", fmt.Errorf("%w: bad updated-index key", ErrCorrupt)
		}
		if k != nil && moved[string(k[8:])] {
			k, _ = c.Next()
			continue
		}
		if k == nil || (len(ov) > 0 && bytes.Compare(ov[0].key, k) < 0) {
			out = append(out, ov[0])
			ov = ov[1:]
			continue
		}
		_, m, _, err := v.doc(string(k[8:]))
		if err != nil {
			return nil, "", err
		}
		out = append(out, item{bytes.Clone(k), m})
		k, _ = c.Next()
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = cursorOf('u', out[len(out)-1].key)
	}
	docs := make([]DocMeta, len(out))
	for i, it := range out {
		docs[i] = it.m
	}
	return docs, next, nil
}
