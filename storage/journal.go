package storage

import (
	"encoding/binary"
	"fmt"
	"maps"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The journal makes a group commit cheap: every Append of a batch is one
// record in the journal bucket, keyed by a global sequence number, so a
// batch dirties a handful of pages at the end of one B-tree instead of a
// page or two per document (per-document op pages, metadata). The committer
// keeps the not yet checkpointed state of each document in memory
// (pending), and readers merge it with what the document buckets hold.
// When the journal holds checkpointOps ops (and on Open and Close) a
// checkpoint moves the journal into the document buckets in one transaction.

const (
	checkpointOps   = 65536
	checkpointBytes = 32 << 20
	journalFormat1  = 1
)

var bktJournal = []byte("journal")

// pending is the journaled but not yet checkpointed state of one document.
// Once installed in DB.pending it is never modified (the committer clones it
// before changing it); ops may share a backing array with a newer clone, which
// only appends beyond this value's length.
type pending struct {
	meta DocMeta            // full metadata after the newest journaled append
	ops  []OpRecord         // journaled ops, contiguous, ending at meta.Version
	seqs map[string]seqPair // highest seq per client among ops
	inc  uint64             // the document bucket's Sequence: tells a recreated id apart
}

type seqPair struct{ seq, version uint64 }

func (p *pending) clone() *pending {
	// ops shares its backing array: the clone only appends past p's
	// length, which no holder of p reads.
	return &pending{meta: p.meta, ops: p.ops, seqs: maps.Clone(p.seqs), inc: p.inc}
}

// batch is the committer's state while it applies one group of writes.
type batch struct {
	now     time.Time
	docs    map[string]*pending // tentative overlay changes; a nil value removes the doc's overlay
	ops     int                 // ops journaled in this batch
	journal []byte              // the batch's journal record: framed entries
}

// lookup returns the document's overlay as this batch sees it.
func (db *DB) lookup(bt *batch, id string) *pending {
	if p, ok := bt.docs[id]; ok {
		return p
	}
	return db.pending[id] // only the committer writes db.pending
}

// touch returns a clone of the document's overlay that this batch may
// change, creating one from stored (the bucket's metadata) if needed.
func (db *DB) touch(bt *batch, id string, inc uint64, stored func() (DocMeta, error)) (*pending, error) {
	if p, ok := bt.docs[id]; ok && p != nil {
		return p, nil
	}
	var p *pending
	if cur := db.lookup(bt, id); cur != nil {
		p = cur.clone()
	} else {
		m, err := stored()
		if err != nil {
			return nil, err
		}
		p = &pending{meta: m, seqs: map[string]seqPair{}, inc: inc}
	}
	bt.docs[id] = p
	return p, nil
}

// install publishes a committed batch's overlay changes to readers.
func (db *DB) install(bt *batch) {
	if len(bt.docs) == 0 {
		return
	}
	db.ovMu.Lock()
	for id, p := range bt.docs {
		if p == nil {
			delete(db.pending, id)
		} else {
			db.pending[id] = p
		}
	}
	db.ovMu.Unlock()
	db.journalOps += bt.ops
	db.journalBytes += len(bt.journal)
}

// A journal record holds one batch: a sequence of entries, each framed by
// its uvarint length. An entry is one Append: format byte, uvarint len(doc),
// doc, uvarint incarnation, uvarint version, varint updated ns, varint size,
// varint length, uvarint record count, then per record uvarint
// len(encodeOp) and encodeOp (versions are implicit: they end at version).
func appendEntry(dst []byte, doc string, inc uint64, m DocMeta, recs []OpRecord) []byte {
	b := make([]byte, 0, 64+len(doc)+len(recs)*96)
	b = append(b, journalFormat1)
	b = binary.AppendUvarint(b, uint64(len(doc)))
	b = append(b, doc...)
	b = binary.AppendUvarint(b, inc)
	b = binary.AppendUvarint(b, m.Version)
	b = binary.AppendVarint(b, m.Updated.UnixNano())
	b = binary.AppendVarint(b, m.Size)
	b = binary.AppendVarint(b, int64(m.Length))
	b = binary.AppendUvarint(b, uint64(len(recs)))
	for i := range recs {
		e := encodeOp(&recs[i])
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// walkRecord calls fn for each entry of a journal record.
func walkRecord(v []byte, fn func(e entry) error) error {
	for len(v) > 0 {
		l, n := binary.Uvarint(v)
		if n <= 0 || l > uint64(len(v)-n) {
			return fmt.Errorf("%w: journal record: bad entry frame", ErrCorrupt)
		}
		e, err := decodeEntry(v[n : n+int(l)])
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
		v = v[n+int(l):]
	}
	return nil
}

type entry struct {
	doc  string
	inc  uint64  // the document's incarnation (its bucket's Sequence)
	meta DocMeta // Version, Updated, Size, Length
	recs []OpRecord
}

func decodeEntry(b []byte) (entry, error) {
	var e entry
	bad := func(what string) (entry, error) {
		return entry{}, fmt.Errorf("%w: journal record: %s", ErrCorrupt, what)
	}
	if len(b) == 0 || b[0] != journalFormat1 {
		return bad("unknown format")
	}
	b = b[1:]
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	sv := func() (int64, bool) {
		v, n := binary.Varint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
		return v, true
	}
	l, ok := uv()
	if !ok || l > uint64(len(b)) {
		return bad("bad doc id")
	}
	e.doc = string(b[:l])
	b = b[l:]
	var upd, size, length int64
	var count uint64
	var ok0, ok1, ok2, ok3, ok4, ok5 bool
	e.inc, ok0 = uv()
	e.meta.Version, ok1 = uv()
	upd, ok2 = sv()
	size, ok3 = sv()
	length, ok4 = sv()
	count, ok5 = uv()
	if !ok0 || !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || count > e.meta.Version || count > uint64(len(b)) {
		return bad("bad header")
	}
	e.meta.ID = e.doc
	e.meta.Updated = time.Unix(0, upd).UTC()
	e.meta.Size = size
	e.meta.Length = int(length)
	e.recs = make([]OpRecord, 0, count)
	first := e.meta.Version - count + 1
	for i := range count {
		l, ok := uv()
		if !ok || l > uint64(len(b)) {
			return bad("bad op length")
		}
		r, err := decodeOp(first+i, b[:l])
		if err != nil {
			return entry{}, err
		}
		b = b[l:]
		e.recs = append(e.recs, r)
	}
	if len(b) != 0 {
		return bad("trailing bytes")
	}
	return e, nil
}

// checkpoint moves the whole journal into the document buckets in one
// transaction, applies the retention policy to the documents it touched,
// and then drops the in-memory overlay. Only the committer (or Open, before
// it starts) calls it.
func (db *DB) checkpoint() error {
	start := time.Now()
	var moved int
	err := db.update(func(tx *bolt.Tx) error {
		var err error
		moved, err = db.checkpointTx(tx)
		return err
	})
	if err != nil {
		db.stats.failedCheckpoints.Add(1)
		return fmt.Errorf("storage: checkpoint: %w", err)
	}
	db.ovMu.Lock()
	db.pending = map[string]*pending{}
	db.ovMu.Unlock()
	db.journalOps, db.journalBytes = 0, 0
	db.stats.checkpoints.Add(1)
	db.stats.checkpointNanos.Add(uint64(time.Since(start)))
	_ = moved
	return nil
}

type cpDoc struct {
	b        *bolt.Bucket
	old, cur DocMeta
	seqs     map[string]seqPair // highest seq per client among the moved ops
}

func (db *DB) checkpointTx(tx *bolt.Tx) (int, error) {
	j := tx.Bucket(bktJournal)
	docs := tx.Bucket(bktDocs)
	touched := map[string]*cpDoc{}
	n := 0
	c := j.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		err := walkRecord(v, func(e entry) error {
			d, ok := touched[e.doc]
			if !ok {
				b := docs.Bucket([]byte(e.doc))
				if b == nil { // deleted after this entry
					touched[e.doc] = nil
					return nil
				}
				m, err := decodeMeta(e.doc, b.Get(keyMeta))
				if err != nil {
					return err
				}
				d = &cpDoc{b: b, old: m, cur: m, seqs: map[string]seqPair{}}
				touched[e.doc] = d
			}
			if d == nil || e.inc != d.b.Sequence() {
				return nil // the document was deleted (and maybe re-created) after this entry
			}
			if len(e.recs) > 0 && e.recs[0].Version != d.cur.Version+1 {
				return fmt.Errorf("%w: journal: document %q at %d, next record is %d", ErrCorrupt, e.doc, d.cur.Version, e.recs[0].Version)
			}
			ops := d.b.Bucket(bktOps)
			for i := range e.recs {
				r := &e.recs[i]
				if err := ops.Put(u64(r.Version), encodeOp(r)); err != nil {
					return err
				}
				if r.Client != "" && r.Seq > d.seqs[r.Client].seq {
					d.seqs[r.Client] = seqPair{r.Seq, r.Version}
				}
			}
			n += len(e.recs)
			d.cur.Version, d.cur.Updated, d.cur.Size, d.cur.Length = e.meta.Version, e.meta.Updated, e.meta.Size, e.meta.Length
			return nil
		})
		if err != nil {
			return 0, err
		}
	}
	for _, d := range touched {
		if d == nil {
			continue
		}
		seqs := d.b.Bucket(bktSeq)
		for client, sp := range d.seqs {
			if old := seqs.Get([]byte(client)); len(old) == 16 && be.Uint64(old) >= sp.seq {
				continue
			}
			if err := seqs.Put([]byte(client), seqVal(sp.seq, sp.version)); err != nil {
				return 0, err
			}
		}
	}
	for _, d := range touched {
		if d == nil {
			continue
		}
		if err := putMeta(tx, d.b, d.old, d.cur); err != nil {
			return 0, err
		}
		if db.retention > 0 {
			if err := db.prune(d.b); err != nil {
				return 0, err
			}
		}
	}
	if err := tx.DeleteBucket(bktJournal); err != nil {
		return 0, err
	}
	if _, err := tx.CreateBucket(bktJournal); err != nil {
		return 0, err
	}
	return n, nil
}
