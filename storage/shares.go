package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Share links (api/share.go) are signed tokens; the server keeps a record of
// each so that its owner can list and revoke them:
//
//	shares/<doc> 0x00 <share id>   JSON {r: role, b: created by, c: created ns, e: expires ns, x: revoked ns}
//	sharerevoked/<share id>        u64 the token's expiry (ns)
//
// The second bucket answers "is this token revoked?" with one lookup at
// authentication time. Records of links that expired more than
// sharePruneAfter ago are dropped when another link of the same document is
// created; they live apart from the document's bucket, so that deleting a
// document does not un-revoke its links.
var (
	bktShares  = []byte("shares")
	bktRevoked = []byte("sharerevoked")
)

// sharePruneAfter is how long after its expiry a link's record is kept
// (longer than any clock-skew leeway, so a revoked token never becomes
// valid again by its record going away first).
const sharePruneAfter = 24 * time.Hour

// maxShareField bounds the role and author fields of a share record.
const maxShareField = 1024

// Share is the record of a share link.
type Share struct {
	ID      string    // the token's jti
	Doc     string    // the document it is scoped to
	Role    string    // "viewer" or "editor" (not checked here)
	By      string    // who created it (a user id), may be empty
	Created time.Time // zero: the commit time
	Expires time.Time // the token's exp; required
	Revoked time.Time // zero while the link is active
}

type shareRecord struct {
	R string `json:"r"`
	B string `json:"b,omitempty"`
	C int64  `json:"c"`
	E int64  `json:"e"`
	X int64  `json:"x,omitempty"`
}

func shareKey(doc, id string) []byte {
	k := make([]byte, 0, len(doc)+1+len(id))
	k = append(k, doc...)
	k = append(k, 0)
	return append(k, id...)
}

func checkShare(s Share) error {
	switch {
	case checkID(s.Doc) != nil:
		return checkID(s.Doc)
	case s.ID == "" || len(s.ID) > maxShareField || bytes.IndexByte([]byte(s.ID), 0) >= 0:
		return fmt.Errorf("%w: bad share id", ErrInvalid)
	case len(s.Role) > maxShareField || len(s.By) > maxShareField:
		return fmt.Errorf("%w: share role or author longer than %d bytes", ErrInvalid, maxShareField)
	case s.Expires.IsZero():
		return fmt.Errorf("%w: share without an expiry", ErrInvalid)
	}
	return nil
}

// PutShare records a new share link and returns it as stored. Records of
// the document's links that expired more than a day ago are dropped in the
// same commit. Errors: ErrInvalid, ErrExists (the id is taken).
func (db *DB) PutShare(ctx context.Context, s Share) (Share, error) {
	if err := checkShare(s); err != nil {
		return Share{}, err
	}
	err := db.write(ctx, func(tx *bolt.Tx, bt *batch) error {
		b, err := tx.CreateBucketIfNotExists(bktShares)
		if err != nil {
			return abort(err)
		}
		key := shareKey(s.Doc, s.ID)
		if b.Get(key) != nil {
			return fmt.Errorf("%w: share %q", ErrExists, s.ID)
		}
		if s.Created.IsZero() {
			s.Created = bt.now
		}
		s.Created = s.Created.UTC().Round(0)
		s.Expires = s.Expires.UTC().Round(0)
		if err := pruneShares(tx, b, s.Doc, bt.now.Add(-sharePruneAfter)); err != nil {
			return err
		}
		rec, err := json.Marshal(shareRecord{R: s.Role, B: s.By, C: s.Created.UnixNano(), E: s.Expires.UnixNano()})
		if err != nil {
			return err
		}
		return abort(b.Put(key, rec))
	})
	if err != nil {
		return Share{}, err
	}
	return s, nil
}

// pruneShares drops the records of doc's links that expired before horizon,
// and their revocation entries.
func pruneShares(tx *bolt.Tx, b *bolt.Bucket, doc string, horizon time.Time) error {
	var stale [][]byte
	prefix := shareKey(doc, "")
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		var rec shareRecord
		if json.Unmarshal(v, &rec) == nil && time.Unix(0, rec.E).Before(horizon) {
			stale = append(stale, k)
		}
	}
	rb := tx.Bucket(bktRevoked)
	for _, k := range stale {
		if err := b.Delete(k); err != nil {
			return abort(err)
		}
		if rb != nil {
			if err := rb.Delete(k[len(prefix):]); err != nil {
				return abort(err)
			}
		}
	}
	return nil
}

// Shares returns the records of doc's share links (revoked and expired ones
// included, until pruned), ordered by id.
func (db *DB) Shares(ctx context.Context, doc string) ([]Share, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Share
	err := db.read(noOverlay, doc, func(v view) error {
		b := v.tx.Bucket(bktShares)
		if b == nil {
			return nil
		}
		prefix := shareKey(doc, "")
		c := b.Cursor()
		for k, val := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, val = c.Next() {
			var rec shareRecord
			if err := json.Unmarshal(val, &rec); err != nil {
				return fmt.Errorf("%w: share record %q: %v", ErrCorrupt, k, err)
			}
			out = append(out, rec.share(doc, string(k[len(prefix):])))
		}
		return nil
	})
	return out, err
}

func (rec shareRecord) share(doc, id string) Share {
	s := Share{ID: id, Doc: doc, Role: rec.R, By: rec.B,
		Created: time.Unix(0, rec.C).UTC(), Expires: time.Unix(0, rec.E).UTC()}
	if rec.X != 0 {
		s.Revoked = time.Unix(0, rec.X).UTC()
	}
	return s
}

// RevokeShare marks doc's link id as revoked (at the commit time) and
// returns its record. Errors: ErrNotFound (no such link of doc, or it was
// revoked already).
func (db *DB) RevokeShare(ctx context.Context, doc, id string) (Share, error) {
	var out Share
	err := db.write(ctx, func(tx *bolt.Tx, bt *batch) error {
		b := tx.Bucket(bktShares)
		var val []byte
		if b != nil {
			val = b.Get(shareKey(doc, id))
		}
		if val == nil {
			return fmt.Errorf("%w: document %q has no share link %q", ErrNotFound, doc, id)
		}
		var rec shareRecord
		if err := json.Unmarshal(val, &rec); err != nil {
			return fmt.Errorf("%w: share record %q: %v", ErrCorrupt, id, err)
		}
		if rec.X != 0 {
			return fmt.Errorf("%w: share link %q is already revoked", ErrNotFound, id)
		}
		rec.X = bt.now.UnixNano()
		enc, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		rb, err := tx.CreateBucketIfNotExists(bktRevoked)
		if err != nil {
			return abort(err)
		}
		if err := rb.Put([]byte(id), u64(uint64(rec.E))); err != nil {
			return abort(err)
		}
		out = rec.share(doc, id)
		return abort(b.Put(shareKey(doc, id), enc))
	})
	return out, err
}

// ShareRevoked reports whether the share link id was revoked.
func (db *DB) ShareRevoked(ctx context.Context, id string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var revoked bool
	err := db.read(noOverlay, "", func(v view) error {
		if b := v.tx.Bucket(bktRevoked); b != nil {
			revoked = b.Get([]byte(id)) != nil
		}
		return nil
	})
	return revoked, err
}
