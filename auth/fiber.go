package auth

import (
	"errors"

	"github.com/gofiber/fiber/v2"
)

// localsKey is the fiber Locals key of the request's *Identity.
type localsKey struct{}

// Middleware authenticates every request that reaches it by its
// "Authorization: Bearer <token>" header and stores the *Identity for
// [IdentityOf]. A missing or bad token gets 401 with the SPEC error body
// {"error":{"code":"unauthorized","message":…}} and a WWW-Authenticate
// header; the next handlers do not run. In Open mode every request gets
// [OpenIdentity]. Mount it on the routes that need it, e.g.
// app.Group("/api", a.Middleware()); authorization (403) is the handlers'
// job: IdentityOf(c).Authorize(auth.Write, id).
func (a *Authenticator) Middleware() fiber.Handler {
	return func(c *fiber.Ctx) error {
		tok, _ := BearerToken(c.Get(fiber.HeaderAuthorization))
		id, err := a.Authenticate(tok)
		if err != nil {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="cowrite"`)
			return c.Status(fiber.StatusUnauthorized).JSON(fiber.Map{
				"error": fiber.Map{"code": "unauthorized", "message": err.Error()},
			})
		}
		c.Locals(localsKey{}, id)
		return c.Next()
	}
}

// IdentityOf returns the identity Middleware stored for this request, or
// nil when Middleware did not run (a nil *Identity may do nothing).
func IdentityOf(c *fiber.Ctx) *Identity {
	id, _ := c.Locals(localsKey{}).(*Identity)
	return id
}

// Status maps an error of this package onto its SPEC code and HTTP status:
// ("unauthorized", 401) for ErrUnauthorized, ("forbidden", 403) for
// ErrForbidden; ok is false for any other error.
func Status(err error) (code string, status int, ok bool) {
	switch {
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized", fiber.StatusUnauthorized, true
	case errors.Is(err, ErrForbidden):
		return "forbidden", fiber.StatusForbidden, true
	}
	return "", 0, false
}
