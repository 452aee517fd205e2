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
// With Options.Reconnect, a lost connection is dialed again (backoff from
// 100 ms doubling to 5 s, with jitter) and every open Doc rejoins with its
// version and client id: the catch-up ops are transformed in as remote ops
// (its own op in flight, if the server committed it before the loss, counts
// as its ack), then the op in flight is resent with the same seq (the
// server dedupes it) and the buffer follows. Edits made while disconnected
// are buffered. When the server answers the rejoin with the content instead
// of ops (retention pruned the gap) while edits are pending, they are
// rebased: transformed over a diff of the server's text at the Doc's
// version and the content, and sent as a new op. An op in flight is first
// resent as it was; the server's answer says whether it had committed it (a
// duplicate: its effect is in the content, only later edits are rebased) or
// not (version_too_old: it is rebased too), so it is applied exactly once.
// (Unless the server forgot the client's dedupe entry, past
// --max-dedupe-clients: it then answers version_too_old even for a committed
// op, which is applied twice.) Without Reconnect, a lost
// connection fails every Doc. Only WebSocket is spoken (no long-polling),
// and only the main namespace.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
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
	// Reconnect dials again when the connection is lost (see the package
	// doc). Default false: a lost connection fails every Doc.
	Reconnect bool
}

// ErrDisconnected fails calls (Open, SetSelection, Close) whose ack was
// lost with the connection; with Options.Reconnect the Conn is dialing
// again.
var ErrDisconnected = errors.New("cowrite: disconnected")

// ackFunc receives an ack's first argument, or the error that lost it.
type ackFunc func(raw json.RawMessage, err error)

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
	url    string // ws(s)://host/socket.io/?EIO=4&transport=websocket
	opts   Options
	ctx    context.Context // canceled by Close: stops redialing
	cancel context.CancelFunc

	wmu sync.Mutex      // serializes writes; guards ws
	ws  *websocket.Conn // the current connection (the reader swaps it)

	done       chan struct{} // closed when the connection failed for good or was closed
	readerDone chan struct{} // closed when the reader goroutine returned
	mu         sync.Mutex    // guards the fields below
	acks       map[uint64]ackFunc
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
	c := &Conn{url: u.String(), opts: o, done: make(chan struct{}), readerDone: make(chan struct{}),
		acks: map[uint64]ackFunc{}, docs: map[string]*Doc{}}
	ws, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.ws = ws
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.read(ws)
	return c, nil
}

// dial opens a WebSocket and completes the Socket.IO CONNECT on it.
func (c *Conn) dial(ctx context.Context) (*websocket.Conn, error) {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, c.url, c.opts.Header)
	if err != nil {
		return nil, fmt.Errorf("cowrite: dial %s: %w", c.url, err)
	}
	if err := handshake(ctx, ws, c.opts); err != nil {
		ws.Close()
		return nil, err
	}
	return ws, nil
}

var timeZero time.Time

// handshake reads the Engine.IO open packet, sends the Socket.IO CONNECT
// with the auth payload and waits for its answer.
func handshake(ctx context.Context, ws *websocket.Conn, o Options) error {
	if dl, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(dl)
		defer ws.SetReadDeadline(timeZero)
	}
	write := func(msg []byte) error { return ws.WriteMessage(websocket.TextMessage, msg) }
	_, msg, err := ws.ReadMessage()
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
	if err := write(append([]byte("40"), payload...)); err != nil {
		return err
	}
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			return fmt.Errorf("cowrite: connect: %w", err)
		}
		switch {
		case string(msg) == "2": // ping before the CONNECT answer
			if err := write([]byte("3")); err != nil {
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
// reader with the ack's first argument, or with the error that lost it.
func (c *Conn) emit(event string, payload any, onAck ackFunc) error {
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
	type res struct {
		raw json.RawMessage
		err error
	}
	ch := make(chan res, 1)
	if err := c.emit(event, payload, func(r json.RawMessage, err error) { ch <- res{r, err} }); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.raw, r.err
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

// read is the reader goroutine: it reads ws until it fails, then, with
// Options.Reconnect, dials again and rejoins the documents.
func (c *Conn) read(ws *websocket.Conn) {
	defer close(c.readerDone)
	for {
		var err error
		for {
			var msg []byte
			if _, msg, err = ws.ReadMessage(); err != nil {
				break
			}
			if err = c.handle(msg); err != nil {
				break
			}
		}
		if !c.opts.Reconnect || c.ctx.Err() != nil {
			c.fail(fmt.Errorf("%w: %v", ErrClosed, err))
			return
		}
		c.disconnected()
		if ws = c.redial(); ws == nil {
			c.fail(ErrClosed)
			return
		}
		c.mu.Lock()
		docs := make([]*Doc, 0, len(c.docs))
		for _, d := range c.docs {
			docs = append(docs, d)
		}
		c.mu.Unlock()
		for _, d := range docs {
			d.rejoin()
		}
	}
}

// disconnected fails the acks the lost connection took with it and puts
// the documents in the rejoining state (their edits are held).
func (c *Conn) disconnected() {
	c.mu.Lock()
	acks := c.acks
	c.acks = map[uint64]ackFunc{}
	docs := make([]*Doc, 0, len(c.docs))
	for _, d := range c.docs {
		docs = append(docs, d)
	}
	c.mu.Unlock()
	for _, d := range docs {
		d.disconnected()
	}
	for _, f := range acks {
		f(nil, ErrDisconnected)
	}
}

// redial dials until it succeeds (the new connection is installed) or
// Close; nil then.
func (c *Conn) redial() *websocket.Conn {
	wait := 100 * time.Millisecond
	for {
		t := time.NewTimer(time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64())))
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return nil
		}
		ws, err := c.dial(c.ctx)
		if err == nil {
			c.wmu.Lock()
			if c.ctx.Err() != nil { // Close raced the dial
				c.wmu.Unlock()
				ws.Close()
				return nil
			}
			c.ws = ws
			c.wmu.Unlock()
			return ws
		}
		wait = min(2*wait, 5*time.Second)
	}
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
			f(p.args[0], nil)
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
	acks := c.acks
	c.acks = map[uint64]ackFunc{}
	c.mu.Unlock()
	c.wmu.Lock()
	_ = c.ws.Close()
	c.wmu.Unlock()
	for _, d := range docs {
		d.failed(err)
	}
	for _, f := range acks {
		f(nil, err)
	}
}

// Err returns why the connection ended, or nil while it is up (or, with
// Options.Reconnect, dialing again).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close closes the connection and waits for its reader. Idempotent.
func (c *Conn) Close() error {
	c.cancel()
	c.fail(ErrClosed)
	<-c.readerDone
	return nil
}
