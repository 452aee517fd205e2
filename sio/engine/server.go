package engine

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/cowrite/cowrite/sio/engine/internal/wsconn"
)

// Options configure a Server; a nil *Options means defaults.
type Options struct {
	// PingInterval is the time between two server pings. Default 25s.
	PingInterval time.Duration
	// PingTimeout is how long after a ping is queued the pong must arrive.
	// Default 20s.
	PingTimeout time.Duration
	// MaxPayload is the largest polling POST body and WebSocket message, in
	// bytes. Default 1_000_000. The fiber app's BodyLimit must be at least
	// this large, or fiber answers 413 itself without closing the session.
	MaxPayload int64
	// UpgradeTimeout is how long a probing WebSocket has to complete the
	// upgrade (2probe … 5). Default 10s.
	UpgradeTimeout time.Duration
	// CORSOrigins are the allowed origins. Nil or empty: no CORS headers and
	// no Origin check. "*" allows any origin (reflected, with credentials).
	// Otherwise a request whose Origin is not listed (compared
	// case-insensitively) is refused with 403 {"code":4,"message":
	// "Forbidden"}. A request from the server's own origin (its Origin names
	// the Host it was sent to) is always allowed.
	CORSOrigins []string
	// SameOriginOnly, when CORSOrigins is empty, refuses with 403 code 4 every
	// request whose Origin names another host than the one it was sent to
	// (WebSockets are not covered by the browser's CORS rules, so this is
	// what stops another site from connecting on a visitor's behalf).
	// Requests without an Origin (non-browser clients) are allowed. Default
	// false: no Origin check, as engine.io.
	SameOriginOnly bool
	// AllowRequest, if set, is called for every handshake; an error refuses
	// it with 403 code 4 and the error's text as the message.
	AllowRequest func(c *fiber.Ctx) error
	// MaxQueue bounds the outbound queue of a session (what is queued and
	// not yet taken by its transport), in packets. Default DefaultMaxQueue.
	// Overflow closes the session with reason "slow consumer".
	MaxQueue int
	// MaxQueuedBytes bounds the same queue in bytes of message data. A
	// Send that would take it past the bound closes the session with reason
	// "slow consumer" (ErrSlowConsumer), as MaxQueue does; a Send into a
	// queue holding no message data is always taken, so that one message
	// larger than the bound is written rather than refused. Default
	// DefaultMaxQueuedBytes.
	MaxQueuedBytes int64
	// MaxQueuedBytesTotal is the global budget of the same queues: the
	// bytes of message data queued in all the server's open sessions
	// together (QueuedBytes). A Send that would take the total past it is
	// treated as a Send past the session's own bound: the session closes
	// with reason "slow consumer" (ErrSlowConsumer) and its queue is
	// released from the budget. As with MaxQueuedBytes, a Send into a queue
	// holding no message data is always taken, so a session whose
	// transport keeps up is never closed because of others' backlog; the
	// total may therefore exceed the budget by at most one Send per such
	// session. Default DefaultMaxQueuedBytesTotal; negative means no
	// global budget.
	MaxQueuedBytesTotal int64
	// MaxSessions caps the open sessions of the server. A handshake beyond
	// it is refused with HTTP 503 and {"code":3,"message":"Server at
	// capacity"} (a WebSocket handshake too, before the upgrade). Default
	// DefaultMaxSessions; negative means no cap.
	MaxSessions int
	// Transports are the allowed transports. Default {"polling","websocket"}.
	Transports []string
	// SIDPrefix is put in front of every session id (cluster mode: the
	// node's tag, so that any node can tell where a session lives).
	// Default none.
	SIDPrefix string
	// Logger receives the engine's logs. Default slog.Default().
	Logger *slog.Logger
	// Observer receives session events (opened, upgraded, closed, slow
	// consumer) for metrics. Default none.
	Observer Observer
}

// Defaults of the Options limits.
const (
	DefaultMaxQueue       = 1024
	DefaultMaxQueuedBytes = 32 << 20 // more than three of the largest document (cowrite's --max-doc-bytes default)
	DefaultMaxSessions    = 10_000
	// DefaultMaxQueuedBytesTotal is eight sessions' worth of
	// DefaultMaxQueuedBytes: far below what DefaultMaxSessions slow
	// consumers could otherwise hold (over 300 GiB).
	DefaultMaxQueuedBytesTotal = 256 << 20
)

