// Command cowrite is a self-hosted backend for editing documents together in
// real time: Socket.IO for live editing, a REST API, and a browser editor.
//
// With no arguments it serves everything on :3000 and keeps its data in ./data.
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/gofiber/fiber/v2"
)

func main() {
	fs := flag.NewFlagSet("cowrite", flag.ExitOnError)
	addr := fs.String("addr", envOr("COWRITE_ADDR", ":3000"), "listen address (env COWRITE_ADDR)")
	data := fs.String("data", envOr("COWRITE_DATA", "./data"), "data directory (env COWRITE_DATA)")
	_ = fs.Parse(os.Args[1:])

	if err := os.MkdirAll(*data, 0o750); err != nil {
		fmt.Fprintf(os.Stderr, "cowrite: cannot create data directory %s: %v\n", *data, err)
		os.Exit(1)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	slog.Info("listening", "addr", *addr, "data", *data)
	if err := app.Listen(*addr); err != nil {
		fmt.Fprintf(os.Stderr, "cowrite: %v\n", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
