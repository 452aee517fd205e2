package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/api/sharestore"
	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/boltstore"
	"github.com/cowrite/cowrite/frontend"
	"github.com/cowrite/cowrite/metrics"
	"github.com/cowrite/cowrite/netguard"
	"github.com/cowrite/cowrite/sio"
	"github.com/cowrite/cowrite/sio/engine"
	"github.com/cowrite/cowrite/storage"
	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/cors"
	"github.com/prometheus/client_golang/prometheus"
)

// run serves until ctx is canceled, then shuts down gracefully within
// cfg.ShutdownTimeout. When ready is not nil, it receives the listening
// address once the server accepts connections (for tests).
func run(ctx context.Context, cfg *config, log *slog.Logger, ready chan<- net.Addr) error {
	if !cfg.clusterMode() || cfg.ClusterEmbedded { // external NATS: no local data
		if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
			return fmt.Errorf("cannot create data directory %s: %w", cfg.Data, err)
		}
	}
	dbPath := filepath.Join(cfg.Data, "cowrite.db")
	var db *storage.DB
	if !cfg.clusterMode() { // cluster mode keeps everything in JetStream
		var err error
		if db, err = openDB(dbPath, cfg, log); err != nil {
			return err
		}
	}
	dbClosed := db == nil
	defer func() {
		if !dbClosed {
			_ = db.Close()
		}
	}()

	guard, err := cfg.guard(log)
	if err != nil {
		return err
	}
	rawLn, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.Addr, err)
	}
	ln := listenGuarded(rawLn, cfg, log)

	authn, err := cfg.authenticator()
	if err != nil {
		return fmt.Errorf("authentication: %w", err)
	}
	m := metrics.New()
	stopWebhooks := func() {}
	switch {
	case db != nil:
		if stopWebhooks, err = startWebhooks(cfg, db, m, log); err != nil { // integ.go
			return err
		}
	case cfg.WebhookURL != "":
		_ = ln.Close()
		return errors.New("--webhook-url is not supported in cluster mode yet (the outbox lives in the single-node data file)")
	}
	defer stopWebhooks()

	io := sio.NewServer(&sio.Options{
		Engine: &engine.Options{
			PingInterval: cfg.PingInterval,
			PingTimeout:  cfg.PingTimeout,
			MaxPayload:   int64(cfg.MaxPayload),
			CORSOrigins:  cfg.corsOrigins(),
			// With no --cors-origins only the server's own pages may open
			// sessions from a browser (WebSockets ignore CORS).
			SameOriginOnly: true,
			SIDPrefix:      cfg.sidPrefix(), // cluster mode: the node's tag
			Logger:         log,
			Observer:       m, // sessions by transport, slow consumers
			// Session limits (sio/engine).
			MaxSessions:    cfg.MaxSessions,
			MaxQueue:       cfg.MaxQueuedPackets,
			MaxQueuedBytes: cfg.MaxQueuedBytes,
			// The global budget of those queues (sio/engine).
			MaxQueuedBytesTotal: cfg.MaxQueuedTotal,
		},
		ConnectTimeout: cfg.ConnectTimeout, // session limits (sio/engine)
		Logger:         log,
		Observer:       m, // sockets (every namespace), rooms, broadcast fan-out
	})
	// The global queue budget's use (sio/engine).
	m.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "cowrite", Name: "engine_queued_bytes",
		Help: "Bytes of messages queued for all Engine.IO sessions (bounded by --max-queued-bytes-total)."},
		func() float64 { return float64(io.Engine().QueuedBytes()) }))
	if db != nil { // the journal's size on disk (storage; bounded by the committer's drain)
		m.Registry().MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "cowrite", Name: "storage_journal_bytes",
			Help: "Bytes of journal records in the data file, not yet deleted after checkpoints."},
			func() float64 { return float64(db.Stats().JournalBytes) }))
	}
	feed := newFeed(cfg, api.NewBroadcaster(io)) // the change feed (integ.go)
	hubOpts := &collab.Options{
		SnapshotEveryOps: cfg.SnapshotEvery,
		MaxOpBytes:       cfg.MaxOpBytes,
		MaxDocBytes:      cfg.MaxDocBytes,
		OpsPerSecond:     cfg.OpsPerSecond,
		MaxCollaborators: cfg.MaxCollabs,
		HistoryOps:       cfg.HistoryOps,
		IdleUnload:       cfg.IdleUnload,
		NoAutoCreate:     cfg.NoAutoCreate,
		Logger:           log,
		Observer:         m,
		// Limits (apicore).
		MaxTitleBytes:       cfg.MaxTitleBytes,
		MaxClientIDBytes:    cfg.MaxClientIDBytes,
		MaxSelectionRanges:  cfg.MaxSelectionRanges,
		MaxJoinsPerIdentity: cfg.MaxJoinsPerIdent,
		MaxDocsPerSocket:    cfg.MaxDocsPerSocket,
		EditorReserve:       cfg.EditorReserve,
	}
	cfg.Core.applyCollab(hubOpts)
	apiOpts := &api.Options{MaxBodyBytes: cfg.MaxBody, MaxInflightBodyBytes: cfg.MaxInflightBody, MaxPayloadBytes: cfg.MaxPayload, OpsPageBytes: cfg.OpsPageBytes, Auth: authn, OnError: m.Error, Logger: log,
		BackupDir: cfg.Data, BackupStallTimeout: cfg.BackupStallTimeout, Feed: feed}
	cfg.shareOptions(apiOpts) // shares.go
	// History budgets (area: history).
	hubOpts.BlameCacheBytes, apiOpts.MaxDiffWork = cfg.History.BlameCacheBytes, cfg.History.MaxDiffWork
	var eng collab.Engine
	var closeEngine func(context.Context) error
	var cl *clusterRuntime
	if cfg.clusterMode() {
		// Cluster mode (SPEC.md section 7; run_cluster.go).
		cl, err = startCluster(ctx, cfg, log, ln.Addr(), feed, hubOpts, m.Registry(), func() {
			log.Warn("NATS unreachable past --cluster-nats-grace: closing Socket.IO sessions", "sessions", io.Engine().CloseSessions())
		})
		if err != nil {
			_ = ln.Close()
			return err
		}
		defer cl.close()
		eng, closeEngine, apiOpts.Ready = cl.node, cl.node.Close, cl.node.Ready
		m.SampleLoadedDocs(cl.node.Hub().LoadedDocs)
		dbPath = "cluster " + cl.node.ID()
	} else {
		hub := collab.NewHub(boltstore.New(db), feed, hubOpts)
		eng, closeEngine, apiOpts.Backup, apiOpts.Health = hub, hub.Close, db.Backup, db.Err
		apiOpts.Shares = sharestore.New(db)
		m.SampleLoadedDocs(hub.LoadedDocs)
	}
	a := api.New(eng, io, apiOpts)

	app := newApp(cfg, log)
	app.Use(m.FiberMiddleware())
	app.Use(guard.Hosts()) // every route: DNS rebinding
	if origins := cfg.corsOrigins(); len(origins) > 0 {
		h, err := corsMiddleware(origins)
		if err != nil {
			_ = ln.Close()
			return err
		}
		app.Use("/api", h)
	}
	app.Use("/api", guard.Writes()) // cross-site writes, after CORS preflights
	app.Get("/metrics", m.FiberHandler())
	frontend.Register(app) // before /socket.io/: it serves /socket.io/socket.io.js
	if !frontend.Built() {
		log.Warn("the browser editor is not built into this binary: / and /d/{id} answer 503 (run `make build`, which needs Node.js and npm, then rebuild); REST and Socket.IO work")
	}
	if cl != nil {
		app.Use("/socket.io/", cl.forwardSessions) // sessions of other nodes
	}
	io.Mount(app, "/socket.io/")
	a.Register(app)

	serveErr := make(chan error, 1)
	go func() { serveErr <- app.Listener(ln) }()
	log.Info("cowrite listening", "addr", ln.Addr().String(), "url", "http://"+displayAddr(ln.Addr()), "data", dbPath, "auth", authn.Mode().String())
	if authn.Mode() == auth.Open {
		log.Warn("authentication is off (--auth-mode open): anyone who can reach the port can read and edit every document")
	}
	if ready != nil {
		ready <- ln.Addr()
	}

	var runErr error
	served := false // serveErr was received
	select {
	case <-ctx.Done():
		log.Info("shutting down", "deadline", cfg.ShutdownTimeout)
	case err := <-serveErr:
		served = true
		runErr = fmt.Errorf("server stopped: %w", err)
	}

	// Shutdown order: stop Socket.IO sessions, stop HTTP, flush documents,
	// close the data file.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	a.SetDraining()
	feed.Close() // ends change-feed streams, which HTTP shutdown waits for
	io.Close()
	if err := app.ShutdownWithContext(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	// A shutdown that comes before the serving goroutine reached Serve does
	// not stop it: closing the listener makes that late Serve return at once.
	_ = ln.Close()
	if !served {
		select {
		case <-serveErr:
		case <-sctx.Done():
		}
	}
	a.Close()
	if err := closeEngine(sctx); err != nil {
		log.Error("closing documents", "err", err)
		runErr = errors.Join(runErr, fmt.Errorf("closing documents: %w", err))
	}
	stopWebhooks()
	if !dbClosed {
		dbClosed = true
		if err := db.Close(); err != nil {
			runErr = errors.Join(runErr, fmt.Errorf("closing data file: %w", err))
		}
	}
	if runErr == nil {
		log.Info("stopped")
	}
	return runErr
}

