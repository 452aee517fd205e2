package engine

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Mount registers the server on r at path (like "/socket.io/"), with and
// without the trailing slash, for every method: GET, POST, OPTIONS and the
// WebSocket upgrade (anything else is answered 400).
//
// When r is the *fiber.App itself, Mount sets its fasthttp server's
// KeepHijackedConns, so that a WebSocket connection costs no fasthttp
// goroutine, request context or reader while it lives (see serveWS);
// Mount must then be called before the app serves, and any other
// hijacking handler of the app must close its connections itself.
// Mounted on a group, each WebSocket keeps fasthttp's hijack goroutine
// (and what it holds) for its life.
func (s *Server) Mount(r fiber.Router, path string) {
	if app, ok := r.(*fiber.App); ok && app.Server() != nil {
		app.Server().KeepHijackedConns = true
		s.ownConns.Store(true)
	}
	if path == "" {
		path = "/socket.io/"
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	trimmed := strings.TrimRight(path, "/")
	if trimmed == "" {
		r.All("/", s.handle)
		return
	}
	r.All(trimmed, s.handle)
	r.All(trimmed+"/", s.handle)
}

// handle is the entry point of every Engine.IO request.
func (s *Server) handle(c *fiber.Ctx) error {
	if c.Method() == fiber.MethodOptions {
		return s.preflight(c)
	}
	if !s.cors(c) {
		return writeError(c, newError(CodeForbidden))
	}
	transport := c.Query("transport")
	if !s.cfg.allows(transport) {
		return writeError(c, newError(CodeUnknownTransport))
	}
	upgrade := isWebSocketUpgrade(c)
	if sid := c.Query("sid"); sid != "" {
		sess := s.lookup(sid)
		if sess == nil || sess.pongOverdue() {
			return writeError(c, newError(CodeUnknownSID))
		}
		if upgrade {
			if transport != transportWebSocket {
				return writeError(c, newError(CodeBadRequest))
			}
			return s.serveUpgrade(c, sess)
		}
		t, ok := sess.currentPolling()
		if !ok || transport != transportPolling {
			return writeError(c, newError(CodeBadRequest)) // transport mismatch
		}
		switch c.Method() {
		case fiber.MethodGet:
			return t.serveGet(c)
		case fiber.MethodPost:
			return t.servePost(c)
		}
		return writeError(c, newError(CodeBadRequest))
	}

	// Handshake.
	if c.Method() != fiber.MethodGet {
		return writeError(c, newError(CodeBadHandshakeMethod))
	}
	if transport == transportWebSocket && !upgrade {
		return writeError(c, newError(CodeBadRequest))
	}
	if upgrade && transport != transportWebSocket {
		return writeError(c, newError(CodeBadRequest))
	}
	if s.cfg.allowRequest != nil {
		if err := s.cfg.allowRequest(c); err != nil {
			e := newError(CodeForbidden)
			if msg := err.Error(); msg != "" {
				e.Message = msg
			}
			return writeError(c, e)
		}
	}
	if c.Query("EIO") != "4" {
		return writeError(c, newError(CodeUnsupportedProtocolVersion))
	}
	if s.atCapacity() { // before the upgrade: a WebSocket gets the 503 too
		return writeError(c, errorAtCapacity())
	}
	hs := snapshot(c)
	if upgrade {
		return s.serveWebSocketHandshake(c, hs)
	}
	return s.servePollingHandshake(c, hs)
}

// currentPolling returns the session's polling transport if polling is
// still its transport.
func (sess *Session) currentPolling() (*polling, bool) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	p, ok := sess.transport.(*polling)
	return p, ok
}

