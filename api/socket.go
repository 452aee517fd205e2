package api

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/internal/jsonstr"
	"github.com/cowrite/cowrite/sio"
)

// Socket.IO event names (SPEC.md section 3).
const (
	evJoin     = "doc:join"
	evLeave    = "doc:leave"
	evOp       = "doc:op"
	evPresence = "doc:presence"
	evDeleted  = "doc:deleted"
)

// Socket data keys.
const (
	keyUser     = "cowrite.user"     // collab.User for presence
	keyIdentity = "cowrite.identity" // *auth.Identity when Options.Auth is set
)

const (
	maxNameLen      = 64
	maxColorLen     = 32
	maxPendingCalls = 64 // queued events per socket before rate_limited
)

// palette gives a collaborator without a color one derived from its id.
var palette = []string{"#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#469990", "#9a6324", "#800000"}

// okAck is the ack of a successful doc:leave / doc:presence.
type okAck struct {
	OK bool `json:"ok"`
}

// opAckJSON is the ack of a successful doc:op, {"ok":true,"version":N},
// written without reflection.
func opAckJSON(version uint64) json.RawMessage {
	b := append(make([]byte, 0, 48), `{"ok":true,"version":`...)
	b = strconv.AppendUint(b, version, 10)
	return append(b, '}')
}

// joinAck is the ack of a successful doc:join: exactly one of Content and
// Ops is present.
type joinAck struct {
	OK       bool                   `json:"ok"`
	Doc      string                 `json:"doc"`
	Version  uint64                 `json:"version"`
	Content  *string                `json:"content,omitempty"`
	Ops      *[]collab.OpEvent      `json:"ops,omitempty"`
	Presence []collab.PresenceEvent `json:"presence"`
}

// mailbox runs one socket's events one after the other, off the
// connection's message goroutine (hub calls wait for durable commits and
// must not delay pings, acks and other packets of the connection). Its
// worker goroutine is started by the first event and then lives until the
// disconnect (the final call) has run, or until API.Close: a goroutine per
// burst of work would pay for growing a fresh stack on every op.
type mailbox struct {
	a    *API
	wake chan struct{} // capacity 1: there may be work in queue

	mu       sync.Mutex // guards the fields below
	queue    []func()
	inflight int  // doc:op submissions handed to the hub and not yet answered
	started  bool // the worker was started
	running  bool // the worker is running a call
	closed   bool // the final call was accepted: nothing more is
	stopped  bool // the worker exited (API.Close): nothing more is accepted
}

func newMailbox(a *API) *mailbox {
	return &mailbox{a: a, wake: make(chan struct{}, 1)}
}

// post queues fn; it returns false when the mailbox is closed or full.
// final marks the last call (the disconnect): nothing is accepted after it.
func (m *mailbox) post(fn func(), final bool) bool {
	m.mu.Lock()
	if m.closed || m.stopped || (!final && len(m.queue)+m.inflight >= maxPendingCalls) {
		m.mu.Unlock()
		return false
	}
	if !m.started {
		if !m.a.addWorker() {
			m.mu.Unlock()
			return false
		}
		m.started = true
		go m.run()
	}
	if final {
		m.closed = true
	}
	m.queue = append(m.queue, fn)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
	return true
}

// opStarted and opDone count a doc:op whose ack comes from the document
// (see API.runOp): it counts against maxPendingCalls until answered.
func (m *mailbox) opStarted() { m.mu.Lock(); m.inflight++; m.mu.Unlock() }
func (m *mailbox) opDone()    { m.mu.Lock(); m.inflight--; m.mu.Unlock() }

// direct runs try on the caller's goroutine in place of posting a call, if
// the mailbox is idle: no call queued or running, so that nothing the
// socket sent before is still waiting. try reports whether it handed an op
// to the hub; it then counts as in flight (see opStarted). try runs with
// the mailbox locked and must not wait.
func (m *mailbox) direct(try func() bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.stopped || m.running || len(m.queue) > 0 || m.inflight >= maxPendingCalls || m.a.ctx.Err() != nil {
		return false
	}
	if !try() {
		return false
	}
	m.inflight++
	return true
}

