package sio

import (
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/cowrite/cowrite/sio/engine"
)

// Log keys.
const (
	logKeySID    = "sid" // Engine.IO session id
	logKeyNsp    = "nsp"
	logKeySocket = "socket" // Socket.IO socket id
	logKeyEvent  = "event"
	logKeyType   = "type"
	logKeyErr    = "err"
)

// session is the part of *engine.Session the Socket.IO layer uses (tests use a fake).
type session interface {
	ID() string
	Transport() string
	Send(msgs ...engine.Message) error
	SendVolatile(msgs ...engine.Message) bool
	Close()
}

// client is one Engine.IO session; it multiplexes the namespaces the peer connects to.
// onMessage and onClose run on the session's deliverer (see sio/engine), one at a time;
// dec and failed are only touched there.
type client struct {
	server *Server
	sess   session
	hs     *engine.Handshake
	log    *slog.Logger
	dec    decoder
	failed bool // a protocol error closed the session; later messages are dropped

	mu           sync.Mutex         // guards the fields below
	sockets      map[string]*Socket // namespace name → socket
	closed       bool
	connectTimer *time.Timer // stopped at the first successful CONNECT
	everJoined   bool        // a namespace CONNECT succeeded once
}

func newClient(srv *Server, sess session, hs *engine.Handshake) *client {
	c := &client{
		server:  srv,
		sess:    sess,
		hs:      hs,
		log:     srv.log.With(logKeySID, sess.ID()),
		dec:     decoder{maxAttachments: srv.opts.MaxAttachments},
		sockets: make(map[string]*Socket),
	}
	c.connectTimer = time.AfterFunc(srv.opts.ConnectTimeout, c.onConnectTimeout)
	return c
}

func (c *client) onConnectTimeout() {
	c.mu.Lock()
	idle := !c.closed && !c.everJoined
	c.mu.Unlock()
	if idle {
		c.log.Debug("sio: no namespace connected in time, closing")
		c.sess.Close()
	}
}

// onMessage handles one Engine.IO message.
func (c *client) onMessage(binary bool, data []byte) {
	if c.failed {
		return
	}
	p, err := c.dec.add(binary, data)
	if err != nil {
		c.log.Debug("sio: protocol error, closing", logKeyErr, err)
		c.fail()
		return
	}
	if p == nil {
		return
	}
	if p.Nsp == "" {
		p.Nsp = "/"
	}
	if p.Type == PacketConnect {
		c.connect(p)
		return
	}
	c.mu.Lock()
	s := c.sockets[p.Nsp]
	c.mu.Unlock()
	if s == nil || p.Type == PacketConnectError {
		c.log.Debug("sio: packet for a namespace not connected, closing", logKeyNsp, p.Nsp, logKeyType, p.Type)
		c.fail()
		return
	}
	s.onPacket(p)
}

// fail closes the connection after a protocol error.
func (c *client) fail() {
	c.failed = true
	c.closeSockets(ReasonParseError)
	c.sess.Close()
}

func (c *client) connect(p *Packet) {
	c.mu.Lock()
	_, dup := c.sockets[p.Nsp]
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return
	}
	if dup {
		c.log.Debug("sio: second CONNECT to a connected namespace, closing", logKeyNsp, p.Nsp)
		c.fail()
		return
	}
	nsp := c.server.namespace(p.Nsp)
	if nsp == nil {
		c.sendConnectError(p.Nsp, &ConnectError{Message: "Invalid namespace"})
		return
	}
	auth := p.Data
	if auth == nil {
		auth = json.RawMessage("{}")
	}
	hs := &Handshake{Auth: auth}
	if c.hs != nil {
		hs.Headers, hs.Query, hs.Address = c.hs.Headers, c.hs.Query, c.hs.RemoteAddr
		hs.Time, hs.Secure, hs.URL = c.hs.Time, c.hs.Secure, c.hs.URL
	}
	s := &Socket{id: newSocketID(), nsp: nsp, client: c, handshake: hs}
	middlewares, onConn := nsp.handlers()
	for _, mw := range middlewares {
		err := error(&ConnectError{Message: "Internal error"}) // kept if mw panics
		s.safeCall("middleware", func() { err = mw(s) })
		if err != nil {
			c.sendConnectError(p.Nsp, err)
			return
		}
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.sockets[p.Nsp] = s
	c.everJoined = true
	c.connectTimer.Stop()
	c.mu.Unlock()
	s.mu.Lock()
	s.connected = true
	s.mu.Unlock()
	nsp.add(s)
	reply, _ := json.Marshal(map[string]string{"sid": s.id})
	_ = s.send(&Packet{Type: PacketConnect, Nsp: p.Nsp, ID: -1, Data: reply})
	for _, fn := range onConn {
		s.safeCall("connection", func() { fn(s) })
	}
}

func (c *client) sendConnectError(nsp string, err error) {
	body := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{Message: err.Error()}
	if ce, ok := err.(*ConnectError); ok {
		body.Data = ce.Data
	}
	data, mErr := appendJSON(nil, body)
	if mErr != nil {
		data, _ = appendJSON(nil, map[string]string{"message": err.Error()})
	}
	p := &Packet{Type: PacketConnectError, Nsp: nsp, ID: -1, Data: data}
	_ = c.sess.Send(encodeMessages(p)...)
}

// remove forgets a socket that left its namespace.
func (c *client) remove(s *Socket) {
	c.mu.Lock()
	if c.sockets[s.nsp.name] == s {
		delete(c.sockets, s.nsp.name)
	}
	c.mu.Unlock()
}

// snapshot returns the connected sockets.
func (c *client) snapshot() []*Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Socket, 0, len(c.sockets))
	for _, s := range c.sockets {
		out = append(out, s)
	}
	return out
}

// closeSockets disconnects every socket of the connection with reason.
func (c *client) closeSockets(reason string) {
	for _, s := range c.snapshot() {
		s.onClose(reason)
	}
}

// disconnectAll sends DISCONNECT for every namespace, then closes the session.
func (c *client) disconnectAll() {
	for _, s := range c.snapshot() {
		s.Disconnect(false)
	}
	c.sess.Close()
}

// onClose is called once when the Engine.IO session is closed.
func (c *client) onClose(reason string) {
	c.mu.Lock()
	c.closed = true
	c.connectTimer.Stop()
	c.mu.Unlock()
	c.closeSockets(reason)
}
