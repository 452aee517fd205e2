package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/trace"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// OpRecord is one committed op of a document's log.
type OpRecord struct {
	Version uint64          // the document's version right after this op (1, 2, ...)
	Op      json.RawMessage // the op, opaque JSON bytes, stored exactly as given
	Client  string          // submitting client id ("" if none)
	Seq     uint64          // the client's sequence number (0 if none)
	Time    time.Time       // commit time; zero at Append means "set by the committer"
	// AuthorID and AuthorName: who made the op (token subject and name; in
	// open mode no id and the client's chosen name); both empty if unknown.
	AuthorID, AuthorName string
}

// Snapshot is a document's full content at a version.
type Snapshot struct {
	Version uint64
	Content string
}

// Append is one group-committed write to a document: ops with contiguous
// versions, the metadata after them, and optionally a snapshot.
type Append struct {
	Doc string
	// Records must carry versions stored+1, stored+2, ... (may be empty to
	// store only a snapshot and/or metadata).
	Records []OpRecord
	// Meta is the metadata after these ops. Version must equal the last
	// record's version (the stored version if Records is empty). Size is
	// stored as given; a zero Updated means the commit time.
	// ID, Title and Created are ignored (they keep their stored values).
	Meta DocMeta
	// Snapshot, if non-nil, is stored in the same transaction. Its Version
	// must not exceed Meta.Version.
	Snapshot *Snapshot
}

// Commit is the future of a queued write. It is durable (fsynced) once Done
// is closed and Err returns nil.
type Commit struct {
	done chan struct{}
	err  error       // written once before done is closed
	then func(error) // AppendThen's callback, called once done is closed
}

func newCommit() *Commit { return &Commit{done: make(chan struct{})} }

func (c *Commit) finish(err error) {
	c.err = err
	close(c.done)
	if c.then != nil {
		c.then(err)
	}
}

// Done is closed when the write was committed or failed.
func (c *Commit) Done() <-chan struct{} { return c.done }

// Err waits for Done and returns the write's outcome: nil when it is on
// disk, otherwise why it failed (ErrVersionConflict, ErrNotFound, ErrClosed,
// an I/O error, ...). A failed write left nothing behind.
func (c *Commit) Err() error {
	<-c.done
	return c.err
}

// Wait is Err with a context: it returns ctx.Err() if ctx ends first (the
// write itself is not cancelled and may still commit).
func (c *Commit) Wait(ctx context.Context) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// job is one queued write. apply must either return a validation error
// before writing anything, or write and return nil; a write error must be
// wrapped in abortError, which aborts (rolls back) the whole batch.
// An Append carries its arguments in the job itself (apply is nil), so
// queueing it allocates no closure.
type job struct {
	apply func(tx *bolt.Tx, bt *batch) error
	a     Append
	c     *Commit
}

type abortError struct{ err error }

func (e abortError) Error() string { return e.err.Error() }
func (e abortError) Unwrap() error { return e.err }

// isAbort reports whether err wraps an abortError (kept out of the loop
// over a batch's jobs: errors.As makes its target escape).
func isAbort(err error) bool {
	var ab abortError
	return errors.As(err, &ab)
}

func abort(err error) error {
	if err == nil {
		return nil
	}
	return abortError{err}
}

// Append queues a for the next group commit and returns at once; it never
// waits for the disk. Appends are committed in the order Append was called,
// so a caller may queue version v+1 before v is durable (pipelining): if v
// fails, v+1 fails with ErrVersionConflict. A conflict or a missing
// document fails only that append, not the others in its batch.
// The DB keeps a.Records' op bytes; the caller must not modify them.
func (db *DB) Append(a Append) *Commit {
	return db.queueJob(job{a: a})
}

func (db *DB) enqueue(apply func(tx *bolt.Tx, bt *batch) error) *Commit {
	return db.queueJob(job{apply: apply})
}

func (db *DB) queueJob(j job) *Commit {
	if j.c == nil {
		j.c = newCommit()
	}
	c := j.c
	db.mu.Lock()
	if db.closing {
		db.mu.Unlock()
		c.finish(ErrClosed)
		return c
	}
	db.queue = append(db.queue, j)
	db.cond.Signal()
	db.mu.Unlock()
	return c
}

