package storage

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The journal makes a group commit cheap: the appends of a batch are one
// record in the journal bucket, keyed by a global sequence number (LSN), so
// a batch dirties a handful of pages at the end of one B-tree instead of a
// page or two per document (per-document op pages, metadata). The committer
// keeps the not yet checkpointed state of each document in memory
// (pending), and readers merge it with what the document buckets hold.
//
// When the overlay holds cpOps ops, the committer moves it into the
// document buckets a few documents at a time (checkpointStep, one small
// transaction between two batches, oldest documents first) until half is
// left, deleting the journal records no pending document needs any more.
// Each document bucket remembers the LSN up to which it holds the journal
// (keyLSN), so that replaying the journal at Open (checkpointAll) skips what
// a step already moved. Close checkpoints everything.

const (
	checkpointOps   = 65536
	checkpointBytes = 32 << 20
	stepDocs        = 128  // at most this many documents per checkpoint step
	hotOps          = 1024 // the least overlay ops that make a document hot (see DB.hot)
	// journalFormat1 entries carry a (never read) content length after
	// the size; journalFormat2 entries do not. Both are replayed.
	journalFormat1 = 1
	journalFormat2 = 2
)

var (
	bktJournal = []byte("journal")
	keyLSN     = []byte("lsn") // in a document bucket: journal LSN it holds up to
)

// pending is the journaled but not yet checkpointed state of one document.
// Once installed in DB.pending it is never modified (the committer clones it
// before changing it); ops may share a backing array with a newer clone, which
// only appends beyond this value's length.
type pending struct {
	meta DocMeta    // full metadata after the newest journaled append
	ops  []OpRecord // journaled ops, contiguous, ending at meta.Version
	inc  uint64     // the document bucket's Sequence: tells a recreated id apart

	firstLSN, lastLSN uint64 // journal records holding this overlay's entries
	bytes             int    // op bytes in ops
	jbytes            int    // bytes of this overlay's entries in journal records
}

type seqPair struct{ seq, version uint64 }

func (p *pending) clone() *pending {
	// ops shares its backing array: the clone only appends past p's
	// length, which no holder of p reads.
	c := *p
	return &c
}

// lastSeq returns the highest seq among the overlay's ops of client (the
// first op carrying it), or ok false. The overlay keeps no per-client index:
// this is asked rarely (once per client and session), while keeping an
// index would cost a map copy per document and batch.
func (p *pending) lastSeq(client string) (sp seqPair, ok bool) {
	for i := range p.ops {
		r := &p.ops[i]
		if r.Client == client && r.Seq > sp.seq {
			sp, ok = seqPair{r.Seq, r.Version}, true
		}
	}
	return sp, ok
}

// seqs returns the highest seq per client among the overlay's ops.
func (p *pending) seqs() map[string]seqPair {
	m := map[string]seqPair{}
	for i := range p.ops {
		r := &p.ops[i]
		if r.Client != "" && r.Seq > m[r.Client].seq {
			m[r.Client] = seqPair{r.Seq, r.Version}
		}
	}
	return m
}

