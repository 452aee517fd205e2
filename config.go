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
	"github.com/cowrite/cowrite/netguard"
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

	// Network and request guards (issue 17: netguard, api.Guard, auth, backup).
	MaxConnections     int
	ReadTimeout        time.Duration
	IdleTimeout        time.Duration
	MaxHeaderBytes     int
	AllowedHosts       string
	PublicURL          string
	AuthLeeway         time.Duration
	BackupStallTimeout time.Duration
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
	// Network and request guards (issue 17).
	fs.IntVar(&c.MaxConnections, "max-connections", netguard.DefaultMaxConns, "open TCP connections at most (WebSockets included); more are answered 503 and closed; lowered to fit the open-file limit")
	fs.DurationVar(&c.ReadTimeout, "read-timeout", netguard.DefaultReadTimeout, "time a client has to send a whole request (headers and body) once the server starts reading it, including the wait for a new connection's first byte")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", netguard.DefaultIdleTimeout, "how long a keep-alive connection may wait for its next request")
	fs.IntVar(&c.MaxHeaderBytes, "max-header-bytes", netguard.DefaultMaxHeaderBytes, "largest request line and headers in bytes (larger gets 431 too_large)")
	fs.StringVar(&c.AllowedHosts, "allowed-hosts", "", "comma-separated host names the server answers to in the Host header besides IP addresses and localhost (\".example.com\" = that domain and its subdomains, \"*\" = any: no DNS-rebinding protection)")
	fs.StringVar(&c.PublicURL, "public-url", "", "the URL browsers use to reach the server, e.g. https://docs.example.com (its host is allowed, its origin may write)")
	fs.DurationVar(&c.AuthLeeway, "auth-leeway", auth.DefaultLeeway, "clock skew tolerated on token exp/nbf/iat; a live socket is disconnected this long after its token's exp")
	fs.DurationVar(&c.BackupStallTimeout, "backup-stall-timeout", api.DefaultBackupStallTimeout, "abort a backup download when the client has taken no data for this long")
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
	check(c.MaxConnections != 0, "--max-connections must not be 0 (use a negative value for no cap)")
	check(c.ReadTimeout > 0, "--read-timeout must be positive")
	check(c.IdleTimeout > 0, "--idle-timeout must be positive")
	check(c.MaxHeaderBytes >= 1024, "--max-header-bytes must be at least 1024")
	check(c.AuthLeeway >= 0, "--auth-leeway must not be negative")
	check(c.BackupStallTimeout > 0, "--backup-stall-timeout must be positive")
	_, err = c.guard(nil)
	check(err == nil, "%v", err)
	mode, err := auth.ParseMode(c.AuthMode)
	check(err == nil, "--auth-mode must be open or token, got %q", c.AuthMode)
	check(mode != auth.Token || len(c.AuthSecret) >= auth.MinSecretLen, "--auth-mode token needs --auth-secret (or COWRITE_AUTH_SECRET) of at least %d bytes", auth.MinSecretLen)
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