// run is the worker: it runs the queued calls in order and waits for more;
// it exits once the final call has run, or when the API is closed and the
// queue is empty.
func (m *mailbox) run() {
	defer m.a.wg.Done()
	done := m.a.ctx.Done()
	for {
		m.mu.Lock()
		if len(m.queue) == 0 {
			m.running = false
			if m.closed {
				m.stopped = true
				m.mu.Unlock()
				return
			}
			m.mu.Unlock()
			select {
			case <-m.wake:
			case <-done:
				m.mu.Lock()
				if len(m.queue) == 0 {
					m.stopped = true
					m.queue = nil
					m.mu.Unlock()
					return
				}
				m.mu.Unlock()
			}
			continue
		}
		fn := m.queue[0]
		m.queue[0] = nil
		m.queue = m.queue[1:]
		m.running = true
		m.mu.Unlock()
		fn()
	}
}

// registerSocket installs the auth middleware and the event handlers on the
// main namespace.
func (a *API) registerSocket(nsp *sio.Namespace) {
	nsp.Use(a.authenticate)
	nsp.OnConnection(a.onConnection)
}

// connectAuth is the CONNECT payload: io(url, {auth: {token, name, color}}).
type connectAuth struct {
	Token string `json:"token"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

// authenticate builds the socket's presence user from the CONNECT payload
// (and the token, when Options.Auth is set).
func (a *API) authenticate(s *sio.Socket) error {
	var ca connectAuth
	if raw := s.Handshake().Auth; len(raw) > 0 {
		// Fields of the wrong type are ignored rather than refused: they
		// only decorate presence (a token of the wrong type is missing).
		obj, err := decodeObject(raw, "auth")
		if err == nil {
			ca.Token, _, _ = obj.str("token", 0)
			ca.Name, _, _ = obj.str("name", 0)
			ca.Color, _, _ = obj.str("color", 0)
		}
	}
	user := collab.User{ID: s.ID(), Name: ca.Name, Color: ca.Color}
	if a.opts.Auth != nil {
		id, err := a.opts.Auth.Authenticate(ca.Token)
		if err != nil {
			return &sio.ConnectError{Message: "unauthorized"}
		}
		s.Set(keyIdentity, id)
		if id.UserID != "" {
			user.ID = id.UserID
		}
		if id.Name != "" {
			user.Name = id.Name
		}
		if id.Color != "" {
			user.Color = id.Color
		}
	}
	user.Name = truncate(user.Name, maxNameLen)
	if user.Name == "" {
		user.Name = "anonymous"
	}
	user.Color = truncate(user.Color, maxColorLen)
	if user.Color == "" {
		h := fnv.New32a()
		h.Write([]byte(user.ID))
		user.Color = palette[h.Sum32()%uint32(len(palette))]
	}
	s.Set(keyUser, user)
	return nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func socketUser(s *sio.Socket) collab.User {
	if v, ok := s.Get(keyUser); ok {
		if u, ok := v.(collab.User); ok {
			return u
		}
	}
	return collab.User{ID: s.ID(), Name: "anonymous", Color: palette[0]}
}

// socketIdentity returns the socket's identity (nil without Options.Auth).
func socketIdentity(s *sio.Socket) *auth.Identity {
	if v, ok := s.Get(keyIdentity); ok {
		id, _ := v.(*auth.Identity)
		return id
	}
	return nil
}

// authorizeJoin checks Read on doc, and Create when the join would create
// it (a missing document with auto-create on).
func (a *API) authorizeJoin(ctx context.Context, s *sio.Socket, doc string) error {
	if a.opts.Auth == nil {
		return nil
	}
	id := socketIdentity(s)
	if err := a.authorize(id, auth.Read, doc); err != nil {
		return err
	}
	if id.Can(auth.Create, doc) {
		return nil
	}
	if _, _, err := a.hub.Get(ctx, doc); err != nil {
		return err // not_found: the join may not create it
	}
	return nil
}

// eventFunc handles one decoded event payload and returns the ack value.
type eventFunc func(ctx context.Context, s *sio.Socket, payload object) (any, error)

func (a *API) onConnection(s *sio.Socket) {
	mb := newMailbox(a)
	sid := collab.SocketID(s.ID())
	handle := func(event string, fn eventFunc) {
		s.On(event, func(s *sio.Socket, args sio.Args, ack sio.AckFunc) {
			// Decode on the message goroutine (cheap), run on the mailbox.
			payload, err := eventPayload(args)
			if err != nil {
				a.reply(s, event, ack, nil, err)
				return
			}
			ok := mb.post(func() {
				ctx, cancel := context.WithTimeout(a.ctx, a.opts.RequestTimeout)
				defer cancel()
				res, err := fn(ctx, s, payload)
				a.reply(s, event, ack, res, err)
			}, false)
			if !ok {
				a.reply(s, event, ack, nil, &collab.Error{Code: collab.CodeRateLimited,
					Message: "too many requests in progress on this connection"})
			}
		})
	}
	handle(evJoin, a.onJoin)
	handle(evLeave, a.onLeave)
	handle(evPresence, a.onPresence)
	s.On(evOp, func(s *sio.Socket, args sio.Args, ack sio.AckFunc) {
		payload, err := eventPayload(args)
		if err != nil {
			a.reply(s, evOp, ack, nil, err)
			return
		}
		doc, sub, err := a.opRequest(s, payload)
		if err == nil && mb.direct(func() bool {
			return a.hub.TrySubmit(a.ctx, doc, sid, sub, a.opReply(mb, s, ack))
		}) {
			return
		}
		if !mb.post(func() { a.runOp(mb, s, doc, sub, err, ack) }, false) {
			a.reply(s, evOp, ack, nil, &collab.Error{Code: collab.CodeRateLimited,
				Message: "too many requests in progress on this connection"})
		}
	})
	s.OnAny(func(s *sio.Socket, event string, _ sio.Args, ack sio.AckFunc) {
		switch event {
		case evJoin, evLeave, evOp, evPresence:
			return
		}
		// An unknown event with an ack callback would otherwise wait forever.
		a.reply(s, event, ack, nil, badRequest(fmt.Sprintf("unknown event %q (expected doc:join, doc:leave, doc:op or doc:presence)", truncate(event, 64))))
	})
	s.OnDisconnect(func(string) {
		mb.post(func() {
			a.hub.Disconnect(sid)
		}, true)
	})
}

// eventPayload returns the first argument as a JSON object.
func eventPayload(args sio.Args) (object, error) {
	if args.Len() == 0 {
		return nil, badRequest("payload is missing: expected a JSON object")
	}
	if len(args.Attachments()) > 0 {
		return nil, badRequest("binary payloads are not supported")
	}
	return decodeObject(args.Raw(0), "payload")
}

// reply sends the ack of an event (when the client asked for one).
func (a *API) reply(s *sio.Socket, event string, ack sio.AckFunc, res any, err error) {
	if err != nil {
		w := toWire(err)
		if a.opts.OnError != nil {
			a.opts.OnError(string(w.Code))
		}
		if w.Code == collab.CodeInternal {
			a.log.Error("event failed", "event", event, "socket", s.ID(), "err", err)
		}
		res = failAck{OK: false, Error: w}
	}
	if ack == nil {
		return
	}
	if err := ack(res); err != nil && err != sio.ErrClosed {
		a.log.Warn("cannot send ack", "event", event, "socket", s.ID(), "err", err)
	}
}

func (a *API) onJoin(ctx context.Context, s *sio.Socket, p object) (any, error) {
	doc, err := p.docID("doc")
	if err != nil {
		return nil, err
	}
	var since *uint64
	if v, ok, err := p.uint("version"); err != nil {
		return nil, err
	} else if ok {
		since = &v
	}
	client, _, err := p.str("client", maxClientLen)
	if err != nil {
		return nil, err
	}
	if err := a.authorizeJoin(ctx, s, doc); err != nil {
		return nil, err
	}
	if !s.Connected() {
		return nil, &collab.Error{Code: collab.CodeBadRequest, Message: "socket disconnected"}
	}
	// Enter the room before the hub registers the session, so that no op
	// committed after the join's version can be missed. Ops broadcast in
	// between may reach the client before this ack; their versions tell the
	// client which ones the ack's state already contains.
	wasIn := slices.Contains(s.Rooms(), doc)
	s.Join(doc)
	res, err := a.hub.Join(ctx, doc, collab.SocketID(s.ID()), client, socketUser(s), since)
	if err != nil {
		if !wasIn {
			s.Leave(doc)
		}
		return nil, err
	}
	if !s.Connected() {
		// Disconnected while joining: the disconnect's hub.Disconnect runs
		// after this call on the same mailbox and cleans the join up.
		return nil, &collab.Error{Code: collab.CodeBadRequest, Message: "socket disconnected"}
	}
	out := joinAck{OK: true, Doc: res.Doc, Version: res.Version, Content: res.Content, Presence: res.Presence}
	if out.Presence == nil {
		out.Presence = []collab.PresenceEvent{}
	}
	if res.Content == nil {
		ops := res.Ops
		if ops == nil {
			ops = []collab.OpEvent{}
		}
		out.Ops = &ops
	}
	return out, nil
}

func (a *API) onLeave(ctx context.Context, s *sio.Socket, p object) (any, error) {
	doc, err := p.docID("doc")
	if err != nil {
		return nil, err
	}
	s.Leave(doc)
	if err := a.hub.Leave(ctx, doc, collab.SocketID(s.ID())); err != nil {
		return nil, err
	}
	return okAck{OK: true}, nil
}

// A doc:op does not wait for its commit: the payload is checked on the
// connection's message goroutine, and the submission handed to the
// document, whose goroutine sends the ack once the op is durable, right
// after broadcasting it. So the ack is queued on the socket together with
// the broadcasts of the same commit (one write) and no goroutine is woken
// just to send it. When the socket's mailbox is idle and the document's
// goroutine is waiting for work, the op is handed over at once
// (Hub.TrySubmit, on the message goroutine, without waiting); otherwise it
// goes through the mailbox (runOp), behind the socket's earlier events.
// Either way the events of a socket reach each document in the order they
// were sent; acks of ops on different documents may come back in another
// order. The op counts against maxPendingCalls until it is answered.
//
// The hand-off and the store reads made while accepting the op use the
// API's context, not Options.RequestTimeout (no timer per op): the ack
// waits for durability however long the store takes — a store that hangs
// holds the whole document anyway.
//
// collab resolves client ids: a session that joined after the one holding
// the client id takes it over (a reconnect), the older one gets forbidden.
// The old socket is deliberately not disconnected here: when it is dead
// the heartbeat reaps it, and when it is alive (two tabs sharing a client
// id, a client bug) disconnecting it would only make them kick each other
// and drop its other documents too.

// runOp submits a doc:op from the mailbox worker; err is the outcome of
// opRequest.
func (a *API) runOp(mb *mailbox, s *sio.Socket, doc string, sub collab.Submission, err error, ack sio.AckFunc) {
	if err == nil {
		mb.opStarted()
		if err = a.hub.SubmitAsync(a.ctx, doc, collab.SocketID(s.ID()), sub, a.opReply(mb, s, ack)); err != nil {
			mb.opDone()
		}
	}
	if err != nil {
		a.reply(s, evOp, ack, nil, err)
	}
}

// opReply returns the hub callback that acks a doc:op (on the document's
// goroutine) and ends its in-flight count.
func (a *API) opReply(mb *mailbox, s *sio.Socket, ack sio.AckFunc) collab.ReplyFunc {
	return func(c *collab.Committed, err error) {
		mb.opDone()
		if err != nil {
			a.reply(s, evOp, ack, nil, err)
			return
		}
		a.reply(s, evOp, ack, opAckJSON(c.Version), nil)
	}
}

// opRequest validates a doc:op payload and authorizes it.
func (a *API) opRequest(s *sio.Socket, p object) (string, collab.Submission, error) {
	doc, err := p.docID("doc")
	if err != nil {
		return "", collab.Submission{}, err
	}
	sub, err := p.submission()
	if err != nil {
		return "", collab.Submission{}, err
	}
	if err := a.authorize(socketIdentity(s), auth.Write, doc); err != nil {
		return "", collab.Submission{}, err
	}
	return doc, sub, nil
}

func (a *API) onPresence(ctx context.Context, s *sio.Socket, p object) (any, error) {
	doc, err := p.docID("doc")
	if err != nil {
		return nil, err
	}
	v, ok, err := p.uint("version")
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, badRequest(`"version" is required`)
	}
	if _, ok := p["selection"]; !ok {
		return nil, badRequest(`"selection" is required (an array of {anchor, head}, or null)`)
	}
	sel, err := p.selection()
	if err != nil {
		return nil, err
	}
	if err := a.authorize(socketIdentity(s), auth.Write, doc); err != nil {
		return nil, err
	}
	if err := a.hub.SetPresence(ctx, doc, collab.SocketID(s.ID()), v, sel); err != nil {
		return nil, err
	}
	return okAck{OK: true}, nil
}

// Broadcaster implements collab.Broadcaster over the rooms of a Socket.IO
// namespace (room name = document id). Each broadcast is encoded once.
type Broadcaster struct {
	nsp *sio.Namespace
}

// NewBroadcaster returns a Broadcaster over the main namespace of io.
func NewBroadcaster(io *sio.Server) *Broadcaster {
	return &Broadcaster{nsp: io.Of("/")}
}

var _ collab.Broadcaster = (*Broadcaster)(nil)

func (b *Broadcaster) to(doc string, except collab.SocketID) *sio.BroadcastOperator {
	op := b.nsp.To(doc)
	if except != "" {
		op = op.Except(string(except)) // every socket is in the room named by its id
	}
	return op
}

// BroadcastOp emits doc:op to the document's room except the submitter.
// The payload is written by appendOpEvent (no reflection) and encoded once
// for the whole room.
func (b *Broadcaster) BroadcastOp(doc string, except collab.SocketID, ev collab.OpEvent) {
	_ = b.to(doc, except).Emit(evOp, json.RawMessage(appendOpEvent(make([]byte, 0, 64+len(ev.Doc)+len(ev.Client)+16*len(ev.Op)), ev)))
}

// appendOpEvent appends the JSON of ev, the same value encoding/json gives
// for collab.OpEvent: {"doc","version","op","client"}.
func appendOpEvent(b []byte, ev collab.OpEvent) []byte {
	b = append(b, `{"doc":`...)
	b = appendJSONString(b, ev.Doc)
	b = append(b, `,"version":`...)
	b = strconv.AppendUint(b, ev.Version, 10)
	b = append(b, `,"op":`...)
	b = ev.Op.AppendJSON(b)
	b = append(b, `,"client":`...)
	b = appendJSONString(b, ev.Client)
	return append(b, '}')
}

// appendJSONString appends s as a JSON string (internal/jsonstr).
func appendJSONString(b []byte, s string) []byte {
	return jsonstr.Append(b, s)
}

// BroadcastPresence emits doc:presence to the document's room except the sender.
func (b *Broadcaster) BroadcastPresence(doc string, except collab.SocketID, ev collab.PresenceEvent) {
	_ = b.to(doc, except).Emit(evPresence, ev)
}

// DocDeleted emits doc:deleted to the document's room and empties the room.
func (b *Broadcaster) DocDeleted(doc string) {
	room := b.nsp.To(doc)
	_ = room.Emit(evDeleted, struct {
		Doc string `json:"doc"`
	}{doc})
	room.SocketsLeave(doc)
}
