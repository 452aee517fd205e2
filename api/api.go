package api

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/sio"
	"github.com/gofiber/fiber/v2"
)

// Options configure an API. A nil *Options means defaults; each field
// documents its default.
type Options struct {
	// MaxBodyBytes caps REST request bodies; larger ones get 413 too_large.
	// Default DefaultMaxBodyBytes (16 MiB). The fiber app's own BodyLimit
	// must be at least this.
	MaxBodyBytes int
	// MaxInflightBodyBytes bounds the request bodies being handled at once
	// (their copies, diffs and decoding cost memory and CPU in proportion):
	// a request whose body would take the total over it, while others are in
	// progress, gets 429 rate_limited at once (retry later). At least
	// MaxBodyBytes, so that any one body that fits is always served. Default
	// DefaultMaxInflightBodyBytes.
	MaxInflightBodyBytes int
	// MaxPayloadBytes is the Engine.IO payload limit of the sio server
	// (enforced there), reported by GET /api/limits. Default
	// DefaultMaxPayloadBytes.
	MaxPayloadBytes int
	// OpsPageBytes is the byte budget of one GET /ops page (see getOps).
	// Default DefaultOpsPageBytes.
	OpsPageBytes int
	// RequestTimeout bounds each hub call made by a REST request or a
	// Socket.IO event, except a doc:op's: its ack is sent by the document
	// once the op is durable, however long that takes. Default 30s.
	RequestTimeout time.Duration
	// Auth authenticates clients (Socket.IO: the CONNECT payload's
	// auth.token, refused with connect_error "unauthorized"; REST: the
	// Authorization: Bearer header, 401) and authorizes each event and
	// request against its document (403 forbidden). nil means no checks at
	// all, as auth's Open mode. The presence user's id is the token's
	// subject (else the socket id); its name and color come from the token
	// when it has them, else from auth.name and auth.color.
	Auth *auth.Authenticator
	// OnError, when set, is called with the code of every error answered to
	// a client (REST or ack), for metrics.
	OnError func(code string)
	// Logger receives boundary logs (internal errors). Default slog.Default().
	Logger *slog.Logger
	// Health, when set, is asked by /readyz: a non-nil error makes it
	// answer 503 {"status":"unavailable","reason":...} (for example the
	// storage's Err while the disk is full).
	Health func() error
	// Backup writes a consistent copy of the whole database to w and
	// returns the bytes written (storage.DB.Backup); it serves
	// GET /api/admin/backup (auth.Admin). nil: that route answers 404.
	Backup func(ctx context.Context, w io.Writer) (int64, error)
	// Feed serves GET /api/docs/{id}/events (events.go); it must be the
	// hub's Broadcaster (NewFeed wrapping NewBroadcaster). nil: that route
	// answers 404.
	Feed *Feed
	// BackupDir is where a backup is copied before it is sent (see
	// API.backup), so that a slow client does not hold the database's read
	// transaction. Default os.TempDir(); main uses the data directory.
	BackupDir string
	// BackupStallTimeout aborts a backup download when the client has
	// taken no data for this long. Default DefaultBackupStallTimeout.
	BackupStallTimeout time.Duration
	// Ready, when set, is asked by /readyz: an error answers 503 (cluster
	// mode: NATS is unreachable). nil: ready unless draining.
	Ready func() error

	// Share links and token refresh (share.go, refresh.go, expiry.go).

	// Shares keeps share links and their revocations; nil: the share
	// routes answer 404 (cluster mode).
	Shares ShareStore
	// MaxShareTTL bounds a share link's lifetime. Default
	// DefaultMaxShareTTL.
	MaxShareTTL time.Duration
	// PublicURL, when set, is the base of share links' URLs; default the
	// request's scheme and host.
	PublicURL string
	// RefreshGrace is how long a socket whose token expired or was revoked
	// stays connected (read-only, out of its documents) for an
	// auth:refresh. Default DefaultRefreshGrace; negative: none, the
	// socket is disconnected when its token lapses.
	RefreshGrace time.Duration
	// MaxDiffWork bounds the diff, blame and export (html, jsonl) work in
	// progress over all requests, in bytes of the documents' content (a
	// diff counts twice: two contents): a request that would take it over,
	// while others are in progress, gets 429 rate_limited with Retry-After
	// at once. Default DefaultMaxDiffWork.
	MaxDiffWork int
}

