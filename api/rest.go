package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/gofiber/fiber/v2"
)

// List and ops page sizes.
const (
	defaultListLimit = 50
	maxListLimit     = 1000
	defaultOpsLimit  = 1000
	maxOpsLimit      = 10000
)

// registerREST adds the /api routes and the health probes to r.
func (a *API) registerREST(r fiber.Router) {
	r.Get("/healthz", a.healthz)
	r.Get("/readyz", a.readyz)
	r.Get("/api/limits", a.limits)
	// The API description and its reference page are public (openapi.go).
	r.Get("/api/openapi.json", a.openAPI)
	r.Get("/api/reference", a.reference)

	var g fiber.Router
	if a.opts.Auth != nil {
		g = r.Group("/api", a.opts.Auth.Middleware(), a.refuseRevoked, a.limitBody)
	} else {
		g = r.Group("/api", a.limitBody)
	}
	g.Get("/docs", a.listDocs)
	g.Post("/docs", a.createDoc)
	g.Get("/docs/:id", a.getDoc)
	g.Patch("/docs/:id", a.patchDoc)
	g.Delete("/docs/:id", a.deleteDoc)
	g.Get("/docs/:id/content", a.getContent)
	g.Put("/docs/:id/content", a.putContent)
	g.Post("/docs/:id/ops", a.postOps)
	g.Get("/docs/:id/ops", a.getOps)
	g.Get("/admin/backup", a.backup)
	// History (history.go).
	g.Get("/docs/:id/diff", a.diff)
	g.Get("/docs/:id/blame", a.blame)
	g.Get("/docs/:id/export", a.export)
	g.Post("/docs/import", a.importDoc)
	g.Post("/docs/:id/versions", a.nameVersion)
	g.Get("/docs/:id/versions", a.listVersions)
	g.Delete("/docs/:id/versions/:version", a.deleteVersion)
	// Integration (change feed, merging edits): events.go, merge.go.
	g.Get("/docs/:id/events", a.getEvents)
	g.Patch("/docs/:id/content", a.patchContent)
	// Share links (share.go).
	g.Post("/docs/:id/share", a.createShare)
	g.Get("/docs/:id/share", a.listShares)
	g.Delete("/docs/:id/share/:share", a.revokeShare)
	g.Use(func(c *fiber.Ctx) error {
		return a.fail(c, &collab.Error{Code: collab.CodeNotFound, Message: "no such API route: " + c.Method() + " " + c.Path()})
	})
}

func (a *API) healthz(c *fiber.Ctx) error {
	return c.JSON(fiber.Map{"status": "ok"})
}

func (a *API) readyz(c *fiber.Ctx) error {
	if a.draining.Load() {
		return c.Status(http.StatusServiceUnavailable).JSON(fiber.Map{"status": "draining"})
	}
	for _, check := range []func() error{a.opts.Health, a.opts.Ready} {
		if check == nil {
			continue
		}
		if err := check(); err != nil {
			return c.Status(http.StatusServiceUnavailable).JSON(fiber.Map{"status": "unavailable", "reason": err.Error()})
		}
	}
	return c.JSON(fiber.Map{"status": "ready"})
}

// limitBody refuses request bodies over MaxBodyBytes with 413 too_large,
// and a body that would take the bodies in progress over
// MaxInflightBodyBytes with 429 rate_limited.
func (a *API) limitBody(c *fiber.Ctx) error {
	n := len(c.Body())
	if cl := c.Request().Header.ContentLength(); cl > a.opts.MaxBodyBytes || n > a.opts.MaxBodyBytes {
		return a.fail(c, &collab.Error{Code: collab.CodeTooLarge,
			Message: fmt.Sprintf("request body is larger than %d bytes", a.opts.MaxBodyBytes)})
	}
	if n == 0 {
		return c.Next()
	}
	if !a.reserveBody(int64(n)) {
		return a.fail(c, &collab.Error{Code: collab.CodeRateLimited,
			Message: fmt.Sprintf("the server is handling %d MiB of request bodies, its limit; retry shortly", a.opts.MaxInflightBodyBytes>>20)})
	}
	defer a.inflight.Add(-int64(n))
	return c.Next()
}

// reserveBody adds n to the bytes in progress unless that would exceed
// MaxInflightBodyBytes while other bodies are in progress.
func (a *API) reserveBody(n int64) bool {
	return reserveBytes(&a.inflight, int64(a.opts.MaxInflightBodyBytes), n)
}

