package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"time"
)

// Message is the payload of one Engine.IO "message" packet (type 4).
// Received messages are owned by the receiver: the engine never reuses
// Data. Data given to Send must not be modified until it has been written.
type Message struct {
	Binary bool
	Data   []byte
}

// Handshake is a snapshot of the request that opened a session.
type Handshake struct {
	Headers    http.Header
	Query      url.Values
	RemoteAddr string
	Time       time.Time
	Secure     bool
	URL        string
}

// sessionState is the life cycle of a session. Engine.IO's "opening" state
// does not exist here: a session is created open, with the open packet
// already queued. "closing" is folded into closed: a closed session takes
// no new packets but its transport still writes what was queued before.
type sessionState int

const (
	stateOpen sessionState = iota
	stateClosed
)

// upgradeState is the progress of a polling → websocket upgrade.
type upgradeState int

const (
	upgradeNone    upgradeState = iota
	upgradeProbing              // a websocket is connected, 2probe not yet received
	upgradeProbed               // 3probe sent; pending and new GETs are released with a noop
	upgradeDone                 // the session runs on the websocket
)

// inboxSize is the number of received messages buffered ahead of the
// OnMessage callback before the reading transport is made to wait.
const inboxSize = 64

// inboxItem is a received message, or (flushed != nil) a marker closed
// by the deliverer once every message before it has been delivered.
type inboxItem struct {
	msg     Message
	flushed chan struct{}
}

// Session is one Engine.IO session (engine.io's Socket).
//
// Received messages and the close are delivered in order by the session's
// deliverer (see the package doc: a reader, or a goroutine started only
// when no reader delivers): OnMessage is never called concurrently with
// itself or with OnClose, and OnClose is called exactly once, after the
// last OnMessage. Callbacks run with no engine lock held, so they may call
// Send and Close.
type Session struct {
	id  string
	cfg *config
	hs  *Handshake
	reg registry // the server's session table (nil in some tests)

	closedCh chan struct{} // closed when the session closes
	doneCh   chan struct{} // closed when the deliverer has run OnClose
	wg       *sync.WaitGroup

	mu           sync.Mutex // guards the fields below
	state        sessionState
	reason       string
	transport    Transport
	upgrade      upgradeState
	probe        Transport // websocket being probed, while upgradeProbing/upgradeProbed
	out          []packet  // packets queued and not yet taken by the transport
	outBytes     int64     // bytes of message data in out
	onMessage    func(Message)
	onClose      func(string)
	pingTimer    *time.Timer
	pongTimer    *time.Timer
	pingSeq      uint64      // incremented by every ping and pong; stale timers compare it
	pingSent     time.Time   // when the unanswered ping was queued; zero once answered
	upgradeTimer *time.Timer // aborts the probe after UpgradeTimeout
	linger       *time.Timer // closed polling session waiting for a GET to take its close packet

	// Delivery. There is no goroutine per idle session: the reader that
	// queues an item while nobody delivers becomes the deliverer (see
	// enqueueLocked); after start and after the close, with nobody
	// delivering, a deliverer goroutine is started. A deliverer delivers
	// until the inbox is empty and then stops; after the close it delivers
	// what is left, then OnClose, and ends for good (delivering stays true
	// so that no other deliverer starts).
	inbox      []inboxItem   // received and not yet delivered, from inboxHead on
	inboxHead  int           // index of the next item to deliver
	inboxRoom  chan struct{} // closed when the inbox has room again; nil unless a receiver waits
	started    bool          // start has run: deliverers may start
	closeSeen  bool          // closedCh is closed (the session has left the table): OnClose may run
	delivering bool          // a deliverer runs
}

// registry is the session table a session reports to.
type registry interface {
	// sessionClosed is called once when the session closes. With linger, the
	// session must stay reachable by its sid (so a GET can take its
	// final packets) until forget.
	sessionClosed(s *Session, linger bool)
	// forgetSession drops a lingering closed session.
	forgetSession(s *Session)
}

