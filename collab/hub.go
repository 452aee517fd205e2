package collab

import (
	"context"
	"log/slog"
	"sync"

	"github.com/cowrite/cowrite/collab/ot"
)

// SocketID identifies a connected collaborator (the Socket.IO socket id).
// The empty SocketID means "no socket" (REST).
type SocketID string

// User is how a collaborator is shown to the others in presence events.
type User struct {
	ID    string
	Name  string
	Color string
}

// MetaBroadcaster tells a document's room that its metadata changed
// (Rename); part of Broadcaster, called like its other methods, from the
// document's goroutine, and must not block.
type MetaBroadcaster interface {
	DocMeta(doc string, info DocInfo)
}

// Broadcaster is how a document reaches its room; the edge implements it over
// Socket.IO rooms (room name = document id). Its methods are called from the
// document goroutine — ops in version order and only once durable — and
// must not block for long (queue and return; disconnect slow consumers).
//
// Ordering: the ack of an op (Submit returning) is released only after
// BroadcastOp returned for its own version and every lower one. A Broadcaster that enqueues
// to the sockets' outbound queues before returning therefore keeps each
// socket's stream in version order: a client never gets its ack for version v
// before the broadcast ops below v.
type Broadcaster interface {
	// BroadcastOp sends doc:op to the room except the socket that submitted
	// it ("" = send to everyone).
	BroadcastOp(doc string, except SocketID, ev OpEvent)
	// BroadcastPresence sends doc:presence to the room except the sender.
	BroadcastPresence(doc string, except SocketID, ev PresenceEvent)
	// DocDeleted: emit doc:deleted to the room and remove its sockets from it.
	DocDeleted(doc string)
	// DocMeta: emit doc:meta to the whole room (a wrapper must pass it on,
	// so it is part of the interface rather than found by type assertion).
	MetaBroadcaster
}

// OpEvent is a committed op as the edge broadcasts it (doc:op). collab's
// types carry no json tags: the edge (api) owns the wire shapes.
type OpEvent struct {
	Doc     string
	Version uint64
	Op      ot.Op
	Client  string
}

// PresenceEvent is a collaborator's selection as the edge broadcasts it
// (doc:presence). A nil Selection means the collaborator left.
type PresenceEvent struct {
	Doc       string
	Client    string
	User      User
	Version   uint64
	Selection []ot.Selection
}

// JoinResult is the state a joining socket gets (the doc:join ack).
type JoinResult struct {
	Doc     string
	Version uint64
	Content *string
	// Ops are the ops version+1 .. Version when a version was given and they
	// are kept; a non-nil empty slice when the version given is the head;
	// nil when Content is set.
	Ops      []OpEvent
	Presence []PresenceEvent
}

// Submission is a doc:op (or REST POST .../ops) request.
type Submission struct {
	Version uint64
	Op      ot.Op
	Client  string
	Seq     uint64
	// Identity is who submits without a socket (REST): the key of its rate
	// limit (Options.OpsPerSecond), e.g. the token subject or the remote
	// address. A socket's submission uses its Member.Identity instead. Empty
	// without a socket: limited per client id, or not at all without one.
	Identity string
	// Author is who made the op, stored with it (OpRecord.Author, blame,
	// exports); the edge sets it. Zero: unknown.
	Author Author
}

// Member is who joins a document (JoinAs).
type Member struct {
	// Client is the client id the socket claims (see Submit); "" for none.
	Client string
	// User is how the socket is shown in presence events.
	User User
	// Identity is who the socket acts for: the token subject, or the socket
	// itself in open mode (the edge decides). Client ids are bound to it,
	// and OpsPerSecond, presence updates and MaxJoinsPerIdentity count per
	// identity. "" is anonymous (Hub.Join): any anonymous socket may take a
	// client id over, the rate limits count per client id (else socket),
	// and MaxJoinsPerIdentity does not apply. An identity that starts with
	// "s:" names a socket standing for itself (open mode, where there are
	// no users): it counts for the limits like any identity, but binds
	// client ids like an anonymous one, so that a client reconnecting on a
	// new socket can take its own client id back.
	Identity string
	// Viewer: the socket may only read. It claims no client id, and joins
	// only while Options.EditorReserve places are left for editors.
	Viewer bool
}

// Committed is the result of a submission: the op as committed (transformed)
// and its version. Duplicate is true when (client, seq) had already been
// committed; Version is then the original one and Op the op as committed then
// (nil when it is no longer available).
type Committed struct {
	Version   uint64
	Op        ot.Op
	Duplicate bool
}

