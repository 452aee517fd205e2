package engine

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/websocket"
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

// localsKey carries a wsRequest from the fiber handler to the websocket one.
const localsKey = "engine.io/ws"

// wsRequest is what the HTTP handler decided about a WebSocket request.
type wsRequest struct {
	hs    *Handshake   // handshake (websocket-first) when probe is nil
	probe *wsTransport // transport registered as the session's upgrade probe
	// refused: the sid is already upgrading or upgraded; the connection is
	// accepted and closed at once, as engine.io does.
	refused bool
}

// wsTransport is one WebSocket connection. Its reader is the contrib
// handler's goroutine; once the connection carries the session, its only
// writer is a writer goroutine (writeRun) that runs only while there is
// something to write: Notify starts one if none runs, and it ends once it
// has taken everything, so an idle connection has no writer goroutine.
// Before that (during the probe) the reader writes.
//
// An upgrade probe is registered with the session before the HTTP upgrade
// (so that a second WebSocket for the sid is refused even if it is quicker
// to start), and attached to its connection afterwards.
type wsTransport struct {
	sess  *Session
	ended chan struct{} // closed when the final write is done (or a write failed)

	mu     sync.Mutex // guards the fields below
	conn   *websocket.Conn
	raw    net.Conn
	closed bool

	writerStarted atomic.Bool // the connection carries the session: writers may run

	wmu      sync.Mutex // guards the fields below
	wRunning bool       // a writer goroutine runs
	wPending bool       // something was notified since the writer last took
	wEnded   bool       // the final write is done, or a write failed: nothing more is written
}

func newWSTransport() *wsTransport { return &wsTransport{ended: make(chan struct{})} }

func (w *wsTransport) Name() string { return transportWebSocket }

// Notify starts a writer if none runs (once the writer is started).
func (w *wsTransport) Notify() {
	w.wmu.Lock()
	w.wPending = true
	if w.wRunning || w.wEnded || !w.writerStarted.Load() {
		w.wmu.Unlock()
		return
	}
	w.wRunning = true
	w.wmu.Unlock()
	go w.writeRun()
}

func (w *wsTransport) Writable() bool { return true }

// Close wakes the writer, which flushes what the session still holds for
// this transport and closes the connection. Without a writer (a probe),
// the reader is woken up to end the connection.
//
// The connection is only touched under w.mu, and detach (run before the
// handler returns, after which fasthttp recycles the connection object)
// takes w.mu too, so Close never touches a recycled connection.
func (w *wsTransport) Close() {
	w.mu.Lock()
	w.closed = true
	if w.raw != nil { // nil: not attached yet (attach will refuse) or detached
		_ = w.raw.SetWriteDeadline(time.Now().Add(wsCloseTimeout)) // cuts a write in progress short
		if !w.writerStarted.Load() {
			_ = w.raw.SetReadDeadline(time.Unix(1, 0))
		}
	}
	w.mu.Unlock()
	w.Notify()
}

// attach gives w its connection; false if w was closed before.
func (w *wsTransport) attach(c *websocket.Conn) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.conn, w.raw = c, c.NetConn()
	return !w.closed
}

// detach forgets the connection; the handler calls it before returning.
// The reader and writer goroutines, which have ended by then, use w.raw
// without the lock: it does not change while they run.
func (w *wsTransport) detach() {
	w.mu.Lock()
	w.raw = nil
	w.mu.Unlock()
}

// wsWriteBufferPool lends fasthttp/websocket a write buffer only while it
// writes a message, which here is only the "3probe" of an upgrade (data
// frames bypass its writer and control frames use their own small
// buffer), so an idle connection holds none.
var wsWriteBufferPool = new(sync.Pool)

// wsReadBufferSize is the websocket reader's buffer. It only has to hold a
// frame header (and a control frame): fasthttp's hijacked connection
// already reads the socket through its own 4KiB buffer, and payloads
// larger than this are read past it, so a bigger one would only cost every
// idle connection memory.
const wsReadBufferSize = 256

