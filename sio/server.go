package sio

import (
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cowrite/cowrite/sio/engine"
	"github.com/gofiber/fiber/v2"
)

// Options configure a Server; a nil *Options means defaults.
type Options struct {
	// Engine configures the Engine.IO layer (heartbeat, maxPayload, CORS, transports…);
	// nil means engine defaults. Its Logger defaults to Logger below.
	Engine *engine.Options
	// ConnectTimeout closes a session that has not connected to any namespace in time.
	// Default DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// AckTimeout is the default timeout of EmitWithAckFunc. Default 0: wait until the
	// client acks or disconnects.
	AckTimeout time.Duration
	// MaxAttachments bounds the binary attachments of one received packet; a packet
	// announcing more closes the connection. Default 10.
	MaxAttachments int
	// Adapter creates the room adapter of each namespace. Default NewMemoryAdapter.
	Adapter func(*Namespace) Adapter
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Observer receives socket, room and broadcast events for metrics (see Observer).
	// Default none. Engine.IO session events are configured in Engine.Observer.
	Observer Observer
}

// DefaultConnectTimeout is Options.ConnectTimeout's default: shorter than Node's 45s,
// because a session that never connects a namespace holds server memory for nothing
// (a client sends its CONNECT right after the Engine.IO handshake).
const DefaultConnectTimeout = 10 * time.Second

// Server is a Socket.IO v5 server on top of an Engine.IO v4 server.
type Server struct {
	opts Options
	eng  *engine.Server
	log  *slog.Logger

	mu   sync.RWMutex // guards nsps
	nsps map[string]*Namespace
}

// NewServer returns a server with the main namespace "/" already created.
func NewServer(opts *Options) *Server {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.MaxAttachments <= 0 {
		o.MaxAttachments = 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Observer == nil {
		o.Observer = nopObserver{}
	}
	var eo engine.Options
	if o.Engine != nil {
		eo = *o.Engine
	}
	if eo.Logger == nil {
		eo.Logger = o.Logger
	}
	s := &Server{opts: o, log: o.Logger, nsps: make(map[string]*Namespace)}
	s.eng = engine.NewServer(&eo)
	s.eng.OnSession(s.onSession)
	s.Of("/")
	return s
}

func (s *Server) onSession(sess *engine.Session) {
	c := newClient(s, sess, sess.Handshake())
	sess.OnMessage(func(m engine.Message) { c.onMessage(m.Binary, m.Data) })
	sess.OnClose(c.onClose)
}

// Mount registers the server's routes on r at path (such as "/socket.io/").
func (s *Server) Mount(r fiber.Router, path string) { s.eng.Mount(r, path) }

// Engine returns the underlying Engine.IO server.
func (s *Server) Engine() *engine.Server { return s.eng }

// Of returns the namespace name, creating it if needed. A name without a leading slash
// gets one.
func (s *Server) Of(name string) *Namespace {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nsps[name]
	if n == nil {
		n = newNamespace(s, name)
		s.nsps[name] = n
	}
	return n
}

func (s *Server) namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

// To returns a broadcast operator on the main namespace.
func (s *Server) To(rooms ...string) *BroadcastOperator { return s.Of("/").To(rooms...) }

// Close closes every session (sockets see "server shutting down"), stops accepting new
// ones and waits for their disconnect handlers. It is idempotent. It must not be called
// from a handler (it would wait for itself).
func (s *Server) Close() { s.eng.Close() }
