package main

import "github.com/gofiber/fiber/v2"

// registerFrontend serves the browser editor at /. Until the embedded
// editor is wired in, it serves a minimal page pointing at the API.
func registerFrontend(r fiber.Router) {
	r.Get("/", func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
		return c.SendString(`<!doctype html><meta charset="utf-8"><title>Cowrite</title>
<h1>Cowrite</h1><p>The server is running. Documents: <a href="/api/docs">/api/docs</a>.</p>`)
	})
}