func newSession(id string, cfg *config, hs *Handshake, t Transport, reg registry) *Session {
	s := &Session{
		id:        id,
		cfg:       cfg,
		hs:        hs,
		reg:       reg,
		closedCh:  make(chan struct{}),
		doneCh:    make(chan struct{}),
		transport: t,
	}
	upgrades := `["websocket"]`
	if t.Name() != transportPolling || !cfg.allows(transportWebSocket) {
		upgrades = `[]`
	}
	open := fmt.Sprintf(`{"sid":"%s","upgrades":%s,"pingInterval":%d,"pingTimeout":%d,"maxPayload":%d}`,
		id, upgrades, cfg.pingInterval.Milliseconds(), cfg.pingTimeout.Milliseconds(), cfg.maxPayload)
	s.out = append(s.out, packet{typ: PacketOpen, data: []byte(open)})
	cfg.observer.SessionOpened(t.Name()) // nobody else sees s yet
	return s
}

// start begins the heartbeat and the delivery of messages. It is called
// after OnSession, so the callbacks set there see every message.
// wg counts the session until OnClose has returned.
func (s *Session) start(wg *sync.WaitGroup) {
	wg.Add(1)
	s.mu.Lock()
	s.wg = wg
	s.started = true
	if s.state == stateOpen {
		s.pingTimer = time.AfterFunc(s.cfg.pingInterval, s.sendPing)
	}
	run := s.needDelivererLocked()
	s.mu.Unlock()
	if run {
		go s.deliverLoop()
	}
}

// ID is the session id (the Engine.IO sid).
func (s *Session) ID() string { return s.id }

// Handshake returns the snapshot of the request that opened the session.
func (s *Session) Handshake() *Handshake { return s.hs }

// Transport is the name of the current transport: "polling" or "websocket".
func (s *Session) Transport() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transport.Name()
}

// OnMessage sets the message callback. Set it inside the Server's
// OnSession callback; messages arriving while it is nil are dropped.
func (s *Session) OnMessage(fn func(Message)) {
	s.mu.Lock()
	s.onMessage = fn
	s.mu.Unlock()
}

// OnClose sets the close callback, called exactly once with the reason
// (one of the Reason constants), after the last OnMessage.
func (s *Session) OnClose(fn func(reason string)) {
	s.mu.Lock()
	s.onClose = fn
	s.mu.Unlock()
}

// Done is closed when the session has closed and OnClose has returned.
func (s *Session) Done() <-chan struct{} { return s.doneCh }

// Send queues msgs to be written contiguously, in order, with nothing
// between them. It returns ErrClosed on a closed session. If the queue
// would exceed MaxQueue packets or MaxQueuedBytes, or the server's queues
// together MaxQueuedBytesTotal (the byte bounds apply unless the queue
// holds no message data yet), the session is closed with reason "slow
// consumer" and ErrSlowConsumer is returned: nothing is dropped silently.
func (s *Session) Send(msgs ...Message) error {
	if len(msgs) == 0 {
		return nil
	}
	n := messageBytes(msgs)
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return ErrClosed
	}
	queued, bytes := len(s.out), s.outBytes
	full := queued+len(msgs) > s.cfg.maxQueue || (bytes > 0 && bytes+n > s.cfg.maxQueuedBytes)
	if full || !s.cfg.queued.reserve(n, s.cfg.queued.max, bytes == 0) {
		s.mu.Unlock()
		msg := "engine: outbound queue full, closing session"
		if !full {
			msg = "engine: global queue budget exhausted, closing session"
		}
		s.logAt(slog.LevelWarn, msg, slog.Int("queued", queued), slog.Int64("queuedBytes", bytes))
		s.close(ReasonSlowConsumer)
		return ErrSlowConsumer
	}
	s.appendLocked(msgs, n)
	t := s.transport
	s.mu.Unlock()
	t.Notify()
	return nil
}