// config is Options with the defaults applied.
type config struct {
	pingInterval   time.Duration
	pingTimeout    time.Duration
	maxPayload     int64
	upgradeTimeout time.Duration
	corsOrigins    []string
	sameOriginOnly bool
	allowRequest   func(c *fiber.Ctx) error
	maxQueue       int
	maxQueuedBytes int64
	queued         *queueBudget // MaxQueuedBytesTotal and the bytes queued against it (budget.go)
	maxSessions    int          // 0: no cap
	transports     []string
	logger         *slog.Logger
	observer       Observer
	sidPrefix      string
}

func newConfig(o *Options) *config {
	if o == nil {
		o = &Options{}
	}
	c := &config{
		pingInterval:   o.PingInterval,
		pingTimeout:    o.PingTimeout,
		maxPayload:     o.MaxPayload,
		upgradeTimeout: o.UpgradeTimeout,
		corsOrigins:    slices.Clone(o.CORSOrigins),
		sameOriginOnly: o.SameOriginOnly,
		allowRequest:   o.AllowRequest,
		maxQueue:       o.MaxQueue,
		maxQueuedBytes: o.MaxQueuedBytes,
		queued:         &queueBudget{max: o.MaxQueuedBytesTotal},
		maxSessions:    o.MaxSessions,
		transports:     slices.Clone(o.Transports),
		logger:         o.Logger,
		observer:       o.Observer,
		sidPrefix:      o.SIDPrefix,
	}
	if c.pingInterval <= 0 {
		c.pingInterval = 25 * time.Second
	}
	if c.pingTimeout <= 0 {
		c.pingTimeout = 20 * time.Second
	}
	if c.maxPayload <= 0 {
		c.maxPayload = 1_000_000
	}
	if c.upgradeTimeout <= 0 {
		c.upgradeTimeout = 10 * time.Second
	}
	if c.maxQueue <= 0 {
		c.maxQueue = DefaultMaxQueue
	}
	if c.maxQueuedBytes <= 0 {
		c.maxQueuedBytes = DefaultMaxQueuedBytes
	}
	switch {
	case c.queued.max == 0:
		c.queued.max = DefaultMaxQueuedBytesTotal
	case c.queued.max < 0:
		c.queued.max = 0
	}
	switch {
	case c.maxSessions == 0:
		c.maxSessions = DefaultMaxSessions
	case c.maxSessions < 0:
		c.maxSessions = 0
	}
	if len(c.transports) == 0 {
		c.transports = []string{transportPolling, transportWebSocket}
	}
	if c.logger == nil {
		c.logger = slog.Default()
	}
	if c.observer == nil {
		c.observer = nopObserver{}
	}
	return c
}

func (c *config) allows(transport string) bool { return slices.Contains(c.transports, transport) }

// Log keys.
const (
	logKeySID    = "sid"
	logKeyReason = "reason"
)

// Server is an Engine.IO v4 server: it answers handshakes, keeps the
// session table and routes requests to sessions.
type Server struct {
	cfg       *config
	log       *slog.Logger
	ownConns  atomic.Bool   // Mount made fasthttp keep hijacked connections (see serveWS)
	wsHandler fiber.Handler // the contrib websocket handler (newWSHandler)
	closeOnce sync.Once
	wg        sync.WaitGroup // sessions until OnClose has returned, and websocket connections

	mu        sync.Mutex          // guards the fields below
	sessions  map[string]*Session // open sessions
	closing   map[string]*Session // closed polling sessions whose close packet is not yet taken
	closed    bool
	onSession func(*Session)
	parker    *wsconn.Parker // holds idle WebSockets; made on first use
	parkerSet bool           // wsconn.NewParker was called
}

// getParker returns the server's parker (nil where unsupported or once
// the server is closed).
func (s *Server) getParker() *wsconn.Parker {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	if !s.parkerSet {
		s.parkerSet = true
		s.parker = wsconn.NewParker()
	}
	return s.parker
}

// NewServer returns a Server; opts may be nil.
func NewServer(opts *Options) *Server {
	cfg := newConfig(opts)
	s := &Server{
		cfg:      cfg,
		log:      cfg.logger,
		sessions: make(map[string]*Session),
		closing:  make(map[string]*Session),
	}
	s.wsHandler = s.newWSHandler()
	return s
}

