package storage

import (
	"context"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Tombstones remember deleted documents, so that an old link can say "this
// document was deleted" instead of silently creating an empty one:
//
//	tombs/<id>   u64 deletion time (ns)
//
// DeleteDoc writes one, CreateDoc of the same id removes it. They are never
// pruned (about 50 bytes each).
var bktTombs = []byte("tombs")

func putTombstone(tx *bolt.Tx, id string, at time.Time) error {
	b, err := tx.CreateBucketIfNotExists(bktTombs)
	if err != nil {
		return err
	}
	return b.Put([]byte(id), u64(uint64(at.UnixNano())))
}

func clearTombstone(tx *bolt.Tx, id string) error {
	if b := tx.Bucket(bktTombs); b != nil {
		return b.Delete([]byte(id))
	}
	return nil
}

// DeletedAt reports when document id was deleted; ok is false when it was
// never deleted or has been created again since.
func (db *DB) DeletedAt(ctx context.Context, id string) (at time.Time, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, false, err
	}
	err = db.read(noOverlay, id, func(v view) error {
		if b := v.tx.Bucket(bktTombs); b != nil {
			if val := b.Get([]byte(id)); len(val) == 8 {
				at, ok = time.Unix(0, int64(be.Uint64(val))).UTC(), true
			}
		}
		return nil
	})
	return at, ok, err
}
