// Package frontend serves Cowrite's browser editor, embedded in the binary.
//
// The editor is a Vite app (CodeMirror 6 and client-side OT with the npm
// ot-text-unicode package, see src/) built into dist/app, which //go:embed
// includes at compile time. dist/app is not committed: build it with
// `make run`, or `cd frontend && npm ci && npm run build`, and then run
// go build. When it was not built, the binary still compiles and starts, and
// "/" and "/d/{id}" serve a page explaining how to build the editor (with
// status 503, so that a health check of "/" notices).
//
// Register mounts these routes (GET and HEAD):
//
//	/                        the document list (the single-page app)
//	/d/{id}                  the editor for document id (same page; the app routes)
//	/assets/*                Vite's content-hashed files, cached for a year
//	/socket.io/socket.io.js  the official socket.io-client browser bundle
//	                         (also .min.js and .min.js.map), as the Node
//	                         Socket.IO server serves it
//
// Register must be called BEFORE the Socket.IO handler is mounted at
// /socket.io/, so that /socket.io/socket.io.js is answered here and not
// treated as an Engine.IO request.
//
// Concurrency: all files are read once when the package's site is built and
// are immutable afterwards; handlers are safe for concurrent use.
package frontend

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed all:dist
var embedded embed.FS

// The embedded site, built once.
var site = mustSite()

func mustSite() *siteFS {
	sub, err := fs.Sub(embedded, "dist")
	if err != nil {
		panic("frontend: embedded dist missing: " + err.Error()) // cannot happen: dist is embedded
	}
	return newSite(sub)
}

// Register mounts the editor's routes on r (see the package doc). Call it
// before mounting Socket.IO at /socket.io/.
func Register(r fiber.Router) { site.register(r) }

// Built reports whether the editor was built (dist/app/index.html embedded).
// When false, Register serves a page explaining how to build it.
func Built() bool { return site.built }

// file is one preloaded file of the app.
type file struct {
	data  []byte
	ctype string
	etag  string
}

// siteFS serves an app directory tree rooted at "app/" in fsys.
type siteFS struct {
	built bool
	index file
	files map[string]file // path relative to app/ → file
}

const (
	cacheImmutable  = "public, max-age=31536000, immutable"
	cacheRevalidate = "no-cache"
	cacheBundle     = "public, max-age=3600"
	// The app uses inline style attributes (collaborator colours) but no
	// inline scripts.
	csp = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; frame-ancestors 'none'"
)

// newSite preloads every file under app/ in fsys. A missing or unreadable
// app/index.html gives the "not built" site.
func newSite(fsys fs.FS) *siteFS {
	s := &siteFS{files: map[string]file{}}
	_ = fs.WalkDir(fsys, "app", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		rel := strings.TrimPrefix(p, "app/")
		s.files[rel] = newFile(rel, data)
		return nil
	})
	if idx, ok := s.files["index.html"]; ok {
		s.built = true
		s.index = idx
	} else {
		s.index = newFile("index.html", []byte(notBuiltPage))
	}
	return s
}

func newFile(name string, data []byte) file {
	ctype := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js", ".mjs":
		ctype = "application/javascript; charset=utf-8"
	case ".map":
		ctype = "application/json; charset=utf-8"
	case ".html":
		ctype = "text/html; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	case ".svg":
		ctype = "image/svg+xml"
	}
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	sum := sha256.Sum256(data)
	return file{data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

func (s *siteFS) register(r fiber.Router) {
	r.Get("/", s.page)
	r.Get("/d/:id", s.page)
	r.Get("/d/:id/", s.page)
	r.Get("/assets/*", s.asset)
	r.Get("/socket.io/socket.io.js", s.bundle("socket.io/socket.io.min.js"))
	r.Get("/socket.io/socket.io.min.js", s.bundle("socket.io/socket.io.min.js"))
	r.Get("/socket.io/socket.io.min.js.map", s.bundle("socket.io/socket.io.min.js.map"))
}

// page serves the single-page app (or the not-built page) for / and /d/{id}.
func (s *siteFS) page(c *fiber.Ctx) error {
	c.Set("Content-Security-Policy", csp)
	c.Set("Referrer-Policy", "same-origin")
	status := fiber.StatusOK
	if !s.built {
		status = fiber.StatusServiceUnavailable
	}
	return s.send(c, s.index, cacheRevalidate, status)
}

func (s *siteFS) asset(c *fiber.Ctx) error {
	name := c.Params("*")
	if !fs.ValidPath(name) {
		return fiber.ErrNotFound
	}
	f, ok := s.files["assets/"+name]
	if !ok {
		return c.Status(fiber.StatusNotFound).SendString("not found")
	}
	return s.send(c, f, cacheImmutable, fiber.StatusOK)
}

func (s *siteFS) bundle(name string) fiber.Handler {
	return func(c *fiber.Ctx) error {
		f, ok := s.files[name]
		if !ok {
			return c.Status(fiber.StatusNotFound).SendString("socket.io client bundle not built: cd frontend && npm ci && npm run build")
		}
		return s.send(c, f, cacheBundle, fiber.StatusOK)
	}
}

func (s *siteFS) send(c *fiber.Ctx, f file, cache string, status int) error {
	c.Set(fiber.HeaderContentType, f.ctype)
	c.Set(fiber.HeaderCacheControl, cache)
	c.Set(fiber.HeaderETag, f.etag)
	c.Set("X-Content-Type-Options", "nosniff")
	if status == fiber.StatusOK && c.Get(fiber.HeaderIfNoneMatch) == f.etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	return c.Status(status).Send(f.data)
}

var notBuiltPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Cowrite — editor not built</title>
<style>body{font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#0f172a}code,pre{background:#f1f5f9;padding:2px 4px;border-radius:4px}pre{padding:8px}</style>
</head><body>
<h1>The browser editor was not built</h1>
<p>This Cowrite binary was compiled without its browser editor. The server, its REST API and
Socket.IO work normally; only this page is missing. To build the editor and embed it:</p>
<pre>make run</pre>
<p>or</p>
<pre>cd frontend &amp;&amp; npm ci &amp;&amp; npm run build
cd .. &amp;&amp; go build -o bin/cowrite .</pre>
<p>Then restart cowrite.</p>
</body></html>
`
