package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/gofiber/fiber/v2"
)

// Share links (docs/integration.md, "Share links"): an owner mints a token
// scoped to one document with one role,
//
//	POST   /api/docs/{id}/share {role, ttl}  → 201 {id, doc, url, token, role, created, expires_at}
//	GET    /api/docs/{id}/share              → {shares: [...]}, the active links
//	DELETE /api/docs/{id}/share/{shareId}    → 204, revokes the link
//
// A share token is an ordinary token of the server's secret with the claims
// {sub: "share:<id>", jti: <id>, docs: {<doc>: <role>}}; the store keeps a
// record of each (ShareStore) and a revocation list that is checked when a
// token with a jti authenticates (REST requests, Socket.IO connections,
// auth:refresh). Revoking a link also lapses every open socket that uses it
// (refresh.go): within the DELETE request, not on a timer.

// Share-link limits and defaults (flags --max-share-ttl; the default TTL is
// fixed).
const (
	DefaultMaxShareTTL = 30 * 24 * time.Hour // Options.MaxShareTTL
	DefaultShareTTL    = 7 * 24 * time.Hour  // a POST without ttl (capped by the maximum)
	minShareTTL        = time.Minute
)

// shareSubjectPrefix starts the subject of every share token; it names no
// user of the token issuer (an issuer must not mint such subjects).
const shareSubjectPrefix = "share:"

// ReasonOpenMode is the error reason of the share routes in open mode.
const ReasonOpenMode = "open_mode"

// Share is the record of a share link (the token itself is not kept).
type Share struct {
	ID      string    // the token's jti
	Doc     string    // the document it is scoped to
	Role    auth.Role // RoleViewer or RoleEditor
	By      string    // the owner who created it (token subject)
	Created time.Time
	Expires time.Time // the token's exp
	Revoked time.Time // zero while active
}

// ShareStore keeps share links durably (storage.DB behind an adapter in
// main). Its methods are called from request handlers and must be safe for
// concurrent use.
type ShareStore interface {
	// PutShare records a new link (Created zero: now) and returns it as stored.
	PutShare(ctx context.Context, s Share) (Share, error)
	// Shares returns doc's links, revoked and expired ones included.
	Shares(ctx context.Context, doc string) ([]Share, error)
	// RevokeShare marks doc's link id revoked; a missing or already revoked
	// link is a *collab.Error with CodeNotFound.
	RevokeShare(ctx context.Context, doc, id string) (Share, error)
	// ShareRevoked reports whether the link id was revoked.
	ShareRevoked(ctx context.Context, id string) (bool, error)
}

// shareJSON is a link in REST answers.
type shareJSON struct {
	ID        string    `json:"id"`
	Doc       string    `json:"doc"`
	Role      string    `json:"role"`
	By        string    `json:"by,omitempty"`
	Created   time.Time `json:"created"`
	ExpiresAt time.Time `json:"expires_at"`
	URL       string    `json:"url,omitempty"`   // POST only
	Token     string    `json:"token,omitempty"` // POST only
}

func toShareJSON(s Share) shareJSON {
	return shareJSON{ID: s.ID, Doc: s.Doc, Role: s.Role.String(), By: s.By, Created: s.Created, ExpiresAt: s.Expires}
}

// shareOwner checks that sharing is available, that the request's identity
// owns doc and, with exists, that the document exists; it returns the
// document id.
func (a *API) shareOwner(ctx context.Context, c *fiber.Ctx, exists bool) (string, *auth.Identity, error) {
	if a.opts.Auth == nil || a.opts.Auth.Mode() != auth.Token {
		return "", nil, &collab.Error{Code: collab.CodeBadRequest, Reason: ReasonOpenMode,
			Message: "share links need token mode (--auth-mode token): this server runs in open mode, where anyone who can reach it can open and edit every document, so just share the document's address"}
	}
	if a.opts.Shares == nil {
		return "", nil, &collab.Error{Code: collab.CodeNotFound, Message: "share links are not available on this server (cluster mode)"}
	}
	doc, err := idParam(c)
	if err != nil {
		return "", nil, err
	}
	id := auth.IdentityOf(c)
	if err := a.authorize(id, auth.Read, doc); err != nil {
		return "", nil, err
	}
	if id.Role(doc) < auth.RoleOwner {
		return "", nil, &collab.Error{Code: collab.CodeForbidden,
			Message: fmt.Sprintf("only an owner of document %q may manage its share links (you are %s)", doc, id.Role(doc))}
	}
	if exists {
		if _, _, err := a.hub.Get(ctx, doc); err != nil {
			return "", nil, err
		}
	}
	return doc, id, nil
}

