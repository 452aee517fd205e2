package frontend

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/gofiber/fiber/v2"
)

func builtFS() fstest.MapFS {
	return fstest.MapFS{
		"README.txt":                         {Data: []byte("placeholder")},
		"app/index.html":                     {Data: []byte(`<!doctype html><div id="app"></div><script type="module" src="/assets/index-abc.js"></script>`)},
		"app/assets/index-abc.js":            {Data: []byte("console.log('app')")},
		"app/assets/index-abc.css":           {Data: []byte("body{}")},
		"app/assets/_underscore-x.js":        {Data: []byte("x")},
		"app/socket.io/socket.io.min.js":     {Data: []byte("/*! Socket.IO */ var io;")},
		"app/socket.io/socket.io.min.js.map": {Data: []byte(`{"version":3}`)},
	}
}

func newApp(s *siteFS) *fiber.App {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	s.register(app)
	// Stands in for the Socket.IO handler, mounted after Register.
	app.All("/socket.io/*", func(c *fiber.Ctx) error { return c.Status(400).SendString("engine.io") })
	return app
}

type result struct {
	status int
	ctype  string
	cache  string
	etag   string
	body   string
}

func get(t *testing.T, app *fiber.App, method, target string, hdr map[string]string) result {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := app.Test(req, -1)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return result{res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"), res.Header.Get("ETag"), string(b)}
}

func TestBuiltSite(t *testing.T) {
	s := newSite(builtFS())
	if !s.built {
		t.Fatal("site with app/index.html not detected as built")
	}
	app := newApp(s)
	tests := []struct {
		name, path   string
		status       int
		ctype, cache string
		body         string
	}{
		{"list page", "/", 200, "text/html; charset=utf-8", "no-cache", `<div id="app">`},
		{"editor page", "/d/my-doc", 200, "text/html; charset=utf-8", "no-cache", `<div id="app">`},
		{"editor page trailing slash", "/d/my-doc/", 200, "text/html; charset=utf-8", "no-cache", `<div id="app">`},
		{"editor page id with dots", "/d/notes.v2.md", 200, "text/html; charset=utf-8", "no-cache", `<div id="app">`},
		{"editor page id with ~ _ -", "/d/a~b_c-d", 200, "text/html; charset=utf-8", "no-cache", `<div id="app">`},
		{"editor page escaped id", "/d/caf%C3%A9%20%F0%9F%98%80", 200, "text/html; charset=utf-8", "no-cache", `<div id="app">`},
		{"hashed js", "/assets/index-abc.js", 200, "application/javascript; charset=utf-8", cacheImmutable, "console.log"},
		{"hashed css", "/assets/index-abc.css", 200, "text/css; charset=utf-8", cacheImmutable, "body{}"},
		{"underscore file embedded", "/assets/_underscore-x.js", 200, "application/javascript; charset=utf-8", cacheImmutable, "x"},
		{"missing asset", "/assets/nope.js", 404, "", "", ""},
		{"traversal", "/assets/..%2f..%2fREADME.txt", 404, "", "", ""},
		{"socket.io bundle", "/socket.io/socket.io.js", 200, "application/javascript; charset=utf-8", cacheBundle, "Socket.IO"},
		{"socket.io min bundle", "/socket.io/socket.io.min.js", 200, "application/javascript; charset=utf-8", cacheBundle, "Socket.IO"},
		{"socket.io map", "/socket.io/socket.io.min.js.map", 200, "application/json; charset=utf-8", cacheBundle, `"version":3`},
		{"engine.io still reachable", "/socket.io/?EIO=4&transport=polling", 400, "", "", "engine.io"},
		{"unknown path", "/nope", 404, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, app, http.MethodGet, tt.path, nil)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d (body %q)", r.status, tt.status, r.body)
			}
			if tt.ctype != "" && r.ctype != tt.ctype {
				t.Errorf("Content-Type %q, want %q", r.ctype, tt.ctype)
			}
			if tt.cache != "" && r.cache != tt.cache {
				t.Errorf("Cache-Control %q, want %q", r.cache, tt.cache)
			}
			if !strings.Contains(r.body, tt.body) {
				t.Errorf("body %q does not contain %q", r.body, tt.body)
			}
		})
	}
}

func TestETagAndHead(t *testing.T) {
	app := newApp(newSite(builtFS()))
	r := get(t, app, http.MethodGet, "/assets/index-abc.js", nil)
	if r.etag == "" {
		t.Fatal("no ETag")
	}
	r2 := get(t, app, http.MethodGet, "/assets/index-abc.js", map[string]string{"If-None-Match": r.etag})
	if r2.status != http.StatusNotModified || r2.body != "" {
		t.Fatalf("conditional GET: status %d body %q, want 304 and no body", r2.status, r2.body)
	}
	h := get(t, app, http.MethodHead, "/socket.io/socket.io.js", nil)
	if h.status != 200 || h.ctype != "application/javascript; charset=utf-8" {
		t.Fatalf("HEAD: %d %q", h.status, h.ctype)
	}
}

func TestPlaceholderSite(t *testing.T) {
	s := newSite(fstest.MapFS{"README.txt": {Data: []byte("placeholder")}})
	if s.built {
		t.Fatal("placeholder-only site reported as built")
	}
	app := newApp(s)
	for _, p := range []string{"/", "/d/anything"} {
		r := get(t, app, http.MethodGet, p, nil)
		if r.status != http.StatusServiceUnavailable {
			t.Errorf("%s: status %d, want 503", p, r.status)
		}
		if r.ctype != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", p, r.ctype)
		}
		for _, want := range []string{"not built", "make run", "npm ci", "npm run build"} {
			if !strings.Contains(r.body, want) {
				t.Errorf("%s: page does not mention %q", p, want)
			}
		}
	}
	if r := get(t, app, http.MethodGet, "/socket.io/socket.io.js", nil); r.status != 404 || !strings.Contains(r.body, "npm run build") {
		t.Errorf("bundle when not built: %d %q", r.status, r.body)
	}
	if r := get(t, app, http.MethodGet, "/assets/index.js", nil); r.status != 404 {
		t.Errorf("asset when not built: %d", r.status)
	}
}

// The embedded tree always holds at least the committed placeholder, and
// Built agrees with what is embedded.
func TestEmbedded(t *testing.T) {
	if _, err := embedded.ReadFile("dist/README.txt"); err != nil {
		t.Fatalf("placeholder not embedded: %v", err)
	}
	_, err := embedded.ReadFile("dist/app/index.html")
	if Built() != (err == nil) {
		t.Fatalf("Built() = %v but index.html read error = %v", Built(), err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	Register(app)
	r := get(t, app, http.MethodGet, "/", nil)
	if Built() && r.status != 200 || !Built() && r.status != 503 {
		t.Fatalf("GET / with Built()=%v: status %d", Built(), r.status)
	}
}
