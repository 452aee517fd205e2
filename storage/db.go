package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the storage layout version written into new files.
// Open refuses files with a higher version (ErrSchemaTooNew).
const SchemaVersion = 1

const (
	defaultTimeout  = 2 * time.Second
	defaultMaxBatch = 2048
	// defaultMmapSize keeps read transactions from blocking the committer
	// while bbolt remaps a growing file (see bbolt.Options.InitialMmapSize).
	defaultMmapSize = 64 << 20
	// defaultJournalSlack is how many bytes of journal records no overlay
	// needs are always allowed (see journalWaste).
	defaultJournalSlack = 1 << 20
)

// Options configures Open. A nil *Options means all defaults.
type Options struct {
	// Timeout bounds the wait for the data file's lock; after it Open fails
	// with ErrLocked. Default 2s. Negative means do not wait at all
	// (a single attempt is made).
	Timeout time.Duration
	// NoSync skips fsync on commit. Only for tests and bulk loading: a
	// crash may lose or corrupt data. Default false.
	NoSync bool
	// Retention is the number of ops to keep before a document's newest
	// snapshot; older ops (and snapshots older than the base of the kept
	// ops) are pruned when a snapshot is stored. 0 (default) keeps all.
	Retention int
	// MaxBatch caps the number of queued writes committed in one
	// transaction. Default 2048.
	MaxBatch int
	// CheckpointOps is how many journaled, not yet checkpointed ops start
	// checkpoint steps into the document buckets (they run until half is
	// left; see doc.go). It bounds the memory the journal overlay holds.
	// Default 65536.
	CheckpointOps int
	// Logger receives batch failures. Default slog.Default().
	Logger *slog.Logger
	// MaxDedupeClients and MaxDedupeBytes bound each document's dedupe
	// entries (count, and bytes of client ids plus 16 per entry). When a
	// checkpoint leaves a document over either, the entries with the
	// oldest versions are deleted until it is under 15/16 of both, and the
	// document's dedupe floor (DedupeFloor) becomes the newest version
	// deleted. With Retention, entries of ops still kept are never deleted
	// (see doc.go). Defaults DefaultMaxDedupeClients, DefaultMaxDedupeBytes.
	MaxDedupeClients int
	MaxDedupeBytes   int
	// FaultHook, if set, is called at the end of every write transaction,
	// just before it commits, with "commit"; an error it returns fails that
	// transaction as an I/O error of its write or fsync would (rolled back,
	// every write of the batch fails with it). For fault-injection tests.
	FaultHook func(op string) error

	// journalSlack is the journal waste always allowed (journalWaste);
	// default defaultJournalSlack. Tests set it lower.
	journalSlack int
}

const (
	// DefaultMaxDedupeClients is Options.MaxDedupeClients' default.
	DefaultMaxDedupeClients = 100_000
	// DefaultMaxDedupeBytes is Options.MaxDedupeBytes' default.
	DefaultMaxDedupeBytes = 16 << 20
)

// DB is a cowrite data file. All methods are safe for concurrent use.
type DB struct {
	bolt      *bolt.DB
	path      string
	retention uint64
	maxBatch  int
	cpOps     int
	maxSeqs   int // Options.MaxDedupeClients
	maxSeqB   int // Options.MaxDedupeBytes
	log       *slog.Logger
	fault     func(op string) error    // Options.FaultHook
	lastErr   atomic.Pointer[writeErr] // see Err

	mu      sync.Mutex // guards the fields below
	cond    *sync.Cond // signalled when queue grows or closing is set
	queue   []job
	closing bool

	// ovMu orders overlay changes against readers starting their views
	// (see DB.read). pending is written only by the committer, under ovMu;
	// a *pending is never modified once published (the committer replaces it).
	ovMu    sync.RWMutex
	pending map[string]*pending
	// Owned by the committer goroutine (and Open before it starts), changed
	// under ovMu together with pending.
	pendingOps, pendingBytes int // ops and op bytes in pending
	// pendingJBytes are the bytes of pending's entries in journal records,
	// journalBytes those of every journal record on disk (see journalWaste).
	// Committer only.
	pendingJBytes, journalBytes int
	jSlack                      int // Options.journalSlack
	// hot is a document whose overlay alone reached an eighth of the
	// checkpoint thresholds (and hotOps): the next checkpoint step moves it
	// by itself, so
	// that one busy document is moved in steps of bounded size (a step
	// holds the committer, and every document's commits wait for it).
	// Committer only.
	hot        string
	draining   bool     // checkpoint steps run between batches (read under mu by the committer only)
	drainOrder []string // documents to move next (see checkpointStep)
	bt         batch    // reused by every commitBatch
	errBuf     []error  // reused by every commitBatch

	wg        sync.WaitGroup // the committer goroutine
	closeOnce sync.Once
	closeErr  error

	stats statCounters

	outbox atomic.Pointer[outbox] // the webhook outbox (outbox.go); nil until EnableOutbox
}

