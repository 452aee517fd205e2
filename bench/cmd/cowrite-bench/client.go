package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cowrite/cowrite/bench/internal/ws"
	"github.com/cowrite/cowrite/internal/jsonstr"
)

// sioConn is a minimal Socket.IO v5 client over an Engine.IO v4 WebSocket
// session, namespace "/" only, text packets only, on the load tool's own
// WebSocket client (bench/internal/ws: event loops, no goroutine per
// connection). After start, the loop answers pings and hands every EVENT
// and ACK to the callbacks, passing a buffer that is reused for the next
// message (callbacks copy what they keep). Emits may come from any
// goroutine (the connection serializes writes).
type sioConn struct {
	ws *ws.Conn

	// onEvent gets the JSON array of an EVENT packet ("42" stripped);
	// onAck gets the ack id and the JSON array of an ACK packet. Both run
	// on the connection's event loop and must be set before start.
	onEvent func(payload []byte)
	onAck   func(id uint64, payload []byte)
}

// wsURL turns an http(s)/ws(s) base URL into the Engine.IO WebSocket URL.
func wsURL(base, path string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http", "ws", "":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	if path != "" {
		u.Path = path
	}
	return u.String(), nil
}

// dialSIO opens an Engine.IO WebSocket session at base (http://host:port)
// and connects namespace "/" with auth (nil for none).
func dialSIO(ctx context.Context, base string, auth []byte) (*sioConn, error) {
	u, err := wsURL(base, "/socket.io/")
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	w, err := ws.Dial(dctx, u+"?EIO=4&transport=websocket")
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	deadline, _ := dctx.Deadline()
	c := &sioConn{ws: w}
	_, msg, err := w.ReadMessage(deadline)
	if err != nil || len(msg) == 0 || msg[0] != '0' {
		w.Close()
		return nil, fmt.Errorf("engine.io open: %q %v", msg, err)
	}
	connect := append([]byte("40"), auth...)
	if err := w.WriteText(connect); err != nil {
		w.Close()
		return nil, err
	}
	for {
		_, msg, err := w.ReadMessage(deadline)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("socket.io connect: %w", err)
		}
		switch {
		case bytes.HasPrefix(msg, []byte("40")):
			return c, nil
		case bytes.HasPrefix(msg, []byte("44")):
			w.Close()
			return nil, fmt.Errorf("socket.io connect refused: %s", msg[2:])
		case len(msg) == 1 && msg[0] == '2':
			if err := w.WriteText([]byte("3")); err != nil {
				w.Close()
				return nil, err
			}
		}
	}
}

// start hands the connection to an event loop.
func (c *sioConn) start() error { return c.ws.Start(c.handle) }

// done is closed when a started connection has ended.
func (c *sioConn) done() <-chan struct{} { return c.ws.Done() }

var pong = []byte("3")

// handle takes one Engine.IO packet (on the event loop).
func (c *sioConn) handle(_ byte, buf []byte) {
	if len(buf) == 0 {
		return
	}
	switch buf[0] {
	case '2': // ping
		_ = c.ws.WriteText(pong)
	case '1': // close
		c.ws.Shutdown()
	case '4':
		if len(buf) < 2 {
			return
		}
		switch buf[1] {
		case '2':
			if c.onEvent != nil {
				c.onEvent(buf[2:])
			}
		case '3':
			i := 2
			var id uint64
			for i < len(buf) && buf[i] >= '0' && buf[i] <= '9' {
				id = id*10 + uint64(buf[i]-'0')
				i++
			}
			if c.onAck != nil {
				c.onAck(id, buf[i:])
			}
		case '1':
			c.ws.Shutdown()
		}
	}
}

// emit writes "42[<ackId>]" + the JSON array built by fill (which appends
// to its argument). ackID 0 means no ack.
func (c *sioConn) emit(ackID uint64, fill func([]byte) []byte) error {
	return c.ws.WriteFrame(ws.OpText, func(b []byte) []byte {
		b = append(b, '4', '2')
		if ackID > 0 {
			b = strconv.AppendUint(b, ackID, 10)
		}
		return fill(b)
	})
}

// close sends an Engine.IO close and closes the socket, waiting for the
// event loop to let go of it when it was started.
func (c *sioConn) close() {
	_ = c.ws.WriteText([]byte("1"))
	c.ws.Close()
}

// appendJSONString appends s as a JSON string (internal/jsonstr).
func appendJSONString(b []byte, s string) []byte {
	return jsonstr.Append(b, s)
}

// parseInt reads a leading (possibly negative) decimal integer from b.
func parseInt(b []byte) (int64, bool) {
	b = bytes.TrimLeft(b, " ")
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg = true
		b = b[1:]
	}
	var v int64
	n := 0
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + int64(b[n]-'0')
		n++
	}
	if n == 0 {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

// hostOf returns the host:port of a base URL, for error messages.
func hostOf(base string) string {
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		return u.Host
	}
	return strings.TrimPrefix(base, "http://")
}