// SendVolatile is Send for messages that may be lost: it queues msgs and
// returns true only if they can be written now (the queue stays within
// half of MaxQueue and of MaxQueuedBytes, the server's queues within half
// of MaxQueuedBytesTotal, no upgrade is in progress, and the transport is
// writable — for polling, a GET is pending); otherwise it drops them and
// returns false.
func (s *Session) SendVolatile(msgs ...Message) bool {
	if len(msgs) == 0 {
		return true
	}
	n := messageBytes(msgs)
	s.mu.Lock()
	if s.state != stateOpen || s.upgrade == upgradeProbing || s.upgrade == upgradeProbed ||
		len(s.out)+len(msgs) > s.cfg.maxQueue/2 || s.outBytes+n > s.cfg.maxQueuedBytes/2 ||
		!s.transport.Writable() || !s.cfg.queued.reserve(n, s.cfg.queued.max/2, false) {
		s.mu.Unlock()
		return false
	}
	s.appendLocked(msgs, n)
	t := s.transport
	s.mu.Unlock()
	t.Notify()
	return true
}

// appendLocked queues msgs, whose n bytes of data the caller has reserved
// in the server's budget (queueBudget.reserve).
func (s *Session) appendLocked(msgs []Message, n int64) {
	for _, m := range msgs {
		s.out = append(s.out, packet{typ: PacketMessage, data: m.Data, binary: m.Binary})
	}
	s.outBytes += n
}

// releaseOutLocked gives the queue's bytes back to the server's budget:
// called when the queue is taken by the transport and when the session
// closes (a closed session queues no more data, so what it still has to
// write is no longer counted). It is the only place outBytes drops.
func (s *Session) releaseOutLocked() {
	s.cfg.queued.release(s.outBytes)
	s.outBytes = 0
}

// messageBytes is the data size of msgs (what MaxQueuedBytes counts).
func messageBytes(msgs []Message) int64 {
	var n int64
	for _, m := range msgs {
		n += int64(len(m.Data))
	}
	return n
}

// Close closes the session from the server side (reason "forced close").
// Packets already queued are still written (over polling, only if a GET
// comes or is pending). Close is idempotent and does not wait for OnClose.
func (s *Session) Close() { s.close(ReasonForcedClose) }

// close moves the session to closed exactly once. Over polling, every
// reason but a client close queues a close packet for the pending GET;
// after a server-side close the session then lingers in the server's
// table until a GET has taken it, or for PingInterval+PingTimeout.
func (s *Session) close(reason string) {
	s.mu.Lock()
	if s.state == stateClosed {
		s.mu.Unlock()
		return
	}
	s.state = stateClosed
	s.reason = reason
	if s.pingTimer != nil {
		s.pingTimer.Stop()
	}
	if s.pongTimer != nil {
		s.pongTimer.Stop()
	}
	if s.upgradeTimer != nil {
		s.upgradeTimer.Stop()
		s.upgradeTimer = nil
	}
	t, probe := s.transport, s.probe
	s.probe = nil
	s.releaseOutLocked() // what is queued may still be written, but the session takes no more
	s.cfg.observer.SessionClosed(t.Name())
	if reason == ReasonSlowConsumer {
		s.cfg.observer.SlowConsumerDisconnected()
	}
	// Like engine.io: a server-side close (Close, shutdown, and here the
	// slow consumer) is graceful and keeps the sid reachable until a GET
	// takes the close packet; an error close drops the sid at once, the
	// close packet reaching only a pending GET.
	// A client close lingers too, without a close packet, so that a GET
	// racing with the client's "1" POST gets a noop rather than a 400.
	var linger bool
	if t.Name() == transportPolling {
		if reason != ReasonTransportClose {
			s.out = append(s.out, packet{typ: PacketClose})
		}
		switch reason {
		case ReasonForcedClose, ReasonServerShutdown, ReasonSlowConsumer, ReasonTransportClose:
			linger = true
		}
	}
	if linger {
		if s.reg != nil {
			s.linger = time.AfterFunc(s.cfg.pingInterval+s.cfg.pingTimeout, s.forget)
		}
	}
	s.mu.Unlock()

	s.logAt(slog.LevelDebug, "engine: session closed", slog.String(logKeyReason, reason))
	// Leave the table first: when OnClose runs, the sid is gone.
	if s.reg != nil {
		s.reg.sessionClosed(s, linger)
	}
	close(s.closedCh)
	s.mu.Lock()
	s.closeSeen = true
	run := s.needDelivererLocked()
	s.mu.Unlock()
	if run {
		go s.deliverLoop() // for OnClose
	}
	t.Close()
	if probe != nil {
		probe.Close()
	}
}