// OnSession sets the callback called once per new session, before any of
// its messages is delivered; set the session's OnMessage and OnClose there.
// It runs on the request's goroutine and should not block.
func (s *Server) OnSession(fn func(*Session)) {
	s.mu.Lock()
	s.onSession = fn
	s.mu.Unlock()
}

// SessionCount is the number of open sessions.
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// QueuedBytes is the bytes of message data queued in the open sessions'
// outbound queues, the total that MaxQueuedBytesTotal bounds.
func (s *Server) QueuedBytes() int64 { return s.cfg.queued.total.Load() }

// Close stops accepting handshakes, closes every session with reason
// "server shutting down" and waits until every OnClose has returned and
// every WebSocket connection has ended. It is idempotent. It must not be
// called from an OnMessage/OnClose callback (it would wait for itself).
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		for _, sess := range s.openSessions(true) {
			sess.close(ReasonServerShutdown)
		}
		// Pending GETs have their close packet; stop lingering.
		s.mu.Lock()
		lingering := make([]*Session, 0, len(s.closing))
		for _, sess := range s.closing {
			lingering = append(lingering, sess)
		}
		s.mu.Unlock()
		for _, sess := range lingering {
			sess.forget()
		}
	})
	s.wg.Wait()
	// Every connection has ended, so none is parked any more.
	s.mu.Lock()
	p := s.parker
	s.parker = nil
	s.mu.Unlock()
	if p != nil {
		p.Stop()
	}
}

// CloseSessions closes every open session with reason "server shutting
// down" (clients reconnect, e.g. to another node) and returns how many it
// closed. Unlike Close, the server goes on accepting handshakes.
func (s *Server) CloseSessions() int {
	list := s.openSessions(false)
	for _, sess := range list {
		sess.close(ReasonServerShutdown)
	}
	return len(list)
}

// openSessions lists the open sessions; with stop, no handshake is
// accepted any more.
func (s *Server) openSessions(stop bool) []*Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if stop {
		s.closed = true
	}
	list := make([]*Session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		list = append(list, sess)
	}
	return list
}

// lookup returns the session with id sid: open, or closed with a close
// packet still to be taken by a GET.
func (s *Server) lookup(sid string) *Session {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.sessions[sid]; ok {
		return sess
	}
	return s.closing[sid]
}

// Why open refused a session.
var (
	errServerClosed = errors.New("engine: server closed")
	errAtCapacity   = errors.New("engine: too many sessions")
)

// atCapacity reports whether the server holds MaxSessions open sessions.
func (s *Server) atCapacity() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.atCapacityLocked()
}

func (s *Server) atCapacityLocked() bool {
	return s.cfg.maxSessions > 0 && len(s.sessions) >= s.cfg.maxSessions
}

// open creates, registers and starts a session on transport t. It fails
// once the server is closed (errServerClosed) or at MaxSessions
// (errAtCapacity).
func (s *Server) open(t Transport, hs *Handshake) (*Session, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errServerClosed
	}
	if s.atCapacityLocked() {
		s.mu.Unlock()
		return nil, errAtCapacity
	}
	id := s.cfg.sidPrefix + newID()
	sess := newSession(id, s.cfg, hs, t, s)
	s.sessions[id] = sess
	fn := s.onSession
	s.wg.Add(1) // released below, after start has counted the session
	s.mu.Unlock()
	defer s.wg.Done()

	sess.logAt(slog.LevelDebug, "engine: session opened", slog.String("transport", t.Name()))
	if fn != nil {
		sess.guard("OnSession", func() { fn(sess) })
	}
	sess.start(&s.wg)
	return sess, nil
}

// addConn counts a websocket connection until it ends; false once closed.
func (s *Server) addConn() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.wg.Add(1)
	return true
}

// sessionClosed implements registry.
func (s *Server) sessionClosed(sess *Session, linger bool) {
	s.mu.Lock()
	if s.sessions[sess.id] == sess {
		delete(s.sessions, sess.id)
	}
	if linger {
		s.closing[sess.id] = sess
	}
	s.mu.Unlock()
}

// forgetSession implements registry.
func (s *Server) forgetSession(sess *Session) {
	s.mu.Lock()
	if s.closing[sess.id] == sess {
		delete(s.closing, sess.id)
	}
	s.mu.Unlock()
}

// newID returns a random 20-character URL-safe session id.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}