// Open opens (creating if needed) the data file at path, with its parent
// directory, and starts the committer goroutine. Errors: ErrLocked,
// ErrCorrupt, ErrSchemaTooNew, or an OS error.
func Open(path string, opts *Options) (*DB, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case o.Timeout == 0:
		o.Timeout = defaultTimeout
	case o.Timeout < 0:
		o.Timeout = time.Nanosecond
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = defaultMaxBatch
	}
	if o.CheckpointOps <= 0 {
		o.CheckpointOps = checkpointOps
	}
	if o.Retention < 0 {
		o.Retention = 0
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxDedupeClients <= 0 {
		o.MaxDedupeClients = DefaultMaxDedupeClients
	}
	if o.MaxDedupeBytes <= 0 {
		o.MaxDedupeBytes = DefaultMaxDedupeBytes
	}
	if o.journalSlack <= 0 {
		o.journalSlack = defaultJournalSlack
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("storage: open %s: %w", path, err)
		}
	}
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	partial := false
	if !created {
		var err error
		if _, partial, err = checkPages(path, false); err != nil {
			return nil, err
		}
	}
	// bbolt opens with NoFreelistSync false, so that it reads the freelist
	// that Close wrote instead of walking every page to rebuild it (it
	// walks only a file without one: after a crash). Commits then run
	// with NoFreelistSync: writing the freelist costs every commit time
	// in proportion to the free pages (BenchmarkCommitNoSync). Every
	// write transaction runs on this goroutine until the committer starts,
	// then on the committer, and Close's last one after it stopped, so
	// the field is never changed under a writer.
	bdb, err := openBolt(path, &bolt.Options{
		Timeout:         o.Timeout,
		NoFreelistSync:  false,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: defaultMmapSize,
		NoSync:          o.NoSync,
	})
	if err != nil {
		return nil, err
	}
	bdb.NoFreelistSync = true
	if err := initSchema(bdb); err != nil {
		_ = bdb.Close()
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrSchemaTooNew) {
			err = fmt.Errorf("storage: init schema: %w", err)
		}
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	if created && !o.NoSync {
		// Make the new file's directory entry durable too.
		if err := syncDir(filepath.Dir(path)); err != nil {
			_ = bdb.Close()
			return nil, fmt.Errorf("storage: open %s: %w", path, err)
		}
	}
	db := &DB{
		bolt:      bdb,
		path:      path,
		retention: uint64(o.Retention),
		maxBatch:  o.MaxBatch,
		cpOps:     o.CheckpointOps,
		maxSeqs:   o.MaxDedupeClients,
		maxSeqB:   o.MaxDedupeBytes,
		jSlack:    o.journalSlack,
		fault:     o.FaultHook,
		log:       o.Logger.With("component", "storage"),
		pending:   map[string]*pending{},
	}
	db.cond = sync.NewCond(&db.mu)
	// Recovery: whatever the journal holds goes into the document buckets.
	// Those writes need every page checked first (see below).
	if partial && db.journalDirty() {
		if _, _, err := checkPages(path, true); err != nil {
			_ = bdb.Close()
			return nil, err
		}
		partial = false
	}
	restore := debug.SetPanicOnFault(true)
	err = db.replayJournal()
	debug.SetPanicOnFault(restore)
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("%w (file %s)", err, path)
	}
	// After a partial check, every page is walked in the background while
	// reads are served; the committer waits for it, so that no write ever
	// commits pages of a damaged file (bbolt's commit copies what the
	// transaction read, and a fault there, or the walk bbolt's rollback
	// of a failed commit makes, is a crash). A damaged file then refuses
	// every write with ErrCorrupt (Err reports it at once).
	var waitWalk func()
	if partial {
		walked := make(chan error, 1)
		go func() {
			_, _, err := checkPages(path, true)
			walked <- err
		}()
		var damaged atomic.Pointer[error]
		hook := db.fault
		db.fault = func(op string) error {
			if e := damaged.Load(); e != nil {
				return *e
			}
			if hook != nil {
				return hook(op)
			}
			return nil
		}
		waitWalk = func() {
			if err := <-walked; err != nil {
				err = fmt.Errorf("%w; found by the check of every page after start: writes are refused (run cowrite check)", err)
				damaged.Store(&err)
				db.lastErr.Store(&writeErr{err: err, at: time.Now()})
				db.log.Error("data file is damaged", "err", err)
			}
		}
	}
	db.wg.Add(1)
	go func() {
		debug.SetPanicOnFault(true)
		if waitWalk != nil {
			waitWalk()
		}
		db.commitLoop()
	}()
	return db, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// bbolt's meta page: after the 16-byte page header, magic u32, version u32,