// take hands the queued packets to transport t. The state says whether t
// should go on (takeOpen), answer at once because an upgrade is being
// probed (takeUpgrading), or finish (takeDone: the session is closed or t
// is no longer its transport).
func (s *Session) take(t Transport) ([]packet, takeState) {
	s.mu.Lock()
	if t != s.transport {
		s.mu.Unlock()
		return nil, takeDone
	}
	pkts := s.out
	s.out = nil
	s.releaseOutLocked()
	switch {
	case s.state == stateClosed:
		lingering := s.linger != nil
		s.mu.Unlock()
		if lingering {
			s.forget() // this GET gets the final packets (or a noop)
		}
		return pkts, takeDone
	case s.upgrade == upgradeProbed:
		s.mu.Unlock()
		return pkts, takeUpgrading
	}
	s.mu.Unlock()
	return pkts, takeOpen
}

// forget ends the lingering of a closed session.
func (s *Session) forget() {
	s.mu.Lock()
	if s.linger != nil {
		s.linger.Stop()
	}
	s.mu.Unlock()
	if s.reg != nil {
		s.reg.forgetSession(s)
	}
}

// receive handles one packet received on transport t. It may block while
// the inbox is full. It returns false when t should stop reading (the
// session closed or t is not its transport).
func (s *Session) receive(t Transport, p packet) bool {
	s.mu.Lock()
	if s.state != stateOpen || t != s.transport {
		s.mu.Unlock()
		return false
	}
	switch p.typ {
	case PacketMessage:
		return s.enqueueLocked(inboxItem{msg: Message{Binary: p.binary, Data: p.data}})
	case PacketPong:
		s.pingSeq++
		s.pingSent = time.Time{}
		if s.pongTimer != nil {
			s.pongTimer.Stop()
		}
		if s.pingTimer != nil {
			s.pingTimer.Reset(s.cfg.pingInterval)
		}
		s.mu.Unlock()
		return true
	case PacketClose:
		s.mu.Unlock()
		s.close(ReasonTransportClose)
		return false
	case PacketPing:
		// v4: only the server pings ("invalid heartbeat direction").
		s.mu.Unlock()
		s.logAt(slog.LevelDebug, "engine: client sent a ping")
		s.close(ReasonTransportError)
		return false
	default: // open, upgrade, noop: ignored like engine.io does
		s.mu.Unlock()
		return true
	}
}

// flushInbox waits until OnMessage has returned for every message
// received so far (or the session is done). A polling POST is answered
// after it, as engine.io answers after emitting the POST's messages, so
// that replies sent from OnMessage are queued before the client's next GET.
func (s *Session) flushInbox() {
	done := make(chan struct{})
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	if !s.enqueueLocked(inboxItem{flushed: done}) {
		return
	}
	select {
	case <-done:
	case <-s.doneCh:
	}
}

// transportError closes the session if t is its transport, or abandons
// the upgrade if t is the websocket being probed.
func (s *Session) transportError(t Transport, reason string) {
	if s.abortProbe(t) {
		return
	}
	s.mu.Lock()
	current := s.transport == t
	s.mu.Unlock()
	if current {
		s.close(reason)
	}
}

