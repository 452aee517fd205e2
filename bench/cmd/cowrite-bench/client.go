package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// sioConn is a minimal Socket.IO v5 client over an Engine.IO v4 WebSocket
// session, namespace "/" only, text packets only. One goroutine (readLoop)
// reads; it answers pings and hands every EVENT and ACK to the callbacks,
// passing a buffer that is reused for the next message (callbacks copy what
// they keep). Emits may come from any goroutine (wmu serializes writes).
type sioConn struct {
	ws *websocket.Conn

	// onEvent gets the JSON array of an EVENT packet ("42" stripped);
	// onAck gets the ack id and the JSON array of an ACK packet. Both run
	// on the read goroutine and must be set before start.
	onEvent func(payload []byte)
	onAck   func(id uint64, payload []byte)

	wmu  sync.Mutex // guards wbuf and writes to ws
	wbuf []byte

	done chan struct{} // closed when readLoop returns
	err  error         // why readLoop returned; read after done
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

var dialer = &websocket.Dialer{HandshakeTimeout: 10 * time.Second, ReadBufferSize: 2048, WriteBufferSize: 2048}

// dialSIO opens an Engine.IO WebSocket session at base (http://host:port)
// and connects namespace "/" with auth (nil for none).
func dialSIO(ctx context.Context, base string, auth []byte) (*sioConn, error) {
	u, err := wsURL(base, "/socket.io/")
	if err != nil {
		return nil, err
	}
	ws, _, err := dialer.DialContext(ctx, u+"?EIO=4&transport=websocket", nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", u, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
	} else {
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	}
	c := &sioConn{ws: ws, done: make(chan struct{})}
	_, msg, err := ws.ReadMessage()
	if err != nil || len(msg) == 0 || msg[0] != '0' {
		ws.Close()
		return nil, fmt.Errorf("engine.io open: %q %v", msg, err)
	}
	connect := append([]byte("40"), auth...)
	if err := ws.WriteMessage(websocket.TextMessage, connect); err != nil {
		ws.Close()
		return nil, err
	}
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			ws.Close()
			return nil, fmt.Errorf("socket.io connect: %w", err)
		}
		switch {
		case bytes.HasPrefix(msg, []byte("40")):
			_ = ws.SetReadDeadline(time.Time{})
			return c, nil
		case bytes.HasPrefix(msg, []byte("44")):
			ws.Close()
			return nil, fmt.Errorf("socket.io connect refused: %s", msg[2:])
		case len(msg) == 1 && msg[0] == '2':
			_ = ws.WriteMessage(websocket.TextMessage, []byte("3"))
		}
	}
}

// start runs the read loop.
func (c *sioConn) start() { go c.readLoop() }

func (c *sioConn) readLoop() {
	defer close(c.done)
	buf := make([]byte, 0, 4096)
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			c.err = err
			return
		}
		buf, err = readAll(r, buf[:0])
		if err != nil {
			c.err = err
			return
		}
		if len(buf) == 0 {
			continue
		}
		switch buf[0] {
		case '2': // ping
			if err := c.writeRaw([]byte("3")); err != nil {
				c.err = err
				return
			}
		case '1': // close
			c.err = errors.New("engine.io close")
			return
		case '4':
			if len(buf) < 2 {
				continue
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
				c.err = errors.New("socket.io disconnect")
				return
			}
		}
	}
}

// readAll appends everything r yields to buf.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (c *sioConn) writeRaw(p []byte) error {
	c.wmu.Lock()
	err := c.ws.WriteMessage(websocket.TextMessage, p)
	c.wmu.Unlock()
	return err
}

// emit writes "42[<ackId>]" + the JSON array built by fill (which appends
// to its argument). ackID 0 means no ack.
func (c *sioConn) emit(ackID uint64, fill func([]byte) []byte) error {
	c.wmu.Lock()
	b := append(c.wbuf[:0], '4', '2')
	if ackID > 0 {
		b = strconv.AppendUint(b, ackID, 10)
	}
	b = fill(b)
	c.wbuf = b
	err := c.ws.WriteMessage(websocket.TextMessage, b)
	c.wmu.Unlock()
	return err
}

// close sends an Engine.IO close and closes the socket; it waits for the
// read loop when it was started.
func (c *sioConn) close(started bool) {
	_ = c.writeRaw([]byte("1"))
	c.ws.Close()
	if started {
		<-c.done
	}
}

// appendJSONString appends s as a JSON string (ASCII-safe escaping).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '"' || ch == '\\':
			b = append(b, '\\', ch)
		case ch < 0x20:
			b = append(b, `\u00`...)
			b = append(b, "0123456789abcdef"[ch>>4], "0123456789abcdef"[ch&15])
		default:
			b = append(b, ch)
		}
	}
	return append(b, '"')
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
