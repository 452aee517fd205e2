package engine

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	fws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"
)

// wsWriteTimeout bounds one batched write to a WebSocket; once the
// session is closed, wsCloseTimeout bounds what is left (the final flush
// and the close frame), so a client that stopped reading cannot hold the
// connection.
const (
	wsWriteTimeout = 10 * time.Second
	wsCloseTimeout = time.Second
)

// wsDeferLimit is how long writes queued while the reader delivers wait
// for the delivery to end (the reader then writes them itself, in one
// write call) before a writer goroutine takes them.
const wsDeferLimit = time.Millisecond

// wsRequest is what the HTTP handler decided about a WebSocket request.
type wsRequest struct {
	hs    *Handshake   // handshake (websocket-first) when probe is nil
	probe *wsTransport // transport registered as the session's upgrade probe
	// refused: the sid is already upgrading or upgraded; the connection is
	// accepted and closed at once, as engine.io does.
	refused bool
}

// wsTransport is one WebSocket connection, driven on the raw TCP
// connection once the handshake is answered.
//
// Reading: at most one goroutine at a time reads the socket (see
// readLoop). It waits for readability in the runtime's poller with
// nothing but its small stack, reads what is there into a pooled buffer,
// parses whole frames (wsReader keeps only an incomplete frame's bytes)
// and delivers the messages. A connection that is new, or went idle, is
// "cold": after each of its next wsColdBursts deliveries, and whenever a
// reader has waited wsIdleHandoff, the reading goroutine exits and the
// connection is parked (wsParker, Linux: one epoll for the server, which
// starts a fresh reading goroutine when the socket is readable) or, where
// parking is unsupported, a fresh goroutine takes the wait. So an idle
// connection holds no goroutine (or one with a small stack), and a busy
// one keeps its goroutine with no hand-off per message. The reader ends
// the connection: it waits for the final write, then closes the socket.
//
// Writing: one token holder at a time (wRunning) writes, whole frames per
// write call, so a control frame (pong, close) can only fall between data
// frames. While the reader delivers, Notify only records that there is
// something to write; when the delivery returns, the reader takes the
// token and writes everything its delivery produced in one non-blocking
// write (up to wsDeferLimit later a writer goroutine takes over if the
// delivery is still running). Notify from elsewhere (broadcasts, the
// heartbeat) and whatever a non-blocking write leaves over go to a writer
// goroutine (writeRun), which runs only while there is something to
// write, takes every queued packet at once and blocks under a write
// deadline. Until the upgrade is complete (the probe) the reader writes.
//
// An upgrade probe is registered with the session before the HTTP upgrade
// (so that a second WebSocket for the sid is refused even if it is quicker
// to start), and attached to its connection afterwards.
type wsTransport struct {
	srv  *Server
	sess *Session

	mu     sync.Mutex // guards the fields below
	raw    net.Conn   // nil until attached
	closed bool
	parked bool      // held by parker, with no reading goroutine
	parker *wsParker // the parker used last

	// Reader state, used only by the reading goroutine.
	sock      wsSock
	rd        wsReader
	frameFn   wsFrameFunc
	probing   bool              // an upgrade probe: 2probe/5 not yet done
	probed    bool              // 3probe sent
	reason    string            // why the reader stopped (a session close reason), or ""
	handoff   bool              // the reader runs on its own goroutine (not fasthttp's)
	received  bool              // the current burst delivered a message
	idleArmed bool              // the read deadline is set wsIdleHandoff ahead (see readLoop)
	cold      int               // bursts after each of which the reader still rests (see readLoop)
	active    bool              // delivered since the idle deadline was armed
	burstFn   func([]byte) bool // onBurst, allocated once
	ferr      *wsFrameError     // the protocol error that stopped the reader
	stop      bool              // a delivery ended the connection

	writerStarted atomic.Bool // the connection carries the session: writers may run

	wmu        sync.Mutex    // guards the fields below
	wRunning   bool          // the write token is held (a writer goroutine or the reader)
	wPending   bool          // something was notified since the token holder last took
	wEnded     bool          // the final write is done, or a write failed: nothing more is written
	endCh      chan struct{} // the reader waits on it for wEnded (closed by end)
	delivering bool          // the reader is delivering: Notify leaves the write to it
	deferArmed bool          // deferTimer runs for the current delivery
	deferTimer *time.Timer
	ctl        []byte // a pong to write between frames
	closeCode  int    // code of the final close frame; 0 means 1000

	// Write state, used only by the token holder.
	out      *[]byte  // encoded frames (pooled buffer) ...
	outOff   int      // ... written up to here
	pend     []packet // taken and not yet encoded
	done     bool     // take reported the end: the close frame follows pend
	closeOut bool     // the close frame is in out
}

