// Command cowrite is a self-hosted backend for editing documents together in
// real time: Socket.IO for live editing, a REST API, and a browser editor.
//
// With no arguments it serves everything on :3000 and keeps its data in
// ./data; --help lists every option (each also settable as COWRITE_*).
// Subcommands: "cowrite token" mints an access token for --auth-mode token,
// "cowrite healthcheck" probes a running server (for containers), "cowrite
// check" verifies a data file offline, and "cowrite --version" prints the
// version, commit and build date.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "token":
			os.Exit(runTokenCommand(os.Args[2:], os.Stdout, os.Stderr))
		case "healthcheck":
			os.Exit(runHealthcheckCommand(os.Args[2:], os.Stdout, os.Stderr))
		case "check":
			os.Exit(runCheckCommand(os.Args[2:], os.Stdout, os.Stderr))
		case "cluster": // cmd_cluster.go
			os.Exit(runClusterCommand(os.Args[2:], os.Stdout, os.Stderr))
		case "version", "--version", "-version":
			printVersion(os.Stdout)
			return
		}
	}
	cfg, err := parseConfig(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cowrite: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, cfg.logger(os.Stderr), nil); err != nil {
		fmt.Fprintf(os.Stderr, "cowrite: %v\n", err)
		os.Exit(1)
	}
}