// abortProbe abandons the upgrade if ws is the websocket being probed,
// and closes ws. It reports whether ws was the probe.
func (s *Session) abortProbe(ws Transport) bool {
	s.mu.Lock()
	if s.probe != ws || ws == nil {
		s.mu.Unlock()
		return false
	}
	s.probe = nil
	s.upgrade = upgradeNone
	if s.upgradeTimer != nil {
		s.upgradeTimer.Stop()
		s.upgradeTimer = nil
	}
	s.mu.Unlock()
	ws.Close()
	return true
}

// beginProbe registers ws as the websocket probing an upgrade, which must
// complete within timeout. It fails if the session is closed, not on
// polling, or already upgrading/upgraded.
func (s *Session) beginProbe(ws Transport, timeout time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state != stateOpen || s.upgrade != upgradeNone || s.transport.Name() != transportPolling {
		return false
	}
	s.upgrade = upgradeProbing
	s.probe = ws
	s.upgradeTimer = time.AfterFunc(timeout, func() { s.abortProbe(ws) })
	return true
}

// probed records that ws answered the probe: pending and new GETs are
// released with a noop so the client can pause polling.
func (s *Session) probed(ws Transport) bool {
	s.mu.Lock()
	if s.state != stateOpen || s.probe != ws {
		s.mu.Unlock()
		return false
	}
	s.upgrade = upgradeProbed
	t := s.transport
	s.mu.Unlock()
	t.Notify()
	return true
}

// upgraded reports whether the session, still open, moved to a websocket.
func (s *Session) upgraded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state == stateOpen && s.upgrade == upgradeDone
}

// finishUpgrade makes ws the session's transport (client sent "5").
// Packets still queued are then written on ws.
func (s *Session) finishUpgrade(ws Transport) bool {
	s.mu.Lock()
	if s.state != stateOpen || s.probe != ws || s.upgrade != upgradeProbed {
		s.mu.Unlock()
		return false
	}
	old := s.transport
	s.transport = ws
	s.probe = nil
	s.upgrade = upgradeDone
	s.cfg.observer.SessionUpgraded(old.Name(), ws.Name())
	if s.upgradeTimer != nil {
		s.upgradeTimer.Stop()
		s.upgradeTimer = nil
	}
	s.mu.Unlock()
	old.Close()
	ws.Notify()
	return true
}

// sendPing queues a ping and arms the ping timeout (heartbeat timer).
func (s *Session) sendPing() {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return
	}
	s.pingSeq++
	seq := s.pingSeq
	s.pingSent = time.Now()
	s.out = append(s.out, packet{typ: PacketPing})
	if s.pongTimer != nil {
		s.pongTimer.Stop()
	}
	s.pongTimer = time.AfterFunc(s.cfg.pingTimeout, func() { s.pingTimedOut(seq) })
	t := s.transport
	s.mu.Unlock()
	t.Notify()
}

// pongOverdue closes the session if its pong is overdue — PingTimeout
// after the ping was queued — even though the timeout timer (which may
// fire late on a loaded machine) has not closed it yet. It reports whether the
// session is closed for that reason; requests then treat the sid as
// unknown, as they would had the timer been on time.
func (s *Session) pongOverdue() bool {
	s.mu.Lock()
	overdue := s.state == stateOpen && !s.pingSent.IsZero() && time.Since(s.pingSent) > s.cfg.pingTimeout
	s.mu.Unlock()
	if overdue {
		s.close(ReasonPingTimeout)
	}
	return overdue
}

func (s *Session) pingTimedOut(seq uint64) {
	s.mu.Lock()
	stale := s.pingSeq != seq || s.state != stateOpen
	s.mu.Unlock()
	if !stale {
		s.close(ReasonPingTimeout)
	}
}