// commitLoop is the single committer: it takes everything queued (up to
// maxBatch), commits it in one transaction with one fsync, signals the
// commits, and repeats at once with whatever queued meanwhile. Between
// batches it checkpoints the journal when it has grown large enough, and
// once more when the DB closes.
func (db *DB) commitLoop() {
	defer db.wg.Done()
	var spare []job
	for {
		db.mu.Lock()
		for len(db.queue) == 0 && !db.closing && !db.draining {
			db.cond.Wait()
		}
		if len(db.queue) == 0 {
			closing := db.closing
			db.mu.Unlock()
			if !closing { // idle while draining: go on with the steps
				db.drain()
				continue
			}
			if len(db.pending) > 0 || db.journalDirty() {
				if err := db.checkpointAll(); err != nil {
					db.log.Error("final checkpoint failed; the journal is replayed at next open", "err", err)
				}
			}
			return
		}
		var jobs []job
		if len(db.queue) <= db.maxBatch {
			jobs = db.queue
			db.queue = spare[:0]
		} else {
			jobs = append(spare[:0], db.queue[:db.maxBatch]...)
			n := copy(db.queue, db.queue[db.maxBatch:])
			clear(db.queue[n:])
			db.queue = db.queue[:n]
		}
		db.mu.Unlock()

		db.commitBatch(jobs)
		clear(jobs)
		spare = jobs[:0]
		// Let the writers just acknowledged run first: they usually queue
		// their next write at once, and then join the next batch instead of
		// waiting a whole commit for the one after it. Yield while the queue
		// keeps growing (a few times at most); there is no timed delay.
		for range 8 {
			before := db.queued()
			runtime.Gosched()
			if db.queued() == before {
				break
			}
		}

		db.drain()
	}
}

// drain moves the overlay into the document buckets a step at a time once
// it is large, or once the journal holds too many records no longer
// needed (journalWaste), until half of it is left: one step per call,
// between batches (and in a row while no writes are queued).
func (db *DB) drain() {
	if db.pendingOps >= db.cpOps || db.pendingBytes >= checkpointBytes || db.journalWaste(1) {
		db.draining = true
	}
	if !db.draining {
		if db.hot != "" { // one step for it alone (see DB.hot)
			if err := db.checkpointStep(); err != nil {
				db.log.Error("checkpoint failed; will retry", "err", err)
			}
		}
		return
	}
	if err := db.checkpointStep(); err != nil {
		// Retried after the next batch (not in a tight loop while idle).
		db.log.Error("checkpoint failed; will retry", "err", err)
		db.draining, db.drainOrder = false, nil
		return
	}
	if db.pendingOps <= db.cpOps/2 && db.pendingBytes <= checkpointBytes/2 && !db.journalWaste(2) {
		db.draining, db.drainOrder = false, nil
	}
}

// journalWaste reports whether the journal records hold more than
// max(live, journalSlack)/div bytes that no overlay needs, live being the
// bytes of the overlays' own entries. Such records are kept because an
// overlay that is not moved (a document written to rarely, while a hot one
// is moved by steps of its own) holds an older record: every record from
// that one on stays. So the journal stays within about twice its live
// entries plus journalSlack (see doc.go).
func (db *DB) journalWaste(div int) bool {
	return db.journalBytes-db.pendingJBytes > max(db.pendingJBytes, db.jSlack)/div
}

// setJournalBytes records the bytes of the journal records on disk.
func (db *DB) setJournalBytes(n int) {
	db.journalBytes = n
	db.stats.journalBytes.Store(int64(n))
}

func (db *DB) queued() int {
	db.mu.Lock()
	defer db.mu.Unlock()
	return len(db.queue)
}

func (db *DB) commitBatch(jobs []job) {
	// The batch state, the error slice and the journal buffer are reused
	// from batch to batch (only the committer runs this); bbolt holds no
	// reference to the journal value once the transaction has ended.
	errs := db.errBuf[:0]
	for range jobs {
		errs = append(errs, nil)
	}
	start := time.Now()
	bt := &db.bt
	bt.now, bt.lsn, bt.journal = start.UTC(), 0, bt.journal[:0]
	if bt.docs == nil {
		bt.docs = map[string]*pending{}
	}
	region := trace.StartRegion(context.Background(), "commit") // no-op unless tracing
	err := db.update(func(tx *bolt.Tx) error {
		for i := range jobs {
			j := &jobs[i]
			var err error
			if j.apply != nil {
				err = j.apply(tx, bt)
			} else {
				err = db.applyAppend(tx, bt, &j.a)
			}
			if err != nil && isAbort(err) {
				return err
			}
			errs[i] = err
			if err == nil && j.apply == nil { // the webhook outbox, same transaction
				if err := db.outbox.Load().appended(tx, bt.now, &j.a); err != nil {
					return abort(err)
				}
			}
		}
		// The whole batch's appends are one journal record: one value on
		// contiguous pages, written with few syscalls.
		if len(bt.journal) > 0 {
			return tx.Bucket(bktJournal).Put(u64(bt.lsn), bt.journal)
		}
		return nil
	})
	region.End()
	db.stats.batches.Add(1)
	db.stats.writes.Add(uint64(len(jobs)))
	db.stats.commitNanos.Add(uint64(time.Since(start)))
	if err != nil {
		db.stats.failedBatches.Add(1)
		db.log.Error("group commit failed", "writes", len(jobs), "err", err)
		err = fmt.Errorf("storage: commit: %w", err)
	} else {
		db.install(bt)
		db.setJournalBytes(db.journalBytes + len(bt.journal))
	}
	for i := range jobs {
		if err != nil {
			jobs[i].c.finish(err)
		} else {
			jobs[i].c.finish(errs[i])
		}
	}
	clear(bt.docs)
	clear(errs)
	db.errBuf = errs[:0]
	if cap(bt.journal) > maxKeptJournalBuf {
		bt.journal = nil
	}
}

