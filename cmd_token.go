package main

// The "token" and "healthcheck" subcommands. main dispatches to them:
//
//	case "token":       os.Exit(runTokenCommand(os.Args[2:], os.Stdout, os.Stderr))
//	case "healthcheck": os.Exit(runHealthcheckCommand(os.Args[2:], os.Stdout, os.Stderr))
//
// Identifiers here start with "token" or "healthcheck" so that they cannot
// clash with the rest of package main.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cowrite/cowrite/auth"
)

// tokenSecretEnv is read when --secret is not given.
const tokenSecretEnv = "COWRITE_AUTH_SECRET"

// runTokenCommand implements `cowrite token`: it mints an HS256 JWT that a
// server running with --auth-mode token accepts, and prints it on stdout.
// It returns the process exit code: 0 success (or --help), 1 failure, 2
// bad usage.
func runTokenCommand(args []string, stdout, stderr io.Writer) int {
	return tokenRun(args, os.Getenv, stdout, stderr)
}

func tokenRun(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cowrite token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	secret := fs.String("secret", "", "HS256 secret, at least 32 bytes (default: env "+tokenSecretEnv+"; prefer the env, flags show up in ps)")
	sub := fs.String("sub", "", "user id (\"sub\"; default: a random u-XXXXXXXX)")
	name := fs.String("name", "", "display name shown to collaborators")
	color := fs.String("color", "", "presence colour, e.g. #e91e63")
	admin := fs.Bool("admin", false, "admin: owner of every document, may list documents and back up")
	ttl := fs.Duration("ttl", 24*time.Hour, "lifetime of the token")
	docs := map[string]auth.Role{}
	fs.Func("doc", "grant `PATTERN=ROLE` (repeatable); PATTERN is an id, a prefix ending in * or * alone; ROLE is none, viewer, editor or owner", func(s string) error {
		p, r, err := auth.ParseGrant(s)
		if err != nil {
			return err
		}
		docs[p] = r
		return nil
	})
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: cowrite token [flags]\n\nPrints a signed token for a server started with --auth-mode token.\nExample: COWRITE_AUTH_SECRET=... cowrite token --name Ada --doc 'team-*=editor' --doc '*=viewer'\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if code, ok := parseCommandFlags(fs, args, stderr); !ok {
		return code
	}
	if *secret == "" {
		*secret = getenv(tokenSecretEnv)
	}
	if *secret == "" {
		fmt.Fprintf(stderr, "cowrite token: no secret: pass --secret or set %s\n", tokenSecretEnv)
		return 2
	}
	if *sub == "" {
		id, err := tokenRandomID()
		if err != nil {
			fmt.Fprintf(stderr, "cowrite token: %v\n", err)
			return 1
		}
		*sub = id
	}
	if len(docs) == 0 && !*admin {
		fmt.Fprintln(stderr, "cowrite token: warning: the token grants no document; add --doc '*=editor' or --admin")
	}
	tok, err := auth.Mint([]byte(*secret), auth.Claims{
		Subject: *sub, Name: *name, Color: *color, Admin: *admin, Docs: docs,
	}, *ttl)
	if err != nil {
		fmt.Fprintf(stderr, "cowrite token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// tokenRandomID returns "u-" and 8 random hex digits.
func tokenRandomID() (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random user id: %w", err)
	}
	return "u-" + hex.EncodeToString(b[:]), nil
}

// runHealthcheckCommand implements `cowrite healthcheck`: it GETs /healthz
// of the server on this host (address from --addr, else COWRITE_ADDR, else
// :3000) and exits 0 when it answers 2xx, 1 otherwise. It exists for
// Docker's HEALTHCHECK in images without a shell or curl.
func runHealthcheckCommand(args []string, stdout, stderr io.Writer) int {
	return healthcheckRun(args, os.Getenv, stdout, stderr)
}

func healthcheckRun(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cowrite healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := getenv("COWRITE_ADDR")
	if def == "" {
		def = ":3000"
	}
	addr := fs.String("addr", def, "the server's listen address (env COWRITE_ADDR), or a base URL")
	path := fs.String("path", "/healthz", "path to probe")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if code, ok := parseCommandFlags(fs, args, stderr); !ok {
		return code
	}
	base, err := healthcheckBaseURL(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "cowrite healthcheck: %v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+*path, nil)
	if err != nil {
		fmt.Fprintf(stderr, "cowrite healthcheck: %v\n", err)
		return 2
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "cowrite healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "cowrite healthcheck: %s answered %s\n", req.URL, resp.Status)
		return 1
	}
	fmt.Fprintf(stdout, "ok %s\n", req.URL)
	return 0
}

// healthcheckBaseURL turns a listen address into a URL that reaches it from
// this host: ":3000" and "0.0.0.0:3000" become http://127.0.0.1:3000,
// "[::]:3000" becomes http://[::1]:3000; a value with a scheme is kept.
func healthcheckBaseURL(addr string) (string, error) {
	if strings.HasPrefix(addr, "http://") || strings.HasPrefix(addr, "https://") {
		return strings.TrimSuffix(addr, "/"), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("bad address %q: %w", addr, err)
	}
	if port == "" {
		return "", fmt.Errorf("bad address %q: no port", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}
