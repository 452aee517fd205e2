package sio_test

import (
	"encoding/json"
	"time"

	"github.com/cowrite/cowrite/sio"
	"github.com/cowrite/cowrite/sio/engine"
	"github.com/gofiber/fiber/v2"
)

// A chat server: clients authenticate at connect, join rooms and talk in them.
func Example() {
	srv := sio.NewServer(&sio.Options{
		Engine:         &engine.Options{PingInterval: 25 * time.Second, CORSOrigins: []string{"*"}},
		ConnectTimeout: 45 * time.Second,
	})
	defer srv.Close()

	chat := srv.Of("/")
	chat.Use(func(s *sio.Socket) error {
		var auth struct{ Name string }
		if json.Unmarshal(s.Handshake().Auth, &auth) != nil || auth.Name == "" {
			return &sio.ConnectError{Message: "unauthorized", Data: map[string]string{"hint": "send auth.name"}}
		}
		s.Set("name", auth.Name)
		return nil
	})
	chat.OnConnection(func(s *sio.Socket) {
		s.On("join", func(s *sio.Socket, args sio.Args, ack sio.AckFunc) {
			var room string
			if err := args.Decode(0, &room); err != nil {
				return
			}
			s.Join(room)
			if ack != nil {
				_ = ack(map[string]any{"ok": true, "rooms": s.Rooms()})
			}
		})
		s.On("say", func(s *sio.Socket, args sio.Args, _ sio.AckFunc) {
			var room string
			if args.Decode(0, &room) == nil {
				name, _ := s.Get("name")
				// Everyone in the room but the sender; args.Slice(1) is forwarded byte for byte.
				_ = s.To(room).Emit("said", name, args.Slice(1))
			}
		})
		s.OnDisconnect(func(reason string) {
			_ = chat.Emit("left", s.ID(), reason)
		})
	})

	app := fiber.New()
	srv.Mount(app, "/socket.io/")
	// app.Listen(":3000")
}