// openDB opens the single-node database at path.
func openDB(path string, cfg *config, log *slog.Logger) (*storage.DB, error) {
	sopt := &storage.Options{Retention: cfg.Retention, Logger: log}
	cfg.Core.applyStorage(sopt)
	db, err := storage.Open(path, sopt)
	if err != nil {
		switch {
		case errors.Is(err, storage.ErrLocked):
			return nil, fmt.Errorf("data file %s is locked: is another cowrite running on --data %s?", path, cfg.Data)
		case errors.Is(err, storage.ErrCorrupt):
			return nil, fmt.Errorf("data file %s is corrupt (restore it from a backup or move it away): %w", path, err)
		}
		return nil, fmt.Errorf("cannot open data file %s: %w", path, err)
	}
	return db, nil
}

// newApp builds the fiber app: JSON errors, and a body limit large enough
// for both the REST limit (checked by api with a JSON 413) and Engine.IO
// payloads (checked by the engine).
func newApp(cfg *config, log *slog.Logger) *fiber.App {
	limit := max(cfg.MaxBody, cfg.MaxPayload) + 64<<10
	return fiber.New(fiber.Config{
		DisableStartupMessage: true,
		BodyLimit:             limit,
		ReadBufferSize:        cfg.MaxHeaderBytes,
		// The read timeout covers a request's line, headers and body (and a
		// new connection's wait for its first byte); it does not cut a
		// long-poll (the engine's connection watch clears it while the
		// handler waits) nor a WebSocket (fasthttp clears deadlines before
		// the hijack). Responses have no global write timeout: a backup
		// sets its own progress deadline.
		ReadTimeout: cfg.ReadTimeout,
		IdleTimeout: cfg.IdleTimeout,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			code := fiber.StatusInternalServerError
			var fe *fiber.Error
			if errors.As(err, &fe) {
				code = fe.Code
			}
			if code >= 500 {
				log.Error("http error", "method", c.Method(), "path", c.Path(), "err", err)
			}
			return c.Status(code).JSON(fiber.Map{"error": fiber.Map{"code": httpCode(code), "message": err.Error()}})
		},
	})
}