// Hub is the registry of loaded documents. Each loaded document is owned by
// its document goroutine (sequencer.run); Hub methods reach it through a
// channel and are safe for concurrent use.
type Hub struct {
	store Store
	bc    Broadcaster
	opts  Options
	log   *slog.Logger

	quit      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup // one per document goroutine

	mu      sync.Mutex // guards the fields below
	docs    map[string]*sequencer
	sockets map[SocketID]map[string]struct{} // socket → joined documents
	closed  bool

	blames blameCache // Blame's attributions
}

// NewHub returns a Hub over store that reaches rooms through bc.
func NewHub(store Store, bc Broadcaster, opts *Options) *Hub {
	o := opts.withDefaults()
	return &Hub{
		store:   store,
		bc:      bc,
		opts:    o,
		log:     o.Logger,
		quit:    make(chan struct{}),
		docs:    make(map[string]*sequencer),
		sockets: make(map[SocketID]map[string]struct{}),
	}
}

// Close stops accepting requests, lets every document finish its in-flight
// and queued commits (their submitters get their acks), and unloads them. It
// waits until that is done or ctx ends. It is idempotent.
func (h *Hub) Close(ctx context.Context) error {
	h.closeOnce.Do(func() {
		h.mu.Lock()
		h.closed = true
		h.mu.Unlock()
		close(h.quit)
	})
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Options returns the options in force (defaults filled in), for the edge
// to report its limits.
func (h *Hub) Options() Options { return h.opts }

// checkClientID enforces Options.MaxClientIDBytes.
func (h *Hub) checkClientID(client string) error {
	if len(client) > h.opts.MaxClientIDBytes {
		return errorf(CodeBadRequest, "client id of %d bytes is longer than %d", len(client), h.opts.MaxClientIDBytes)
	}
	return nil
}

// LoadedDocs returns the number of documents loaded in memory (for metrics).
func (h *Hub) LoadedDocs() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.docs)
}

// get returns the document goroutine, starting (and loading) it if needed.
func (h *Hub) get(id string) (*sequencer, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	d := h.docs[id]
	if d == nil {
		d = newDocState(h, id)
		h.docs[id] = d
		h.wg.Add(1)
		go d.run()
	}
	return d, nil
}