func (a *API) createShare(c *fiber.Ctx) error {
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	doc, id, err := a.shareOwner(ctx, c, true)
	if err != nil {
		return a.fail(c, err)
	}
	obj, err := body(c)
	if err != nil {
		return a.fail(c, err)
	}
	role, err := shareRole(obj)
	if err != nil {
		return a.fail(c, err)
	}
	ttl, err := a.shareTTL(obj)
	if err != nil {
		return a.fail(c, err)
	}
	jti, err := newShareID()
	if err != nil {
		return a.fail(c, err)
	}
	now := time.Now()
	tok, err := a.opts.Auth.Mint(auth.Claims{Subject: shareSubjectPrefix + jti, ID: jti,
		Docs: map[string]auth.Role{doc: role}}, ttl)
	if err != nil {
		return a.fail(c, err)
	}
	// The token's exp is whole seconds: read it back rather than recompute.
	tid, err := a.opts.Auth.Authenticate(tok)
	if err != nil {
		return a.fail(c, err)
	}
	s, err := a.opts.Shares.PutShare(ctx, Share{ID: jti, Doc: doc, Role: role, By: id.UserID, Created: now, Expires: tid.Expires})
	if err != nil {
		return a.fail(c, err)
	}
	out := toShareJSON(s)
	out.Token = tok
	out.URL = a.shareURL(c, doc, tok)
	return c.Status(http.StatusCreated).JSON(out)
}

// shareURL is the editor's address of doc with the token in the fragment
// (never sent to servers or proxies, and removed by the editor on opening).
func (a *API) shareURL(c *fiber.Ctx, doc, tok string) string {
	base := strings.TrimRight(a.opts.PublicURL, "/")
	if base == "" {
		base = c.BaseURL()
	}
	return base + "/d/" + url.PathEscape(doc) + "#token=" + tok
}

// shareRole reads "role": viewer or editor. An owner link is refused: whoever
// holds it could delete the document and mint further links, and a link is
// easily forwarded; give owners a token of their own instead.
func shareRole(obj object) (auth.Role, error) {
	s, ok, err := obj.str("role", 16)
	if err != nil {
		return 0, err
	}
	switch {
	case !ok:
		return 0, badRequest(`"role" is required: "viewer" or "editor"`)
	case s == "viewer":
		return auth.RoleViewer, nil
	case s == "editor":
		return auth.RoleEditor, nil
	case s == "owner":
		return 0, badRequest(`"role": a share link cannot make its holder an owner; use "viewer" or "editor"`)
	}
	return 0, badRequest(fmt.Sprintf(`"role" must be "viewer" or "editor", got %q`, s))
}