// maxKeptJournalBuf bounds the journal buffer kept between batches.
const maxKeptJournalBuf = 4 << 20

// update runs fn in a write transaction; a panic inside becomes an error
// (bbolt rolls the transaction back). Its outcome is what Err reports.
func (db *DB) update(fn func(tx *bolt.Tx) error) (err error) {
	err = db.bolt.Update(func(tx *bolt.Tx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: panic in write transaction: %v", ErrCorrupt, r)
			}
		}()
		if err := fn(tx); err != nil {
			return err
		}
		if db.fault != nil {
			return db.fault("commit")
		}
		return nil
	})
	if err != nil {
		db.lastErr.Store(&writeErr{err: err, at: time.Now()})
	} else if db.lastErr.Load() != nil {
		db.lastErr.Store(nil)
	}
	return err
}

type writeErr struct {
	err error
	at  time.Time
}

// Err reports whether the data file is writable: nil when the last write
// transaction (a batch or a checkpoint step) committed, else why it failed
// (for example "no space left on device"). It clears as soon as a write
// commits again — the committer goes on with every new write, so once the
// cause is gone (space freed) the next write succeeds without a restart.
// For readiness probes.
func (db *DB) Err() error {
	if e := db.lastErr.Load(); e != nil {
		return fmt.Errorf("storage: writes failing since %s: %w", e.at.UTC().Format(time.RFC3339), e.err)
	}
	return nil
}