// API is the edge between the wire (REST over fiber, Socket.IO over sio) and
// the document engine (collab.Hub). Create it with New, then call Register.
type API struct {
	hub      collab.Engine
	opts     Options
	log      *slog.Logger
	draining atomic.Bool
	inflight atomic.Int64 // bytes of request bodies being handled (limitBody)
	diffWork atomic.Int64 // bytes of diff, blame and export work in progress (reserveDiffWork)

	ctx    context.Context // canceled by Close: aborts hub calls of events
	cancel context.CancelFunc
	wg     sync.WaitGroup // event workers (mailboxes)

	links linkSockets // open sockets by share link id (refresh.go)

	mu     sync.Mutex // guards the fields below
	closed bool       // Close started: no new workers
}

// New returns the API serving hub. When io is not nil, the Socket.IO event
// handlers are installed on its main namespace; the hub's Broadcaster should
// be NewBroadcaster(io). Call Register to add the HTTP routes.
func New(hub collab.Engine, io *sio.Server, opts *Options) *API {
	o := opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	a := &API{hub: hub, opts: o, log: o.Logger, ctx: ctx, cancel: cancel}
	if io != nil {
		a.registerSocket(io.Of("/"))
		io.Of("/").OnConnection(a.watchAuth)
	}
	return a
}

// Close aborts the hub calls of Socket.IO events still running, the backup
// copies and downloads in progress, and waits for the event workers and
// the copies to finish. Call it after closing the sio server and
// before closing the hub. It is idempotent.
func (a *API) Close() {
	a.draining.Store(true)
	a.cancel()
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.wg.Wait()
}

// addWorker accounts for a new mailbox worker; false once Close started
// (the hub is about to close: the work is dropped).
func (a *API) addWorker() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return false
	}
	a.wg.Add(1)
	return true
}

func (o *Options) withDefaults() Options {
	var out Options
	if o != nil {
		out = *o
	}
	if out.MaxBodyBytes <= 0 {
		out.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if out.MaxInflightBodyBytes <= 0 {
		out.MaxInflightBodyBytes = DefaultMaxInflightBodyBytes
	}
	out.MaxInflightBodyBytes = max(out.MaxInflightBodyBytes, out.MaxBodyBytes)
	if out.MaxDiffWork <= 0 {
		out.MaxDiffWork = DefaultMaxDiffWork
	}
	if out.OpsPageBytes <= 0 {
		out.OpsPageBytes = DefaultOpsPageBytes
	}
	if out.MaxPayloadBytes <= 0 {
		out.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if out.RequestTimeout <= 0 {
		out.RequestTimeout = 30 * time.Second
	}
	if out.Logger == nil {
		out.Logger = slog.Default()
	}
	if out.BackupDir == "" {
		out.BackupDir = os.TempDir()
	}
	if out.MaxShareTTL <= 0 {
		out.MaxShareTTL = DefaultMaxShareTTL
	}
	if out.RefreshGrace == 0 {
		out.RefreshGrace = DefaultRefreshGrace
	}
	if out.BackupStallTimeout <= 0 {
		out.BackupStallTimeout = DefaultBackupStallTimeout
	}
	return out
}

// SetDraining makes /readyz answer 503 from now on; call it when shutdown
// starts so that load balancers stop sending traffic.
func (a *API) SetDraining() { a.draining.Store(true) }

// Register adds the REST routes (/api/...) and the probes (/healthz,
// /readyz) to r.
func (a *API) Register(r fiber.Router) { a.registerREST(r) }
