package api

import (
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/url"
	"strings"
	"sync"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/gofiber/fiber/v2"
)

// GuardOptions configure a Guard. A nil *GuardOptions means defaults.
type GuardOptions struct {
	// AllowedHosts are the host names a request's Host header may name
	// (case-insensitive, without port), besides those always allowed: IP
	// addresses, "localhost" and names ending in ".localhost", which a DNS
	// rebinding attack cannot use. ".example.com" allows example.com and
	// every name under it; "*" allows any host (no DNS-rebinding
	// protection). Default none.
	AllowedHosts []string
	// CORSOrigins are the origins (scheme://host[:port]) whose pages may
	// send unsafe requests (POST, PUT, PATCH, DELETE) to /api; "*" allows
	// any. The server's own origin (an Origin naming the request's Host)
	// and requests without an Origin are always allowed. Default none.
	CORSOrigins []string
	// PublicURL, when set, is the URL browsers use to reach the server
	// (behind a proxy that may rewrite Host): its host is allowed as if in
	// AllowedHosts and its origin as if in CORSOrigins.
	PublicURL string
	// OnError, when set, is called with the code of every refusal (metrics).
	OnError func(code string)
	// Logger receives a warning for each distinct refused host or origin
	// (the first 64). Default slog.Default().
	Logger *slog.Logger
}

// Guard refuses requests that a browser was tricked into sending: a Host
// header naming a host the server does not answer to (DNS rebinding) and
// unsafe requests from another site's pages (cross-site request forgery).
// The JSON routes also require a JSON Content-Type (see requireJSON), so
// that a "simple" cross-site form or text/plain request cannot be read as
// JSON even when its origin is allowed.
type Guard struct {
	anyHost  bool
	hosts    map[string]bool // exact names, lowercase
	suffixes []string        // ".example.com"
	anyOrig  bool
	origins  map[string]bool // normalized origins
	onError  func(string)
	log      *slog.Logger

	mu     sync.Mutex      // guards warned
	warned map[string]bool // refused hosts and origins already logged
}

// NewGuard validates opts and returns the guard.
func NewGuard(opts *GuardOptions) (*Guard, error) {
	var o GuardOptions
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	g := &Guard{hosts: map[string]bool{}, origins: map[string]bool{}, warned: map[string]bool{}, onError: o.OnError, log: o.Logger}
	for _, h := range o.AllowedHosts {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "":
		case h == "*":
			g.anyHost = true
		case strings.HasPrefix(h, "."):
			if !validHostName(h[1:]) {
				return nil, fmt.Errorf("invalid allowed host %q: want a host name such as docs.example.com or .example.com", h)
			}
			g.suffixes = append(g.suffixes, h)
		default:
			if !validHostName(h) {
				return nil, fmt.Errorf("invalid allowed host %q: want a host name without scheme or port, such as docs.example.com", h)
			}
			g.hosts[strings.TrimSuffix(h, ".")] = true
		}
	}
	for _, origin := range o.CORSOrigins {
		if strings.TrimSpace(origin) == "*" {
			g.anyOrig = true
			continue
		}
		n, err := NormalizeOrigin(origin)
		if err != nil {
			return nil, err
		}
		g.origins[n] = true
	}
	if o.PublicURL != "" {
		u, err := url.Parse(o.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			return nil, fmt.Errorf("invalid public URL %q: want http(s)://host[:port][/path]", o.PublicURL)
		}
		g.hosts[strings.ToLower(u.Hostname())] = true
		g.origins[strings.ToLower(u.Scheme+"://"+u.Host)] = true
	}
	return g, nil
}

