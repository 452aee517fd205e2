// Command sio-echo is the Socket.IO conformance echo server described in
// shared/sio-conformance.md: a bare Engine.IO echo on /engine.io/ and a Socket.IO server
// with echo handlers on /socket.io/, built from the same sio package as the product.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/cowrite/cowrite/sio"
	"github.com/cowrite/cowrite/sio/engine"
	"github.com/gofiber/fiber/v2"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "listen address")
	pingInterval := flag.Duration("ping-interval", 300*time.Millisecond, "Engine.IO ping interval")
	pingTimeout := flag.Duration("ping-timeout", 200*time.Millisecond, "Engine.IO ping timeout")
	verbose := flag.Bool("v", false, "debug logging")
	flag.Parse()

	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := run(*addr, *pingInterval, *pingTimeout, log); err != nil {
		fmt.Fprintln(os.Stderr, "sio-echo:", err)
		os.Exit(1)
	}
}

func run(addr string, pingInterval, pingTimeout time.Duration, log *slog.Logger) error {
	eopts := &engine.Options{
		PingInterval: pingInterval,
		PingTimeout:  pingTimeout,
		MaxPayload:   1_000_000,
		CORSOrigins:  []string{"*"},
		Logger:       log,
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true, BodyLimit: 4 << 20})

	bare := engine.NewServer(eopts)
	bare.OnSession(func(s *engine.Session) {
		s.OnMessage(func(m engine.Message) { _ = s.Send(m) })
	})
	bare.Mount(app, "/engine.io/")

	io := sio.NewServer(&sio.Options{Engine: eopts, ConnectTimeout: time.Second, Logger: log})
	setup(io)
	io.Mount(app, "/socket.io/")

	errc := make(chan error, 1)
	go func() { errc <- app.Listen(addr) }()
	log.Info("sio-echo listening", "addr", addr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-errc:
		io.Close()
		bare.Close()
		return err
	case <-ctx.Done():
	}
	io.Close()
	bare.Close()
	if err := app.ShutdownWithTimeout(5 * time.Second); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// setup installs the handlers of the conformance echo server.
func setup(io *sio.Server) {
	root := io.Of("/")
	root.OnConnection(func(s *sio.Socket) {
		_ = s.Emit("auth", s.Handshake().Auth)
		s.On("message", func(s *sio.Socket, args sio.Args, _ sio.AckFunc) {
			_ = s.Emit("message-back", args)
		})
		s.On("message-with-ack", func(s *sio.Socket, args sio.Args, ack sio.AckFunc) {
			if ack != nil {
				_ = ack(args)
			}
		})
		s.On("join", func(s *sio.Socket, args sio.Args, ack sio.AckFunc) {
			var room string
			if args.Decode(0, &room) == nil {
				s.Join(room)
			}
			if ack != nil {
				_ = ack(s.Rooms())
			}
		})
		s.On("leave", func(s *sio.Socket, args sio.Args, ack sio.AckFunc) {
			var room string
			if args.Decode(0, &room) == nil {
				s.Leave(room)
			}
			if ack != nil {
				_ = ack(s.Rooms())
			}
		})
		s.On("to-room", func(s *sio.Socket, args sio.Args, ack sio.AckFunc) {
			var room string
			if args.Decode(0, &room) == nil {
				_ = s.To(room).Emit("room-message", args.Slice(1))
			}
			if ack != nil {
				_ = ack()
			}
		})
		s.On("io-to-room", func(s *sio.Socket, args sio.Args, ack sio.AckFunc) {
			var room string
			if args.Decode(0, &room) == nil {
				_ = root.To(room).Emit("room-message", args.Slice(1))
			}
			if ack != nil {
				_ = ack()
			}
		})
		s.On("broadcast", func(s *sio.Socket, args sio.Args, ack sio.AckFunc) {
			_ = s.Broadcast().Emit("broadcast-back", args)
			if ack != nil {
				_ = ack()
			}
		})
		s.On("server-ack", func(s *sio.Socket, args sio.Args, _ sio.AckFunc) {
			_ = s.EmitWithAckFunc("server-ack", 0, func(res sio.Args, err error) {
				if err == nil {
					_ = s.Emit("server-ack-result", res)
				}
			}, args)
		})
		s.On("disconnect-me", func(s *sio.Socket, _ sio.Args, _ sio.AckFunc) {
			s.Disconnect(false)
		})
		s.On("rooms", func(s *sio.Socket, args sio.Args, ack sio.AckFunc) {
			var room string
			ids := []string{}
			if args.Decode(0, &room) == nil {
				ids = root.In(room).SocketIDs()
			}
			sort.Strings(ids)
			if ack != nil {
				_ = ack(ids)
			}
		})
	})
	io.Of("/custom").OnConnection(func(s *sio.Socket) {
		_ = s.Emit("auth", s.Handshake().Auth)
	})
}
