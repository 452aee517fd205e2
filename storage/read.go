package storage

import (
	"context"
	"fmt"
	"math"

	bolt "go.etcd.io/bbolt"
)

// Head is a `to` for ReadOps meaning "up to the document's current version".
const Head = math.MaxUint64

// ReadOps returns the ops that take the document from version `from` to
// version `to`, i.e. versions from+1 … to, in order, at most limit of them
// (limit <= 0: no limit). `to` above the head is capped to the head (use
// Head). Errors: ErrNotFound, ErrVersionAhead (from > head), ErrPruned
// (op from+1 was removed by retention; see OldestKeptOp).
func (db *DB) ReadOps(ctx context.Context, doc string, from, to uint64, limit int) ([]OpRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []OpRecord
	err := db.read(oneOverlay, doc, func(v view) error {
		b, m, p, err := v.doc(doc)
		if err != nil {
			return err
		}
		out, err = readOps(ctx, b, p, m, from, to, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// readOps reads versions from+1..min(to, head) from the document's op bucket
// and then from its journal overlay p (which may overlap the bucket).
func readOps(ctx context.Context, b *bolt.Bucket, p *pending, m DocMeta, from, to uint64, limit int) ([]OpRecord, error) {
	if from > m.Version {
		return nil, fmt.Errorf("%w: document %q: version %d, head %d", ErrVersionAhead, m.ID, from, m.Version)
	}
	to = min(to, m.Version)
	if from >= to {
		return []OpRecord{}, nil
	}
	n := to - from
	if limit > 0 && uint64(limit) < n {
		n = uint64(limit)
	}
	out := make([]OpRecord, 0, min(n, 4096))
	want := from + 1
	c := b.Bucket(bktOps).Cursor()
	for k, val := c.Seek(u64(want)); k != nil && uint64(len(out)) < n && be.Uint64(k) == want; k, val = c.Next() {
		r, err := decodeOp(want, val)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
		want++
		if len(out)%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	if p != nil && len(p.ops) > 0 && uint64(len(out)) < n {
		first := p.ops[0].Version
		if want >= first {
			for i := want - first; i < uint64(len(p.ops)) && uint64(len(out)) < n; i++ {
				r := p.ops[i]
				r.Op = append([]byte(nil), r.Op...)
				out = append(out, r)
				want++
			}
		}
	}
	if uint64(len(out)) < n {
		if len(out) == 0 {
			return nil, fmt.Errorf("%w: document %q: ops after version %d are no longer kept", ErrPruned, m.ID, from)
		}
		return nil, fmt.Errorf("%w: document %q: op %d missing", ErrCorrupt, m.ID, want)
	}
	return out, nil
}

// SnapshotAtOrBelow returns the newest snapshot with version <= v (and <=
// the document's version). Errors: ErrNotFound, ErrPruned (no snapshot that
// old is kept).
func (db *DB) SnapshotAtOrBelow(ctx context.Context, doc string, v uint64) (Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return Snapshot{}, err
	}
	var s Snapshot
	err := db.read(oneOverlay, doc, func(vw view) error {
		b, m, _, err := vw.doc(doc)
		if err != nil {
			return err
		}
		s, err = snapshotAtOrBelow(b, doc, min(v, m.Version))
		return err
	})
	return s, err
}

func snapshotAtOrBelow(b *bolt.Bucket, doc string, v uint64) (Snapshot, error) {
	c := b.Bucket(bktSnaps).Cursor()
	var k, val []byte
	if v == math.MaxUint64 {
		k, val = c.Last()
	} else if k, val = c.Seek(u64(v + 1)); k == nil {
		k, val = c.Last()
	} else {
		k, val = c.Prev()
	}
	if k == nil {
		return Snapshot{}, fmt.Errorf("%w: document %q: no snapshot at or below version %d", ErrPruned, doc, v)
	}
	return Snapshot{Version: be.Uint64(k), Content: string(val)}, nil
}

// OldestKeptOp returns the version of the oldest op still in the log
// (head+1 when the log is empty). Catch-up from a base version b is possible
// when b >= OldestKeptOp-1. Error: ErrNotFound.
func (db *DB) OldestKeptOp(ctx context.Context, doc string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var v uint64
	err := db.read(oneOverlay, doc, func(vw view) error {
		b, m, p, err := vw.doc(doc)
		if err != nil {
			return err
		}
		switch k, _ := b.Bucket(bktOps).Cursor().First(); {
		case k != nil:
			v = be.Uint64(k)
		case p != nil && len(p.ops) > 0:
			v = p.ops[0].Version
		default:
			v = m.Version + 1
		}
		return nil
	})
	return v, err
}

// LastSeq returns the highest seq committed for (doc, client) and the
// version it was committed as; ok is false when the client never committed
// an op with a seq to this document, or when its entry was deleted to bound
// the dedupe entries (then its last version is at most DedupeFloor). It
// survives pruning.
// Error: ErrNotFound.
func (db *DB) LastSeq(ctx context.Context, doc, client string) (seq, version uint64, ok bool, err error) {
	if err := ctx.Err(); err != nil {
		return 0, 0, false, err
	}
	err = db.read(oneOverlay, doc, func(vw view) error {
		b, _, p, err := vw.doc(doc)
		if err != nil {
			return err
		}
		if v := b.Bucket(bktSeq).Get([]byte(client)); len(v) == 16 {
			seq, version, ok = be.Uint64(v), be.Uint64(v[8:]), true
		}
		if p != nil {
			if sp, found := p.lastSeq(client); found && sp.seq > seq {
				seq, version, ok = sp.seq, sp.version, true
			}
		}
		return nil
	})
	return seq, version, ok, err
}

// DedupeFloor returns the newest version whose dedupe entry was deleted to
// keep the document within Options.MaxDedupeClients/MaxDedupeBytes (0 if
// none was). Every client that LastSeq does not know either never
// committed to the document or committed its last op at a version <= the
// floor; so an op based on a version >= the floor is never a resend of an
// op whose entry was deleted. With Options.Retention, entries of kept ops
// are never deleted, so the floor stays below OldestKeptOp (unless a run
// without retention raised it). Error: ErrNotFound.
func (db *DB) DedupeFloor(ctx context.Context, doc string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var floor uint64
	err := db.read(oneOverlay, doc, func(vw view) error {
		b, _, _, err := vw.doc(doc)
		if err != nil {
			return err
		}
		if v := b.Get(keySeqFloor); len(v) == 8 {
			floor = be.Uint64(v)
		}
		return nil
	})
	return floor, err
}

// Load returns, in one consistent read, what a sequencer needs to open a
// document: its metadata, its newest snapshot and the ops after it.
// Error: ErrNotFound.
func (db *DB) Load(ctx context.Context, doc string) (DocMeta, Snapshot, []OpRecord, error) {
	if err := ctx.Err(); err != nil {
		return DocMeta{}, Snapshot{}, nil, err
	}
	var (
		m   DocMeta
		s   Snapshot
		ops []OpRecord
	)
	err := db.read(oneOverlay, doc, func(v view) error {
		b, meta, p, err := v.doc(doc)
		if err != nil {
			return err
		}
		m = meta
		if s, err = snapshotAtOrBelow(b, doc, m.Version); err != nil {
			return err
		}
		ops, err = readOps(ctx, b, p, m, s.Version, m.Version, 0)
		return err
	})
	if err != nil {
		return DocMeta{}, Snapshot{}, nil, err
	}
	return m, s, ops, nil
}