// allowedOrigin reports whether a request with this Origin, sent to host,
// may use the server: requests without an Origin and from the server's own
// origin always may; others as CORSOrigins and SameOriginOnly say.
func (s *Server) allowedOrigin(origin, host string) bool {
	if origin == "" || sameOrigin(origin, host) {
		return true
	}
	if len(s.cfg.corsOrigins) == 0 {
		return !s.cfg.sameOriginOnly
	}
	for _, o := range s.cfg.corsOrigins {
		// An origin is scheme://host[:port], case-insensitive throughout,
		// as the REST API's CORS middleware compares it.
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// sameOrigin reports whether origin (scheme://host[:port]) names host, the
// Host the request was sent to. The scheme is not compared: behind a TLS
// proxy the browser's origin is https while the request arrives as http.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, host)
}

// cors sets the CORS response headers; false means the origin is refused.
func (s *Server) cors(c *fiber.Ctx) bool {
	origin := c.Get(fiber.HeaderOrigin)
	if !s.allowedOrigin(origin, c.Get(fiber.HeaderHost)) {
		return false
	}
	if len(s.cfg.corsOrigins) > 0 && origin != "" {
		c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
		c.Set(fiber.HeaderAccessControlAllowCredentials, "true")
		c.Vary(fiber.HeaderOrigin)
	}
	return true
}

// preflight answers an OPTIONS request: 204, with the CORS headers when
// the origin is allowed, 403 code 4 when it is not.
func (s *Server) preflight(c *fiber.Ctx) error {
	if !s.cors(c) {
		return writeError(c, newError(CodeForbidden))
	}
	if len(s.cfg.corsOrigins) > 0 && c.Get(fiber.HeaderOrigin) != "" {
		c.Set(fiber.HeaderAccessControlAllowMethods, "GET,HEAD,PUT,PATCH,POST,DELETE")
		if h := c.Get(fiber.HeaderAccessControlRequestHeaders); h != "" {
			c.Set(fiber.HeaderAccessControlAllowHeaders, h)
			c.Vary(fiber.HeaderAccessControlRequestHeaders)
		}
	}
	return c.SendStatus(fiber.StatusNoContent)
}

func writeError(c *fiber.Ctx, e *Error) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Status(e.Status()).Send(e.body())
}

// snapshot copies what the session keeps of the handshake request, for
// the life of the session: every header key and value share one string
// and every header value one []string (likewise for the query), rather
// than an allocation each.
func snapshot(c *fiber.Ctx) *Handshake {
	hs := &Handshake{
		RemoteAddr: c.Context().RemoteAddr().String(),
		Time:       time.Now(),
		Secure:     c.Secure(),
		URL:        string(c.Request().RequestURI()),
	}
	h := &c.Request().Header
	n, size := 0, 0
	h.VisitAll(func(k, v []byte) { n, size = n+1, size+len(k)+len(v) })
	var b strings.Builder
	b.Grow(size)
	h.VisitAll(func(k, v []byte) { b.Write(k); b.Write(v) })
	all := b.String()
	hs.Headers = make(http.Header, n)
	vals := make([]string, n)
	i, off := 0, 0
	h.VisitAll(func(k, v []byte) {
		key := textproto.CanonicalMIMEHeaderKey(all[off : off+len(k)])
		off += len(k)
		vals[i] = all[off : off+len(v)]
		off += len(v)
		if prev, ok := hs.Headers[key]; ok {
			hs.Headers[key] = append(prev, vals[i])
		} else {
			hs.Headers[key] = vals[i : i+1 : i+1]
		}
		i++
	})
	hs.Query = parseQuery(string(c.Request().URI().QueryString()))
	if hs.Query == nil {
		q := url.Values{}
		c.Request().URI().QueryArgs().VisitAll(func(k, v []byte) {
			q.Add(string(k), string(v))
		})
		hs.Query = q
	}
	return hs
}

// parseQuery is url.ParseQuery with the keys and values sharing raw's
// memory where they need no unescaping; nil where url.ParseQuery fails.
func parseQuery(raw string) url.Values {
	n := strings.Count(raw, "&") + 1
	q := make(url.Values, n)
	vals := make([]string, 0, n)
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		if strings.Contains(part, ";") {
			return nil
		}
		k, v, _ := strings.Cut(part, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil
		}
		vals = append(vals, v)
		j := len(vals) - 1
		if prev, ok := q[k]; ok {
			q[k] = append(prev, v)
		} else {
			q[k] = vals[j : j+1 : j+1]
		}
	}
	return q
}
