// Package storage is cowrite's durable store: per-document op logs,
// snapshots, metadata and a dedupe table in one bbolt file, written by a
// group committer.
//
// # Model
//
// A document has metadata (DocMeta), an op log with versions 1…head (an
// op's version is the document's version right after it), snapshots of its
// full content at some versions (always at least one: its content at
// creation, version 0), and a dedupe table mapping each client to the
// highest seq it committed and that op's version. Ops are opaque JSON bytes:
// this package does not know the OT type, so content at a past version is
// rebuilt by the caller (ContentAt takes an apply function; Load returns
// the newest snapshot plus the ops after it).
//
// # Group commit
//
// All writes (Append, CreateDoc, RenameDoc, DeleteDoc) go through one
// committer goroutine. Append only queues and returns a *Commit future; the
// committer takes everything queued (up to Options.MaxBatch), applies it in
// one bbolt read-write transaction — one commit, i.e. one fsync of the data
// pages and one of the meta page, for many appends of many documents — then
// closes each Commit's Done channel, yields once so that the writers it just
// acknowledged can queue again, and starts over with whatever is queued.
// There is no timer: under light load each write commits alone, under heavy
// load batches grow by themselves.
//
// Writes apply in the order they were queued. Each write is validated
// inside the transaction before it writes anything (an Append whose first
// version is not the stored version + 1 fails with ErrVersionConflict), so
// a bad write fails alone and the rest of its batch commits. If the
// transaction itself fails (I/O error), every write of the batch fails and,
// bbolt transactions being atomic, none of them is on disk.
//
// Pipelining: a sequencer may queue version v+1 before v is durable. If v
// fails, v+1 then fails with ErrVersionConflict, never leaving a gap.
//
// # Journal and checkpoints
//
// A B-tree keyed by document scatters a batch over many pages: appending to
// 200 documents would dirty 200+ leaf pages and make each commit slow. So
// each batch's appends are written as one record (one value, on contiguous
// pages) to a journal bucket keyed by a global sequence number. The
// committer keeps each document's journaled, not yet checkpointed state
// (metadata, ops, dedupe entries) in memory, and readers merge it with the
// document buckets. Snapshots are written to the document bucket directly.
// Checkpoints move that state into the document buckets. When the
// in-memory state holds Options.CheckpointOps ops (or 32 MiB of ops), the
// committer runs one small checkpoint step between two batches — a few
// documents, those holding the oldest journal records first — until half
// is left, and deletes the journal records that no remaining document
// needs; so there is no long pause. A single busy document would still make
// one step large (a step moves whole documents), so a document whose own
// overlay reaches an eighth of the thresholds (at least 1,024 ops) is moved
// at once by a step of its own. A journal record is deleted only once no
// overlay needs it, so a document written to rarely would keep every later
// record while the hot ones are moved by steps of their own: the committer
// also drains, oldest documents first, while the journal holds more bytes of
// records no overlay needs than the overlays' own entries (and more than
// 1 MiB). So the journal stays within about twice its live entries plus
// 1 MiB (Stats.JournalBytes). Each document bucket records the journal LSN
// it holds up to. Close checkpoints everything; Open replays
// what a crash left in the journal, skipping entries a bucket already
// holds. Journal entries also name the document's incarnation (its
// bucket's sequence), so entries of a document deleted (and perhaps
// re-created) since are skipped.
//
// Readers take the in-memory state and begin their bbolt transaction under
// one lock that a checkpoint also takes before dropping that state; so a
// reader sees every op either in its transaction or in memory (possibly in
// both, and merges by version).
//
// # Retention
//
// With Options.Retention = R > 0, whenever a checkpoint moves a document,
// with S its newest snapshot, the committer finds the newest snapshot B at
// or below S-R and deletes the ops with versions <= B and the snapshots
// older than B (at most 100,000 ops per checkpoint). So at least R ops
// before the newest snapshot are kept, and any version >= B can be
// rebuilt. OldestKeptOp reports the first op still kept; reads below
// it fail with ErrPruned. Dedupe entries are not pruned with the ops; they
// are bounded per document instead (Options.MaxDedupeClients and
// MaxDedupeBytes): a checkpoint that leaves a document over a bound deletes
// the entries of the oldest versions and records the newest version deleted
// as the document's dedupe floor (DedupeFloor). With retention, the entries
// of ops still kept (versions >= OldestKeptOp) are never deleted, even over
// the bounds: so the floor stays below the oldest kept op, every resend that
// can still be caught up (based on a version >= OldestKeptOp-1) is
// recognised by its entry, and a document holds at most max(bound, clients
// of its kept ops) entries. Without retention the bounds are hard, and a
// resend based on a version below the floor cannot be told from a new op
// (collab refuses it: never applied twice).
//
// # Layout (schema version 1)
//
//	sys/schema                 big-endian uint64 SchemaVersion
//	                           (sys's sequence numbers document incarnations)
//	docs/<id>/                 one nested bucket per document; its sequence is
//	                           the incarnation (tells a re-created id apart)
//	    meta                   JSON {t: title, c: created ns, u: updated ns,
//	                           v: version, s: size}
//	    ops/<u64 version>      format byte 1, uvarint seq, varint time ns,
//	                           uvarint len(client), client, op JSON bytes
//	    snaps/<u64 version>    content bytes
//	    seq/<client>           u64 seq, u64 version (dedupe)
//	    lsn                    u64: journal records up to this LSN are in here
//	    seqfloor               u64: newest version of a deleted dedupe entry
//	journal/<u64 lsn>          one batch: entries, each framed by its uvarint
//	                           length: format byte 2, uvarint len(id), id,
//	                           uvarint incarnation, uvarint version, varint
//	                           updated ns, varint size, uvarint n,
//	                           n × (uvarint len, op record as in ops/); the
//	                           n versions end at version (format 1, written
//	                           by earlier versions, has a varint after size)
//
// Share links and their revocations live in the top-level buckets "shares"
// and "sharerevoked" (shares.go).
//
// Files written by earlier versions may hold an "updated" index bucket and
// an "l" (length) field in meta; Open deletes the first, the second is
// ignored.
//
//	outbox*                    the webhook outbox, when enabled (see
//	                           EnableOutbox and outbox.go): queued events,
//	                           pending debounced updates; written in the
//	                           transaction of the commit that caused them
//
// Integers in keys are big-endian so cursors iterate in version order.
// The metadata and dedupe entries in docs/ are as of the last checkpoint.
// bbolt runs with NoFreelistSync and the hashmap freelist (faster commits;
// the freelist is rebuilt by scanning at open).
//
// # Concurrency
//
// All methods of DB are safe for concurrent use. The DB runs one goroutine,
// the committer (commitLoop): it alone writes the file (batches and
// checkpoint steps) and owns the journal overlay's bookkeeping. Reads run
// on the caller's goroutine in bbolt read
// transactions and see only committed writes (never queued ones); a read
// that starts after a Commit's Done channel closed sees that write. Close
// commits everything queued, then closes the file; writes queued after
// Close fail with ErrClosed. Contexts are checked before a read starts and
// while waiting for a write; a write whose caller gave up may still commit.
//
// # Faults
//
// A write transaction that fails (disk full, an I/O error of a write or an
// fsync) fails every write of its batch and leaves nothing of it on disk;
// Err reports the failure until a write commits again. The committer goes
// on with the next writes, so the DB resumes by itself once the cause is
// gone. Options.FaultHook injects such failures in tests.
//
// Open checks an existing file before bbolt uses it, with plain reads: a
// file shorter than the pages its meta page counts, a damaged freelist page
// (type, ids inside the file, ascending, not in use) and damaged pages (ids,
// types, children within the file and referenced once, elements within
// their page) give ErrCorrupt, never a crash. Commits do not write bbolt's
// freelist (that would cost each commit time in proportion to the free
// pages); Close writes it. After a clean Close, Open reads that freelist
// and, if the pages in use take more than 16 MiB, checks only it and the
// pages of the root and top-level buckets, a cost that does not grow with
// the number of documents (a smaller file is walked whole), and walks every
// page in the background: reads are served meanwhile, the committer waits
// for the walk (the first writes after a start wait up to its duration),
// and if it finds damage every write is refused with ErrCorrupt (Err
// reports it), so that no commit ever copies a damaged page. A read of a
// damaged page gives ErrCorrupt of that read: bbolt's panic (or a fault on
// an element pointing outside the file, made a panic by
// debug.SetPanicOnFault on the reading goroutines and the committer) is
// recovered. After a crash (no freelist), Open walks every page before
// opening, as bbolt then does to rebuild the freelist. Verify checks a file offline:
// every page, bbolt's consistency check, and Cowrite's own checks (ops
// replay to snapshots).
//
// # Caveats
//
// One process at a time: bbolt takes an exclusive file lock (ErrLocked
// after Options.Timeout). Large snapshots are written whole each time.
// Journaled ops are also held in memory until they are checkpointed
// (bounded by the checkpoint thresholds); every op is written twice
// (journal, then its document's bucket). Close and Open may take a moment
// to checkpoint a large journal.
package storage