func (s *Server) newWSHandler() fiber.Handler {
	return fws.New(s.serveWS, fws.Config{
		// Origins are checked by Server.cors before the upgrade.
		ReadBufferSize:  wsReadBufferSize,
		WriteBufferSize: 1024,
		WriteBufferPool: wsWriteBufferPool,
	})
}

func (s *Server) serveWebSocketHandshake(c *fiber.Ctx, hs *Handshake) error {
	c.Locals(localsKey, &wsRequest{hs: hs})
	return s.wsHandler(c)
}

// serveUpgrade registers a probe for sess and upgrades the connection.
func (s *Server) serveUpgrade(c *fiber.Ctx, sess *Session) error {
	w := newWSTransport()
	w.sess = sess
	if !sess.beginProbe(w, s.cfg.upgradeTimeout) {
		c.Locals(localsKey, &wsRequest{refused: true})
		return s.wsHandler(c)
	}
	c.Locals(localsKey, &wsRequest{probe: w})
	err := s.wsHandler(c)
	if err != nil {
		sess.abortProbe(w) // the upgrade failed
	}
	return err
}

// serveWS runs for the whole life of one WebSocket connection.
func (s *Server) serveWS(c *fws.Conn) {
	req, _ := c.Locals(localsKey).(*wsRequest)
	if req == nil || req.refused || !s.addConn() {
		closeFrame(c.Conn, websocket.ClosePolicyViolation)
		if req != nil && req.probe != nil {
			req.probe.sess.abortProbe(req.probe)
		}
		return
	}
	defer s.wg.Done()
	c.SetReadLimit(s.cfg.maxPayload)

	if req.probe == nil {
		w := newWSTransport()
		w.attach(c.Conn)
		defer w.detach()
		sess := s.open(w, req.hs)
		if sess == nil {
			closeFrame(c.Conn, websocket.CloseGoingAway)
			return
		}
		w.sess = sess
		w.startWriter()
		w.readLoop()
		<-w.ended
		return
	}

	w := req.probe
	defer w.detach()
	if !w.attach(c.Conn) || !w.probe() {
		w.sess.abortProbe(w)
		closeFrame(c.Conn, websocket.CloseNormalClosure)
		return
	}
	w.startWriter()
	w.readLoop()
	<-w.ended
}

// probe runs the upgrade handshake: 2probe → 3probe, then 5. The
// session's upgrade timer closes w (ending the read) if it takes too long.
func (w *wsTransport) probe() bool {
	probed := false
	for {
		mt, data, err := w.conn.ReadMessage()
		if err != nil || mt != websocket.TextMessage {
			return false
		}
		switch {
		case !probed && string(data) == "2probe":
			if err := w.conn.WriteMessage(websocket.TextMessage, []byte("3probe")); err != nil {
				return false
			}
			if !w.sess.probed(w) {
				return false
			}
			probed = true
		case probed && string(data) == "5":
			return w.sess.finishUpgrade(w)
		default:
			return false
		}
	}
}

// startWriter allows writers and starts one for whatever was queued before
// (the open packet, buffered packets). Once the reader has returned, the
// handler waits for w.ended: the session is closed by then (the reader
// ends only when its session closes or after closing it), so a writer
// takes the end and writes the final packets and the close frame.
func (w *wsTransport) startWriter() {
	w.writerStarted.Store(true)
	w.Notify()
}

// readLoop reads until the connection fails or the session is done with it.
func (w *wsTransport) readLoop() {
	for {
		mt, data, err := w.conn.ReadMessage()
		if err != nil {
			reason := ReasonTransportClose
			if errors.Is(err, websocket.ErrReadLimit) {
				// Over MaxPayload: the conn already sent close 1009.
				reason = ReasonTransportError
			}
			w.sess.transportError(w, reason)
			if !websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived) {
				w.sess.log.Debug("engine: websocket read", slog.Any("err", err))
			}
			return
		}
		var p packet
		if mt == websocket.BinaryMessage {
			p = packet{typ: PacketMessage, data: data, binary: true}
		} else if p, err = decodePacket(data); err != nil {
			w.sess.transportError(w, ReasonParseError)
			return
		}
		if !w.sess.receive(w, p) {
			return
		}
	}
}