// shareTTL reads "ttl": seconds (a number) or a Go duration ("90m",
// "24h"); absent, DefaultShareTTL capped by MaxShareTTL.
func (a *API) shareTTL(obj object) (time.Duration, error) {
	raw, ok := obj["ttl"]
	if !ok || string(raw) == "null" {
		return min(DefaultShareTTL, a.opts.MaxShareTTL), nil
	}
	var ttl time.Duration
	var secs float64
	var str string
	switch {
	case json.Unmarshal(raw, &secs) == nil:
		if secs > a.opts.MaxShareTTL.Seconds()+1 || secs < 0 {
			return 0, a.ttlError(fmt.Sprintf("%v seconds", secs))
		}
		ttl = time.Duration(secs * float64(time.Second))
	case json.Unmarshal(raw, &str) == nil:
		d, err := time.ParseDuration(str)
		if err != nil {
			return 0, badRequest(fmt.Sprintf(`"ttl" must be a number of seconds or a duration such as "24h", got %q`, truncate(str, 32)))
		}
		ttl = d
	default:
		return 0, badRequest(`"ttl" must be a number of seconds or a duration such as "24h"`)
	}
	if ttl < minShareTTL || ttl > a.opts.MaxShareTTL {
		return 0, a.ttlError(ttl.String())
	}
	return ttl, nil
}

func (a *API) ttlError(got string) error {
	return badRequest(fmt.Sprintf(`"ttl" must be between %v and %v (--max-share-ttl), got %s`, minShareTTL, a.opts.MaxShareTTL, got))
}

// newShareID returns a random link id, "sh_" and 22 URL-safe characters.
func newShareID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("api: share id: %w", err)
	}
	return "sh_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func (a *API) listShares(c *fiber.Ctx) error {
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	doc, _, err := a.shareOwner(ctx, c, true)
	if err != nil {
		return a.fail(c, err)
	}
	all, err := a.opts.Shares.Shares(ctx, doc)
	if err != nil {
		return a.fail(c, err)
	}
	now := time.Now()
	out := make([]shareJSON, 0, len(all))
	for _, s := range all {
		if s.Revoked.IsZero() && s.Expires.After(now) {
			out = append(out, toShareJSON(s))
		}
	}
	return c.JSON(fiber.Map{"shares": out})
}

// revokeShare works on a deleted document too (its links stay revocable).
func (a *API) revokeShare(c *fiber.Ctx) error {
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	doc, _, err := a.shareOwner(ctx, c, false)
	if err != nil {
		return a.fail(c, err)
	}
	sid := strings.Clone(c.Params("share"))
	if sid == "" || len(sid) > auth.MaxTokenIDLen {
		return a.fail(c, badRequest("bad share id"))
	}
	if _, err := a.opts.Shares.RevokeShare(ctx, doc, sid); err != nil {
		return a.fail(c, err)
	}
	// The record is durable: now cut the open sessions of the link off.
	for _, s := range a.links.sockets(sid) {
		a.lapse(s, lapseRevoked)
	}
	return c.SendStatus(http.StatusNoContent)
}

// errRevoked is the error of a request or event made with a revoked link.
var errRevoked = &collab.Error{Code: collab.CodeUnauthorized, Message: "this share link was revoked"}

// checkRevoked refuses an identity whose token (a share link) was revoked.
// Tokens without a jti are never revoked.
func (a *API) checkRevoked(ctx context.Context, id *auth.Identity) error {
	if id == nil || id.TokenID == "" || a.opts.Shares == nil {
		return nil
	}
	if id.IsRevoked() {
		return errRevoked
	}
	revoked, err := a.opts.Shares.ShareRevoked(ctx, id.TokenID)
	if err != nil {
		return fmt.Errorf("api: revocation list: %w", err)
	}
	if revoked {
		return errRevoked
	}
	return nil
}

// checkRevokedNow is checkRevoked bounded by Options.RequestTimeout.
func (a *API) checkRevokedNow(id *auth.Identity) error {
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.RequestTimeout)
	defer cancel()
	return a.checkRevoked(ctx, id)
}

// refuseRevoked is REST middleware after the authenticator's: a revoked
// share token gets 401 unauthorized, as an expired one does.
func (a *API) refuseRevoked(c *fiber.Ctx) error {
	ctx, cancel := a.reqCtx(c)
	err := a.checkRevoked(ctx, auth.IdentityOf(c))
	cancel()
	if err != nil {
		if errors.Is(err, errRevoked) {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="cowrite", error="invalid_token"`)
		}
		return a.fail(c, err)
	}
	return c.Next()
}
