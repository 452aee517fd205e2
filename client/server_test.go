package client_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/boltstore"
	"github.com/cowrite/cowrite/sio"
	"github.com/cowrite/cowrite/storage"
	"github.com/gofiber/fiber/v2"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

// startServer runs a real Cowrite stack (bbolt in a temp dir, hub, sio,
// REST) on a loopback port; stop shuts it down in the server's order.
func startServer() (url string, stop func()) {
	dir, err := os.MkdirTemp("", "cowrite-client-")
	if err != nil {
		panic(err)
	}
	url, stopAt := startServerAt(dir, "127.0.0.1:0")
	return url, func() { stopAt(); _ = os.RemoveAll(dir) }
}

// startServerAt serves the data in dir on addr.
func startServerAt(dir, addr string) (url string, stop func()) {
	return startServerWith(dir, addr, &storage.Options{NoSync: true}, nil)
}

// startServerWith serves the data in dir on addr with the given options.
func startServerWith(dir, addr string, sopt *storage.Options, hopt *collab.Options) (url string, stop func()) {
	db, err := storage.Open(filepath.Join(dir, "cowrite.db"), sopt)
	if err != nil {
		panic(err)
	}
	io := sio.NewServer(nil)
	hub := collab.NewHub(boltstore.New(db), api.NewBroadcaster(io), hopt)
	a := api.New(hub, io, nil)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	io.Mount(app, "/socket.io/")
	a.Register(app)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		panic(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = app.Listener(ln) }()
	return "http://" + ln.Addr().String(), func() {
		io.Close()
		_ = app.ShutdownWithTimeout(5 * time.Second)
		<-served
		a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hub.Close(ctx)
		_ = db.Close()
	}
}
