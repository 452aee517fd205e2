package api

import (
	_ "embed"

	"github.com/gofiber/fiber/v2"
)

// openAPISpec is the OpenAPI 3.1 description of every route (hand-written;
// e2e/integration checks it with a validator and checks live responses
// against its schemas).
//
//go:embed openapi/openapi.json
var openAPISpec []byte

// referencePage is /api/reference: a page rendering openapi.json with the
// embedded Redoc bundle (no CDN at runtime).
//
//go:embed openapi/reference.html
var referencePage []byte

//go:embed openapi/redoc.standalone.js
var redocJS []byte

func (a *API) openAPI(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, "application/json")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	return c.Send(openAPISpec)
}

func (a *API) reference(c *fiber.Ctx) error {
	if c.Query("asset") == "redoc.js" {
		c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		return c.Send(redocJS)
	}
	c.Set(fiber.HeaderContentType, "text/html; charset=utf-8")
	// Nothing but this server: Redoc's footer would fetch a logo from its
	// CDN otherwise (the image then fails and is hidden).
	c.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'")
	return c.Send(referencePage)
}