// page size u32, flags u32, root bucket (16 bytes), freelist page u64,
// high water mark u64 (pages in use), txid u64, then an FNV-64a checksum of
// the bytes before it. Native byte order.
const (
	metaMagic       = 0xED0CDAED
	metaOff         = 16
	metaRootOff     = metaOff + 16
	metaFreelistOff = metaOff + 32
	metaPgidOff     = metaOff + 40
	metaTxidOff     = metaOff + 48
	metaSumOff      = metaOff + 56
	metaPageSize    = metaOff + 8
	// noFreelist is the freelist page id of a file written without one
	// (bbolt's NoFreelistSync): bbolt then rebuilds the freelist by
	// walking every page at open.
	noFreelist = ^uint64(0)
)

// fileMeta is what checkPages uses of the newest valid meta page.
type fileMeta struct{ txid, pgid, pageSize, root, freelist uint64 }

// readMeta returns the newest of f's two meta pages that is valid (magic and
// checksum); ok is false if neither is.
func readMeta(f *os.File) (m fileMeta, ok bool) {
	read := func(off int64) (pageSize uint32, valid bool) {
		b := make([]byte, metaSumOff+8)
		if _, err := f.ReadAt(b, off); err != nil {
			return 0, false
		}
		ne := binary.NativeEndian
		if ne.Uint32(b[metaOff:]) != metaMagic {
			return 0, false
		}
		h := fnv.New64a()
		h.Write(b[metaOff:metaSumOff])
		if h.Sum64() != ne.Uint64(b[metaSumOff:]) {
			return 0, false
		}
		ps := ne.Uint32(b[metaPageSize:])
		if txid := ne.Uint64(b[metaTxidOff:]); !ok || txid >= m.txid {
			m = fileMeta{txid: txid, pgid: ne.Uint64(b[metaPgidOff:]), pageSize: uint64(ps),
				root: ne.Uint64(b[metaRootOff:]), freelist: ne.Uint64(b[metaFreelistOff:])}
			ok = true
		}
		return ps, true
	}
	ps, valid := read(0)
	if !valid {
		ps = uint32(os.Getpagesize())
	}
	read(int64(ps))
	return m, ok && m.pageSize > 0
}

// fullCheckBytes: Open walks every page of a file whose pages in use take
// at most this many bytes (a few thousand reads), and only the freelist and
// the root and top-level buckets' pages of a larger one (see checkPages).
const fullCheckBytes = 16 << 20