// wsBufPool holds the write buffers of writers, so that only connections
// being written to hold one.
var wsBufPool = sync.Pool{New: func() any { return new([]byte) }}

// writeRun is the connection's only writer while it runs: it takes every
// queued packet at once and writes them as consecutive frames (see
// writeFrames), until nothing was notified since it last took. It ends
// the connection (close frame, then the reader is woken) when the session
// is done with it.
func (w *wsTransport) writeRun() {
	var bp *[]byte
	defer func() {
		if bp != nil {
			if cap(*bp) > 16<<10 {
				*bp = nil // an idle connection keeps no large buffer
			}
			wsBufPool.Put(bp)
		}
	}()
	for {
		w.wmu.Lock()
		if !w.wPending || w.wEnded {
			w.wRunning = false
			w.wmu.Unlock()
			return
		}
		w.wPending = false
		w.wmu.Unlock()
		// The deadline is set before take: if Close sets its shorter one
		// after this, it wins; if before, take reports the end.
		_ = w.raw.SetWriteDeadline(time.Now().Add(wsWriteTimeout))
		pkts, st := w.sess.take(w)
		if st == takeDone {
			_ = w.raw.SetWriteDeadline(time.Now().Add(wsCloseTimeout))
		}
		if len(pkts) > 0 {
			if bp == nil {
				bp = wsBufPool.Get().(*[]byte)
			}
			var err error
			if *bp, err = w.writeFrames((*bp)[:0], pkts); err != nil {
				w.end()
				w.sess.transportError(w, ReasonTransportError)
				return
			}
		}
		if st == takeDone {
			closeFrame(w.conn, websocket.CloseNormalClosure)
			w.end()
			return
		}
	}
}

// end records that nothing more is written and ends the reader
// (fasthttp's hijacked connection ignores Close; a past deadline wakes
// ReadMessage). The writer calling it stays marked running, so that no
// other starts.
func (w *wsTransport) end() {
	w.wmu.Lock()
	w.wEnded = true
	w.wmu.Unlock()
	_ = w.raw.SetReadDeadline(time.Unix(1, 0))
	close(w.ended)
}

// wsBatchSize is the size past which the frames gathered so far are
// written without waiting for more.
const wsBatchSize = 64 << 10

// writeFrames writes pkts as consecutive frames, gathering them into buf
// (returned for reuse) so that a typical batch takes one write call. Every
// write holds whole frames only: a control frame that fasthttp/websocket
// writes concurrently (a pong, a close) can only fall between frames.
func (w *wsTransport) writeFrames(buf []byte, pkts []packet) ([]byte, error) {
	for _, p := range pkts {
		buf = appendWSFrame(buf, p)
		if len(buf) >= wsBatchSize {
			if _, err := w.raw.Write(buf); err != nil {
				return buf[:0], err
			}
			buf = buf[:0]
		}
	}
	if len(buf) > 0 {
		if _, err := w.raw.Write(buf); err != nil {
			return buf[:0], err
		}
	}
	return buf[:0], nil
}

func closeFrame(c *websocket.Conn, code int) {
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
}

// appendWSFrame appends one unmasked, unfragmented server frame holding
// p: a binary frame with the raw data for a binary message, otherwise a
// text frame with the packet's text form (RFC 6455 section 5.2).
func appendWSFrame(dst []byte, p packet) []byte {
	const (
		finText   = 0x80 | websocket.TextMessage
		finBinary = 0x80 | websocket.BinaryMessage
	)
	n := len(p.data)
	op := byte(finBinary)
	if !p.binary {
		op = finText
		n++ // the type digit
	}
	dst = append(dst, op)
	switch {
	case n <= 125:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if !p.binary {
		dst = append(dst, byte('0'+p.typ))
	}
	return append(dst, p.data...)
}
