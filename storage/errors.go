package storage

import "errors"

// Sentinel errors. Every error returned by this package wraps one of these
// (or a context error, or an I/O error from the operating system) and can be
// tested with errors.Is.
var (
	// ErrLocked: another process (or another DB in this process) holds the
	// data file's lock and did not release it within Options.Timeout.
	ErrLocked = errors.New("storage: data file is locked by another process")
	// ErrCorrupt: the data file is not a valid bbolt file, or bbolt found it
	// damaged. The bbolt error is wrapped as well.
	ErrCorrupt = errors.New("storage: data file is corrupt")
	// ErrSchemaTooNew: the file was written by a newer cowrite with a newer
	// storage layout; this binary must not touch it.
	ErrSchemaTooNew = errors.New("storage: data file schema is newer than this program supports")
	// ErrClosed: the DB was closed.
	ErrClosed = errors.New("storage: database closed")
	// ErrNotFound: no such document.
	ErrNotFound = errors.New("storage: document not found")
	// ErrExists: CreateDoc with an id that is already taken.
	ErrExists = errors.New("storage: document exists")
	// ErrVersionConflict: an Append whose first version is not the stored
	// version + 1, or whose records are not contiguous, or whose Meta.Version
	// is not the last record's version.
	ErrVersionConflict = errors.New("storage: version conflict")
	// ErrVersionAhead: a read asked for a version above the document's head.
	ErrVersionAhead = errors.New("storage: version is ahead of the document")
	// ErrPruned: the ops (or snapshot) needed for a read were removed by the
	// retention policy.
	ErrPruned = errors.New("storage: history was pruned")
	// ErrInvalid: a bad argument (empty or oversized id, bad cursor, ...).
	ErrInvalid = errors.New("storage: invalid argument")
)
