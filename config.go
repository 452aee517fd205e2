package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/cowrite/cowrite/auth"
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
	fs.IntVar(&c.MaxBody, "max-body", 16<<20, "largest REST request body in bytes (larger gets 413)")
	fs.IntVar(&c.MaxPayload, "max-payload", 1_000_000, "largest Engine.IO payload in bytes (Socket.IO messages)")
	fs.IntVar(&c.MaxOpBytes, "max-op-bytes", 256<<10, "largest op in bytes of JSON (larger gets too_large)")
	fs.IntVar(&c.MaxDocBytes, "max-doc-bytes", 10<<20, "largest document content in bytes of UTF-8 (larger gets too_large)")
	fs.Float64Var(&c.OpsPerSecond, "ops-per-second", 100, "ops per second per client and document, burst twice that (negative = unlimited)")
	fs.IntVar(&c.MaxCollabs, "max-collaborators", 100, "joined sessions per document")
	fs.IntVar(&c.SnapshotEvery, "snapshot-every", 100, "store a snapshot of a document every this many ops")
	fs.IntVar(&c.HistoryOps, "history-ops", 1000, "committed ops kept in memory per open document (transform and catch-up)")
	fs.IntVar(&c.Retention, "retention", 0, "ops kept on disk before a document's newest snapshot (0 = keep every op)")
	fs.DurationVar(&c.IdleUnload, "idle-unload", time.Minute, "unload a document from memory after it has no collaborators for this long")
	fs.BoolVar(&c.NoAutoCreate, "no-auto-create", false, "doc:join of a missing document fails with not_found instead of creating it")
	fs.DurationVar(&c.PingInterval, "ping-interval", 25*time.Second, "Engine.IO ping interval")
	fs.DurationVar(&c.PingTimeout, "ping-timeout", 20*time.Second, "Engine.IO ping timeout")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 10*time.Second, "how long a graceful shutdown (SIGTERM/SIGINT) may take")
	fs.StringVar(&c.AuthMode, "auth-mode", "open", "authentication: open (no checks; local use only) or token (HS256 JWT required, see \"cowrite token --help\")")
	fs.StringVar(&c.AuthSecret, "auth-secret", "", "HS256 secret of --auth-mode token, at least 32 bytes (prefer the environment: flags show up in ps)")
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
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: cowrite [flags]\n       cowrite token [flags]        mint an access token (--help for its flags)\n       cowrite healthcheck [flags]  probe a running server\n\n")
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
	return auth.New(&auth.Options{Mode: mode, Secret: []byte(c.AuthSecret), Leeway: 30 * time.Second})
}

// corsOrigins splits --cors-origins.
func (c *config) corsOrigins() []string {
	var out []string
	for _, o := range strings.Split(c.CORSOrigins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			out = append(out, o)
		}
	}
	return out
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