func newWSTransport() *wsTransport { return &wsTransport{} }

func (w *wsTransport) Name() string { return transportWebSocket }

// Notify starts a writer if none runs (once the writer is started), or,
// while the reader delivers, leaves the write to it for up to wsDeferLimit.
func (w *wsTransport) Notify() {
	w.wmu.Lock()
	w.wPending = true
	if w.wRunning || w.wEnded || !w.writerStarted.Load() {
		w.wmu.Unlock()
		return
	}
	if w.delivering {
		if !w.deferArmed {
			w.deferArmed = true
			if w.deferTimer == nil {
				w.deferTimer = time.AfterFunc(wsDeferLimit, w.deferExpired)
			} else {
				w.deferTimer.Reset(wsDeferLimit)
			}
		}
		w.wmu.Unlock()
		return
	}
	w.wRunning = true
	w.wmu.Unlock()
	go w.writeRun(false)
}

// deferExpired ends the deferral of a delivery that takes long: what it
// queued is written by a writer goroutine, and so is anything queued until
// the delivery ends.
func (w *wsTransport) deferExpired() {
	w.wmu.Lock()
	if !w.deferArmed {
		w.wmu.Unlock()
		return
	}
	w.deferArmed, w.delivering = false, false
	start := w.wPending && !w.wRunning && !w.wEnded
	if start {
		w.wRunning = true
	}
	w.wmu.Unlock()
	if start {
		go w.writeRun(false)
	}
}

func (w *wsTransport) Writable() bool { return true }

// Close wakes the writer, which flushes what the session still holds for
// this transport and writes the close frame; the reader then closes the
// connection. Without a writer (a probe), the reader is woken up to end
// the connection.
func (w *wsTransport) Close() {
	w.mu.Lock()
	w.closed = true
	raw := w.raw
	w.mu.Unlock()
	if raw != nil { // nil: not attached yet (attach will refuse)
		_ = raw.SetWriteDeadline(time.Now().Add(wsCloseTimeout)) // cuts a write in progress short
		if !w.writerStarted.Load() {
			_ = raw.SetReadDeadline(time.Unix(1, 0))
			w.unpark()
		}
	}
	w.Notify()
}

func (w *wsTransport) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// attach gives w its connection; false if w was closed before.
func (w *wsTransport) attach(s *Server, raw net.Conn) bool {
	w.srv = s
	w.sock.init(raw)
	w.rd.maxPayload = s.cfg.maxPayload
	w.frameFn = w.onFrame
	w.burstFn = w.onBurst
	w.cold = wsColdBursts
	w.mu.Lock()
	defer w.mu.Unlock()
	w.raw = raw
	return !w.closed
}

// isWebSocketUpgrade reports whether the request asks for a WebSocket
// (Connection: upgrade and Upgrade: websocket).
func isWebSocketUpgrade(c *fiber.Ctx) bool {
	return headerHasToken(c.Get(fiber.HeaderConnection), "upgrade") &&
		headerHasToken(c.Get(fiber.HeaderUpgrade), "websocket")
}