// fail writes err as a JSON error with its HTTP status. Internal errors are
// logged here, at the boundary, and answered with a generic message.
func (a *API) fail(c *fiber.Ctx, err error) error {
	w := toWire(err)
	if a.opts.OnError != nil {
		a.opts.OnError(string(w.Code))
	}
	if w.Code == collab.CodeInternal {
		a.log.Error("request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	return c.Status(statusOf(err, w.Code)).JSON(errorBody{Error: w})
}

// ctx returns the context for a hub call made by a request.
func (a *API) reqCtx(c *fiber.Ctx) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.UserContext(), a.opts.RequestTimeout)
}

// idParam returns the validated :id route parameter, copied out of fiber's
// reused buffers.
func idParam(c *fiber.Ctx) (string, error) {
	id := strings.Clone(c.Params("id"))
	if err := collab.ValidateDocID(id); err != nil {
		return "", err
	}
	return id, nil
}

// docParam returns the route's document id once it is valid and the
// caller's identity may do action on it.
func (a *API) docParam(c *fiber.Ctx, action auth.Action) (string, error) {
	id, err := idParam(c)
	if err != nil {
		return "", err
	}
	if err := a.authorize(auth.IdentityOf(c), action, id); err != nil {
		return "", err
	}
	return id, nil
}

// queryUint parses an optional non-negative integer query parameter.
func queryUint(c *fiber.Ctx, name string) (v uint64, ok bool, err error) {
	s := c.Query(name)
	if s == "" {
		return 0, false, nil
	}
	v, err = strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, false, badRequest(fmt.Sprintf("query parameter %q must be a non-negative integer, got %q", name, s))
	}
	return v, true, nil
}

// queryLimit parses the "limit" query parameter: def when absent, 1..max.
func queryLimit(c *fiber.Ctx, def, max int) (int, error) {
	v, ok, err := queryUint(c, "limit")
	if err != nil {
		return 0, err
	}
	if !ok {
		return def, nil
	}
	if v < 1 || v > uint64(max) {
		return 0, badRequest(fmt.Sprintf("query parameter \"limit\" must be between 1 and %d", max))
	}
	return int(v), nil
}

// docBody returns the route's document id (see docParam) and the request
// body decoded as a JSON object (see body).
func (a *API) docBody(c *fiber.Ctx, action auth.Action) (string, object, error) {
	id, err := a.docParam(c, action)
	if err != nil {
		return "", nil, err
	}
	obj, err := body(c)
	return id, obj, err
}

// body decodes the request body as a JSON object; it must be declared as
// JSON (requireJSON).
func body(c *fiber.Ctx) (object, error) {
	if err := requireJSON(c); err != nil {
		return nil, err
	}
	return decodeObject(c.Body(), "request body")
}