// send runs fn on the document goroutine (loading the document if needed).
// It retries when the goroutine exited (idle unload) and reports the load
// error (not_found) when the document could not be loaded.
func (h *Hub) send(ctx context.Context, id string, loaded bool, fn func(d *sequencer)) error {
	for {
		var d *sequencer
		if loaded {
			h.mu.Lock()
			d = h.docs[id]
			h.mu.Unlock()
			if d == nil {
				// Not loaded, so nobody joined it: tell a deleted
				// document apart.
				if _, err := h.store.GetDoc(ctx, id); err != nil {
					return storeErr("get", id, err)
				}
				return errorf(CodeNotJoined, "session has not joined document %q", id)
			}
		} else {
			var err error
			if d, err = h.get(id); err != nil {
				return err
			}
		}
		select {
		case d.reqs <- func() { fn(d) }:
			return nil
		case <-d.dead:
			if d.loadErr != nil {
				return d.loadErr
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

type result[T any] struct {
	v   T
	err error
}

// call runs fn on the document goroutine and returns its result.
func call[T any](ctx context.Context, h *Hub, id string, fn func(d *sequencer) (T, error)) (T, error) {
	var zero T
	if err := ValidateDocID(id); err != nil {
		return zero, err
	}
	ch := make(chan result[T], 1)
	if err := h.send(ctx, id, false, func(d *sequencer) {
		v, err := fn(d)
		ch <- result[T]{v, err}
	}); err != nil {
		return zero, err
	}
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// checkDocsPerSocket refuses a join of doc that would give socket s more
// than Options.MaxDocsPerSocket joined documents (re-joining one it has is
// fine). Checked before the document is loaded or auto-created, so that one
// socket cannot load or create documents without bound.
func (h *Hub) checkDocsPerSocket(s SocketID, doc string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	docs := h.sockets[s]
	if _, ok := docs[doc]; !ok && len(docs) >= h.opts.MaxDocsPerSocket {
		return errorf(CodeRateLimited, "this connection has joined %d documents, the most allowed: leave one first", len(docs))
	}
	return nil
}

// trackSocket records (or forgets) that socket s joined doc. Called from
// the document goroutine.
func (h *Hub) trackSocket(s SocketID, doc string, joined bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.sockets[s]
	if joined {
		if m == nil {
			m = make(map[string]struct{})
			h.sockets[s] = m
		}
		m[doc] = struct{}{}
		return
	}
	delete(m, doc)
	if len(m) == 0 {
		delete(h.sockets, s)
	}
}

// Join adds socket s to the document's collaborators (creating the document
// unless Options.NoAutoCreate) and returns its state: the content at the
// durable head when since is nil, when the ops since *since are no longer kept
// or when there are more than 10000 of them; else the ops *since+1 .. head.
// client is the id shown in presence events (the socket id when ""). Joining
// again updates client and user.
//
// The edge should add the socket to the room before calling Join (and remove
// it if Join fails): ops broadcast after the join carry versions above
// JoinResult.Version and may reach the client before the join ack; ops with a
// version <= the client's version are to be ignored by the client.
func (h *Hub) Join(ctx context.Context, doc string, s SocketID, client string, user User, since *uint64) (*JoinResult, error) {
	return h.JoinAs(ctx, doc, s, Member{Client: client, User: user}, since)
}

// JoinAs is Join with the joining socket's identity and role (see Member):
// rate_limited when the document has Options.MaxCollaborators members, when
// a viewer would take one of the Options.EditorReserve places kept for
// editors, or when the identity already has Options.MaxJoinsPerIdentity
// sockets joined. A client id held by another identity is not claimed.
func (h *Hub) JoinAs(ctx context.Context, doc string, s SocketID, m Member, since *uint64) (*JoinResult, error) {
	client := m.Client
	if s == "" {
		return nil, errorf(CodeBadRequest, "join needs a session")
	}
	if err := h.checkClientID(client); err != nil {
		return nil, err
	}
	if err := h.checkDocsPerSocket(s, doc); err != nil {
		return nil, err
	}
	type joined struct {
		res     *JoinResult
		content *ot.Doc
	}
	fn := func(d *sequencer) (joined, error) {
		r, c, err := d.join(ctx, s, m, since)
		return joined{r, c}, err
	}
	j, err := call(ctx, h, doc, fn)
	// Auto-create. Several sockets may join a new document at once: a
	// load that read the store before another socket's create committed
	// still reports not_found, so retry (a load started after the create
	// returned sees it).
	if CodeOf(err) == CodeNotFound {
		if derr := h.deletedErr(ctx, doc); derr != nil {
			return nil, derr // an old link: never auto-create a deleted document
		}
	}
	for attempt := 0; attempt < 3 && CodeOf(err) == CodeNotFound && !h.opts.NoAutoCreate; attempt++ {
		if _, cerr := h.Create(ctx, doc, "", ""); cerr != nil && CodeOf(cerr) != CodeConflict {
			return nil, cerr
		}
		j, err = call(ctx, h, doc, fn)
	}
	if err != nil {
		return nil, err
	}
	if j.content != nil {
		c := j.content.String()
		j.res.Content = &c
	}
	return j.res, nil
}

// Leave removes socket s from the document's collaborators, releases the
// client ids it used and broadcasts its presence as null. not_joined when it
// had not joined.
func (h *Hub) Leave(ctx context.Context, doc string, s SocketID) error {
	if err := ValidateDocID(doc); err != nil {
		return err
	}
	ch := make(chan error, 1)
	if err := h.send(ctx, doc, true, func(d *sequencer) { ch <- d.leave(s) }); err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Disconnect leaves every document socket s joined (see Leave). It returns
// once every document has processed the leave.
func (h *Hub) Disconnect(s SocketID) {
	h.mu.Lock()
	docs := make([]string, 0, len(h.sockets[s]))
	for doc := range h.sockets[s] {
		docs = append(docs, doc)
	}
	h.mu.Unlock()
	for _, doc := range docs {
		_ = h.Leave(context.Background(), doc, s)
	}
}

// Submit orders, transforms, applies and durably commits an op and returns it
// as committed. It returns once the op is durable (or failed).
//
// With a socket (s != ""), s must have joined doc (not_joined). A client id
// is bound to the socket that joined with it (Join's client) or first
// submitted under it, and to that socket's identity (Member.Identity), until
// that socket leaves or disconnects. A socket of the same identity that
// joined the document later than the bound one takes the client id over (a
// reconnecting client); the older socket then gets forbidden under it, and
// so do other identities, viewers, and REST while any socket holds it. A
// duplicate (client, seq) is answered before that check, from anyone. Ops
// already accepted from the older socket keep their versions and order.
// With s == "" (REST) no join is needed and the op is broadcast to the
// whole room.
//
// Exactly-once: when Client != "" and Seq > 0, a (client, seq) that was
// already committed is acknowledged with its original version (Duplicate) and
// not applied again — also after a restart, an unload or pruning. A seq
// lower than the client's last committed seq is treated the same way (an old
// retransmission): its original version, looked up in memory and then in the
// op log (backwards from the client's last op). Only when that op is no
// longer in the log (pruned), was never committed (seqs need not be
// contiguous), or lies more than 65536 ops back is the answer the version
// of the client's last committed op, at which it is certainly included. A
// lookup that reads the op log counts against Options.OpsPerSecond.
//
// Dedupe entries are bounded: the document goroutine caches at most
// Options.MaxDedupeClients/MaxDedupeBytes of them (dropping durable ones,
// which the store still has), and the store keeps a bounded number per
// document, dropping the oldest and remembering the newest version it
// dropped (its dedupe floor). A client the store no longer knows committed
// its last op at or below the floor, and a resend is based below the
// version it was committed at; so an op with a seq from an unknown client
// based below the floor is refused with version_too_old (the client rejoins
// and finds its op in the content or the catch-up) instead of being
// applied a second time. Ops based at or above the floor are new.
//
// Work bounds: more than Options.MaxOpComponents components is too_large;
// an op whose transform against the ops since its base would exceed
// Options.MaxTransformWork (its components × theirs) is version_too_old.
func (h *Hub) Submit(ctx context.Context, doc string, s SocketID, sub Submission) (*Committed, error) {
	return h.submit(ctx, doc, s, sub, false)
}

// SubmitAsync is Submit without waiting: it hands the submission to the
// document goroutine and returns. When it returns an error, reply is not
// called; else reply is called exactly once, on the document goroutine —
// for a committed op right after the op was handed to the Broadcaster, so a
// reply that queues an ack on the submitter's socket keeps that socket's
// stream in version order. reply must not block. ctx bounds the hand-off and
// any store read made while accepting the op; it must stay valid until reply
// is called (the wait for durability itself is not bounded by it).
func (h *Hub) SubmitAsync(ctx context.Context, doc string, s SocketID, sub Submission, reply ReplyFunc) error {
	if err := ValidateDocID(doc); err != nil {
		return err
	}
	return h.send(ctx, doc, s != "", func(d *sequencer) { d.submit(ctx, s, sub, false, reply) })
}

// TrySubmit is SubmitAsync for a socket that does not wait: it hands the
// submission over only if the document is loaded and its goroutine is idle
// right now, and reports whether it did (then reply will be called, as
// with SubmitAsync). On false nothing happened; use SubmitAsync.
func (h *Hub) TrySubmit(ctx context.Context, doc string, s SocketID, sub Submission, reply ReplyFunc) bool {
	if s == "" {
		return false
	}
	h.mu.Lock()
	d := h.docs[doc]
	h.mu.Unlock()
	if d == nil {
		return false
	}
	select {
	case d.reqs <- func() { d.submit(ctx, s, sub, false, reply) }:
		return true
	default:
		return false
	}
}

type submitReply struct {
	c   *Committed
	err error
}

func (h *Hub) submit(ctx context.Context, doc string, s SocketID, sub Submission, precondition bool) (*Committed, error) {
	if err := ValidateDocID(doc); err != nil {
		return nil, err
	}
	ch := make(chan submitReply, 1)
	reply := func(c *Committed, err error) { ch <- submitReply{c, err} }
	if err := h.send(ctx, doc, s != "", func(d *sequencer) { d.submit(ctx, s, sub, precondition, reply) }); err != nil {
		return nil, err
	}
	select {
	case r := <-ch:
		return r.c, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// SetPresence sets socket s's selection (code points at version; nil clears
// it), transforms it to the durable head, and broadcasts it to the room
// except s. Presence is not persisted.
func (h *Hub) SetPresence(ctx context.Context, doc string, s SocketID, version uint64, sel []ot.Selection) error {
	if err := ValidateDocID(doc); err != nil {
		return err
	}
	if len(sel) > h.opts.MaxSelectionRanges {
		return errorf(CodeBadRequest, "selection has %d ranges, at most %d", len(sel), h.opts.MaxSelectionRanges)
	}
	for i, r := range sel {
		if r.Anchor < 0 || r.Head < 0 {
			return errorf(CodeBadRequest, "selection %d: negative position", i)
		}
	}
	ch := make(chan error, 1)
	if err := h.send(ctx, doc, true, func(d *sequencer) { ch <- d.setPresence(s, version, sel) }); err != nil {
		return err
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