// headerHasToken reports whether the comma-separated header value v holds
// token (case-insensitively).
func headerHasToken(v, token string) bool {
	for v != "" {
		var t string
		t, v, _ = strings.Cut(v, ",")
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

// localsKey carries a wsRequest from the engine's HTTP handler through
// the contrib websocket handler (which copies the request's locals).
const localsKey = "engine.io/ws"

// newWSHandler is the contrib websocket handler that answers the
// handshake (RFC 6455 section 4.2; no subprotocol, no per-message
// compression, 426 for a request that is not a valid handshake) and
// passes the hijacked connection to serveWS. Origins were checked by
// Server.cors before. The buffers it gives fasthttp/websocket are only
// used for the handshake: the transport reads and writes the raw
// connection itself, so they are small.
func (s *Server) newWSHandler() fiber.Handler {
	return fws.New(func(c *fws.Conn) {
		req, _ := c.Locals(localsKey).(*wsRequest)
		if req == nil { // not through upgradeWS
			_ = c.NetConn().Close()
			return
		}
		s.serveWS(c.NetConn(), req, s.ownConns.Load())
	}, fws.Config{ReadBufferSize: 256, WriteBufferSize: 256, WriteBufferPool: wsHandshakeBufPool})
}

// wsHandshakeBufPool lends fasthttp/websocket a write buffer only if it
// writes, which it never does here.
var wsHandshakeBufPool = new(sync.Pool)

// upgradeWS answers the WebSocket handshake through the contrib handler
// and takes the connection over once fasthttp has written the 101.
func (s *Server) upgradeWS(c *fiber.Ctx, req *wsRequest) error {
	c.Locals(localsKey, req)
	return s.wsHandler(c)
}

func (s *Server) serveWebSocketHandshake(c *fiber.Ctx, hs *Handshake) error {
	return s.upgradeWS(c, &wsRequest{hs: hs})
}

// serveUpgrade registers a probe for sess and upgrades the connection.
func (s *Server) serveUpgrade(c *fiber.Ctx, sess *Session) error {
	w := newWSTransport()
	w.sess = sess
	if !sess.beginProbe(w, s.cfg.upgradeTimeout) {
		return s.upgradeWS(c, &wsRequest{refused: true})
	}
	err := s.upgradeWS(c, &wsRequest{probe: w})
	if err != nil {
		sess.abortProbe(w) // the upgrade failed
	}
	return err
}

// serveWS is fasthttp's hijack handler of one WebSocket connection.
//
// With own (the app's fasthttp server keeps hijacked connections, see
// Mount), it returns once the connection is set up, which frees
// fasthttp's request context and connection reader, and the connection
// is read from then on straight from the TCP connection (UnsafeConn) by
// the transport's own goroutine. This relies on the client having sent
// nothing after its handshake request before the 101 response (RFC 6455
// section 4.1: a client must wait for it), so fasthttp's reader holds
// nothing of the WebSocket stream. Without own it reads the same way but
// runs for the life of the connection, which fasthttp closes when it returns.
func (s *Server) serveWS(nc net.Conn, req *wsRequest, own bool) {
	raw := nc
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		raw = u.UnsafeConn()
	} else {
		own = false // reads must go through nc, which is only valid until we return
	}
	if req.refused || !s.addConn() {
		writeWSClose(raw, wsClosePolicy)
		if req.probe != nil {
			req.probe.sess.abortProbe(req.probe)
		}
		_ = raw.Close()
		return
	}
	w := req.probe
	if w == nil {
		w = newWSTransport()
		w.attach(s, raw)
		sess := s.open(w, req.hs)
		if sess == nil {
			writeWSClose(raw, wsCloseGoingAway)
			_ = raw.Close()
			s.wg.Done()
			return
		}
		w.sess = sess
		w.startWriter()
	} else {
		w.probing = true
		if !w.attach(s, raw) {
			w.sess.abortProbe(w)
			writeWSClose(raw, wsCloseNormal)
			_ = raw.Close()
			s.wg.Done()
			return
		}
	}
	if own {
		w.handoff = true
		if !w.rest(w.readLoopArmed) {
			go w.readLoopArmed()
		}
		return
	}
	w.readLoop()
}

// startWriter allows writers and starts one for whatever was queued before
// (the open packet, buffered packets).
func (w *wsTransport) startWriter() {
	w.writerStarted.Store(true)
	w.Notify()
}

// wsReadBufferSize is the size of the pooled buffers the socket is read
// into; only a reader that has data to parse holds one.
const wsReadBufferSize = 16 << 10

var wsReadPool = sync.Pool{New: func() any { b := make([]byte, wsReadBufferSize); return &b }}

// wsBlockingReadPool holds the smaller buffers of connections read with
// blocking reads (no RawConn: TLS, or without wsSock support), which hold
// theirs while they wait.
var wsBlockingReadPool = sync.Pool{New: func() any { b := make([]byte, 2<<10); return &b }}

// readBurstsBlocking is readBursts for a connection without a RawConn
// (TLS): blocking reads into a pooled buffer.
func readBurstsBlocking(c net.Conn, onBurst func([]byte) bool) error {
	for {
		bp := wsBlockingReadPool.Get().(*[]byte)
		n, err := c.Read(*bp)
		if n == 0 {
			wsBlockingReadPool.Put(bp)
			if err == nil {
				err = io.ErrNoProgress
			}
			return err
		}
		more := onBurst((*bp)[:n]) // an error comes back on the next read
		wsBlockingReadPool.Put(bp)
		if !more {
			return nil
		}
	}
}

// readLoop reads the connection until it ends, then ends it (finish). On
// its own goroutines (handoff) it rests — parks the connection, or leaves
// the wait to a fresh goroutine — after each burst while the connection is
// cold, and once the connection has delivered nothing for wsIdleHandoff.
func (w *wsTransport) readLoop() {
	for {
		err := w.sock.readBursts(w.raw, w.burstFn)
		if err != nil {
			if w.idleArmed && errors.Is(err, os.ErrDeadlineExceeded) && !w.woken() {
				if w.active {
					// Delivered since the deadline was armed: not idle.
					w.active = false
					w.armIdle()
					continue
				}
				w.cold = wsColdBursts
				if w.rest(w.freshReadLoop) {
					return
				}
				continue
			}
			w.reason = ReasonTransportClose
			if !errors.Is(err, io.EOF) && !errors.Is(err, os.ErrDeadlineExceeded) && !errors.Is(err, net.ErrClosed) {
				w.logDebug("engine: websocket read", slog.Any("err", err))
			}
			break
		}
		// onBurst stopped the reading: the burst needs a step of this loop.
		if ferr := w.ferr; ferr != nil {
			w.logDebug("engine: websocket protocol error", slog.String("err", ferr.msg))
			w.setCloseCode(ferr.code)
			w.reason = ReasonTransportError
			break
		}
		if w.stop {
			break
		}
		if w.handoff && w.received && w.cold > 0 {
			// A connection that is new or was idle is likely to be idle
			// again: rest at once.
			w.received = false
			w.cold--
			if w.rest(w.readLoopArmed) {
				return
			}
			continue
		}
		if w.received {
			w.active = true
		}
		if w.handoff && w.received && !w.idleArmed {
			// This goroutine's stack may have grown while delivering: if
			// the connection goes idle, it is parked (or a fresh
			// goroutine takes the wait).
			w.armIdle()
		}
		w.received = false
	}
	w.finish()
}

// onBurst parses and delivers the bytes of one read (see readBursts). It
// reports whether the reader reads on at once: false when the burst needs
// readLoop (a protocol error, the end, a cold connection that rests, the
// idle deadline to arm); readLoop repeats the checks.
func (w *wsTransport) onBurst(b []byte) bool {
	w.beginDelivery()
	ok, ferr := w.rd.feed(b, w.frameFn)
	w.endDelivery()
	switch {
	case ferr != nil:
		w.ferr = ferr
		return false
	case !ok:
		w.stop = true
		return false
	case w.received && w.handoff && (w.cold > 0 || !w.idleArmed):
		return false
	}
	if w.received {
		w.active, w.received = true, false
	}
	return true
}

// wsIdleHandoff is how long a reader waits with nothing delivered before
// it rests (see readLoop); a busy connection only re-arms its read
// deadline once per wsIdleHandoff.
var wsIdleHandoff = time.Second // a variable for tests

// wsColdBursts is how many bursts of messages a new connection, or one
// that went idle, delivers each on a reading goroutine that then rests:
// most connections of a server are mostly idle, and the stacks grown by
// their occasional deliveries are freed at once rather than after
// wsIdleHandoff. A busier connection then keeps its goroutine (and pays
// no hand-off or stack growth per message).
const wsColdBursts = 4

// readLoopArmed is readLoop with the idle deadline armed: the start of
// every reading goroutine of a connection on its own goroutines.
func (w *wsTransport) readLoopArmed() {
	w.armIdle()
	w.readLoop()
}

// armIdle sets the read deadline wsIdleHandoff ahead (see readLoop).
func (w *wsTransport) armIdle() {
	w.idleArmed, w.active = true, false
	_ = w.raw.SetReadDeadline(time.Now().Add(wsIdleHandoff))
	if w.woken() { // Close or end may have set a past deadline first
		_ = w.raw.SetReadDeadline(time.Unix(1, 0))
	}
}

// rest ends this goroutine's turn as the reader (true) by parking the
// connection or, without a parker, starting next on a fresh goroutine;
// false if Close or end wants the reader to read on (and fail).
func (w *wsTransport) rest(next func()) bool {
	w.idleArmed = false
	switch w.park() {
	case parked:
		return true
	case parkWoken:
		return false
	}
	go next()
	return true
}

// Outcomes of park.
const (
	parked          = iota // the reading goroutine must exit at once
	parkWoken              // Close or end wants the reader: read on (and fail)
	parkUnsupported        // no parker: a fresh goroutine waits instead
)

// park hands an idle connection to the server's wsParker, which starts a
// reading goroutine again when the socket is readable or unpark is called.
// As in freshReadLoop, the deadline is cleared before the wake-up flags
// are checked, and they are checked under w.mu, which unpark takes, so a
// wake-up is never lost.
func (w *wsTransport) park() int {
	p := w.srv.getParker()
	if p == nil || w.sock.fd < 0 {
		return parkUnsupported
	}
	_ = w.raw.SetReadDeadline(time.Time{})
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.isEnded() {
		_ = w.raw.SetReadDeadline(time.Unix(1, 0))
		return parkWoken
	}
	w.parked, w.parker = true, p
	if !p.add(w.sock.fd, w) {
		w.parked = false
		return parkUnsupported
	}
	return parked
}

// unpark starts a reading goroutine for a parked connection; it is called
// by the parker when the socket is readable, and by Close and end after
// they set their past read deadline.
func (w *wsTransport) unpark() {
	w.mu.Lock()
	if !w.parked {
		w.mu.Unlock()
		return
	}
	w.parked = false
	w.parker.remove(w.sock.fd)
	w.mu.Unlock()
	go w.readLoopArmed()
}

func (w *wsTransport) isEnded() bool {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return w.wEnded
}

// freshReadLoop continues readLoop on a new goroutine after an idle
// deadline. The deadline is cleared before the wake-up flags are checked,
// and Close and end set their flag before their past deadline, so a
// wake-up is never lost.
func (w *wsTransport) freshReadLoop() {
	_ = w.raw.SetReadDeadline(time.Time{})
	if w.woken() {
		_ = w.raw.SetReadDeadline(time.Unix(1, 0))
	}
	w.readLoop()
}

// woken reports whether Close or end wants the reader to stop (they wake
// it with a past read deadline).
func (w *wsTransport) woken() bool {
	return w.isClosed() || w.isEnded()
}

func (w *wsTransport) logDebug(msg string, attr slog.Attr) {
	if w.sess != nil {
		w.sess.logAt(slog.LevelDebug, msg, attr)
	}
}

// finish ends the connection once the reader has stopped: the session is
// told (if the reader stopped on its own), the final packets and the
// close frame are written (by the writer, or here for a probe that never
// carried the session), and the socket is closed.
func (w *wsTransport) finish() {
	if w.reason != "" {
		w.sess.transportError(w, w.reason)
	}
	if w.writerStarted.Load() {
		w.Close() // the session is closed or no longer uses w: the writer takes the end
		w.wmu.Lock()
		if !w.wEnded {
			w.endCh = make(chan struct{}) // made only now: an idle connection has none
		}
		ch := w.endCh
		w.wmu.Unlock()
		if ch != nil {
			<-ch
		}
	} else {
		if w.probing {
			w.sess.abortProbe(w)
		}
		code := w.closeCode
		if code == 0 {
			code = wsCloseNormal
		}
		writeWSClose(w.raw, code)
	}
	_ = w.raw.Close()
	w.srv.wg.Done()
}

func (w *wsTransport) setCloseCode(code int) {
	w.wmu.Lock()
	if w.closeCode == 0 {
		w.closeCode = code
	}
	w.wmu.Unlock()
}

// onFrame handles one message or control frame from the client.
func (w *wsTransport) onFrame(op byte, payload []byte) bool {
	switch op {
	case wsOpPing:
		w.pong(payload)
		return true
	case wsOpPong:
		return true
	case wsOpClose:
		code := wsCloseNoStatus
		if len(payload) >= 2 {
			code = int(payload[0])<<8 | int(payload[1])
		}
		w.setCloseCode(code) // echoed in the final close frame
		w.reason = ReasonTransportClose
		return false
	}
	if w.probing {
		return w.probe(op, payload)
	}
	var p packet
	if op == wsOpBinary {
		p = packet{typ: PacketMessage, data: payload, binary: true}
	} else {
		var err error
		if p, err = decodePacket(payload); err != nil {
			w.reason = ReasonParseError
			return false
		}
	}
	w.received = true
	return w.sess.receive(w, p)
}

// probe runs the upgrade handshake: 2probe → 3probe, then 5. The
// session's upgrade timer closes w (ending the read) if it takes too long.
// Anything else fails the probe (the reader then aborts it).
func (w *wsTransport) probe(op byte, payload []byte) bool {
	switch {
	case op != wsOpText:
	case !w.probed && string(payload) == "2probe":
		if !w.writeDirect(appendWSFrame(nil, packet{typ: PacketPong, data: []byte("probe")})) {
			return false
		}
		if !w.sess.probed(w) {
			return false
		}
		w.probed = true
		return true
	case w.probed && string(payload) == "5":
		if !w.sess.finishUpgrade(w) {
			return false
		}
		w.probing = false
		w.startWriter()
		return true
	}
	return false
}

// pong answers a ping: written at once during the probe, otherwise by the
// token holder between frames (only the latest ping is answered, as RFC
// 6455 section 5.5.3 allows).
func (w *wsTransport) pong(payload []byte) {
	frame := appendWSControl(nil, wsOpPong, payload)
	if !w.writerStarted.Load() {
		w.writeDirect(frame)
		return
	}
	w.wmu.Lock()
	w.ctl = frame
	w.wmu.Unlock()
	w.Notify()
}

// writeDirect writes b with the reader before the writer is started.
func (w *wsTransport) writeDirect(b []byte) bool {
	_ = w.raw.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	_, err := w.raw.Write(b)
	return err == nil
}

// writeWSClose writes a close frame, giving up after wsCloseTimeout.
func writeWSClose(c net.Conn, code int) {
	_ = c.SetWriteDeadline(time.Now().Add(wsCloseTimeout))
	_, _ = c.Write(appendWSClose(nil, code))
}

// beginDelivery marks the reader as delivering: writes it causes are
// left to it (see Notify).
func (w *wsTransport) beginDelivery() {
	w.wmu.Lock()
	w.delivering = true
	w.wmu.Unlock()
}

// endDelivery ends the delivery and writes what it left pending, unless
// a writer goroutine holds the token (it will take it).
func (w *wsTransport) endDelivery() {
	w.wmu.Lock()
	w.delivering = false
	if w.deferArmed {
		w.deferArmed = false
		w.deferTimer.Stop()
	}
	if !w.wPending || w.wRunning || w.wEnded || !w.writerStarted.Load() {
		w.wmu.Unlock()
		return
	}
	w.wRunning = true
	w.wmu.Unlock()
	w.writeRun(true)
}

// wsBufPool holds the write buffers of token holders, so that only
// connections being written to hold one.
var wsBufPool = sync.Pool{New: func() any { return new([]byte) }}

// wsBatchSize is the size past which the frames encoded so far are
// written before more are encoded.
const wsBatchSize = 64 << 10

// writeRun holds the write token: it writes what is encoded, encodes what
// was taken (whole frames, up to wsBatchSize per write), and takes every
// queued packet at once, until nothing was notified since it last took.
// When the session is done with w it writes the close frame and ends the
// connection (end). inline (the reader, after a delivery) writes without
// blocking and hands whatever does not fit to a writer goroutine.
func (w *wsTransport) writeRun(inline bool) {
	for {
		if w.out != nil && w.outOff < len(*w.out) {
			b := (*w.out)[w.outOff:]
			if inline {
				n, err := w.sock.tryWrite(b)
				w.outOff += n
				if err != nil {
					w.writeFailed()
					return
				}
				if n < len(b) {
					go w.writeRun(false) // the token passes to it
					return
				}
			} else {
				w.armWriteDeadline()
				if _, err := w.raw.Write(b); err != nil {
					w.writeFailed()
					return
				}
			}
			*w.out, w.outOff = (*w.out)[:0], 0
			continue
		}
		if w.closeOut {
			w.releaseOut()
			w.end()
			return
		}
		if len(w.pend) > 0 || w.done {
			if w.out == nil {
				w.out = wsBufPool.Get().(*[]byte)
			}
			buf := *w.out
			for len(w.pend) > 0 && len(buf) < wsBatchSize {
				buf = appendWSFrame(buf, w.pend[0])
				w.pend[0] = packet{}
				w.pend = w.pend[1:]
			}
			if len(w.pend) == 0 {
				w.pend = nil
				if w.done {
					w.wmu.Lock()
					code := w.closeCode
					w.wmu.Unlock()
					if code == 0 {
						code = wsCloseNormal
					}
					buf = appendWSClose(buf, code)
					w.closeOut = true
				}
			}
			*w.out = buf
			continue
		}
		w.releaseOut() // before the token goes: the next holder takes its own
		w.wmu.Lock()
		if !w.wPending || w.wEnded {
			w.wRunning = false
			w.wmu.Unlock()
			return
		}
		w.wPending = false
		ctl := w.ctl
		w.ctl = nil
		w.wmu.Unlock()
		pkts, st := w.sess.take(w)
		w.pend, w.done = pkts, st == takeDone
		if len(ctl) > 0 {
			if w.out == nil {
				w.out = wsBufPool.Get().(*[]byte)
			}
			*w.out = append(*w.out, ctl...)
		}
	}
}

// armWriteDeadline bounds the next blocking write: wsWriteTimeout, or
// wsCloseTimeout once w is closed or its session done. Close sets closed
// before its own deadline, so whichever of the two deadlines is set last,
// a closed transport ends with the short one.
func (w *wsTransport) armWriteDeadline() {
	if w.done || w.isClosed() {
		_ = w.raw.SetWriteDeadline(time.Now().Add(wsCloseTimeout))
		return
	}
	_ = w.raw.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
	if w.isClosed() {
		_ = w.raw.SetWriteDeadline(time.Now().Add(wsCloseTimeout))
	}
}

// releaseOut returns the write buffer to the pool (an idle connection
// keeps none, and the pool keeps no large one).
func (w *wsTransport) releaseOut() {
	if w.out == nil {
		return
	}
	if cap(*w.out) > 16<<10 {
		*w.out = nil
	} else {
		*w.out = (*w.out)[:0]
	}
	wsBufPool.Put(w.out)
	w.out, w.outOff = nil, 0
}

func (w *wsTransport) writeFailed() {
	w.pend = nil
	w.releaseOut()
	w.end()
	w.sess.transportError(w, ReasonTransportError)
}

// end records that nothing more is written and wakes the reader (a past
// read deadline), which closes the connection. The token holder calling
// it keeps the token, so that no other writer starts.
func (w *wsTransport) end() {
	w.wmu.Lock()
	w.wEnded = true
	ch := w.endCh
	w.wmu.Unlock()
	_ = w.raw.SetReadDeadline(time.Unix(1, 0))
	w.unpark()
	if ch != nil {
		close(ch)
	}
}