// NormalizeOrigin checks that s is an origin, scheme://host[:port] (a
// trailing slash is tolerated), and returns it lowercase, as browsers send
// it in the Origin header. "null" stays "null".
func NormalizeOrigin(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "null" {
		return s, nil
	}
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	if err != nil || u.Scheme == "" || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("invalid origin %q: want scheme://host[:port], such as https://app.example.com", s)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// validHostName reports whether h looks like a DNS name (letters, digits,
// '-', '_', '.'), at most 253 bytes.
func validHostName(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// hostAllowed reports whether a Host header value (host[:port]) may be
// served. An empty value (HTTP/1.0) is allowed: browsers always send one.
func (g *Guard) hostAllowed(hostport string) bool {
	if hostport == "" || g.anyHost {
		return true
	}
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost") || g.hosts[host] {
		return true
	}
	for _, s := range g.suffixes {
		if host == s[1:] || strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// originAllowed reports whether an unsafe request with this Origin, sent
// to hostport, may go ahead.
func (g *Guard) originAllowed(origin, hostport string) bool {
	if origin == "" || g.anyOrig {
		return true
	}
	if u, err := url.Parse(origin); err == nil && u.Host != "" && strings.EqualFold(u.Host, hostport) {
		return true // same origin (the scheme may differ behind a TLS proxy)
	}
	return g.origins[strings.ToLower(origin)]
}

// Hosts returns the middleware that refuses, on every route, a request
// whose Host header (or absolute request URI) names a host that is not
// allowed: 403 forbidden.
func (g *Guard) Hosts() fiber.Handler {
	return func(c *fiber.Ctx) error {
		header := string(c.Request().Header.Host())
		uriHost := string(c.Request().URI().Host())
		if g.hostAllowed(header) && g.hostAllowed(uriHost) {
			return c.Next()
		}
		bad := header
		if g.hostAllowed(header) {
			bad = uriHost
		}
		g.warn("request refused: host not allowed (add it to --allowed-hosts or set --public-url)", "host", truncate(bad, 128))
		return g.refuse(c, fmt.Sprintf("host %q is not allowed on this server (see --allowed-hosts and --public-url)", truncate(bad, 128)))
	}
}

// Writes returns the middleware that refuses unsafe requests (anything but
// GET, HEAD and OPTIONS) sent by another site's page: an Origin that is
// neither the server's own nor allowed, or, without an Origin, a
// Sec-Fetch-Site other than same-origin or none. 403 forbidden.
func (g *Guard) Writes() fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch c.Method() {
		case fiber.MethodGet, fiber.MethodHead, fiber.MethodOptions:
			return c.Next()
		}
		origin := c.Get(fiber.HeaderOrigin)
		if origin == "" {
			switch c.Get("Sec-Fetch-Site") {
			case "", "same-origin", "none":
				return c.Next()
			}
			return g.refuse(c, "cross-site request refused (no Origin, Sec-Fetch-Site: "+truncate(c.Get("Sec-Fetch-Site"), 32)+")")
		}
		if g.originAllowed(origin, c.Get(fiber.HeaderHost)) {
			return c.Next()
		}
		g.warn("request refused: cross-site origin (list it in --cors-origins to allow it)", "origin", truncate(origin, 128), "method", c.Method(), "path", truncate(c.Path(), 128))
		return g.refuse(c, fmt.Sprintf("requests from origin %q are not allowed (see --cors-origins)", truncate(origin, 128)))
	}
}

func (g *Guard) refuse(c *fiber.Ctx, msg string) error {
	if g.onError != nil {
		g.onError(string(collab.CodeForbidden))
	}
	return c.Status(fiber.StatusForbidden).JSON(errorBody{Error: wireError{Code: collab.CodeForbidden, Message: msg}})
}

// maxWarned bounds the distinct refused values Guard logs.
const maxWarned = 64

// warn logs a refusal once per distinct value (a host or an origin), for
// the first maxWarned values.
func (g *Guard) warn(msg, key, value string, args ...any) {
	g.mu.Lock()
	if g.warned[key+" "+value] || len(g.warned) >= maxWarned {
		g.mu.Unlock()
		return
	}
	g.warned[key+" "+value] = true
	g.mu.Unlock()
	g.log.Warn(msg, append([]any{key, value}, args...)...)
}

// errUnsupportedMedia is the refusal of a body whose Content-Type the
// route does not take: code bad_request, HTTP 415 (see API.fail).
type errUnsupportedMedia struct{ err *collab.Error }

func (e *errUnsupportedMedia) Error() string { return e.err.Error() }
func (e *errUnsupportedMedia) Unwrap() error { return e.err }

func unsupportedMedia(msg string) error {
	return &errUnsupportedMedia{err: &collab.Error{Code: collab.CodeBadRequest, Message: msg}}
}

// statusOf is httpStatus for err, except 415 for an unsupported media type.
func statusOf(err error, code collab.Code) int {
	var um *errUnsupportedMedia
	if errors.As(err, &um) {
		return fiber.StatusUnsupportedMediaType
	}
	return httpStatus(code)
}

// requireJSON checks that a request body is declared as JSON
// (application/json or application/*+json; a charset, if given, must be
// UTF-8). Without it a browser's "simple" cross-site request (text/plain,
// a form) would be read as JSON.
func requireJSON(c *fiber.Ctx) error {
	ct := c.Get(fiber.HeaderContentType)
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	if ct == "" {
		ct = "none"
	}
	return unsupportedMedia(fmt.Sprintf("request body must be sent as Content-Type: application/json (got %s)", truncate(ct, 64)))
}

// requireTextCharset checks that a raw-text body declares no charset other
// than UTF-8 (its media type is not restricted: curl --data-binary sends
// application/x-www-form-urlencoded, and PUT is never a simple cross-site
// request, so browsers preflight it).
func requireTextCharset(c *fiber.Ctx) error {
	ct := c.Get(fiber.HeaderContentType)
	if ct == "" {
		return nil
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return unsupportedMedia(fmt.Sprintf("invalid Content-Type %q", truncate(ct, 64)))
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return unsupportedMedia(fmt.Sprintf("the text must be UTF-8 (got charset %q)", truncate(cs, 32)))
	}
	return nil
}

// visible keeps the documents id may read (a token may deny some that its
// "*" role would allow: "secret": "none"); without Options.Auth, all. It
// never returns nil. A filtered page may hold fewer than limit documents:
// clients follow next_cursor.
func (a *API) visible(id *auth.Identity, docs []collab.DocInfo) []collab.DocInfo {
	out := docs[:0:0]
	for _, d := range docs {
		if a.opts.Auth == nil || id.Can(auth.Read, d.ID) {
			out = append(out, d)
		}
	}
	if out == nil {
		out = []collab.DocInfo{}
	}
	return out
}
