package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/cluster"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/netguard"
	"github.com/cowrite/cowrite/sio"
	"github.com/cowrite/cowrite/sio/engine"
	"github.com/cowrite/cowrite/storage"
	"github.com/cowrite/cowrite/webhook"
)

// config is everything main reads from flags and the environment. Every
// flag --some-name has the environment variable COWRITE_SOME_NAME; a flag
// given on the command line wins over the environment.
type config struct {
	Addr            string
	Data            string
	CORSOrigins     string
	LogLevel        string
	LogFormat       string
	MaxBody         int
	MaxInflightBody int
	MaxPayload      int
	MaxOpBytes      int
	MaxDocBytes     int
	OpsPerSecond    float64
	MaxCollabs      int
	SnapshotEvery   int
	HistoryOps      int
	Retention       int
	IdleUnload      time.Duration
	NoAutoCreate    bool
	PingInterval    time.Duration
	PingTimeout     time.Duration
	ShutdownTimeout time.Duration
	AuthMode        string
	AuthSecret      string
	Core            coreConfig    // storage and document engine bounds
	History         historyConfig // history routes' budgets (area: history)

	// Engine.IO/Socket.IO session limits (sio/engine).
	MaxSessions      int
	MaxQueuedPackets int
	MaxQueuedBytes   int64
	MaxQueuedTotal   int64 // --max-queued-bytes-total: the global budget of every session's queue
	ConnectTimeout   time.Duration

	// Limits of the document engine and the edge (apicore; GET /api/limits).
	MaxTitleBytes      int
	MaxClientIDBytes   int
	MaxSelectionRanges int

	// Integration: change feed and webhooks (integ.go, api/events.go, webhook/).
	EventsHeartbeat  time.Duration
	MaxEventStreams  int
	WebhookURL       string
	WebhookSecret    string
	WebhookDebounce  time.Duration
	WebhookTimeout   time.Duration
	WebhookMaxEvents int
	WebhookMaxBytes  int64
	WebhookMaxAge    time.Duration
	WebhookParallel  int
	MaxJoinsPerIdent int
	MaxDocsPerSocket int
	EditorReserve    int
	OpsPageBytes     int

	// Network and request guards (issue 17: netguard, api.Guard, auth, backup).
	MaxConnections     int
	ReadTimeout        time.Duration
	IdleTimeout        time.Duration
	MaxHeaderBytes     int
	AllowedHosts       string
	PublicURL          string
	AuthLeeway         time.Duration
	BackupStallTimeout time.Duration

	// Share links and token refresh (api/share.go, api/refresh.go; shares.go).
	MaxShareTTL      time.Duration
	AuthRefreshGrace time.Duration

	// Cluster mode (SPEC.md section 7, package cluster; run_cluster.go).
	Cluster         string
	NodeID          string
	Advertise       string
	ClusterReplicas int
	ClusterStreams  int
	ClusterTimeout  time.Duration
	ClusterEmbedded bool
	ClusterPeers    string
	ClusterRoute    string
	ClusterSync     string
	ClusterGrace    time.Duration // --cluster-nats-grace
}

