package engine

import (
	"log/slog"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/cowrite/cowrite/sio/engine/internal/wsconn"
)

// polling is the HTTP long-polling transport of one session: at most one
// pending GET (which takes every queued packet at once) and one POST.
type polling struct {
	sess *Session
	wake chan struct{} // capacity 1: wakes the pending GET

	mu          sync.Mutex // guards the fields below
	getPending  bool
	postPending bool
}

func newPolling() *polling { return &polling{wake: make(chan struct{}, 1)} }

func (p *polling) Name() string { return transportPolling }

func (p *polling) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *polling) Writable() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.getPending
}

func (p *polling) Close() { p.Notify() }

const (
	mimeTextPlainUTF8 = "text/plain; charset=UTF-8"
	mimeTextHTML      = "text/html"
)

// servePollingHandshake opens a polling session and answers the GET at
// once with the open packet (and whatever OnSession queued).
func (s *Server) servePollingHandshake(c *fiber.Ctx, hs *Handshake) error {
	p := newPolling()
	sess, err := s.open(p, hs)
	switch err {
	case errAtCapacity:
		return writeError(c, errorAtCapacity())
	case errServerClosed:
		return c.SendStatus(fiber.StatusServiceUnavailable)
	}
	p.sess = sess
	pkts, _ := sess.take(p)
	return writePayload(c, pkts)
}

// upgradeGrace is how long a GET with nothing to return waits, once the
// upgrade is probed, for the client's "5" before answering a noop
// (engine.io checks every 100ms). A "5" in that time gets it 400 code 3,
// as if it came after the upgrade: the client sent "5" before the GET.
const upgradeGrace = 50 * time.Millisecond

// serveGet long-polls: it answers as soon as packets are queued, the
// session closes, or an upgrade is probed. A second concurrent GET is a
// protocol error; a client that aborts the GET closes the session.
func (p *polling) serveGet(c *fiber.Ctx) error {
	p.mu.Lock()
	if p.getPending {
		p.mu.Unlock()
		p.sess.logAt(slog.LevelDebug, "engine: overlapping GET")
		p.sess.close(ReasonTransportError) // the pending GET gets "1"
		return writeError(c, newError(CodeBadRequest))
	}
	p.getPending = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.getPending = false
		p.mu.Unlock()
	}()

	w := wsconn.WatchPeer(c.Context().Conn())
	defer w.Stop()
	var grace <-chan time.Time
	for {
		pkts, st := p.sess.take(p)
		if len(pkts) > 0 {
			return writePayload(c, pkts)
		}
		switch st {
		case takeDone:
			if p.sess.upgraded() {
				// The "5" came while this GET waited: the sid is now
				// WebSocket-only, as for any later polling request.
				return writeError(c, newError(CodeBadRequest))
			}
			return writePayload(c, []packet{{typ: PacketNoop}})
		case takeUpgrading:
			if grace == nil {
				t := time.NewTimer(upgradeGrace)
				defer t.Stop()
				grace = t.C
			}
		}
		select {
		case <-grace:
			return writePayload(c, []packet{{typ: PacketNoop}})
		case <-p.wake:
		case <-w.Gone():
			p.sess.logAt(slog.LevelDebug, "engine: poll connection closed prematurely")
			p.sess.transportError(p, ReasonTransportError)
			c.Context().SetConnectionClose()
			return nil
		}
	}
}

// servePost decodes a payload and hands its packets to the session.
func (p *polling) servePost(c *fiber.Ctx) error {
	p.mu.Lock()
	if p.postPending {
		p.mu.Unlock()
		p.sess.logAt(slog.LevelDebug, "engine: overlapping POST")
		p.sess.transportError(p, ReasonTransportError)
		return writeError(c, newError(CodeBadRequest))
	}
	p.postPending = true
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		p.postPending = false
		p.mu.Unlock()
	}()

	body := c.Body()
	if int64(len(body)) > p.sess.cfg.maxPayload {
		p.sess.transportError(p, ReasonTransportError)
		return c.SendStatus(fiber.StatusRequestEntityTooLarge)
	}
	if string(c.Request().Header.ContentType()) == fiber.MIMEOctetStream {
		p.sess.transportError(p, ReasonTransportError) // v4 payloads are text
		return writeError(c, newError(CodeBadRequest))
	}
	// The body buffer is reused by fasthttp: copy it once; the messages
	// alias this copy (each with its capacity clipped).
	pkts, err := decodePayload(append([]byte(nil), body...))
	if err != nil {
		p.sess.transportError(p, ReasonParseError)
		return writeError(c, newError(CodeBadRequest))
	}
	for _, pk := range pkts {
		if !p.sess.receive(p, pk) {
			break
		}
	}
	p.sess.flushInbox()
	c.Set(fiber.HeaderContentType, mimeTextHTML)
	return c.SendString("ok")
}

func writePayload(c *fiber.Ctx, pkts []packet) error {
	c.Set(fiber.HeaderContentType, mimeTextPlainUTF8)
	return c.Send(appendPayload(nil, pkts))
}
