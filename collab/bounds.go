package collab

import "time"

// Bounds on the work and memory one document may cost. Each is an Options
// field whose zero value means the default below.
const (
	// DefaultHistoryBytes bounds the op bytes (opBytes) of the durable ops a
	// loaded document keeps in memory, next to Options.HistoryOps: the
	// oldest are dropped when either is exceeded (a base version older
	// than the history is served from the store).
	DefaultHistoryBytes = 16 << 20
	// DefaultMaxOpComponents is the most components an op may have
	// (after parsing, before normalization) → too_large.
	DefaultMaxOpComponents = 10_000
	// DefaultMaxTransformWork bounds the transform work of one submission:
	// its components times the components of the committed ops it must be
	// transformed against (each step costs about the sum of the two ops'
	// components, so the product bounds every step's cost times their
	// number). A stale op over it is refused with version_too_old (rebase
	// on a newer version and resend) before any transform runs. At about
	// 40 ns per component step that is at most ~160 ms of the document
	// goroutine; ordinary ops (a few components against up to
	// Options.HistoryOps ops) stay far below it.
	DefaultMaxTransformWork = 4_000_000
	// DefaultMaxDiffBytes bounds the part of the old and new text that
	// ReplaceContent diffs (after the common prefix and suffix are taken
	// off, in bytes of old plus new): a larger middle is replaced as a
	// whole (one delete and one insert) instead of diffed.
	DefaultMaxDiffBytes = 32 << 10
	// DefaultDiffTimeout bounds the time of one diff; when it runs out the
	// diff so far is used (still a correct op, only less minimal).
	DefaultDiffTimeout = 100 * time.Millisecond
	// DefaultMaxDedupeClients and DefaultMaxDedupeBytes bound the dedupe
	// entries (client id → last seq) the document goroutine caches per
	// document; see Hub.Submit for what an evicted entry means.
	DefaultMaxDedupeClients = 10_000
	DefaultMaxDedupeBytes   = 1 << 20
)

// withBounds fills in the defaults of the fields above.
func (r *Options) withBounds() {
	if r.HistoryBytes <= 0 {
		r.HistoryBytes = DefaultHistoryBytes
	}
	if r.MaxOpComponents <= 0 {
		r.MaxOpComponents = DefaultMaxOpComponents
	}
	if r.MaxTransformWork <= 0 {
		r.MaxTransformWork = DefaultMaxTransformWork
	}
	if r.MaxDiffBytes <= 0 {
		r.MaxDiffBytes = DefaultMaxDiffBytes
	}
	if r.DiffTimeout <= 0 {
		r.DiffTimeout = DefaultDiffTimeout
	}
	if r.MaxDedupeClients <= 0 {
		r.MaxDedupeClients = DefaultMaxDedupeClients
	}
	if r.BlameCacheBytes <= 0 {
		r.BlameCacheBytes = DefaultBlameCacheBytes
	}
	if r.MaxDedupeBytes <= 0 {
		r.MaxDedupeBytes = DefaultMaxDedupeBytes
	}
}