// listenGuarded raises the open-file limit, fits --max-connections into it
// and wraps ln with the connection cap and the accept backoff.
func listenGuarded(ln net.Listener, cfg *config, log *slog.Logger) *netguard.Listener {
	soft, hard, err := netguard.RaiseFileLimit()
	if err != nil {
		log.Warn("cannot raise the open-file limit", "soft", soft, "hard", hard, "err", err)
	}
	maxConns, lowered := netguard.ConnBudget(cfg.MaxConnections, soft)
	if lowered {
		log.Warn("--max-connections lowered to fit the open-file limit (raise it with ulimit -n)", "max_connections", maxConns, "asked", cfg.MaxConnections, "open_file_limit", soft)
	}
	return netguard.Wrap(ln, &netguard.Options{MaxConns: maxConns, Logger: log})
}

// corsMiddleware allows the REST API to be called from the given browser
// origins (Socket.IO has its own CORS handling in the engine).
func corsMiddleware(origins []string) (h fiber.Handler, err error) {
	defer func() {
		if r := recover(); r != nil { // fiber's cors panics on a malformed origin
			err = fmt.Errorf("invalid --cors-origins %q: %v", strings.Join(origins, ","), r)
		}
	}()
	return cors.New(cors.Config{
		AllowOrigins:  strings.Join(origins, ","),
		AllowMethods:  "GET,POST,PUT,PATCH,DELETE,HEAD,OPTIONS",
		AllowHeaders:  "Authorization,Content-Type,If-Match,If-None-Match",
		ExposeHeaders: "ETag,Location",
	}), nil
}

// httpCode names the SPEC.md error code of an HTTP status produced by fiber
// itself (unknown route, method not allowed, body too large).
func httpCode(status int) collab.Code {
	switch status {
	case fiber.StatusNotFound:
		return collab.CodeNotFound
	case fiber.StatusRequestEntityTooLarge, fiber.StatusRequestHeaderFieldsTooLarge:
		return collab.CodeTooLarge
	case fiber.StatusTooManyRequests:
		return collab.CodeRateLimited
	case fiber.StatusUnauthorized:
		return collab.CodeUnauthorized
	case fiber.StatusForbidden:
		return collab.CodeForbidden
	}
	if status >= 500 {
		return collab.CodeInternal
	}
	return collab.CodeBadRequest
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return fmt.Sprintf("localhost:%d", tcp.Port)
}
