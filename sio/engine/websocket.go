package engine

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"

	fws "github.com/gofiber/contrib/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/cowrite/cowrite/sio/engine/internal/wsconn"
)

// wsRequest is what the HTTP handler decided about a WebSocket request.
type wsRequest struct {
	hs    *Handshake   // handshake (websocket-first) when probe is nil
	probe *wsTransport // transport registered as the session's upgrade probe
	// refused: the sid is already upgrading or upgraded; the connection is
	// accepted and closed at once, as engine.io does.
	refused bool
}

// wsTransport is the WebSocket transport of a session: a wsconn.Handler
// that turns messages into packets for the session and the session's
// queued packets into frames. The connection itself (frames, socket I/O,
// parking, the reader and writer roles) is wsconn's.
//
// An upgrade probe is registered with the session before the HTTP upgrade
// (so that a second WebSocket for the sid is refused even if it is quicker
// to start), and attached to its connection afterwards; until the "5" its
// writes are off and the reader answers the probe itself.
type wsTransport struct {
	srv  *Server
	sess *Session
	conn *wsconn.Conn

	// Used only by the reader (Message, ReadEnded).
	probe  probeState
	reason string // why a delivery stopped the reader (a session close reason), or ""

	// Used only by the writer (Fill, WriteFailed).
	pend []packet // taken and not yet encoded
	done bool     // take reported the end: the close frame follows pend
}

// probeState is the progress of an upgrade probe on its WebSocket.
type probeState uint8

const (
	probeOff      probeState = iota // not a probe, or the upgrade is done
	probeWaiting                    // waiting for 2probe
	probeAnswered                   // 3probe sent, waiting for 5
)

// wsIdleHandoff and wsHooks are the connections' wsconn.Config.IdleHandoff
// and Hooks (variables for tests).
var (
	wsIdleHandoff = wsconn.DefaultIdleHandoff
	wsHooks       wsconn.Hooks
)

func (s *Server) newWSTransport() *wsTransport {
	w := &wsTransport{srv: s}
	w.conn = wsconn.New(w, wsconn.Config{
		MaxPayload:  s.cfg.maxPayload,
		Parker:      s.getParker,
		IdleHandoff: wsIdleHandoff,
		Hooks:       wsHooks,
	})
	return w
}

func (w *wsTransport) Name() string { return transportWebSocket }

func (w *wsTransport) Notify() { w.conn.Notify() }

func (w *wsTransport) Writable() bool { return true }

// Close ends the connection once the writer has taken the session's final
// packets (or at once for a probe).
func (w *wsTransport) Close() { w.conn.Close() }

// Message implements wsconn.Handler: it runs the probe, or decodes a
// packet and hands it to the session.
func (w *wsTransport) Message(binary bool, payload []byte) wsconn.Verdict {
	if w.probe != probeOff {
		return w.probeStep(binary, payload)
	}
	var p packet
	if binary {
		p = packet{typ: PacketMessage, data: payload, binary: true}
	} else {
		var err error
		if p, err = decodePacket(payload); err != nil {
			w.reason = ReasonParseError
			return wsconn.Stop
		}
	}
	if !w.sess.receive(w, p) {
		return wsconn.Stop
	}
	return wsconn.Delivered
}

// probeStep runs the upgrade handshake: 2probe → 3probe, then 5. The
// session's upgrade timer closes w (ending the read) if it takes too long.
// Anything else fails the probe (ReadEnded then aborts it).
func (w *wsTransport) probeStep(binary bool, payload []byte) wsconn.Verdict {
	switch {
	case binary:
	case w.probe == probeWaiting && string(payload) == "2probe":
		if !w.conn.WriteDirect(appendWSFrame(nil, packet{typ: PacketPong, data: []byte("probe")})) {
			return wsconn.Stop
		}
		if !w.sess.probed(w) {
			return wsconn.Stop
		}
		w.probe = probeAnswered
		return wsconn.Handled
	case w.probe == probeAnswered && string(payload) == "5":
		if !w.sess.finishUpgrade(w) {
			return wsconn.Stop
		}
		w.probe = probeOff
		w.conn.EnableWrites()
		return wsconn.Handled
	}
	return wsconn.Stop
}

