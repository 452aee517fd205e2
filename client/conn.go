// Package client is a Go client for Cowrite, for bots and server-side
// agents: it speaks the project's own wire protocol (Socket.IO v5 over an
// Engine.IO v4 WebSocket, docs/protocol.md), opens documents, applies local
// edits with operational transformation (collab/ot) and receives the
// others' ops.
//
// # Model
//
// Dial opens one connection; Conn.Open joins a document and returns a Doc
// holding its text and version. Local edits (Doc.Apply, Insert, Delete)
// change the local text at once and are sent with the ShareDB client state
// machine: at most one op in flight (sent, not yet acked), later local
// edits composed into one buffered op that is sent when the ack arrives.
// A remote op (another collaborator's, already committed by the server) is
// transformed against the op in flight and the buffer — the remote op with
// side Right, the local ones with Left, as SPEC.md section 1 says — and
// applied to the local text; Doc.Next returns it as applied. Every op sent
// carries the Doc's client id and a seq (1, 2, ...), so the server
// deduplicates a resubmission.
//
// # Concurrency
//
// A Conn has one reader goroutine (Engine.IO pings, acks, events) and
// serializes writes; every method is safe for concurrent use. Ack and event
// handling run on the reader and never block on the application: remote ops
// queue in the Doc (unbounded) until Next takes them.
//
// # Caveats
//
// There is no automatic reconnect: when the connection fails, every Doc's
// Err reports it and its pending edits (Doc.Pending) are not retried by
// this package. Only WebSocket is spoken (no long-polling), and only the
// main namespace.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fasthttp/websocket"
)

// Options configure Dial; nil means defaults.
type Options struct {
	// Token is sent as auth.token (servers with --auth-mode token).
	Token string
	// Name and Color are the presence user's (auth.name, auth.color).
	Name, Color string
	// Header is added to the WebSocket handshake (e.g. Origin).
	Header http.Header
}

// Error is a failure answered by the server: {code, message}.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return "cowrite: " + e.Code + ": " + e.Message }

// ErrClosed is returned after Close or once the connection failed (wrapped
// with the cause).
var ErrClosed = errors.New("cowrite: connection closed")

// Conn is one connection to a Cowrite server.
type Conn struct {
	ws  *websocket.Conn
	wmu sync.Mutex // serializes writes to ws

	done       chan struct{} // closed when the connection failed or was closed
	readerDone chan struct{} // closed when the reader goroutine returned
	mu         sync.Mutex    // guards the fields below
	acks       map[uint64]func(json.RawMessage)
	next       uint64
	docs       map[string]*Doc
	err        error // why the connection ended
}

// Dial connects to the server at base (http://host:port or ws://host:port;
// the Socket.IO path /socket.io/ is added) and completes the Socket.IO
// CONNECT. A refused CONNECT (e.g. a bad token) is an *Error with code
// "unauthorized" or whatever the server said.
func Dial(ctx context.Context, base string, opts *Options) (*Conn, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("cowrite: bad server URL %q: %w", base, err)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return nil, fmt.Errorf("cowrite: server URL %q must be http(s) or ws(s)", base)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/socket.io/"
	u.RawQuery = "EIO=4&transport=websocket"
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, u.String(), o.Header)
	if err != nil {
		return nil, fmt.Errorf("cowrite: dial %s: %w", u, err)
	}
	c := &Conn{ws: ws, done: make(chan struct{}), readerDone: make(chan struct{}), acks: map[uint64]func(json.RawMessage){}, docs: map[string]*Doc{}}
	if err := c.handshake(ctx, o); err != nil {
		ws.Close()
		return nil, err
	}
	go c.read()
	return c, nil
}

var timeZero time.Time

// handshake reads the Engine.IO open packet, sends the Socket.IO CONNECT
// with the auth payload and waits for its answer.
func (c *Conn) handshake(ctx context.Context, o Options) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = c.ws.SetReadDeadline(dl)
		defer c.ws.SetReadDeadline(timeZero)
	}
	_, msg, err := c.ws.ReadMessage()
	if err != nil || len(msg) == 0 || msg[0] != '0' {
		return fmt.Errorf("cowrite: no Engine.IO open packet (%q): %v", msg, err)
	}
	auth := map[string]string{}
	for k, v := range map[string]string{"token": o.Token, "name": o.Name, "color": o.Color} {
		if v != "" {
			auth[k] = v
		}
	}
	payload, _ := json.Marshal(auth)
	if err := c.write(append([]byte("40"), payload...)); err != nil {
		return err
	}
	for {
		_, msg, err := c.ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("cowrite: connect: %w", err)
		}
		switch {
		case string(msg) == "2": // ping before the CONNECT answer
			if err := c.write([]byte("3")); err != nil {
				return err
			}
		case strings.HasPrefix(string(msg), "40"):
			return nil
		case strings.HasPrefix(string(msg), "44"):
			var e struct {
				Message string `json:"message"`
			}
			_ = json.Unmarshal(msg[2:], &e)
			return &Error{Code: e.Message, Message: "connection refused: " + e.Message}
		default:
			return fmt.Errorf("cowrite: unexpected packet %q during connect", msg)
		}
	}
}

