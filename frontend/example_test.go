package frontend_test

import (
	"log"

	"github.com/cowrite/cowrite/frontend"
	"github.com/gofiber/fiber/v2"
)

// Mount the editor before Socket.IO, so that /socket.io/socket.io.js is
// served here and everything else under /socket.io/ reaches Engine.IO.
func ExampleRegister() {
	app := fiber.New()
	frontend.Register(app)
	// io.Mount(app, "/socket.io/") — the Socket.IO server comes next.
	if !frontend.Built() {
		log.Print("editor not built: run `make build` (or cd frontend && npm ci && npm run build)")
	}
	_ = app.Listen(":3000")
}
