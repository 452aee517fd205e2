package api

import (
	"context"
	"fmt"
	"runtime/trace"
	"slices"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/sio"
)

// Socket.IO event names (SPEC.md section 3).
const (
	evJoin     = "doc:join"
	evLeave    = "doc:leave"
	evOp       = "doc:op"
	evPresence = "doc:presence"
	evDeleted  = "doc:deleted"
	evMeta     = "doc:meta" // extension: metadata changed (title)
)

// registerSocket installs the auth middleware and the event handlers on the
// main namespace.
func (a *API) registerSocket(nsp *sio.Namespace) {
	nsp.Use(a.authenticate)
	nsp.OnConnection(a.onConnection)
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
	s.Set(keyMailbox, mb)
	sid := collab.SocketID(s.ID())
	handle := func(event string, fn eventFunc) {
		s.On(event, func(s *sio.Socket, args sio.Args, ack sio.AckFunc) {
			// Decode on the dispatch goroutine (cheap), run on the mailbox.
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
	handle(evRefresh, a.onRefresh)
	s.On(evOp, a.onOp(mb))
	s.OnAny(func(s *sio.Socket, event string, _ sio.Args, ack sio.AckFunc) {
		switch event {
		case evJoin, evLeave, evOp, evPresence, evRefresh:
			return
		}
		// An unknown event with an ack callback would otherwise wait forever.
		a.reply(s, event, ack, nil, badRequest(fmt.Sprintf("unknown event %q (expected doc:join, doc:leave, doc:op, doc:presence or auth:refresh)", truncate(event, 64))))
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
	client, _, err := p.str("client", 0)
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
	// Only editors claim a client id (a viewer's ops are refused anyway);
	// viewers get no place kept for editors (collab.Options.EditorReserve).
	viewer := a.authorize(socketIdentity(s), auth.Write, doc) != nil
	m := collab.Member{Client: client, User: socketUser(s), Viewer: viewer,
		Identity: identityKey(socketIdentity(s), "s:"+s.ID())}
	res, err := a.hub.JoinAs(ctx, doc, collab.SocketID(s.ID()), m, since)
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
	out := joinAck{OK: true, Doc: res.Doc, Version: res.Version, Content: res.Content, Presence: make([]presenceJSON, len(res.Presence))}
	for i, p := range res.Presence {
		out.Presence[i] = presenceWire(p, p.Client)
	}
	if res.Content == nil {
		ops := make([]opEventJSON, len(res.Ops))
		for i, o := range res.Ops {
			ops[i] = opEventWire(o, o.Client)
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

// onOp returns the doc:op handler. A doc:op does not wait for its commit:
// the payload is checked on the connection's dispatch goroutine, and the
// submission handed to the document, whose goroutine sends the ack once the op is durable, right
// after broadcasting it. So the ack is queued on the socket together with
// the broadcasts of the same commit (one write) and no goroutine is woken
// just to send it. When the socket's mailbox is idle and the document's
// goroutine is waiting for work, the op is handed over at once
// (Hub.TrySubmit, on the dispatch goroutine, without waiting); otherwise it
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
// collab resolves client ids (see Hub.Submit): a socket of the same
// identity that joined after the one holding the client id takes it over
// (a reconnect), the older one gets forbidden. The old socket is
// deliberately not disconnected here: when it is dead the heartbeat reaps
// it, and when it is alive (two tabs sharing a client id, a client bug)
// disconnecting it would only make them kick each other and drop its other
// documents too.
func (a *API) onOp(mb *mailbox) sio.EventHandler {
	return func(s *sio.Socket, args sio.Args, ack sio.AckFunc) {
		ctx, task := a.opTask()
		payload, err := eventPayload(args)
		if err != nil {
			a.reply(s, evOp, ack, nil, err)
			endTask(task)
			return
		}
		doc, sub, err := a.opRequest(s, payload)
		if err == nil && mb.direct(func() bool {
			return a.hub.TrySubmit(ctx, doc, collab.SocketID(s.ID()), sub, a.opReply(mb, s, ack, task))
		}) {
			return
		}
		if !mb.post(func() { a.runOp(ctx, task, mb, s, doc, sub, err, ack) }, false) {
			a.reply(s, evOp, ack, nil, &collab.Error{Code: collab.CodeRateLimited,
				Message: "too many requests in progress on this connection"})
			endTask(task)
		}
	}
}

// opTask starts the execution-trace task of one doc:op while a trace runs
// (runtime/trace, e.g. /debug/pprof/trace): its stages are logged as
// "received" here, "sequencer", "store" and "durable" by collab, and it
// ends once the ack is queued. Without a trace it is a.ctx and no task,
// at no cost.
func (a *API) opTask() (context.Context, *trace.Task) {
	if !trace.IsEnabled() {
		return a.ctx, nil
	}
	ctx, task := trace.NewTask(a.ctx, "doc:op")
	trace.Log(ctx, "stage", "received")
	return ctx, task
}

// endTask ends an opTask's task, if there is one.
func endTask(task *trace.Task) {
	if task != nil {
		task.End()
	}
}

// runOp submits a doc:op from the mailbox worker; err is the outcome of
// opRequest.
func (a *API) runOp(ctx context.Context, task *trace.Task, mb *mailbox, s *sio.Socket, doc string, sub collab.Submission, err error, ack sio.AckFunc) {
	if err == nil {
		mb.opStarted()
		if err = a.hub.SubmitAsync(ctx, doc, collab.SocketID(s.ID()), sub, a.opReply(mb, s, ack, task)); err != nil {
			mb.opDone()
		}
	}
	if err != nil {
		a.reply(s, evOp, ack, nil, err)
		endTask(task)
	}
}

// opReply returns the hub callback that acks a doc:op (on the document's
// goroutine), ends its in-flight count and its trace task.
func (a *API) opReply(mb *mailbox, s *sio.Socket, ack sio.AckFunc, task *trace.Task) collab.ReplyFunc {
	return func(c *collab.Committed, err error) {
		mb.opDone()
		if err != nil {
			a.reply(s, evOp, ack, nil, err)
		} else {
			a.reply(s, evOp, ack, opAckJSON(c.Version), nil)
		}
		endTask(task)
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
	sub.Author = socketAuthor(s)
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