// envName maps a flag name onto its environment variable.
func envName(flagName string) string {
	return "COWRITE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseConfig parses args (without the program name) with getenv as the
// environment. It returns flag.ErrHelp after printing the usage for -h/--help.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("cowrite", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&c.Addr, "addr", ":3000", "listen address (host:port)")
	fs.StringVar(&c.Data, "data", "./data", "data directory; the database is <data>/cowrite.db")
	fs.StringVar(&c.CORSOrigins, "cors-origins", "", "comma-separated origins allowed to call the API and Socket.IO from a browser (\"*\" = any; empty = same origin only)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.IntVar(&c.MaxBody, "max-body", api.DefaultMaxBodyBytes, "largest REST request body in bytes (larger gets 413)")
	fs.IntVar(&c.MaxInflightBody, "max-inflight-body", api.DefaultMaxInflightBodyBytes, "bytes of REST request bodies handled at once; one more while others run gets 429 (at least --max-body)")
	fs.IntVar(&c.MaxPayload, "max-payload", api.DefaultMaxPayloadBytes, "largest Engine.IO payload in bytes (Socket.IO messages)")
	fs.IntVar(&c.MaxOpBytes, "max-op-bytes", collab.DefaultMaxOpBytes, "largest op in bytes of JSON (larger gets too_large)")
	fs.IntVar(&c.MaxDocBytes, "max-doc-bytes", collab.DefaultMaxDocBytes, "largest document content in bytes of UTF-8 (larger gets too_large)")
	fs.Float64Var(&c.OpsPerSecond, "ops-per-second", collab.DefaultOpsPerSecond, "ops per second per client and document, burst twice that (negative = unlimited)")
	fs.IntVar(&c.MaxCollabs, "max-collaborators", collab.DefaultMaxCollaborators, "joined sessions per document")
	fs.IntVar(&c.SnapshotEvery, "snapshot-every", 100, "store a snapshot of a document every this many ops")
	fs.IntVar(&c.HistoryOps, "history-ops", collab.DefaultHistoryOps, "committed ops kept in memory per open document (transform and catch-up)")
	fs.IntVar(&c.Retention, "retention", 0, "ops kept on disk before a document's newest snapshot (0 = keep every op)")
	fs.DurationVar(&c.IdleUnload, "idle-unload", time.Minute, "unload a document from memory after it has no collaborators for this long")
	fs.BoolVar(&c.NoAutoCreate, "no-auto-create", false, "doc:join of a missing document fails with not_found instead of creating it")
	fs.DurationVar(&c.PingInterval, "ping-interval", 25*time.Second, "Engine.IO ping interval")
	fs.DurationVar(&c.PingTimeout, "ping-timeout", 20*time.Second, "Engine.IO ping timeout")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown (SIGTERM/SIGINT) may take")
	fs.StringVar(&c.AuthMode, "auth-mode", "open", "authentication: open (no checks; local use only) or token (HS256 JWT required, see \"cowrite token --help\")")
	fs.StringVar(&c.AuthSecret, "auth-secret", "", "HS256 secret of --auth-mode token, at least 32 bytes (prefer the environment: flags show up in ps)")
	c.Core.register(fs)
	c.History.register(fs)
	// Engine.IO/Socket.IO session limits (sio/engine).
	fs.IntVar(&c.MaxSessions, "max-sessions", engine.DefaultMaxSessions, "open Engine.IO sessions (sockets' connections); a handshake beyond gets 503 (negative = no cap)")
	fs.IntVar(&c.MaxQueuedPackets, "max-queued-packets", engine.DefaultMaxQueue, "packets queued for one slow client before it is disconnected (slow consumer)")
	fs.Int64Var(&c.MaxQueuedBytes, "max-queued-bytes", engine.DefaultMaxQueuedBytes, "bytes of messages queued for one slow client before it is disconnected (slow consumer; one larger message still goes through an empty queue)")
	fs.Int64Var(&c.MaxQueuedTotal, "max-queued-bytes-total", engine.DefaultMaxQueuedBytesTotal, "bytes of messages queued for all clients together; a client whose message would go past it while its own queue holds data is disconnected (slow consumer; negative = no global budget)")
	fs.DurationVar(&c.ConnectTimeout, "connect-timeout", sio.DefaultConnectTimeout, "close a session that has not completed its Socket.IO connect within this time")

	// Limits of the document engine and the edge (apicore; GET /api/limits).
	fs.IntVar(&c.MaxTitleBytes, "max-title-bytes", collab.DefaultMaxTitleBytes, "longest document title in bytes of UTF-8 (longer gets bad_request)")
	fs.IntVar(&c.MaxClientIDBytes, "max-client-id-bytes", collab.DefaultMaxClientIDBytes, "longest client id of doc:join, doc:op and POST ops in bytes (longer gets bad_request)")
	fs.IntVar(&c.MaxSelectionRanges, "max-selection-ranges", collab.DefaultMaxSelectionRanges, "most ranges in one doc:presence selection (more gets bad_request)")
	// Integration: change feed and webhooks.
	fs.DurationVar(&c.EventsHeartbeat, "events-heartbeat", api.DefaultEventsHeartbeat, "interval of the heartbeat comment on idle change-feed streams (GET /api/docs/{id}/events)")
	fs.IntVar(&c.MaxEventStreams, "max-event-streams", api.DefaultMaxEventStreams, "change-feed streams open at once (one more gets 429)")
	fs.StringVar(&c.WebhookURL, "webhook-url", "", "POST webhook events (doc.created, doc.updated, doc.deleted, version.created) to this http(s) URL; empty = no webhooks")
	fs.StringVar(&c.WebhookSecret, "webhook-secret", "", "HMAC-SHA256 key of the Cowrite-Signature header (prefer the environment)")
	fs.DurationVar(&c.WebhookDebounce, "webhook-debounce", webhook.DefaultDebounce, "at most one doc.updated per document per this interval")
	fs.DurationVar(&c.WebhookTimeout, "webhook-timeout", webhook.DefaultTimeout, "time a receiver has to answer one delivery")
	fs.IntVar(&c.WebhookMaxEvents, "webhook-max-events", storage.DefaultOutboxMaxEvents, "events kept in the outbox while undelivered; beyond, the oldest are dropped")
	fs.Int64Var(&c.WebhookMaxBytes, "webhook-max-bytes", storage.DefaultOutboxMaxBytes, "bytes of events kept in the outbox while undelivered; beyond, the oldest are dropped")
	fs.DurationVar(&c.WebhookMaxAge, "webhook-max-age", webhook.DefaultMaxAge, "give up an event not delivered within this time")
	fs.IntVar(&c.WebhookParallel, "webhook-concurrency", webhook.DefaultConcurrency, "documents whose events are delivered at once")
	fs.IntVar(&c.MaxDocsPerSocket, "max-docs-per-socket", collab.DefaultMaxDocsPerSocket, "documents one connection may have joined at once (one more gets rate_limited, before it is loaded or created)")
	fs.IntVar(&c.MaxJoinsPerIdent, "max-joins-per-identity", collab.DefaultMaxJoinsPerIdentity, "connections of one user (token subject) joined to one document (more get rate_limited)")
	fs.IntVar(&c.EditorReserve, "editor-reserve", collab.DefaultEditorReserve, "places of --max-collaborators that viewers cannot take (at most half)")
	fs.IntVar(&c.OpsPageBytes, "ops-page-bytes", api.DefaultOpsPageBytes, "byte budget of one GET /api/docs/{id}/ops page (at least one op is always sent)")
	// Network and request guards (issue 17).
	fs.IntVar(&c.MaxConnections, "max-connections", netguard.DefaultMaxConns, "open TCP connections at most (WebSockets included); more are answered 503 and closed; lowered to fit the open-file limit")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", netguard.DefaultReadTimeout, "time a client has to send a whole request (headers and body) once the server starts reading it, including the wait for a new connection's first byte")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", netguard.DefaultIdleTimeout, "how long a keep-alive connection may wait for its next request")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", netguard.DefaultMaxHeaderBytes, "largest request line and headers in bytes (larger gets 431 too_large)")
	fs.StringVar(&c.AllowedHosts, "allowed-hosts", "", "comma-separated host names the server answers to in the Host header besides IP addresses and localhost (\".example.com\" = that domain and its subdomains, \"*\" = any: no DNS-rebinding protection)")
	fs.StringVar(&c.PublicURL, "public-url", "", "the URL browsers use to reach the server, e.g. https://docs.example.com (its host is allowed, its origin may write)")
	fs.DurationVar(&c.AuthLeeway, "auth-leeway", auth.DefaultLeeway, "clock skew tolerated on token exp/nbf/iat; a live socket's token lapses this long after its exp (see --auth-refresh-grace)")
	fs.DurationVar(&c.BackupStallTimeout, "backup-stall-timeout", api.DefaultBackupStallTimeout, "abort a backup download when the client has taken no data for this long")
	// Share links and token refresh (api/share.go, api/refresh.go; shares.go).
	fs.DurationVar(&c.MaxShareTTL, "max-share-ttl", api.DefaultMaxShareTTL, "longest lifetime of a share link (POST /api/docs/{id}/share; token mode)")
	fs.DurationVar(&c.AuthRefreshGrace, "auth-refresh-grace", api.DefaultRefreshGrace, "how long a socket whose token expired or was revoked stays connected, read-only, waiting for auth:refresh (0: disconnect at once)")
	// Cluster mode (SPEC.md section 7, package cluster; run_cluster.go).
	fs.StringVar(&c.Cluster, "cluster", "", "comma-separated NATS URLs (nats://host:4222,...); turns cluster mode on (JetStream instead of --data's bbolt file)")
	fs.StringVar(&c.NodeID, "node-id", "", "cluster mode: this node's unique, stable name (default: the hostname)")
	fs.StringVar(&c.Advertise, "advertise", "", "cluster mode: the base URL other nodes reach this one at (default: derived from --addr)")
	fs.IntVar(&c.ClusterReplicas, "cluster-replicas", 3, "cluster mode: JetStream replicas of every stream and bucket")
	fs.IntVar(&c.ClusterStreams, "cluster-op-streams", 3, "cluster mode: number of op streams (the same on every node)")
	fs.DurationVar(&c.ClusterTimeout, "cluster-connect-timeout", 30*time.Second, "cluster mode: how long to wait for NATS and JetStream at start")
	fs.BoolVar(&c.ClusterEmbedded, "cluster-embedded", false, "cluster mode: run a nats-server with JetStream inside this process (data in <data>/nats), routed to --cluster-peers")
	fs.StringVar(&c.ClusterPeers, "cluster-peers", "", "cluster mode with --cluster-embedded: comma-separated host:port route addresses of every embedded server (this one included)")
	fs.StringVar(&c.ClusterRoute, "cluster-route", ":6222", "cluster mode with --cluster-embedded: the route listen address of this node's nats-server")
	fs.StringVar(&c.ClusterSync, "cluster-sync", "default", "cluster mode with --cluster-embedded: JetStream fsync: default (every 2 min), durable (every 1 s) or strict (every write)")
	fs.DurationVar(&c.ClusterGrace, "cluster-nats-grace", cluster.DefaultNATSGrace, "cluster mode: close this node's Socket.IO sessions (clients reconnect to a healthy node) when NATS stays unreachable this long; 0: never")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: cowrite [flags]\n       cowrite token [flags]        mint an access token (--help for its flags)\n       cowrite healthcheck [flags]  probe a running server\n       cowrite check [flags]        verify a data file offline (--help)\n       cowrite cluster import|export  move a single-node database into a cluster and back (--help)\n       cowrite --version            print version, commit and build date\n\n")
		fmt.Fprintf(out, "Cowrite serves real-time collaborative text editing (Socket.IO at /socket.io/,\nREST at /api, the editor at /). Every flag can also be set with the environment\nvariable shown; a flag on the command line wins.\n\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(out, "  --%s (env %s)\n    \t%s (default %q)\n", f.Name, envName(f.Name), f.Usage, f.DefValue)
		})
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] {
			return
		}
		if v := getenv(envName(f.Name)); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("invalid %s=%q: %v", envName(f.Name), v, err))
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, c.validate()
}