// enqueueLocked adds it to the inbox, waiting while the inbox is full. If
// no deliverer runs, the caller (a transport's reader) becomes the
// deliverer: it delivers the inbox before it returns, as Node's
// engine.io emits a message on the stack that read it. It is called with
// s.mu held on an open session and returns with s.mu released; false if
// the session closed while it waited.
func (s *Session) enqueueLocked(it inboxItem) bool {
	for len(s.inbox)-s.inboxHead >= inboxSize {
		if s.inboxRoom == nil {
			s.inboxRoom = make(chan struct{})
		}
		room := s.inboxRoom
		s.mu.Unlock()
		select {
		case <-room:
		case <-s.closedCh:
			return false
		}
		s.mu.Lock()
		if s.state != stateOpen {
			s.mu.Unlock()
			return false
		}
	}
	if s.inboxHead > 0 && len(s.inbox) == cap(s.inbox) {
		// Reuse the delivered prefix rather than growing: the inbox
		// stays within about 2*inboxSize items under a steady stream.
		n := copy(s.inbox, s.inbox[s.inboxHead:])
		clear(s.inbox[n:])
		s.inbox, s.inboxHead = s.inbox[:n], 0
	}
	s.inbox = append(s.inbox, it)
	run := s.needDelivererLocked()
	s.mu.Unlock()
	if run {
		s.deliverLoop()
	}
	return true
}

// needDelivererLocked reports whether a deliverer must be started (there
// is something to deliver, or the close, and none runs), and if so marks
// one as running.
func (s *Session) needDelivererLocked() bool {
	if !s.started || s.delivering || (s.inboxHead == len(s.inbox) && !s.closeSeen) {
		return false
	}
	s.delivering = true
	return true
}

// deliverLoop delivers the inbox in order, one item at a time with no lock
// held, until it is empty; once the session has closed (and left the
// server's table) it then runs OnClose and closes doneCh. Only one runs at
// a time (s.delivering), so callbacks are sequential.
func (s *Session) deliverLoop() {
	for {
		s.mu.Lock()
		if s.inboxHead == len(s.inbox) {
			if cap(s.inbox) > 4 {
				s.inbox = nil // an idle session keeps no large inbox
			}
			s.inbox, s.inboxHead = s.inbox[:0], 0
			if !s.closeSeen {
				s.delivering = false
				s.mu.Unlock()
				return
			}
			fn, reason := s.onClose, s.reason
			s.mu.Unlock()
			if fn != nil {
				s.guard("OnClose", func() { fn(reason) })
			}
			close(s.doneCh)
			s.wg.Done()
			return // s.delivering stays true: the session is done
		}
		it := s.inbox[s.inboxHead]
		s.inbox[s.inboxHead] = inboxItem{}
		s.inboxHead++
		if s.inboxRoom != nil {
			close(s.inboxRoom)
			s.inboxRoom = nil
		}
		fn := s.onMessage
		s.mu.Unlock()
		if it.flushed != nil {
			close(it.flushed)
		} else if fn != nil {
			m := it.msg
			s.guard("OnMessage", func() { fn(m) })
		}
	}
}

// logAt logs msg with the session id. A session keeps no logger of its
// own (slog's With would cost every idle session about a KiB).
func (s *Session) logAt(level slog.Level, msg string, attrs ...slog.Attr) {
	l := s.cfg.logger
	if !l.Enabled(context.Background(), level) {
		return
	}
	l.LogAttrs(context.Background(), level, msg, append([]slog.Attr{slog.String(logKeySID, s.id)}, attrs...)...)
}

// guard runs a callback; a panic in it is logged and closes the session
// rather than the process.
func (s *Session) guard(name string, fn func()) {
	defer func() {
		if r := recover(); r != nil {
			s.logAt(slog.LevelError, "engine: callback panicked", slog.String("callback", name),
				slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
			s.close(ReasonForcedClose)
		}
	}()
	fn()
}
