package sio

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/cowrite/cowrite/sio/engine"
	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"
)

// startReal serves srv on a loopback fiber app and returns its ws:// base URL.
func startReal(t *testing.T, srv *Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	srv.Mount(app, "/socket.io/")
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Listener(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		_ = app.ShutdownWithTimeout(5 * time.Second)
		<-done
	})
	return "ws://" + ln.Addr().String() + "/socket.io/?EIO=4&transport=websocket"
}

type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialWS(t *testing.T, url string) *wsClient {
	t.Helper()
	conn, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := &wsClient{t: t, conn: conn}
	if open := c.read(); !strings.HasPrefix(open, `0{"sid":`) {
		t.Fatalf("open packet %q", open)
	}
	return c
}

// read returns the next message other than a ping ("2", answered with "3"); binary
// messages are returned as "b:" + raw bytes.
func (c *wsClient) read() string {
	c.t.Helper()
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			c.t.Fatalf("read: %v", err)
		}
		if typ == websocket.BinaryMessage {
			return "b:" + string(data)
		}
		if string(data) == "2" {
			_ = c.conn.WriteMessage(websocket.TextMessage, []byte("3"))
			continue
		}
		return string(data)
	}
}

func (c *wsClient) write(msgs ...string) {
	c.t.Helper()
	for _, m := range msgs {
		typ, data := websocket.TextMessage, []byte(m)
		if b, ok := strings.CutPrefix(m, "b:"); ok {
			typ, data = websocket.BinaryMessage, []byte(b)
		}
		if err := c.conn.WriteMessage(typ, data); err != nil {
			c.t.Fatal(err)
		}
	}
}

func TestRealEngine(t *testing.T) {
	// Frequent pings (answered in read), but a pong deadline that a client
	// not being read for a while on a loaded machine cannot miss.
	srv := echoServer(t, &Options{Engine: &engine.Options{PingInterval: 200 * time.Millisecond, PingTimeout: 5 * time.Second}})
	reasons := make(chan string, 10)
	srv.Of("/").OnConnection(func(s *Socket) {
		s.OnDisconnect(func(r string) { reasons <- r })
	})
	url := startReal(t, srv)

	c := dialWS(t, url)
	c.write("40")
	reply := c.read()
	if !strings.HasPrefix(reply, `40{"sid":"`) {
		t.Fatalf("connect reply %q", reply)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(reply, `40{"sid":"`), `"}`)
	if got := c.read(); got != `42["auth",{}]` {
		t.Fatalf("auth %q", got)
	}
	c.write(`452-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "b:\x01\x02", "b:\x03")
	for _, want := range []string{`452-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "b:\x01\x02", "b:\x03"} {
		if got := c.read(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}

	// server → client ack with the blocking API, from another goroutine
	s := srv.Of("/").Socket(id)
	res := make(chan string, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		a, err := s.EmitWithAck(ctx, "ask", "q")
		if err != nil {
			res <- err.Error()
			return
		}
		res <- string(a.Raw(0))
	}()
	if got := c.read(); got != `420["ask","q"]` {
		t.Fatalf("got %q", got)
	}
	c.write(`430[{"answer":42}]`)
	if got := <-res; got != `{"answer":42}` {
		t.Fatalf("ack %q", got)
	}

	// a second client in a room, broadcast from the first
	c2 := dialWS(t, url)
	c2.write("40")
	c2.read()
	c2.read()
	c2.write(`421["join","r"]`) // the ack says the join is done
	if got := c2.read(); !strings.HasPrefix(got, `431[`) {
		t.Fatalf("join ack %q", got)
	}
	c.write(`42["to-room","r","hello"]`)
	if got := c2.read(); got != `42["room-message","hello"]` {
		t.Fatalf("room message %q", got)
	}

	// protocol error closes the connection
	c2.write(`42{}`)
	_ = c2.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := c2.conn.ReadMessage(); err != nil {
			break
		}
	}

	srv.Close() // returns once every OnClose, so every OnDisconnect, has run
	var got []string
	for len(reasons) > 0 {
		got = append(got, <-reasons)
	}
	if strings.Join(got, ",") != "parse error,server shutting down" {
		t.Fatalf("reasons %q", got)
	}
}
