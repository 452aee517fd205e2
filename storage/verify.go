package storage

import (
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Replayer rebuilds a document's content from its ops (the OT type, which
// this package does not know). Verify makes one per document from a
// snapshot.
type Replayer interface {
	// Apply applies one stored op (its JSON bytes).
	Apply(op []byte) error
	// Content is the content so far.
	Content() string
}

// VerifyReport is what Verify found.
type VerifyReport struct {
	Docs, Ops, Snapshots int // documents, ops (bucket and journal) and snapshots checked
	JournalRecords       int // journal records (left by a crash) read
	// Problems lists every inconsistency, at most 100; empty means the file
	// is sound.
	Problems []string
}

const maxProblems = 100

// Verify checks the data file at path offline, without changing it (it
// takes the file's lock, shared: no cowrite may be running on it). It runs
// bbolt's consistency check, then Cowrite's own: the schema stamp; per
// document its metadata, ops with contiguous versions up to its version
// (journal records a crash left included), snapshots, dedupe entries at
// or below its version, and that replaying the ops from its oldest usable
// snapshot (newReplay) reproduces every later snapshot and its size. The
// error is for failures to read the file at all (ErrLocked, ErrCorrupt
// when bbolt cannot open it); inconsistencies are in the report.
func Verify(path string, timeout time.Duration, newReplay func(content string) Replayer) (*VerifyReport, error) {
	if err := checkFile(path, timeout); err != nil {
		if !strings.Contains(err.Error(), "consistency check") {
			return nil, err
		}
		return &VerifyReport{Problems: []string{err.Error()}}, nil
	}
	bdb, err := openBolt(path, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return nil, err
	}
	defer bdb.Close()
	r := &VerifyReport{}
	err = bdb.View(func(tx *bolt.Tx) (err error) {
		defer func() {
			if p := recover(); p != nil {
				r.problem("reading the file panicked (damaged page): %v", p)
			}
		}()
		return r.verifyTx(tx, newReplay)
	})
	return r, err
}

func (r *VerifyReport) problem(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	}
}

// journalOps collects, per document, the journal entries a checkpoint has
// not moved yet, in LSN order.
type journalOps struct {
	meta DocMeta
	recs []OpRecord
}

func (r *VerifyReport) verifyTx(tx *bolt.Tx, newReplay func(string) Replayer) error {
	sys := tx.Bucket(bktSys)
	if sys == nil {
		r.problem("no sys bucket: not a cowrite data file")
		return nil
	}
	if v := sys.Get(keySchema); len(v) != 8 {
		r.problem("bad schema stamp")
	} else if got := be.Uint64(v); got > SchemaVersion {
		r.problem("schema %d is newer than this program's %d", got, SchemaVersion)
		return nil
	}
	docs := tx.Bucket(bktDocs)
	if docs == nil {
		r.problem("no docs bucket")
		return nil
	}
	journal := map[string]*journalOps{}
	if j := tx.Bucket(bktJournal); j != nil {
		c := j.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			r.JournalRecords++
			lsn := be.Uint64(k)
			err := walkRecord(v, func(e entry) error {
				b := docs.Bucket([]byte(e.doc))
				if b == nil || b.Sequence() != e.inc {
					return nil // deleted (or re-created) since
				}
				if mv := b.Get(keyLSN); len(mv) == 8 && be.Uint64(mv) >= lsn {
					return nil // already checkpointed
				}
				jo := journal[e.doc]
				if jo == nil {
					jo = &journalOps{}
					journal[e.doc] = jo
				}
				jo.meta = e.meta
				jo.recs = append(jo.recs, e.recs...)
				return nil
			})
			if err != nil {
				r.problem("journal record %d: %v", lsn, err)
			}
		}
	}
	return docs.ForEach(func(k, v []byte) error {
		id := string(k)
		b := docs.Bucket(k)
		if b == nil {
			r.problem("docs/%q is not a bucket", id)
			return nil
		}
		r.Docs++
		r.verifyDoc(id, b, journal[id], newReplay)
		return nil
	})
}

