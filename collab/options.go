package collab

import (
	"log/slog"
	"time"
)

// Options configure a Hub. A nil *Options, or a zero field, means the default.
type Options struct {
	// SnapshotEveryOps: store a snapshot after this many ops since the last
	// one. Default 100.
	SnapshotEveryOps int
	// SnapshotEveryBytes: or after this many bytes of op payload (inserted
	// and deleted text plus a small per-component cost). Default 1 MiB.
	SnapshotEveryBytes int
	// MaxOpBytes: the (approximate JSON) size limit of one op → too_large.
	// Default 256 KiB.
	MaxOpBytes int
	// MaxDocBytes: the UTF-8 size limit of a document's content → too_large.
	// An op that shrinks a document that is already over it is accepted.
	// Default 10 MiB.
	MaxDocBytes int
	// OpsPerSecond: ops per client id (or per socket when no client id is
	// given) per document, a token bucket with a burst of twice the rate →
	// rate_limited. Default 100; negative disables the limit.
	OpsPerSecond float64
	// MaxCollaborators: joined sockets per document; one more join gets
	// rate_limited. Default 100.
	MaxCollaborators int
	// HistoryOps: durable committed ops kept in memory per loaded document
	// (for transform, catch-up and presence). Default 1000.
	HistoryOps int
	// IdleUnload: a loaded document with no collaborators and nothing in
	// flight is unloaded after this long. Default 1 minute.
	IdleUnload time.Duration
	// NoAutoCreate: doc:join of a missing document fails with not_found
	// instead of creating it.
	NoAutoCreate bool
	// Logger receives commit failures and reloads. Default slog.Default().
	Logger *slog.Logger
	// Observer receives measurements for metrics; nil means none.
	// *metrics.Metrics satisfies it.
	Observer Observer

	// Work and memory bounds (see bounds.go for each default).
	//
	// HistoryBytes: op bytes of the history kept in memory, next to
	// HistoryOps. Default DefaultHistoryBytes.
	HistoryBytes int
	// MaxOpComponents: components of one op → too_large.
	// Default DefaultMaxOpComponents.
	MaxOpComponents int
	// MaxTransformWork: components of a submission times those of the ops
	// it is transformed against → version_too_old. Default
	// DefaultMaxTransformWork.
	MaxTransformWork int
	// MaxDiffBytes: the largest middle (old plus new bytes) ReplaceContent
	// diffs; a larger one is replaced whole. Default DefaultMaxDiffBytes.
	MaxDiffBytes int
	// DiffTimeout: the time one diff may take. Default DefaultDiffTimeout.
	DiffTimeout time.Duration
	// MaxDedupeClients, MaxDedupeBytes: dedupe entries cached per loaded
	// document. Defaults DefaultMaxDedupeClients, DefaultMaxDedupeBytes.
	MaxDedupeClients int
	MaxDedupeBytes   int
}

// Observer receives the engine's measurements. Its methods are called on
// document goroutines and must be cheap and non-blocking.
type Observer interface {
	// ObserveCommit: a batch of ops of one document became durable, d after
	// it was handed to Store.Append.
	ObserveCommit(ops int, d time.Duration)
	// ObserveTransform: an accepted op was transformed against depth ops.
	ObserveTransform(depth int)
}

type nopObserver struct{}

func (nopObserver) ObserveCommit(int, time.Duration) {}
func (nopObserver) ObserveTransform(int)             {}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.SnapshotEveryOps <= 0 {
		r.SnapshotEveryOps = 100
	}
	if r.SnapshotEveryBytes <= 0 {
		r.SnapshotEveryBytes = 1 << 20
	}
	if r.MaxOpBytes <= 0 {
		r.MaxOpBytes = 256 << 10
	}
	if r.MaxDocBytes <= 0 {
		r.MaxDocBytes = 10 << 20
	}
	if r.OpsPerSecond == 0 {
		r.OpsPerSecond = 100
	}
	if r.MaxCollaborators <= 0 {
		r.MaxCollaborators = 100
	}
	if r.HistoryOps <= 0 {
		r.HistoryOps = 1000
	}
	if r.IdleUnload <= 0 {
		r.IdleUnload = time.Minute
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Observer == nil {
		r.Observer = nopObserver{}
	}
	r.withBounds()
	return r
}