// storedDoc returns the document's bucket and its stored metadata (without
// the journal overlay), or ErrNotFound.
func storedDoc(tx *bolt.Tx, id string) (*bolt.Bucket, DocMeta, error) {
	b := tx.Bucket(bktDocs).Bucket([]byte(id))
	if b == nil {
		return nil, DocMeta{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	m, err := decodeMeta(id, b.Get(keyMeta))
	if err != nil {
		return nil, DocMeta{}, err
	}
	return b, m, nil
}

func (db *DB) applyAppend(tx *bolt.Tx, bt *batch, a *Append) error {
	// Validate everything before the first write.
	// A document with an overlay exists (DeleteDoc drops the overlay), so
	// the common case needs no B-tree lookup at all.
	var (
		b   *bolt.Bucket
		m   DocMeta
		inc uint64
	)
	if p := db.lookup(bt, a.Doc); p != nil {
		m = p.meta
	} else {
		if b = tx.Bucket(bktDocs).Bucket([]byte(a.Doc)); b == nil {
			return fmt.Errorf("%w: %q", ErrNotFound, a.Doc)
		}
		var err error
		if m, err = decodeMeta(a.Doc, b.Get(keyMeta)); err != nil {
			return err
		}
		inc = b.Sequence()
	}
	next := m.Version + 1
	for i := range a.Records {
		r := &a.Records[i]
		if r.Version != next {
			return fmt.Errorf("%w: document %q at version %d: record has version %d, want %d",
				ErrVersionConflict, a.Doc, m.Version, r.Version, next)
		}
		if len(r.Client) > MaxClientLen {
			return fmt.Errorf("%w: client id longer than %d bytes", ErrInvalid, MaxClientLen)
		}
		if len(r.Op) > maxValue {
			return fmt.Errorf("%w: op larger than %d bytes", ErrInvalid, maxValue)
		}
		next++
	}
	head := next - 1
	if a.Meta.Version != head {
		return fmt.Errorf("%w: document %q: meta version %d, ops end at %d",
			ErrVersionConflict, a.Doc, a.Meta.Version, head)
	}
	if s := a.Snapshot; s != nil {
		if s.Version > head {
			return fmt.Errorf("%w: document %q: snapshot version %d above head %d",
				ErrVersionConflict, a.Doc, s.Version, head)
		}
		if len(s.Content) > maxValue {
			return fmt.Errorf("%w: snapshot larger than %d bytes", ErrInvalid, maxValue)
		}
	}

	// Write: an entry in the batch's journal record, and the snapshot
	// (rare) in place.
	p := db.touch(bt, a.Doc, inc, m)
	// The records go straight into the overlay's ops (past the length any
	// published overlay reads), and are encoded from there.
	from := len(p.ops)
	p.ops = append(p.ops, a.Records...)
	recs := p.ops[from:]
	for i := range recs {
		r := &recs[i]
		if r.Time.IsZero() {
			r.Time = bt.now
		}
		r.Time = r.Time.Round(0).UTC()
	}
	nm := m
	nm.Version = head
	nm.Size = a.Meta.Size
	nm.Updated = a.Meta.Updated
	if nm.Updated.IsZero() {
		nm.Updated = bt.now
	}
	nm.Updated = time.Unix(0, nm.Updated.UnixNano()).UTC()
	if bt.lsn == 0 {
		var err error
		if bt.lsn, err = tx.Bucket(bktJournal).NextSequence(); err != nil {
			return abort(err)
		}
	}
	jlen := len(bt.journal)
	bt.journal = appendEntry(bt.journal, a.Doc, p.inc, nm, recs)
	p.jbytes += len(bt.journal) - jlen
	p.lastLSN = bt.lsn
	if p.firstLSN == 0 {
		p.firstLSN = bt.lsn
	}
	if s := a.Snapshot; s != nil {
		if b == nil {
			b = tx.Bucket(bktDocs).Bucket([]byte(a.Doc))
		}
		if err := b.Bucket(bktSnaps).Put(u64(s.Version), []byte(s.Content)); err != nil {
			return abort(err)
		}
	}
	p.meta = nm
	for i := range recs {
		p.bytes += len(recs[i].Op)
	}
	return nil
}

// maxPrunePerCommit bounds the ops one checkpoint deletes from one
// document; a larger backlog is worked off by the following checkpoints.
const maxPrunePerCommit = 100_000

// prune applies the retention policy to one document: with S the newest
// snapshot and base the newest snapshot at or below S-retention, it deletes
// the ops with versions <= base and the snapshots below base. So at least
// `retention` ops before S stay, and every version from base on can still be
// rebuilt (snapshot base + the ops after it).
// It reports whether it deleted ops.
func (db *DB) prune(b *bolt.Bucket) (bool, error) {
	snaps, ops := b.Bucket(bktSnaps), b.Bucket(bktOps)
	sc := snaps.Cursor()
	k, _ := sc.Last()
	if k == nil {
		return false, nil
	}
	newest := be.Uint64(k)
	if newest <= db.retention {
		return false, nil
	}
	limit := newest - db.retention
	k, _ = sc.Seek(u64(limit + 1))
	if k == nil {
		k, _ = sc.Last()
	} else {
		k, _ = sc.Prev()
	}
	if k == nil {
		return false, nil
	}
	base := be.Uint64(k)
	n := 0
	oc := ops.Cursor()
	for k, _ := oc.First(); k != nil && be.Uint64(k) <= base && n < maxPrunePerCommit; k, _ = oc.First() {
		if err := oc.Delete(); err != nil {
			return false, err
		}
		n++
	}
	for k, _ := sc.First(); k != nil && be.Uint64(k) < base; k, _ = sc.First() {
		if err := sc.Delete(); err != nil {
			return false, err
		}
	}
	return n > 0, nil
}

// statCounters are updated by the committer only.
type statCounters struct {
	batches, failedBatches, writes, commitNanos     atomic.Uint64
	checkpoints, failedCheckpoints, checkpointNanos atomic.Uint64
	journalBytes                                    atomic.Int64
}

// Stats are cumulative counters of the group committer, for metrics.
type Stats struct {
	Batches       uint64        // transactions committed or failed
	FailedBatches uint64        // transactions that failed
	Writes        uint64        // queued writes (appends, creates, ...) processed
	CommitTime    time.Duration // total time spent in commit transactions (incl. fsync)
	Checkpoints   uint64        // checkpoint transactions (steps and full)
	// FailedCheckpoints counts checkpoints that failed (they are retried).
	FailedCheckpoints uint64
	CheckpointTime    time.Duration // total time spent checkpointing
	// JournalBytes is a gauge: the bytes of the journal records on disk
	// now (values; bbolt's page overhead not included).
	JournalBytes int64
}

// Stats returns the committer's counters.
func (db *DB) Stats() Stats {
	return Stats{
		Batches:       db.stats.batches.Load(),
		FailedBatches: db.stats.failedBatches.Load(),
		Writes:        db.stats.writes.Load(),
		CommitTime:    time.Duration(db.stats.commitNanos.Load()),

		Checkpoints:       db.stats.checkpoints.Load(),
		FailedCheckpoints: db.stats.failedCheckpoints.Load(),
		CheckpointTime:    time.Duration(db.stats.checkpointNanos.Load()),
		JournalBytes:      db.stats.journalBytes.Load(),
	}
}