func (a *API) listDocs(c *fiber.Ctx) error {
	if err := a.authorize(auth.IdentityOf(c), auth.List, ""); err != nil {
		return a.fail(c, err)
	}
	limit, err := queryLimit(c, defaultListLimit, maxListLimit)
	if err != nil {
		return a.fail(c, err)
	}
	cursor := strings.Clone(c.Query("cursor"))
	if len(cursor) > maxCursorLen {
		return a.fail(c, badRequest("query parameter \"cursor\" is too long"))
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	docs, next, err := a.hub.List(ctx, limit, cursor)
	if err != nil {
		return a.fail(c, err)
	}
	docs = a.visible(auth.IdentityOf(c), docs)
	out := listJSON{Docs: make([]docJSON, len(docs)), Next: next}
	for i, d := range docs {
		out.Docs[i] = docWire(d, nil)
	}
	return c.JSON(out)
}

func (a *API) createDoc(c *fiber.Ctx) error {
	var id, title, content string
	if len(strings.TrimSpace(string(c.Body()))) > 0 {
		obj, err := body(c)
		if err != nil {
			return a.fail(c, err)
		}
		if id, _, err = obj.str("id", 0); err != nil {
			return a.fail(c, err)
		}
		if obj.present("id") {
			if err := collab.ValidateDocID(id); err != nil {
				return a.fail(c, err)
			}
		}
		if title, _, err = obj.str("title", 0); err != nil {
			return a.fail(c, err)
		}
		if content, _, err = obj.str("content", 0); err != nil {
			return a.fail(c, err)
		}
	}
	if err := a.authorize(auth.IdentityOf(c), auth.Create, id); err != nil {
		return a.fail(c, err)
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	info, err := a.hub.Create(ctx, id, title, content)
	if err != nil {
		return a.fail(c, err)
	}
	c.Location("/api/docs/" + info.ID)
	return c.Status(http.StatusCreated).JSON(docWire(info, &content))
}

func (a *API) getDoc(c *fiber.Ctx) error {
	id, err := a.docParam(c, auth.Read)
	if err != nil {
		return a.fail(c, err)
	}
	version, atVersion, err := queryUint(c, "version")
	if err != nil {
		return a.fail(c, err)
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	info, content, err := a.hub.Get(ctx, id)
	if err != nil {
		return a.fail(c, err)
	}
	if atVersion && version != info.Version {
		if version > info.Version {
			return a.fail(c, &collab.Error{Code: collab.CodeVersionAhead,
				Message: fmt.Sprintf("version %d is above the document's head %d", version, info.Version)})
		}
		content, err = a.hub.ContentAt(ctx, id, version)
		if err != nil {
			return a.fail(c, err)
		}
		info.Version = version
		info.Size = int64(len(content))
	}
	return c.JSON(docWire(info, &content))
}

func (a *API) patchDoc(c *fiber.Ctx) error {
	id, obj, err := a.docBody(c, auth.Write)
	if err != nil {
		return a.fail(c, err)
	}
	title, ok, err := obj.str("title", 0)
	if err != nil {
		return a.fail(c, err)
	}
	if !ok {
		return a.fail(c, badRequest(`"title" (a string) is required; it is the only field that can be changed`))
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	info, err := a.hub.Rename(ctx, id, title)
	if err != nil {
		return a.fail(c, err)
	}
	return c.JSON(docWire(info, nil))
}

func (a *API) deleteDoc(c *fiber.Ctx) error {
	id, err := a.docParam(c, auth.Delete)
	if err != nil {
		return a.fail(c, err)
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	if err := a.hub.Delete(ctx, id); err != nil {
		return a.fail(c, err)
	}
	return c.SendStatus(http.StatusNoContent)
}

// etag formats a version as a strong entity tag.
func etag(v uint64) string { return `"` + strconv.FormatUint(v, 10) + `"` }

// parseIfMatch parses an If-Match header holding one version: 5, "5" or
// W/"5". "*" (any version) gives nil.
func parseIfMatch(h string) (*uint64, error) {
	h = strings.TrimSpace(h)
	if h == "" || h == "*" {
		return nil, nil
	}
	s := strings.TrimPrefix(h, "W/")
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return nil, badRequest(fmt.Sprintf("If-Match must be a document version such as \"5\", got %q", h))
	}
	return &v, nil
}

func (a *API) getContent(c *fiber.Ctx) error {
	id, err := a.docParam(c, auth.Read)
	if err != nil {
		return a.fail(c, err)
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	info, content, err := a.hub.Get(ctx, id)
	if err != nil {
		return a.fail(c, err)
	}
	tag := etag(info.Version)
	c.Set(fiber.HeaderETag, tag)
	if noneMatch(c.Get(fiber.HeaderIfNoneMatch), info.Version) {
		return c.SendStatus(http.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, "text/plain; charset=utf-8")
	return c.SendString(content)
}

func (a *API) putContent(c *fiber.Ctx) error {
	id, err := a.docParam(c, auth.Write)
	if err != nil {
		return a.fail(c, err)
	}
	ifMatch, err := parseIfMatch(c.Get(fiber.HeaderIfMatch))
	if err != nil {
		return a.fail(c, err)
	}
	if err := requireTextCharset(c); err != nil {
		return a.fail(c, err)
	}
	if !utf8.Valid(c.Body()) {
		return a.fail(c, badRequest("request body is not valid UTF-8 text"))
	}
	text := string(c.Body())
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	com, err := a.hub.ReplaceContent(ctx, id, text, ifMatch)
	if err != nil {
		return a.fail(c, err)
	}
	c.Set(fiber.HeaderETag, etag(com.Version))
	return c.JSON(committedJSON{Version: com.Version, Op: com.Op})
}

func (a *API) postOps(c *fiber.Ctx) error {
	id, obj, err := a.docBody(c, auth.Write)
	if err != nil {
		return a.fail(c, err)
	}
	sub, err := obj.submission()
	if err != nil {
		return a.fail(c, err)
	}
	sub.Identity = identityKey(auth.IdentityOf(c), "ip:"+c.IP())
	sub.Author = restAuthor(c)
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	com, err := a.hub.Submit(ctx, id, "", sub)
	if err != nil {
		return a.fail(c, err)
	}
	return c.JSON(committedJSON{Version: com.Version, Op: com.Op})
}