// ReadEnded implements wsconn.Handler: the session is told why the
// reader stopped (if it stopped on its own), and a probe is abandoned.
func (w *wsTransport) ReadEnded(e wsconn.End) {
	reason := w.reason
	switch e.Kind {
	case wsconn.EndRead:
		reason = ReasonTransportClose
		if e.Err != nil && !errors.Is(e.Err, io.EOF) && !errors.Is(e.Err, os.ErrDeadlineExceeded) && !errors.Is(e.Err, net.ErrClosed) {
			w.logDebug("engine: websocket read", slog.Any("err", e.Err))
		}
	case wsconn.EndPeerClose:
		reason = ReasonTransportClose
	case wsconn.EndProtocol:
		w.logDebug("engine: websocket protocol error", slog.String("err", e.Err.Error()))
		reason = ReasonTransportError
	}
	if reason != "" {
		w.sess.transportError(w, reason)
	}
	if w.probe != probeOff {
		w.sess.abortProbe(w)
	}
}

// wsBatchSize is the size past which the frames encoded so far are
// written before more are encoded.
const wsBatchSize = wsconn.BatchSize

// Fill implements wsconn.Handler: it takes every queued packet at once
// and encodes them as consecutive frames, up to wsBatchSize per call.
func (w *wsTransport) Fill(dst []byte, take bool) ([]byte, wsconn.FillState) {
	if take {
		pkts, st := w.sess.take(w)
		w.pend, w.done = pkts, st == takeDone
	}
	for len(w.pend) > 0 && len(dst) < wsBatchSize {
		dst = appendWSFrame(dst, w.pend[0])
		w.pend[0] = packet{}
		w.pend = w.pend[1:]
	}
	if len(w.pend) > 0 {
		return dst, wsconn.FillMore
	}
	w.pend = nil
	if w.done {
		return dst, wsconn.FillDone
	}
	return dst, wsconn.FillIdle
}

// WriteFailed implements wsconn.Handler.
func (w *wsTransport) WriteFailed(error) {
	w.pend = nil
	w.sess.transportError(w, ReasonTransportError)
}

// Finished implements wsconn.Handler: the connection is over.
func (w *wsTransport) Finished() { w.srv.wg.Done() }

func (w *wsTransport) logDebug(msg string, attr slog.Attr) {
	if w.sess != nil {
		w.sess.logAt(slog.LevelDebug, msg, attr)
	}
}

// appendWSFrame appends one unmasked, unfragmented server frame holding
// p: a binary frame with the raw data for a binary message, otherwise a
// text frame with the packet's text form (RFC 6455 section 5.2).
func appendWSFrame(dst []byte, p packet) []byte {
	if p.binary {
		return append(wsconn.AppendHeader(dst, wsconn.OpBinary, len(p.data)), p.data...)
	}
	dst = wsconn.AppendHeader(dst, wsconn.OpText, len(p.data)+1)
	dst = append(dst, byte('0'+p.typ))
	return append(dst, p.data...)
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
	w := s.newWSTransport()
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
// the reader's own goroutines. This relies on the client having sent
// nothing after its handshake request before the 101 response (RFC 6455
// section 4.1: a client must wait for it), so fasthttp's reader holds
// nothing of the WebSocket stream. Without own the reader runs on this
// goroutine for the life of the connection, which fasthttp closes when it
// returns.
func (s *Server) serveWS(nc net.Conn, req *wsRequest, own bool) {
	raw := nc
	if u, ok := nc.(interface{ UnsafeConn() net.Conn }); ok {
		raw = u.UnsafeConn()
	} else {
		own = false // reads must go through nc, which is only valid until we return
	}
	if req.refused || !s.addConn() {
		wsconn.WriteClose(raw, wsconn.ClosePolicy)
		if req.probe != nil {
			req.probe.sess.abortProbe(req.probe)
		}
		_ = raw.Close()
		return
	}
	w := req.probe
	if w == nil {
		w = s.newWSTransport()
		w.conn.Attach(raw)
		sess, err := s.open(w, req.hs)
		if err != nil {
			code := wsconn.CloseGoingAway
			if err == errAtCapacity { // filled up since handle's check
				code = wsconn.CloseTryAgainLater
			}
			wsconn.WriteClose(raw, code)
			_ = raw.Close()
			s.wg.Done()
			return
		}
		w.sess = sess
		w.conn.EnableWrites()
	} else {
		w.probe = probeWaiting
		if !w.conn.Attach(raw) {
			w.sess.abortProbe(w)
			wsconn.WriteClose(raw, wsconn.CloseNormal)
			_ = raw.Close()
			s.wg.Done()
			return
		}
	}
	w.conn.Serve(own)
}