// checkPages checks an existing data file's pages with plain reads before
// bbolt maps it: a file shorter than the pages its newest valid meta page
// counts (cut short; bbolt would fault reading past the end), and damaged
// pages (walkPages, checkFreelist: bbolt would panic on them where no
// caller can recover, or read past its mapping). full walks every page;
// otherwise, if the file has a freelist page and its pages in use take more
// than fullCheckBytes, only that page and the pages of the root and
// top-level buckets are read (a cost that does not grow with the number of
// documents), and partial is true: a document's damaged page is found
// when it is read (ErrCorrupt from that read) or by the walk of every page
// that Open then runs in the background. A file without a freelist
// (left by a crash, or by a version before the freelist was written at
// Close) is walked whole anyway: bbolt walks it to rebuild its freelist,
// in a goroutine of its own where a damaged page is a crash. It
// reports checked false, and no error, for an empty file or one without a
// valid meta page, which are left to bbolt's own open (that creates the
// first or refuses the second). Errors: ErrCorrupt or an OS error.
func checkPages(path string, full bool) (checked, partial bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, false, fmt.Errorf("storage: open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, false, fmt.Errorf("storage: open %s: %w", path, err)
	}
	if st.Size() == 0 {
		return false, false, nil
	}
	m, ok := readMeta(f)
	if !ok {
		return false, false, nil
	}
	if uint64(st.Size()) < m.pgid*m.pageSize {
		return false, false, fmt.Errorf("%w: %s is %d bytes, shorter than the %d pages of %d bytes its meta page counts (cut short?)",
			ErrCorrupt, path, st.Size(), m.pgid, m.pageSize)
	}
	depth := 1
	if full || m.freelist == noFreelist || m.pgid*m.pageSize <= fullCheckBytes {
		depth = -1
	}
	used, err := walkPages(f, m.pageSize, m.pgid, m.root, depth)
	if err == nil && m.freelist != noFreelist {
		err = checkFreelist(f, m.pageSize, m.pgid, m.freelist, used)
	}
	if err != nil {
		return false, false, fmt.Errorf("%w (file %s)", err, path)
	}
	return true, depth >= 0, nil
}

// checkFile is the full offline check of Verify: checkPages walking every
// page, then bbolt's consistency check. Errors: ErrCorrupt, ErrLocked, or
// an OS error.
func checkFile(path string, timeout time.Duration) error {
	checked, _, err := checkPages(path, true)
	if err != nil || !checked {
		return err
	}
	bdb, err := openBolt(path, &bolt.Options{ReadOnly: true, Timeout: timeout})
	if err != nil {
		return err
	}
	defer bdb.Close()
	var problems []string
	_ = bdb.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			if len(problems) < 5 {
				problems = append(problems, err.Error())
			}
		}
		return nil
	})
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s fails the consistency check: %s", ErrCorrupt, path, strings.Join(problems, "; "))
	}
	return nil
}

// openBolt opens the bbolt file, mapping its failures onto this package's
// sentinels. bbolt can panic on some damaged files; that becomes ErrCorrupt.
func openBolt(path string, bo *bolt.Options) (bdb *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			bdb = nil
			err = fmt.Errorf("%w: %s: bbolt panicked: %v", ErrCorrupt, path, r)
		}
	}()
	bdb, err = bolt.Open(path, 0o600, bo)
	if err == nil {
		return bdb, nil
	}
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s (waited %v)", ErrLocked, path, bo.Timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum),
		errors.Is(err, berrors.ErrVersionMismatch), errors.Is(err, berrors.ErrInvalidMapping):
		return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("storage: open %s: %w", path, err)
	}
	// Anything else from bbolt while reading the file (short file, bad page
	// size, ...) means the contents are not a usable bbolt database.
	return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, path, err)
}

// initSchema creates the top-level buckets of a new file and checks the
// schema stamp of an existing one.
func initSchema(bdb *bolt.DB) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt panicked: %v", ErrCorrupt, r)
		}
	}()
	return bdb.Update(func(tx *bolt.Tx) error {
		sys := tx.Bucket(bktSys)
		if sys == nil {
			// A new file has no buckets; a file with other buckets is not ours.
			foreign := false
			_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				foreign = true
				return nil
			})
			if foreign {
				return fmt.Errorf("%w: not a cowrite data file (no schema stamp)", ErrCorrupt)
			}
			var err error
			if sys, err = tx.CreateBucket(bktSys); err != nil {
				return err
			}
			if err := sys.Put(keySchema, u64(SchemaVersion)); err != nil {
				return err
			}
		}
		v := sys.Get(keySchema)
		if len(v) != 8 {
			return fmt.Errorf("%w: bad schema stamp", ErrCorrupt)
		}
		if got := be.Uint64(v); got > SchemaVersion {
			return fmt.Errorf("%w: file has schema %d, this program supports up to %d", ErrSchemaTooNew, got, SchemaVersion)
		}
		for _, name := range [][]byte{bktDocs, bktJournal} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if tx.Bucket(bktUpdated) != nil {
			return tx.DeleteBucket(bktUpdated)
		}
		return nil
	})
}

