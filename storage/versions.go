package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Named versions live in the document's bucket (so DeleteDoc removes them):
//
//	docs/<id>/names/<u64 version>   JSON {l: label, a: author id, n: author name, c: created ns}
//	docs/<id>/pins/<u64 version>    the content at that version
//
// The pinned copy of the content keeps a named version retrievable whatever
// retention prunes, and makes reading it O(1) in the history's length.
var (
	bktNames = []byte("names")
	bktPins  = []byte("pins")
)

// NamedVersion is a version of a document that a user gave a label.
type NamedVersion struct {
	Version    uint64
	Label      string
	AuthorID   string
	AuthorName string
	Created    time.Time
}

type nameRecord struct {
	L string `json:"l"`
	A string `json:"a,omitempty"`
	N string `json:"n,omitempty"`
	C int64  `json:"c"`
}

// NameVersion labels a version of a document and pins content as its
// content (the caller has rebuilt it; this package does not know the OT
// type). Naming a version again replaces its label and author. nv.Created
// zero becomes the commit time. Errors: ErrNotFound, ErrInvalid.
func (db *DB) NameVersion(ctx context.Context, id string, nv NamedVersion, content string) (NamedVersion, error) {
	if len(content) > maxValue {
		return NamedVersion{}, fmt.Errorf("%w: content larger than %d bytes", ErrInvalid, maxValue)
	}
	err := db.write(ctx, func(tx *bolt.Tx, bt *batch) error {
		b, _, err := storedDoc(tx, id)
		if err != nil {
			return err
		}
		if nv.Created.IsZero() {
			nv.Created = bt.now
		}
		nv.Created = nv.Created.UTC().Round(0)
		rec, err := json.Marshal(nameRecord{L: nv.Label, A: nv.AuthorID, N: nv.AuthorName, C: nv.Created.UnixNano()})
		if err != nil {
			return err
		}
		names, err := b.CreateBucketIfNotExists(bktNames)
		if err != nil {
			return abort(err)
		}
		pins, err := b.CreateBucketIfNotExists(bktPins)
		if err != nil {
			return abort(err)
		}
		if err := names.Put(u64(nv.Version), rec); err != nil {
			return abort(err)
		}
		if err := pins.Put(u64(nv.Version), []byte(content)); err != nil {
			return abort(err)
		}
		return abort(db.outbox.Load().versionNamed(tx, bt.now, id, nv)) // outbox.go
	})
	if err != nil {
		return NamedVersion{}, err
	}
	nv.Created = time.Unix(0, nv.Created.UnixNano()).UTC()
	return nv, nil
}

// NamedVersions lists a document's named versions, oldest version first.
// Error: ErrNotFound.
func (db *DB) NamedVersions(ctx context.Context, id string) ([]NamedVersion, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := []NamedVersion{}
	err := db.read(oneOverlay, id, func(v view) error {
		b, _, _, err := v.doc(id)
		if err != nil {
			return err
		}
		names := b.Bucket(bktNames)
		if names == nil {
			return nil
		}
		return names.ForEach(func(k, val []byte) error {
			var r nameRecord
			if len(k) != 8 || json.Unmarshal(val, &r) != nil {
				return fmt.Errorf("%w: document %q: bad named version record", ErrCorrupt, id)
			}
			out = append(out, NamedVersion{Version: be.Uint64(k), Label: r.L, AuthorID: r.A, AuthorName: r.N, Created: time.Unix(0, r.C).UTC()})
			return nil
		})
	})
	return out, err
}

// DeleteVersionName removes a version's label and its pinned content.
// Errors: ErrNotFound (no such document, or the version has no name).
func (db *DB) DeleteVersionName(ctx context.Context, id string, version uint64) error {
	return db.write(ctx, func(tx *bolt.Tx, bt *batch) error {
		b, _, err := storedDoc(tx, id)
		if err != nil {
			return err
		}
		names := b.Bucket(bktNames)
		if names == nil || names.Get(u64(version)) == nil {
			return fmt.Errorf("%w: document %q has no named version %d", ErrNotFound, id, version)
		}
		if err := names.Delete(u64(version)); err != nil {
			return abort(err)
		}
		if pins := b.Bucket(bktPins); pins != nil {
			return abort(pins.Delete(u64(version)))
		}
		return nil
	})
}

// PinnedContent returns the content pinned with a named version; ok is
// false when the version has no name. Error: ErrNotFound.
func (db *DB) PinnedContent(ctx context.Context, id string, version uint64) (content string, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return "", false, err
	}
	err = db.read(oneOverlay, id, func(v view) error {
		b, _, _, err := v.doc(id)
		if err != nil {
			return err
		}
		if pins := b.Bucket(bktPins); pins != nil {
			if val := pins.Get(u64(version)); val != nil {
				content, ok = string(val), true
			}
		}
		return nil
	})
	return content, ok, err
}