func (c *config) validate() error {
	var errs []error
	check := func(ok bool, format string, args ...any) {
		if !ok {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(c.Addr != "", "--addr must not be empty")
	check(c.Data != "", "--data must not be empty")
	_, err := c.level()
	check(err == nil, "--log-level must be debug, info, warn or error, got %q", c.LogLevel)
	check(c.LogFormat == "text" || c.LogFormat == "json", "--log-format must be text or json, got %q", c.LogFormat)
	check(c.MaxBody > 0, "--max-body must be positive")
	check(c.MaxInflightBody > 0, "--max-inflight-body must be positive")
	check(c.MaxPayload > 0, "--max-payload must be positive")
	check(c.MaxOpBytes > 0, "--max-op-bytes must be positive")
	check(c.MaxDocBytes > 0, "--max-doc-bytes must be positive")
	check(c.OpsPerSecond != 0, "--ops-per-second must not be 0 (use a negative value for unlimited)")
	check(c.MaxCollabs > 0, "--max-collaborators must be positive")
	check(c.SnapshotEvery > 0, "--snapshot-every must be positive")
	check(c.HistoryOps > 0, "--history-ops must be positive")
	check(c.Retention >= 0, "--retention must not be negative")
	check(c.IdleUnload > 0, "--idle-unload must be positive")
	check(c.PingInterval > 0, "--ping-interval must be positive")
	check(c.PingTimeout > 0, "--ping-timeout must be positive")
	check(c.ShutdownTimeout > 0, "--shutdown-timeout must be positive")
	c.Core.validate(check)
	c.History.validate(check)
	// Engine.IO/Socket.IO session limits (sio/engine).
	check(c.MaxSessions != 0, "--max-sessions must not be 0 (use a negative value for no cap)")
	check(c.MaxQueuedPackets > 0, "--max-queued-packets must be positive")
	check(c.MaxQueuedBytes > 0, "--max-queued-bytes must be positive")
	check(c.MaxQueuedTotal != 0, "--max-queued-bytes-total must not be 0 (use a negative value for no global budget)")
	check(c.ConnectTimeout > 0, "--connect-timeout must be positive")
	// Limits of the document engine and the edge (apicore).
	check(c.MaxTitleBytes > 0, "--max-title-bytes must be positive")
	check(c.MaxClientIDBytes > 0, "--max-client-id-bytes must be positive")
	check(c.MaxSelectionRanges > 0, "--max-selection-ranges must be positive")
	check(c.EventsHeartbeat > 0, "--events-heartbeat must be positive")
	check(c.MaxEventStreams > 0, "--max-event-streams must be positive")
	if c.WebhookURL != "" {
		err := webhook.ValidateURL(c.WebhookURL)
		check(err == nil, "--webhook-url: %v", err)
	}
	check(c.WebhookDebounce > 0, "--webhook-debounce must be positive")
	check(c.WebhookTimeout > 0, "--webhook-timeout must be positive")
	check(c.WebhookMaxEvents > 0, "--webhook-max-events must be positive")
	check(c.WebhookMaxBytes > 0, "--webhook-max-bytes must be positive")
	check(c.WebhookMaxAge > 0, "--webhook-max-age must be positive")
	check(c.WebhookParallel > 0, "--webhook-concurrency must be positive")
	check(c.MaxJoinsPerIdent > 0, "--max-joins-per-identity must be positive")
	check(c.MaxDocsPerSocket > 0, "--max-docs-per-socket must be positive")
	check(c.EditorReserve > 0, "--editor-reserve must be positive")
	check(c.OpsPageBytes > 0, "--ops-page-bytes must be positive")
	check(c.MaxConnections != 0, "--max-connections must not be 0 (use a negative value for no cap)")
	check(c.ReadTimeout > 0, "--read-timeout must be positive")
	check(c.IdleTimeout > 0, "--idle-timeout must be positive")
	check(c.MaxHeaderBytes >= 1024, "--max-header-bytes must be at least 1024")
	check(c.AuthLeeway >= 0, "--auth-leeway must not be negative")
	check(c.BackupStallTimeout > 0, "--backup-stall-timeout must be positive")
	check(c.MaxShareTTL >= time.Minute, "--max-share-ttl must be at least 1m")
	check(c.AuthRefreshGrace >= 0, "--auth-refresh-grace must not be negative")
	_, err = c.guard(nil)
	check(err == nil, "%v", err)
	mode, err := auth.ParseMode(c.AuthMode)
	check(err == nil, "--auth-mode must be open or token, got %q", c.AuthMode)
	check(mode != auth.Token || len(c.AuthSecret) >= auth.MinSecretLen, "--auth-mode token needs --auth-secret (or COWRITE_AUTH_SECRET) of at least %d bytes", auth.MinSecretLen)
	errs = append(errs, c.validateCluster()...)
	return errors.Join(errs...)
}

func (c *config) level() (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(c.LogLevel))
	return l, err
}

// authenticator builds the authenticator of --auth-mode.
func (c *config) authenticator() (*auth.Authenticator, error) {
	mode, err := auth.ParseMode(c.AuthMode)
	if err != nil {
		return nil, err
	}
	return auth.New(&auth.Options{Mode: mode, Secret: []byte(c.AuthSecret), Leeway: c.AuthLeeway})
}

// corsOrigins splits --cors-origins, each origin lowercased as browsers
// send it (api.NormalizeOrigin), so that both the REST API and the engine
// match it exactly; malformed ones are kept as given (validate refuses them).
func (c *config) corsOrigins() []string {
	var out []string
	for _, o := range splitList(c.CORSOrigins) {
		if n, err := api.NormalizeOrigin(o); err == nil {
			o = n
		}
		out = append(out, o)
	}
	return out
}

// splitList splits a comma-separated flag value, dropping empty entries.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// guard builds the request guard of --allowed-hosts, --cors-origins and
// --public-url.
func (c *config) guard(log *slog.Logger) (*api.Guard, error) {
	g, err := api.NewGuard(&api.GuardOptions{
		AllowedHosts: splitList(c.AllowedHosts),
		CORSOrigins:  c.corsOrigins(),
		PublicURL:    strings.TrimSpace(c.PublicURL),
		Logger:       log,
	})
	if err != nil {
		return nil, fmt.Errorf("--allowed-hosts, --cors-origins or --public-url: %w", err)
	}
	return g, nil
}

// logger builds the process logger writing to w.
func (c *config) logger(w io.Writer) *slog.Logger {
	l, _ := c.level()
	ho := &slog.HandlerOptions{Level: l}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// History routes' budgets (area: history — diff, blame, export). Each
// default is the enforcing package's DefaultX constant.
type historyConfig struct {
	MaxDiffWork     int
	BlameCacheBytes int
}

func (c *historyConfig) register(fs *flag.FlagSet) {
	fs.IntVar(&c.MaxDiffWork, "max-diff-work", api.DefaultMaxDiffWork, "bytes of document content the diff, blame and export routes may work on at once over all requests (a diff counts twice); beyond, 429 rate_limited with Retry-After")
	fs.IntVar(&c.BlameCacheBytes, "blame-cache-bytes", collab.DefaultBlameCacheBytes, "memory of the per-document attributions kept between blame and diff requests (least recently used dropped first)")
}

func (c *historyConfig) validate(check func(ok bool, format string, args ...any)) {
	check(c.MaxDiffWork > 0, "--max-diff-work must be positive")
	check(c.BlameCacheBytes > 0, "--blame-cache-bytes must be positive")
}

// Storage and document engine bounds (area: core — storage/collab
// hardening). Each default is the enforcing package's DefaultX constant.
type coreConfig struct {
	HistoryBytes       int
	MaxOpComponents    int
	MaxTransformWork   int
	MaxDiffBytes       int
	DiffTimeout        time.Duration
	DedupeCacheClients int
	DedupeCacheBytes   int
	MaxDedupeClients   int
	MaxDedupeBytes     int
}

func (c *coreConfig) register(fs *flag.FlagSet) {
	fs.IntVar(&c.HistoryBytes, "history-bytes", collab.DefaultHistoryBytes, "op bytes of committed ops kept in memory per open document, next to --history-ops")
	fs.IntVar(&c.MaxOpComponents, "max-op-components", collab.DefaultMaxOpComponents, "most components in one op (more gets too_large)")
	fs.IntVar(&c.MaxTransformWork, "max-transform-work", collab.DefaultMaxTransformWork, "most transform work for one op: its components times those of the ops since its base (more gets version_too_old)")
	fs.IntVar(&c.MaxDiffBytes, "max-diff-bytes", collab.DefaultMaxDiffBytes, "largest changed middle (old plus new bytes) PUT content diffs; a larger one is replaced whole")
	fs.DurationVar(&c.DiffTimeout, "diff-timeout", collab.DefaultDiffTimeout, "time one PUT content diff may take (then the rest is replaced whole)")
	fs.IntVar(&c.DedupeCacheClients, "dedupe-cache-clients", collab.DefaultMaxDedupeClients, "dedupe entries (client id -> last seq) cached in memory per open document")
	fs.IntVar(&c.DedupeCacheBytes, "dedupe-cache-bytes", collab.DefaultMaxDedupeBytes, "bytes of dedupe entries cached in memory per open document")
	fs.IntVar(&c.MaxDedupeClients, "max-dedupe-clients", storage.DefaultMaxDedupeClients, "dedupe entries stored per document; the oldest are dropped (a resend older than them is refused, never applied twice); with --retention, entries of ops still kept are never dropped")
	fs.IntVar(&c.MaxDedupeBytes, "max-dedupe-bytes", storage.DefaultMaxDedupeBytes, "bytes of dedupe entries stored per document (client ids plus 16 each)")
}

func (c *coreConfig) validate(check func(ok bool, format string, args ...any)) {
	check(c.HistoryBytes > 0, "--history-bytes must be positive")
	check(c.MaxOpComponents > 0, "--max-op-components must be positive")
	check(c.MaxTransformWork > 0, "--max-transform-work must be positive")
	check(c.MaxDiffBytes > 0, "--max-diff-bytes must be positive")
	check(c.DiffTimeout > 0, "--diff-timeout must be positive")
	check(c.DedupeCacheClients > 0, "--dedupe-cache-clients must be positive")
	check(c.DedupeCacheBytes > 0, "--dedupe-cache-bytes must be positive")
	check(c.MaxDedupeClients > 0, "--max-dedupe-clients must be positive")
	check(c.MaxDedupeBytes > 0, "--max-dedupe-bytes must be positive")
}

// applyStorage and applyCollab copy the bounds into the packages' options.
func (c *coreConfig) applyStorage(o *storage.Options) {
	o.MaxDedupeClients, o.MaxDedupeBytes = c.MaxDedupeClients, c.MaxDedupeBytes
}

func (c *coreConfig) applyCollab(o *collab.Options) {
	o.HistoryBytes, o.MaxOpComponents, o.MaxTransformWork = c.HistoryBytes, c.MaxOpComponents, c.MaxTransformWork
	o.MaxDiffBytes, o.DiffTimeout = c.MaxDiffBytes, c.DiffTimeout
	o.MaxDedupeClients, o.MaxDedupeBytes = c.DedupeCacheClients, c.DedupeCacheBytes
}