// replayJournal checkpoints a journal left by a crash (or a failed checkpoint).
func (db *DB) replayJournal() error {
	if !db.journalDirty() {
		return nil
	}
	return db.checkpointAll()
}

// journalDirty reports whether the journal bucket holds records.
func (db *DB) journalDirty() bool {
	dirty := false
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bktJournal).Cursor().First()
		dirty = k != nil
		return nil
	})
	return dirty
}

// writeFreelist commits an empty transaction that writes bbolt's
// freelist, so that the next Open reads it instead of walking the file
// (see Open). A failure is logged: everything is committed already, only
// the next start is slower.
func (db *DB) writeFreelist() {
	db.bolt.NoFreelistSync = false
	err := func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%w: bbolt panicked: %v", ErrCorrupt, r)
			}
		}()
		return db.bolt.Update(func(*bolt.Tx) error { return nil })
	}()
	if err != nil {
		db.log.Warn("writing the freelist at close failed; the next start walks the whole file", "err", err)
	}
}

// Path returns the data file's path.
func (db *DB) Path() string { return db.path }

// Close stops accepting writes, commits everything already queued, waits
// for the committer and closes the file. It is idempotent; later calls
// return the first call's result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.mu.Lock()
		db.closing = true
		db.cond.Broadcast()
		db.mu.Unlock()
		db.wg.Wait()
		db.writeFreelist()
		db.closeErr = db.bolt.Close()
	})
	return db.closeErr
}

// Backup writes a consistent copy of the whole data file to w while the DB
// stays online (readers and the committer keep running). It returns the
// number of bytes written. The copy may hold a journal; opening it replays
// the journal like any other data file.
func (db *DB) Backup(ctx context.Context, w io.Writer) (n int64, err error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	err = db.read(noOverlay, "", func(v view) error {
		n, err = v.tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("storage: backup: %w", err)
	}
	return n, nil
}

// view is a consistent read: a bbolt read transaction and the journal
// overlay as of (or slightly after) that transaction.
type view struct {
	tx *bolt.Tx
	ov map[string]*pending
}

// overlayScope says which documents' overlays a view needs.
type overlayScope int8

const (
	oneOverlay overlayScope = iota // the document named by read's doc
	allOverlay                     // every document's (ListDocs)
	noOverlay                      // none (Backup)
)

// read runs fn on a view holding the overlay of document doc, or of every
// document, or none. The overlay is taken under
// ovMu together with the start of the transaction, so a checkpoint can
// never hide ops from the view: either the transaction already has them, or
// the overlay still does. (Ops can be in both; readers merge by version.)
// A closed DB gives ErrClosed, a bbolt panic (damaged page) ErrCorrupt.
func (db *DB) read(scope overlayScope, doc string, fn func(v view) error) (err error) {
	// A damaged page can hold an element pointing outside the mapping:
	// a fault there becomes a panic, recovered below.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt panicked: %v", ErrCorrupt, r)
		}
	}()
	var ov map[string]*pending
	db.ovMu.RLock()
	tx, err := db.bolt.Begin(false)
	switch scope {
	case noOverlay:
	case allOverlay:
		ov = maps.Clone(db.pending)
	case oneOverlay:
		if p := db.pending[doc]; p != nil {
			ov = map[string]*pending{doc: p}
		}
	}
	db.ovMu.RUnlock()
	if err != nil {
		if errors.Is(err, berrors.ErrDatabaseNotOpen) {
			return ErrClosed
		}
		return err
	}
	defer func() { _ = tx.Rollback() }()
	return fn(view{tx: tx, ov: ov})
}

// doc returns the document's bucket, its current metadata and its overlay
// (nil if none), or ErrNotFound.
func (v view) doc(id string) (*bolt.Bucket, DocMeta, *pending, error) {
	b, m, err := storedDoc(v.tx, id)
	if err != nil {
		return nil, DocMeta{}, nil, err
	}
	p := v.ov[id]
	if p != nil && p.inc != b.Sequence() {
		p = nil // overlay of an earlier document with this id
	}
	if p != nil && p.meta.Version >= m.Version {
		m = p.meta
	}
	return b, m, p, nil
}