func (r *VerifyReport) verifyDoc(id string, b *bolt.Bucket, jo *journalOps, newReplay func(string) Replayer) {
	m, err := decodeMeta(id, b.Get(keyMeta))
	if err != nil {
		r.problem("%v", err)
		return
	}
	ops, snaps, seqs := b.Bucket(bktOps), b.Bucket(bktSnaps), b.Bucket(bktSeq)
	if ops == nil || snaps == nil || seqs == nil {
		r.problem("document %q: missing ops, snaps or seq bucket", id)
		return
	}
	// The ops: the bucket's, then the journal's.
	var recs []OpRecord
	c := ops.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(k) != 8 {
			r.problem("document %q: bad op key %x", id, k)
			return
		}
		rec, err := decodeOp(be.Uint64(k), v)
		if err != nil {
			r.problem("document %q: %v", id, err)
			return
		}
		recs = append(recs, rec)
	}
	head := m.Version
	if jo != nil {
		if len(jo.recs) > 0 && (len(recs) == 0 && jo.recs[0].Version != m.Version+1 ||
			len(recs) > 0 && jo.recs[0].Version != recs[len(recs)-1].Version+1) {
			r.problem("document %q: journal ops start at %d, the stored ones end at %d", id, jo.recs[0].Version, m.Version)
		}
		recs = append(recs, jo.recs...)
		head, m.Size = jo.meta.Version, jo.meta.Size
	}
	r.Ops += len(recs)
	for i := 1; i < len(recs); i++ {
		if recs[i].Version != recs[i-1].Version+1 {
			r.problem("document %q: op %d follows op %d", id, recs[i].Version, recs[i-1].Version)
			return
		}
	}
	if len(recs) > 0 && recs[len(recs)-1].Version != head {
		r.problem("document %q: ops end at %d, its version is %d", id, recs[len(recs)-1].Version, head)
		return
	}
	first := head + 1 // the oldest op kept
	if len(recs) > 0 {
		first = recs[0].Version
	}
	// Snapshots: replay from the oldest one the kept ops continue.
	type snap struct {
		v       uint64
		content string
	}
	var all []snap
	sc := snaps.Cursor()
	for k, v := sc.First(); k != nil; k, v = sc.Next() {
		if len(k) != 8 {
			r.problem("document %q: bad snapshot key %x", id, k)
			return
		}
		all = append(all, snap{be.Uint64(k), string(v)})
	}
	r.Snapshots += len(all)
	if len(all) == 0 {
		r.problem("document %q: no snapshot", id)
		return
	}
	if last := all[len(all)-1].v; last > head {
		r.problem("document %q: snapshot %d above its version %d", id, last, head)
		return
	}
	start := -1 // the newest snapshot at or below first-1
	for i := len(all) - 1; i >= 0 && start < 0; i-- {
		if all[i].v+1 <= first {
			start = i
		}
	}
	if start < 0 {
		r.problem("document %q: no snapshot at or below version %d, where its kept ops start", id, first-1)
		return
	}
	rp := newReplay(all[start].content)
	next := start + 1
	for _, rec := range recs {
		if rec.Version <= all[start].v {
			continue
		}
		if err := rp.Apply(rec.Op); err != nil {
			r.problem("document %q: op %d does not apply: %v", id, rec.Version, err)
			return
		}
		for next < len(all) && all[next].v == rec.Version {
			if rp.Content() != all[next].content {
				r.problem("document %q: replaying the ops does not give snapshot %d", id, rec.Version)
				return
			}
			next++
		}
	}
	if got := int64(len(rp.Content())); got != m.Size {
		r.problem("document %q: content at version %d is %d bytes, its metadata says %d", id, head, got, m.Size)
	}
	// Dedupe entries.
	dc := seqs.Cursor()
	for k, v := dc.First(); k != nil; k, v = dc.Next() {
		if len(v) != 16 {
			r.problem("document %q: bad dedupe entry for %q", id, k)
			continue
		}
		if ver := be.Uint64(v[8:]); ver > head {
			r.problem("document %q: dedupe entry of %q at version %d above its version %d", id, k, ver, head)
		}
	}
}