func (c *Conn) write(msg []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.WriteMessage(websocket.TextMessage, msg)
}

// emit sends event with payload; onAck (nil: no ack asked) runs on the
// reader with the ack's first argument.
func (c *Conn) emit(event string, payload any, onAck func(json.RawMessage)) error {
	data, err := json.Marshal([]any{event, payload})
	if err != nil {
		return err
	}
	msg := []byte("42")
	if onAck != nil {
		c.mu.Lock()
		if c.err != nil {
			c.mu.Unlock()
			return c.err
		}
		c.next++
		id := c.next
		c.acks[id] = onAck
		c.mu.Unlock()
		msg = strconv.AppendUint(msg, id, 10)
	}
	return c.write(append(msg, data...))
}

// call emits and waits for the ack.
func (c *Conn) call(ctx context.Context, event string, payload any) (json.RawMessage, error) {
	ch := make(chan json.RawMessage, 1)
	if err := c.emit(event, payload, func(r json.RawMessage) { ch <- r }); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-c.done:
		return nil, c.Err()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ackResult decodes an ack {ok, error?} into v.
func ackResult(raw json.RawMessage, v any) error {
	var h struct {
		OK    bool   `json:"ok"`
		Error *Error `json:"error"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("cowrite: bad ack %s: %w", raw, err)
	}
	if !h.OK {
		if h.Error == nil {
			return &Error{Code: "internal", Message: "ack without ok: " + string(raw)}
		}
		return h.Error
	}
	if v != nil {
		return json.Unmarshal(raw, v)
	}
	return nil
}

// read is the reader goroutine.
func (c *Conn) read() {
	defer close(c.readerDone)
	var err error
	for {
		var msg []byte
		if _, msg, err = c.ws.ReadMessage(); err != nil {
			break
		}
		if err = c.handle(msg); err != nil {
			break
		}
	}
	c.fail(fmt.Errorf("%w: %v", ErrClosed, err))
}

// packet is a decoded server packet (the kinds this client handles).
type packet struct {
	kind  byte // 'p' ping, 'c' close, 'a' ack, 'e' event, 0 other (ignored)
	ack   uint64
	args  []json.RawMessage // ack: its arguments; event: name, payload
	event string
	doc   string // event: the payload's "doc"
}

// parsePacket decodes an Engine.IO text packet carrying Socket.IO.
func parsePacket(msg []byte) (packet, error) {
	s := string(msg)
	switch {
	case s == "2":
		return packet{kind: 'p'}, nil
	case s == "1" || strings.HasPrefix(s, "41"):
		return packet{kind: 'c'}, nil
	case strings.HasPrefix(s, "43"): // ack: 43<id>[args...]
		i := 2
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		id, err := strconv.ParseUint(s[2:i], 10, 64)
		var args []json.RawMessage
		if err != nil || json.Unmarshal(msg[i:], &args) != nil || len(args) == 0 {
			return packet{}, fmt.Errorf("bad ack packet %q", s)
		}
		return packet{kind: 'a', ack: id, args: args}, nil
	case strings.HasPrefix(s, "42"): // event: 42["name",payload]
		var args []json.RawMessage
		if err := json.Unmarshal(msg[2:], &args); err != nil || len(args) < 2 {
			return packet{}, fmt.Errorf("bad event packet %q", s)
		}
		p := packet{kind: 'e', args: args}
		var head struct {
			Doc string `json:"doc"`
		}
		if json.Unmarshal(args[0], &p.event) != nil || json.Unmarshal(args[1], &head) != nil {
			return packet{}, fmt.Errorf("bad event packet %q", s)
		}
		p.doc = head.Doc
		return p, nil
	}
	return packet{}, nil
}

func (c *Conn) handle(msg []byte) error {
	p, err := parsePacket(msg)
	if err != nil {
		return err
	}
	switch p.kind {
	case 'p':
		return c.write([]byte("3"))
	case 'c':
		return errors.New("closed by the server")
	case 'a':
		c.mu.Lock()
		f := c.acks[p.ack]
		delete(c.acks, p.ack)
		c.mu.Unlock()
		if f != nil {
			f(p.args[0])
		}
	case 'e':
		c.mu.Lock()
		d := c.docs[p.doc]
		c.mu.Unlock()
		if d != nil {
			d.event(p.event, p.args[1])
		}
	}
	return nil
}

// fail ends the connection with err (the first cause wins).
func (c *Conn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
		close(c.done)
	}
	docs := make([]*Doc, 0, len(c.docs))
	for _, d := range c.docs {
		docs = append(docs, d)
	}
	c.acks = map[uint64]func(json.RawMessage){}
	c.mu.Unlock()
	_ = c.ws.Close()
	for _, d := range docs {
		d.failed(err)
	}
}

// Err returns why the connection ended, or nil while it is up.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection and waits for its reader. Idempotent.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	<-c.readerDone
	return nil
}
