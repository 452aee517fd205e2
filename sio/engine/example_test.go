package engine_test

import (
	"log"
	"time"

	"github.com/cowrite/cowrite/sio/engine"
	"github.com/gofiber/fiber/v2"
)

// An Engine.IO echo server: every message goes back to its sender, text
// as text and binary as binary.
func ExampleServer() {
	srv := engine.NewServer(&engine.Options{
		PingInterval: 25 * time.Second,
		PingTimeout:  20 * time.Second,
		CORSOrigins:  []string{"https://editor.example"},
	})
	srv.OnSession(func(s *engine.Session) {
		s.OnMessage(func(m engine.Message) {
			if err := s.Send(m); err != nil {
				log.Printf("session %s: %v", s.ID(), err)
			}
		})
		s.OnClose(func(reason string) {
			log.Printf("session %s closed: %s", s.ID(), reason)
		})
	})

	app := fiber.New(fiber.Config{BodyLimit: 2 << 20}) // at least MaxPayload
	srv.Mount(app, "/engine.io/")

	// Shutdown order: close the sessions (answers pending long-polls and
	// closes WebSockets), then stop fiber.
	defer func() {
		srv.Close()
		_ = app.Shutdown()
	}()
	// app.Listen(":3000")
}