// batch is the committer's state while it applies one group of writes. The
// committer reuses one batch (its map and journal buffer) for every group.
type batch struct {
	now     time.Time
	docs    map[string]*pending // tentative overlay changes; a nil value removes the doc's overlay
	lsn     uint64              // the batch's journal record key (0: none yet)
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
// change, creating one from stored (the bucket's metadata) and inc if the
// document has none.
func (db *DB) touch(bt *batch, id string, inc uint64, stored DocMeta) *pending {
	if p, ok := bt.docs[id]; ok && p != nil {
		return p
	}
	var p *pending
	if cur := db.lookup(bt, id); cur != nil {
		p = cur.clone()
	} else {
		p = &pending{meta: stored, inc: inc}
	}
	bt.docs[id] = p
	return p
}

// install publishes a committed batch's overlay changes to readers.
func (db *DB) install(bt *batch) {
	if len(bt.docs) == 0 {
		return
	}
	db.ovMu.Lock()
	for id, p := range bt.docs {
		if old := db.pending[id]; old != nil {
			db.pendingOps -= len(old.ops)
			db.pendingBytes -= old.bytes
			db.pendingJBytes -= old.jbytes
		}
		if p == nil {
			delete(db.pending, id)
		} else {
			db.pending[id] = p
			db.pendingOps += len(p.ops)
			db.pendingBytes += p.bytes
			db.pendingJBytes += p.jbytes
			if db.hot == "" && (len(p.ops) >= max(db.cpOps/8, hotOps) || p.bytes >= checkpointBytes/8) {
				db.hot = id
			}
		}
	}
	db.ovMu.Unlock()
}

// A journal record holds one batch: a sequence of entries, each framed by
// its uvarint length. An entry is one Append: format byte, uvarint len(doc),
// doc, uvarint incarnation, uvarint version, varint updated ns, varint size,
// uvarint record count, then per record uvarint
// len(encodeOp) and encodeOp (versions are implicit: they end at version).
func appendEntry(dst []byte, doc string, inc uint64, m DocMeta, recs []OpRecord) []byte {
	// The entry is encoded in place after its length prefix, so its size
	// is computed first.
	upd := m.Updated.UnixNano()
	n := 1 + uvarintLen(uint64(len(doc))) + len(doc) + uvarintLen(inc) + uvarintLen(m.Version) +
		varintLen(upd) + varintLen(m.Size) + uvarintLen(uint64(len(recs)))
	for i := range recs {
		l := opLen(&recs[i])
		n += uvarintLen(uint64(l)) + l
	}
	dst = slices.Grow(dst, binary.MaxVarintLen64+n)
	dst = binary.AppendUvarint(dst, uint64(n))
	dst = append(dst, journalFormat2)
	dst = binary.AppendUvarint(dst, uint64(len(doc)))
	dst = append(dst, doc...)
	dst = binary.AppendUvarint(dst, inc)
	dst = binary.AppendUvarint(dst, m.Version)
	dst = binary.AppendVarint(dst, upd)
	dst = binary.AppendVarint(dst, m.Size)
	dst = binary.AppendUvarint(dst, uint64(len(recs)))
	for i := range recs {
		dst = binary.AppendUvarint(dst, uint64(opLen(&recs[i])))
		dst = appendOp(dst, &recs[i])
	}
	return dst
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
	meta DocMeta // Version, Updated, Size
	recs []OpRecord
}

func decodeEntry(b []byte) (entry, error) {
	var e entry
	bad := func(what string) (entry, error) {
		return entry{}, fmt.Errorf("%w: journal record: %s", ErrCorrupt, what)
	}
	if len(b) == 0 || (b[0] != journalFormat1 && b[0] != journalFormat2) {
		return bad("unknown format")
	}
	format := b[0]
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
	var upd, size int64
	var count uint64
	var ok0, ok1, ok2, ok3, ok4, ok5 bool
	e.inc, ok0 = uv()
	e.meta.Version, ok1 = uv()
	upd, ok2 = sv()
	size, ok3 = sv()
	ok4 = true
	if format == journalFormat1 {
		_, ok4 = sv() // the length, no longer kept
	}
	count, ok5 = uv()
	if !ok0 || !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || count > e.meta.Version || count > uint64(len(b)) {
		return bad("bad header")
	}
	e.meta.ID = e.doc
	e.meta.Updated = time.Unix(0, upd).UTC()
	e.meta.Size = size
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

// checkpointAll moves the whole journal into the document buckets in one
// transaction (skipping what each bucket already holds), applies the
// retention policy to the documents it touched, empties the journal and
// drops the in-memory overlay. Only the committer (or Open, before it
// starts) calls it.
func (db *DB) checkpointAll() error {
	start := time.Now()
	err := db.update(db.checkpointAllTx)
	if err != nil {
		db.stats.failedCheckpoints.Add(1)
		return fmt.Errorf("storage: checkpoint: %w", err)
	}
	db.ovMu.Lock()
	db.pending = map[string]*pending{}
	db.ovMu.Unlock()
	db.pendingOps, db.pendingBytes, db.pendingJBytes = 0, 0, 0
	db.setJournalBytes(0)
	db.stats.checkpoints.Add(1)
	db.stats.checkpointNanos.Add(uint64(time.Since(start)))
	return nil
}

type cpDoc struct {
	b    *bolt.Bucket
	cur  DocMeta
	mark uint64             // the bucket's keyLSN before this checkpoint
	last uint64             // newest LSN applied
	seqs map[string]seqPair // highest seq per client among the moved ops
}

func (db *DB) checkpointAllTx(tx *bolt.Tx) error {
	j := tx.Bucket(bktJournal)
	docs := tx.Bucket(bktDocs)
	touched := map[string]*cpDoc{}
	c := j.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		lsn := be.Uint64(k)
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
				d = &cpDoc{b: b, cur: m, seqs: map[string]seqPair{}}
				if v := b.Get(keyLSN); len(v) == 8 {
					d.mark = be.Uint64(v)
				}
				touched[e.doc] = d
			}
			if d == nil || e.inc != d.b.Sequence() || lsn <= d.mark {
				// The document was deleted (and maybe re-created) after
				// this entry, or a checkpoint step already moved it.
				return nil
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
			d.cur.Version, d.cur.Updated, d.cur.Size = e.meta.Version, e.meta.Updated, e.meta.Size
			d.last = lsn
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, d := range touched {
		if d == nil || d.last == 0 {
			continue
		}
		if err := db.finishMove(d.b, d.cur, d.seqs, d.last); err != nil {
			return err
		}
	}
	// Empty the journal, keeping its sequence: LSNs must keep growing, as
	// the documents' keyLSN marks compare against them.
	seq := j.Sequence()
	if err := tx.DeleteBucket(bktJournal); err != nil {
		return err
	}
	nj, err := tx.CreateBucket(bktJournal)
	if err != nil {
		return err
	}
	return nj.SetSequence(seq)
}

// finishMove stores a document's dedupe entries, metadata and journal mark
// after its ops were moved into its bucket, and applies retention.
func (db *DB) finishMove(b *bolt.Bucket, cur DocMeta, seqs map[string]seqPair, lsn uint64) error {
	sb := b.Bucket(bktSeq)
	added := false
	for client, sp := range seqs {
		old := sb.Get([]byte(client))
		if len(old) == 16 && be.Uint64(old) >= sp.seq {
			continue
		}
		added = added || old == nil
		if err := sb.Put([]byte(client), seqVal(sp.seq, sp.version)); err != nil {
			return err
		}
	}
	if err := b.Put(keyMeta, encodeMeta(cur)); err != nil {
		return err
	}
	if err := b.Put(keyLSN, u64(lsn)); err != nil {
		return err
	}
	pruned := false
	if db.retention > 0 {
		var err error
		if pruned, err = db.prune(b); err != nil {
			return err
		}
	}
	if added || pruned {
		return db.boundSeqs(b, cur.Version)
	}
	return nil
}

// checkpointStep moves the overlays of a few documents (the hot one alone
// if there is one, else those holding the oldest journal records first,
// about cpOps/8 ops or stepDocs documents) into their buckets in one
// transaction, deletes the journal records no
// remaining overlay needs, and drops the moved overlays.
func (db *DB) checkpointStep() error {
	start := time.Now()
	type cand struct {
		id string
		p  *pending
	}
	var chosen []cand
	if p := db.pending[db.hot]; p != nil {
		chosen = append(chosen, cand{db.hot, p}) // a step of its own (see DB.hot)
	}
	db.hot = ""
	if len(chosen) == 0 {
		// Candidates come from drainOrder, the pending documents sorted by
		// their oldest journal record when draining began (sorted once, not
		// per step); documents that became pending since then hold newer
		// records.
		if len(db.drainOrder) == 0 {
			for id := range db.pending {
				db.drainOrder = append(db.drainOrder, id)
			}
			slices.SortFunc(db.drainOrder, func(a, b string) int {
				return cmp.Compare(db.pending[a].firstLSN, db.pending[b].firstLSN)
			})
		}
		maxOps := max(db.cpOps/8, 1)
		ops := 0
		for len(db.drainOrder) > 0 && len(chosen) < stepDocs && (len(chosen) == 0 || ops < maxOps) {
			id := db.drainOrder[0]
			db.drainOrder = db.drainOrder[1:]
			if p := db.pending[id]; p != nil {
				chosen = append(chosen, cand{id, p})
				ops += len(p.ops)
			}
		}
	}
	moving := make(map[string]bool, len(chosen))
	for _, c := range chosen {
		moving[c.id] = true
	}
	keepFrom := uint64(math.MaxUint64) // journal records below this are no longer needed
	for id, p := range db.pending {
		if !moving[id] {
			keepFrom = min(keepFrom, p.firstLSN)
		}
	}
	freed := 0 // bytes of the journal records deleted
	err := db.update(func(tx *bolt.Tx) error {
		for _, c := range chosen {
			if err := db.moveDoc(tx, c.id, c.p); err != nil {
				return err
			}
		}
		jc := tx.Bucket(bktJournal).Cursor()
		freed = 0
		for k, v := jc.First(); k != nil && be.Uint64(k) < keepFrom; k, v = jc.First() {
			freed += len(v)
			if err := jc.Delete(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.stats.failedCheckpoints.Add(1)
		return fmt.Errorf("storage: checkpoint step: %w", err)
	}
	db.ovMu.Lock()
	for _, c := range chosen {
		delete(db.pending, c.id)
		db.pendingOps -= len(c.p.ops)
		db.pendingBytes -= c.p.bytes
		db.pendingJBytes -= c.p.jbytes
	}
	db.ovMu.Unlock()
	db.setJournalBytes(db.journalBytes - freed)
	db.stats.checkpoints.Add(1)
	db.stats.checkpointNanos.Add(uint64(time.Since(start)))
	return nil
}

// moveDoc writes one document's overlay into its bucket.
func (db *DB) moveDoc(tx *bolt.Tx, id string, p *pending) error {
	b := tx.Bucket(bktDocs).Bucket([]byte(id))
	if b == nil || b.Sequence() != p.inc {
		return fmt.Errorf("%w: overlay of %q has no document", ErrCorrupt, id)
	}
	old, err := decodeMeta(id, b.Get(keyMeta))
	if err != nil {
		return err
	}
	if len(p.ops) > 0 && p.ops[0].Version != old.Version+1 {
		return fmt.Errorf("%w: overlay of %q starts at %d, document at %d", ErrCorrupt, id, p.ops[0].Version, old.Version)
	}
	// The keys and values are encoded into one buffer (bbolt keeps them
	// referenced until the transaction ends, so it is not reused).
	size := 0
	for i := range p.ops {
		size += 8 + opLen(&p.ops[i])
	}
	buf := make([]byte, 0, size)
	ob := b.Bucket(bktOps)
	for i := range p.ops {
		r := &p.ops[i]
		k := len(buf)
		buf = be.AppendUint64(buf, r.Version)
		buf = appendOp(buf, r)
		if err := ob.Put(buf[k:k+8:k+8], buf[k+8:len(buf):len(buf)]); err != nil {
			return err
		}
	}
	cur := p.meta
	cur.Title, cur.Created = old.Title, old.Created
	return db.finishMove(b, cur, p.seqs(), p.lastLSN)
}

// boundSeqs deletes the dedupe entries of the oldest versions while the
// document holds more than maxSeqs of them or more than maxSeqB bytes,
// down to 15/16 of both, and raises the document's dedupe floor to the
// newest version deleted (see DB.DedupeFloor for what it promises). With
// retention, entries of ops still kept (versions from the oldest kept op
// on) are never deleted, even over the bounds; head is the document's
// version.
func (db *DB) boundSeqs(b *bolt.Bucket, head uint64) error {
	type ent struct {
		client  []byte
		version uint64
	}
	var ents []ent
	total := 0
	sb := b.Bucket(bktSeq)
	c := sb.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if len(v) != 16 {
			return fmt.Errorf("%w: bad dedupe entry %q", ErrCorrupt, k)
		}
		ents = append(ents, ent{k, be.Uint64(v[8:])})
		total += len(k) + 16
	}
	if len(ents) <= db.maxSeqs && total <= db.maxSeqB {
		return nil
	}
	slices.SortFunc(ents, func(a, b ent) int { return cmp.Compare(a.version, b.version) })
	protect := uint64(math.MaxUint64) // entries of versions from here on stay
	if db.retention > 0 {
		protect = head + 1
		if k, _ := b.Bucket(bktOps).Cursor().First(); k != nil {
			protect = be.Uint64(k)
		}
	}
	floor := uint64(0)
	if v := b.Get(keySeqFloor); len(v) == 8 {
		floor = be.Uint64(v)
	}
	n, keepN, keepB := len(ents), db.maxSeqs-db.maxSeqs/16, db.maxSeqB-db.maxSeqB/16
	var del [][]byte
	for _, e := range ents {
		if n <= keepN && total <= keepB || e.version >= protect {
			break
		}
		del = append(del, bytes.Clone(e.client))
		floor = max(floor, e.version)
		n--
		total -= len(e.client) + 16
	}
	for _, k := range del {
		if err := sb.Delete(k); err != nil {
			return err
		}
	}
	return b.Put(keySeqFloor, u64(floor))
}
