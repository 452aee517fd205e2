package collab

import (
	"log/slog"
	"time"
)

// Defaults of Options. Each limit is defined here once and enforced by the
// Hub; cmd cowrite uses these as its flags' defaults, and the edge reports
// the values in force (GET /api/limits).
const (
	DefaultMaxOpBytes          = 256 << 10 // Options.MaxOpBytes
	DefaultMaxDocBytes         = 10 << 20  // Options.MaxDocBytes
	DefaultMaxTitleBytes       = 1024      // Options.MaxTitleBytes
	DefaultMaxClientIDBytes    = 128       // Options.MaxClientIDBytes
	DefaultMaxSelectionRanges  = 100       // Options.MaxSelectionRanges
	DefaultOpsPerSecond        = 100       // Options.OpsPerSecond
	DefaultMaxCollaborators    = 100       // Options.MaxCollaborators
	DefaultHistoryOps          = 1000      // Options.HistoryOps
	DefaultMaxJoinsPerIdentity = 10        // Options.MaxJoinsPerIdentity
	DefaultEditorReserve       = 10        // Options.EditorReserve
	DefaultMaxDocsPerSocket    = 100       // Options.MaxDocsPerSocket
)

// MaxDocIDBytes is the length limit of a document id (ValidateDocID); it is
// part of the id format, not configurable.
const MaxDocIDBytes = 128

// Options configure a Hub. A nil *Options, or a zero field, means the default.
type Options struct {
	// SnapshotEveryOps: store a snapshot after this many ops since the last
	// one. Default 100.
	SnapshotEveryOps int
	// SnapshotEveryBytes: or after this many bytes of op payload (inserted
	// and deleted text plus a small per-component cost). Default 1 MiB.
	SnapshotEveryBytes int
	// MaxOpBytes: the (approximate JSON) size limit of one op → too_large.
	// Default DefaultMaxOpBytes (256 KiB).
	MaxOpBytes int
	// MaxDocBytes: the UTF-8 size limit of a document's content → too_large.
	// An op that shrinks a document that is already over it is accepted.
	// Default DefaultMaxDocBytes (10 MiB).
	MaxDocBytes int
	// MaxTitleBytes: the UTF-8 size limit of a title → bad_request.
	// Default DefaultMaxTitleBytes.
	MaxTitleBytes int
	// MaxClientIDBytes: the size limit of a client id (doc:join, doc:op,
	// POST ops) → bad_request. Default DefaultMaxClientIDBytes.
	MaxClientIDBytes int
	// MaxSelectionRanges: ranges in one presence selection → bad_request.
	// Default DefaultMaxSelectionRanges.
	MaxSelectionRanges int
	// OpsPerSecond: ops per identity (Member.Identity, else the socket;
	// Submission.Identity over REST) per document, a token bucket with a
	// burst of twice the rate → rate_limited. Presence updates have a bucket
	// of their own at the same rate. Default DefaultOpsPerSecond; negative disables the limit.
	OpsPerSecond float64
	// MaxCollaborators: joined sockets per document; one more join gets
	// rate_limited. Default DefaultMaxCollaborators.
	MaxCollaborators int
	// MaxJoinsPerIdentity: sockets of one identity (Member.Identity)
	// joined to one document; one more join gets rate_limited. Default
	// DefaultMaxJoinsPerIdentity.
	MaxJoinsPerIdentity int
	// MaxDocsPerSocket: documents one socket may have joined at once; a join
	// of one more gets rate_limited (before anything is loaded or created).
	// Default DefaultMaxDocsPerSocket.
	MaxDocsPerSocket int
	// EditorReserve: places of MaxCollaborators that viewers cannot take
	// (at most half of them); a viewer's join beyond gets rate_limited.
	// Default DefaultEditorReserve.
	EditorReserve int
	// HistoryOps: durable committed ops kept in memory per loaded document
	// (for transform, catch-up and presence). Default DefaultHistoryOps.
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
	// BlameCacheBytes: memory of the attributions Blame keeps between
	// calls. Default DefaultBlameCacheBytes.
	BlameCacheBytes int
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
	for _, f := range []struct {
		v   *int
		def int
	}{
		{&r.SnapshotEveryOps, 100}, {&r.SnapshotEveryBytes, 1 << 20},
		{&r.MaxOpBytes, DefaultMaxOpBytes}, {&r.MaxDocBytes, DefaultMaxDocBytes},
		{&r.MaxTitleBytes, DefaultMaxTitleBytes}, {&r.MaxClientIDBytes, DefaultMaxClientIDBytes},
		{&r.MaxSelectionRanges, DefaultMaxSelectionRanges}, {&r.MaxCollaborators, DefaultMaxCollaborators},
		{&r.HistoryOps, DefaultHistoryOps}, {&r.MaxJoinsPerIdentity, DefaultMaxJoinsPerIdentity},
		{&r.EditorReserve, DefaultEditorReserve}, {&r.MaxDocsPerSocket, DefaultMaxDocsPerSocket},
	} {
		if *f.v <= 0 {
			*f.v = f.def
		}
	}
	if r.OpsPerSecond == 0 {
		r.OpsPerSecond = DefaultOpsPerSecond
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
