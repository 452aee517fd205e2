package collab

import (
	"context"
	"runtime/trace"
	"strings"
	"time"

	"github.com/cowrite/cowrite/collab/ot"
)

// histEntry is one committed op kept in memory, with the content after it.
// Entries above sequencer.durable are in flight or staged; their submitters
// (own and dups) are answered once the op is durable.
type histEntry struct {
	rec    OpRecord
	doc    *ot.Doc
	bytes  int // opBytes(rec.Op), counted in sequencer.histBytes
	except SocketID
	own    ReplyFunc   // the submitter's (nil once answered or for a loaded op)
	dups   []ReplyFunc // duplicate submissions waiting for the same op
	// ctx is the submission's context while an execution trace runs (for
	// the "store" and "durable" stages of its task), else nil.
	ctx context.Context
}

// ReplyFunc receives the outcome of a submission. It is called exactly once,
// on the document goroutine, and must not block.
type ReplyFunc func(c *Committed, err error)

type member struct {
	joined    uint64 // join order (sequencer.joins when it first joined)
	client    string
	user      User
	identity  string         // Member.Identity, or "s:"+socket id
	viewer    bool           // Member.Viewer
	sel       []ot.Selection // nil: no presence
	selVer    uint64         // the version sel is at
	presented bool           // sel was set at least once
}

type seqMark struct{ seq, version uint64 }

// binding is who holds a client id: the socket, and the identity it acts
// for ("" = anonymous: Hub.Join without an identity, any other anonymous
// socket may take it over).
type binding struct {
	socket   SocketID
	identity string
}

// maxTracked bounds the per-document map of rate-limit buckets, keyed by
// identities: past it the map is emptied, which only forgets partly used
// buckets. (The seqs cache has its own bounds, see setSeq.)
const maxTracked = 4096

// maxInflight is how many batches of one document may be handed to the
// store at once: the next batch goes while the previous one is being
// written, so an op accepted meanwhile does not wait for two commits.
const maxInflight = 2

// flight is one batch handed to Store.Append and not yet released.
type flight struct {
	to       uint64    // the batch's last version
	at       time.Time // when it was handed to the store
	reported bool      // its done was called
	err      error     // what done reported
}

// commitResult is what a batch's done reports to the document goroutine.
type commitResult struct {
	to  uint64
	err error
}

// sequencer is one loaded document. Everything below the channels is owned by
// the document goroutine (run) and touched by nothing else.
type sequencer struct {
	h       *Hub
	id      string
	reqs    chan func()       // unbuffered: a send succeeds only if run takes it
	commits chan commitResult // results of the in-flight Appends
	dead    chan struct{}     // closed when run exits
	loadErr error             // why run exited without serving; set before dead is closed

	info       DocInfo  // durable metadata
	doc        *ot.Doc  // content at head
	head       uint64   // last accepted version (durable or not)
	durable    uint64   // last durable version
	inflightTo uint64   // last version handed to Append (== durable when idle)
	flights    []flight // batches handed to Append, oldest first
	hist       []histEntry
	histStart  uint64  // version of hist[0] (head+1 when empty)
	histBytes  int     // sum of hist[i].bytes
	baseDoc    *ot.Doc // content at histStart-1
	snapOps    int     // ops since the last snapshot
	snapBytes  int     // op bytes since the last snapshot
	members    map[SocketID]*member
	clients    map[string]binding // client id → the socket and identity it is bound to
	joins      uint64             // joins so far (member.joined)
	seqs       map[string]seqMark // client id → last accepted seq (cache of Store.LastSeq)
	seqBytes   int                // bytes of seqs (seqEntryBytes each)
	seqFloor   uint64             // the store's dedupe floor, as last seen
	buckets    map[string]*bucket
	deletes    []chan error // pending Delete calls (run once nothing is in flight)
	idle       *time.Timer
	closing    bool
	gone       bool
}

func newDocState(h *Hub, id string) *sequencer {
	d := &sequencer{
		h:       h,
		id:      id,
		reqs:    make(chan func()),
		commits: make(chan commitResult, maxInflight),
		dead:    make(chan struct{}),
		members: make(map[SocketID]*member),
		clients: make(map[string]binding),
		seqs:    make(map[string]seqMark),
		buckets: make(map[string]*bucket),
	}
	return d
}

func (d *sequencer) run() {
	defer d.h.wg.Done()
	if err := d.load(); err != nil {
		d.loadErr = err
		d.exit()
		return
	}
	d.idle = time.NewTimer(d.h.opts.IdleUnload)
	for !d.gone {
		select {
		case fn := <-d.reqs:
			fn()
		case res := <-d.commits:
			d.onCommit(res)
		case <-d.idle.C:
			if d.isIdle() {
				d.exit()
				return
			}
		case <-d.h.quit:
			d.drain()
			return
		}
		if d.gone {
			return
		}
		if d.maybeDelete(); d.gone {
			return
		}
		if d.isIdle() {
			d.idle.Reset(d.h.opts.IdleUnload)
		} else {
			d.idle.Stop()
		}
	}
}

func (d *sequencer) isIdle() bool {
	return len(d.members) == 0 && d.head == d.durable && len(d.deletes) == 0
}

// drain finishes in-flight and staged commits and pending deletes, then exits.
func (d *sequencer) drain() {
	d.closing = true
	for len(d.flights) > 0 && !d.gone {
		d.onCommit(<-d.commits)
	}
	if !d.gone {
		d.maybeDelete()
	}
	if !d.gone {
		d.exit()
	}
}

// exit unregisters the document and ends the document goroutine's service.
func (d *sequencer) exit() {
	d.gone = true
	h := d.h
	h.mu.Lock()
	if h.docs[d.id] == d {
		delete(h.docs, d.id)
	}
	for s := range d.members {
		if m := h.sockets[s]; m != nil {
			delete(m, d.id)
			if len(m) == 0 {
				delete(h.sockets, s)
			}
		}
	}
	h.mu.Unlock()
	if d.idle != nil {
		d.idle.Stop()
	}
	for _, ch := range d.deletes {
		ch <- errorf(CodeInternal, "document %q was unloaded; retry", d.id)
	}
	d.deletes = nil
	close(d.dead)
}

// load (re)builds the content, version and history from the store.
func (d *sequencer) load() error {
	ld, err := d.h.store.LoadDoc(context.Background(), d.id)
	if err != nil {
		return storeErr("load", d.id, err)
	}
	doc := ot.NewDoc(ld.Snapshot.Content)
	v := ld.Snapshot.Version
	d.baseDoc = doc
	d.hist = make([]histEntry, 0, len(ld.Ops)+1)
	d.histStart = v + 1
	d.histBytes = 0
	d.snapOps, d.snapBytes = 0, 0
	for _, rec := range ld.Ops {
		if rec.Version != v+1 {
			return errorf(CodeInternal, "load %q: op version %d follows %d", d.id, rec.Version, v)
		}
		nd, err := doc.Apply(rec.Op)
		if err != nil {
			return errorf(CodeInternal, "load %q: replay op %d: %v", d.id, rec.Version, err)
		}
		doc, v = nd, v+1
		nb := opBytes(rec.Op)
		d.hist = append(d.hist, histEntry{rec: rec, doc: doc, bytes: nb})
		d.histBytes += nb
		d.snapOps++
		d.snapBytes += nb
	}
	if v != ld.Info.Version {
		return errorf(CodeInternal, "load %q: ops end at version %d, metadata says %d", d.id, v, ld.Info.Version)
	}
	d.info = ld.Info
	d.info.Size = int64(doc.Size())
	d.doc = doc
	d.head, d.durable, d.inflightTo = v, v, v
	d.flights = nil
	d.seqs, d.seqBytes = make(map[string]seqMark), 0
	d.trim()
	return nil
}

// docAt returns the content at version v if it is in memory, else nil.
func (d *sequencer) docAt(v uint64) *ot.Doc {
	switch {
	case v > d.head:
		return nil
	case v == d.head:
		return d.doc
	case v >= d.histStart:
		return d.hist[v-d.histStart].doc
	case v+1 == d.histStart:
		return d.baseDoc
	}
	return nil
}

func (d *sequencer) entry(v uint64) *histEntry {
	if v < d.histStart || v > d.head {
		return nil
	}
	return &d.hist[v-d.histStart]
}

// trim drops the oldest durable entries while more than Options.HistoryOps
// are durable or the history holds more than Options.HistoryBytes (entries
// not yet durable are never dropped: their submitters wait on them).
func (d *sequencer) trim() {
	if d.durable+1 <= d.histStart {
		return
	}
	durableN := int(d.durable - d.histStart + 1)
	k := max(durableN-d.h.opts.HistoryOps, 0)
	bytes := d.histBytes
	for i := range k {
		bytes -= d.hist[i].bytes
	}
	for k < durableN && bytes > d.h.opts.HistoryBytes {
		bytes -= d.hist[k].bytes
		k++
	}
	if k == 0 {
		return
	}
	d.histBytes = bytes
	d.baseDoc = d.hist[k-1].doc
	clear(d.hist[:k])
	d.hist = d.hist[k:]
	d.histStart += uint64(k)
}

// opsSince returns the committed ops base+1 .. to (to <= head), from memory or
// from the store; version_too_old when they are no longer kept.
func (d *sequencer) opsSince(ctx context.Context, base, to uint64) ([]OpRecord, error) {
	if base >= to {
		return nil, nil
	}
	var out []OpRecord
	if base+1 < d.histStart {
		end := min(to, d.histStart-1)
		recs, err := d.h.store.ReadOps(ctx, d.id, base, end, 0)
		if err != nil {
			return nil, storeErr("read ops", d.id, err)
		}
		if uint64(len(recs)) != end-base || (len(recs) > 0 && recs[0].Version != base+1) {
			return nil, errorf(CodeVersionTooOld, "version %d is too old: the ops after it are no longer kept", base)
		}
		out = recs
		base = end
	}
	for v := base + 1; v <= to; v++ {
		out = append(out, d.hist[v-d.histStart].rec)
	}
	return out, nil
}

// transformSince transforms op (based on version base) against every op
// committed since, with op on the Left. It refuses (version_too_old) when
// len(op) times the components of those ops exceeds
// Options.MaxTransformWork, checked before any op is read from the store
// (every op has at least one component) and again with the exact count.
func (d *sequencer) transformSince(ctx context.Context, op ot.Op, base uint64) (ot.Op, error) {
	maxWork := uint64(d.h.opts.MaxTransformWork)
	tooMuch := func(work uint64) error {
		return errorf(CodeVersionTooOld, "transforming an op of %d components from version %d to %d is about %d steps, over the limit of %d: rebase it on a newer version",
			len(op), base, d.head, work, maxWork)
	}
	n := uint64(len(op))
	if n*(d.head-base) > maxWork {
		return nil, tooMuch(n * (d.head - base))
	}
	var comps uint64
	for v := max(base+1, d.histStart); v <= d.head; v++ {
		comps += uint64(len(d.hist[v-d.histStart].rec.Op))
	}
	if n*comps > maxWork {
		return nil, tooMuch(n * comps)
	}
	var older []OpRecord
	if base+1 < d.histStart {
		var err error
		if older, err = d.opsSince(ctx, base, d.histStart-1); err != nil {
			return nil, err
		}
		for _, r := range older {
			comps += uint64(len(r.Op))
		}
		if n*comps > maxWork {
			return nil, tooMuch(n * comps)
		}
		base = d.histStart - 1
	}
	// op was validated and normalized, committed ops were too (and the
	// log's when they were accepted), so the steps skip validation, and
	// they alternate two buffers rather than allocating one per step.
	var bufs [2]ot.Op
	step := func(other ot.Op) {
		i := 0
		if len(op) > 0 && len(bufs[0]) > 0 && &op[0] == &bufs[0][0] {
			i = 1
		}
		bufs[i] = ot.TransformInto(bufs[i], op, other, ot.Left)
		op = bufs[i]
	}
	for _, c := range older {
		step(c.Op)
	}
	for v := base + 1; v <= d.head; v++ {
		step(d.hist[v-d.histStart].rec.Op)
	}
	return op, nil
}

func (d *sequencer) submit(ctx context.Context, s SocketID, sub Submission, precondition bool, reply ReplyFunc) {
	c, err := d.accept(ctx, s, sub, precondition, reply)
	if err != nil || c != nil {
		reply(c, err)
	}
}

// accept validates and orders one submission. It returns (nil, nil) when the
// reply was queued (answered once durable), else the immediate answer.
func (d *sequencer) accept(ctx context.Context, s SocketID, sub Submission, precondition bool, reply ReplyFunc) (*Committed, error) {
	trace.Log(ctx, "stage", "sequencer")
	if s != "" {
		if _, ok := d.members[s]; !ok {
			return nil, errorf(CodeNotJoined, "session has not joined document %q", d.id)
		}
	}
	identity := sub.Identity
	if s != "" {
		identity = d.members[s].identity
	}
	if sub.Client != "" {
		if err := d.h.checkClientID(sub.Client); err != nil {
			return nil, err
		}
		// A duplicate is answered before the binding is checked: it
		// changes nothing, whoever holds the client id now (a client that
		// fell back to REST while its old socket still holds it).
		if sub.Seq > 0 {
			m, err := d.seqMark(ctx, sub.Client)
			if err != nil {
				return nil, err
			}
			if sub.Seq <= m.seq {
				return d.duplicate(ctx, identity, sub, m, reply)
			}
			if m.seq == 0 && sub.Version < d.seqFloor {
				// The store may have forgotten this client (see Hub.Submit):
				// an op based this far back could be a resend.
				return nil, errorf(CodeVersionTooOld, "client %q is not known and version %d is older than the dedupe window (version %d): rejoin and resend from a newer version", sub.Client, sub.Version, d.seqFloor)
			}
		}
		if err := d.bindClient(sub.Client, s, identity); err != nil {
			return nil, err
		}
	}
	if err := d.rateLimit("o:", identity, sub.Client, s); err != nil {
		return nil, err
	}
	nb := opBytes(sub.Op)
	if nb > d.h.opts.MaxOpBytes {
		return nil, errorf(CodeTooLarge, "op of about %d bytes exceeds the limit of %d", nb, d.h.opts.MaxOpBytes)
	}
	if len(sub.Op) > d.h.opts.MaxOpComponents {
		return nil, errorf(CodeTooLarge, "op of %d components exceeds the limit of %d", len(sub.Op), d.h.opts.MaxOpComponents)
	}
	if sub.Version > d.head {
		return nil, errorf(CodeVersionAhead, "version %d is ahead of the document (version %d)", sub.Version, d.head)
	}
	if precondition && sub.Version != d.head {
		return nil, errorf(CodePreconditionFailed, "document is at version %d, not %d", d.head, sub.Version)
	}
	if err := sub.Op.Validate(); err != nil {
		return nil, errorf(CodeInvalidOp, "%v", err)
	}
	op := ot.Normalize(sub.Op)
	op, err := d.transformSince(ctx, op, sub.Version)
	if err != nil {
		return nil, err
	}
	nd, err := d.doc.Apply(op)
	if err != nil {
		return nil, errorf(CodeInvalidOp, "%v", err)
	}
	if sz := nd.Size(); sz > d.h.opts.MaxDocBytes && sz > d.doc.Size() {
		return nil, errorf(CodeTooLarge, "document would be %d bytes, over the limit of %d", sz, d.h.opts.MaxDocBytes)
	}
	// Accepted: from here on the op is part of the document.
	d.h.opts.Observer.ObserveTransform(int(d.head - sub.Version))
	d.head++
	rec := OpRecord{Version: d.head, Op: op, Client: sub.Client, Seq: sub.Seq, Time: time.Now().UTC(), Author: sub.Author}
	d.hist = append(d.hist, histEntry{rec: rec, doc: nd, bytes: nb, except: s, own: reply})
	if trace.IsEnabled() {
		d.hist[len(d.hist)-1].ctx = ctx
	}
	d.histBytes += nb
	d.doc = nd
	if sub.Client != "" && sub.Seq > 0 {
		d.setSeq(sub.Client, seqMark{sub.Seq, d.head})
	}
	d.snapOps++
	d.snapBytes += nb
	d.flush()
	return nil, nil
}

// bindClient checks that socket s, acting for identity, may submit under
// client, and binds it. An unbound client id is bound to the first joined
// editor socket that uses it, with its identity (Member.Identity: the token
// subject, or the socket itself in open mode). Only a socket of the same
// identity may take it over, and only when it joined the document after the
// holder: a client that reconnects gets a new socket while the old one (often
// a dead connection not yet noticed) is still joined, and the newest one is
// the one the user is using. The older socket then gets forbidden under that
// client id; so does REST (s == "") while any socket holds it, and so does
// every socket of another identity and every viewer. Ops the old socket
// already submitted keep their versions and order; (client, seq) dedupe
// makes the new socket's resubmissions of them idempotent.
func (d *sequencer) bindClient(client string, s SocketID, identity string) error {
	b, bound := d.clients[client]
	switch {
	case bound && b.socket == s:
		return nil
	case s == "":
		if bound {
			return errorf(CodeForbidden, "client id %q is in use by a connected session", client)
		}
		return nil
	case d.members[s].viewer:
		return errorf(CodeForbidden, "a viewer cannot use a client id")
	case bound && b.identity != identity && !(socketIdentity(b.identity) && socketIdentity(identity)):
		return errorf(CodeForbidden, "client id %q is in use by another user", client)
	case bound && !d.newer(s, b.socket):
		return errorf(CodeForbidden, "client id %q was taken over by a newer session", client)
	}
	d.clients[client] = binding{s, identity}
	return nil
}

// socketIdentity reports whether identity stands for no user (see
// Member.Identity): anonymous, or a socket standing for itself.
func socketIdentity(identity string) bool {
	return identity == "" || strings.HasPrefix(identity, "s:")
}

// newer reports whether joined socket s joined after socket o (or o is
// no longer a member).
func (d *sequencer) newer(s, o SocketID) bool {
	om := d.members[o]
	return om == nil || d.members[s].joined > om.joined
}

// rateLimit takes a token from identity's bucket of the kind given ("o:"
// ops, "p:" presence); without an identity (Hub.Join and Submission
// without one) from the client id's, else from socket s's, and without any
// of them there is no limit. rate_limited when the bucket is empty.
// Buckets are per document.
func (d *sequencer) rateLimit(kind, identity, client string, s SocketID) error {
	if d.h.opts.OpsPerSecond <= 0 {
		return nil
	}
	var key string
	switch {
	case identity != "":
		key = kind + "i:" + identity
	case client != "":
		key = kind + "c:" + client
	case s != "":
		key = kind + "s:" + string(s)
	default:
		return nil
	}
	b := d.buckets[key]
	if b == nil {
		if len(d.buckets) >= maxTracked {
			clear(d.buckets)
		}
		b = newBucket(d.h.opts.OpsPerSecond)
		d.buckets[key] = b
	}
	if !b.take(time.Now(), d.h.opts.OpsPerSecond) {
		return errorf(CodeRateLimited, "more than %g per second", d.h.opts.OpsPerSecond)
	}
	return nil
}

func (d *sequencer) seqMark(ctx context.Context, client string) (seqMark, error) {
	if m, ok := d.seqs[client]; ok {
		return m, nil
	}
	seq, ver, floor, err := d.h.store.LastSeq(ctx, d.id, client)
	if err != nil {
		return seqMark{}, storeErr("last seq", d.id, err)
	}
	d.seqFloor = max(d.seqFloor, floor)
	m := seqMark{seq, ver}
	d.setSeq(client, m)
	return m, nil
}

// seqEntryBytes is what one cached dedupe entry counts against
// Options.MaxDedupeBytes besides its client id.
const seqEntryBytes = 48

// setSeq caches client's mark. Over Options.MaxDedupeClients or
// MaxDedupeBytes it first drops cached marks of durable versions (any, the
// map has no order) down to 7/8 of both: the store holds those, so a later
// lookup reads them again. Marks of ops not yet durable are never dropped.
func (d *sequencer) setSeq(client string, m seqMark) {
	if _, ok := d.seqs[client]; !ok {
		n, b := len(d.seqs)+1, d.seqBytes+len(client)+seqEntryBytes
		if n > d.h.opts.MaxDedupeClients || b > d.h.opts.MaxDedupeBytes {
			keepN, keepB := d.h.opts.MaxDedupeClients*7/8, d.h.opts.MaxDedupeBytes*7/8
			for c, old := range d.seqs {
				if len(d.seqs) < keepN && d.seqBytes < keepB {
					break
				}
				if old.version <= d.durable {
					delete(d.seqs, c)
					d.seqBytes -= len(c) + seqEntryBytes
				}
			}
		}
		d.seqBytes += len(client) + seqEntryBytes
	}
	d.seqs[client] = m
}

// duplicate answers a (client, seq) that was already accepted.
func (d *sequencer) duplicate(ctx context.Context, identity string, sub Submission, m seqMark, reply ReplyFunc) (*Committed, error) {
	v := m.version
	var found *OpRecord
	if sub.Seq < m.seq {
		var err error
		if v, found, err = d.findSeq(ctx, identity, sub.Client, sub.Seq, m.version); err != nil {
			return nil, err
		}
	}
	if v > d.durable {
		e := d.entry(v)
		e.dups = append(e.dups, reply)
		return nil, nil
	}
	c := &Committed{Version: v, Duplicate: true}
	if e := d.entry(v); e != nil {
		c.Op = e.rec.Op
	} else if found != nil {
		c.Op = found.Op
	} else if v > 0 {
		if recs, err := d.h.store.ReadOps(ctx, d.id, v-1, v, 1); err == nil && len(recs) == 1 && recs[0].Version == v {
			c.Op = recs[0].Op
		}
	}
	return c, nil
}

// Looking up an older seq in the store: chunk size, and how many ops at most
// are read (beyond, the fallback answers; this bounds what one resubmission
// can cost the document goroutine, about 50 ms).
const (
	seqScanChunk = 512
	seqScanMax   = 1 << 16
)

// findSeq returns the version (and the record, when it came from the store)
// of the op client committed with seq, which is below the client's last
// committed seq (committed as last). It looks backwards from last through
// the in-memory history, then through the op log in chunks of
// seqScanChunk. A record of the same client with a lower seq ends the search
// (seqs only grow: seq was never committed). When the op is not found — it
// was pruned, never committed, or more than seqScanMax ops back — the answer
// is last, the version of the client's newest op, which certainly includes
// the effect of any op the client sent before it. Reading the store costs a
// rate-limit token (duplicates are otherwise not rate limited), so that
// resubmitting old seqs cannot keep the document goroutine busy.
func (d *sequencer) findSeq(ctx context.Context, identity, client string, seq, last uint64) (uint64, *OpRecord, error) {
	top := min(last, d.head)
	for ; top >= d.histStart && top > 0; top-- {
		r := &d.hist[top-d.histStart].rec
		if r.Client != client {
			continue
		}
		if r.Seq == seq {
			return r.Version, nil, nil
		}
		if r.Seq < seq {
			return last, nil, nil
		}
	}
	if top == 0 {
		return last, nil, nil
	}
	if err := d.rateLimit("o:", identity, client, ""); err != nil {
		return 0, nil, err
	}
	floor, err := d.h.store.CatchUpFloor(ctx, d.id)
	if err != nil {
		return 0, nil, storeErr("oldest kept version", d.id, err)
	}
	for scanned := 0; top > floor && scanned < seqScanMax; {
		from := max(top-min(top, seqScanChunk), floor)
		recs, err := d.h.store.ReadOps(ctx, d.id, from, top, 0)
		if CodeOf(storeErr("read ops", d.id, err)) == CodeVersionTooOld {
			break // pruned meanwhile
		}
		if err != nil {
			return 0, nil, storeErr("read ops", d.id, err)
		}
		for i := len(recs) - 1; i >= 0; i-- {
			r := &recs[i]
			if r.Client != client {
				continue
			}
			if r.Seq == seq {
				return r.Version, r, nil
			}
			if r.Seq < seq {
				return last, nil, nil
			}
		}
		if len(recs) == 0 || recs[0].Version != from+1 {
			break // the ops below were pruned
		}
		scanned += len(recs)
		top = from
	}
	return last, nil, nil
}

// flush hands the staged ops to the store as one batch, unless
// maxInflight batches are already in flight (then they stay staged until
// one completes) or a Delete is pending.
func (d *sequencer) flush() {
	if d.head == d.inflightTo || len(d.flights) >= maxInflight || len(d.deletes) > 0 {
		return
	}
	from := d.inflightTo + 1
	b := &Batch{Doc: d.id, Ops: make([]OpRecord, 0, d.head-d.inflightTo), Size: int64(d.doc.Size()), Updated: time.Now().UTC()}
	for v := from; v <= d.head; v++ {
		e := &d.hist[v-d.histStart]
		b.Ops = append(b.Ops, e.rec)
		if e.ctx != nil {
			trace.Log(e.ctx, "stage", "store")
		}
	}
	if d.snapOps >= d.h.opts.SnapshotEveryOps || d.snapBytes >= d.h.opts.SnapshotEveryBytes {
		b.Snapshot = &Snapshot{Version: d.head, Content: d.doc.String()}
		d.snapOps, d.snapBytes = 0, 0
	}
	to := d.head
	d.inflightTo = to
	d.info.Updated = b.Updated
	d.flights = append(d.flights, flight{to: to, at: time.Now()})
	commits := d.commits
	d.h.store.Append(b, func(err error) { commits <- commitResult{to, err} })
}

// onCommit records the outcome of one batch and releases the acks and
// broadcasts of every batch that is durable and follows only durable
// batches, in version order; then it sends the next batch. Batches may
// report in any order: a batch reported before an older one waits for it.
//
// When a batch failed, the in-memory state is ahead of the disk. onCommit
// then waits for every other batch in flight to report (the store fails the
// ones after a failed one), releases the batches before the first failure
// that are durable, fails every later op — in flight or staged — with
// "internal" (nothing of them was acked or broadcast, so collaborators stay
// consistent) and reloads the document from the store.
func (d *sequencer) onCommit(res commitResult) {
	d.record(res)
	failed := false
	for _, f := range d.flights {
		if f.reported && f.err != nil {
			failed = true
		}
	}
	if failed {
		for !d.allReported() {
			d.record(<-d.commits)
		}
	}
	// Release the durable prefix.
	for len(d.flights) > 0 && d.flights[0].reported && d.flights[0].err == nil {
		d.release(d.flights[0])
		d.flights = d.flights[1:]
	}
	if len(d.flights) == 0 {
		d.flights = nil
	}
	if failed {
		// Every batch has reported and the durable prefix is released:
		// the first one left is the first failure.
		err := d.flights[0].err
		d.flights = nil
		d.inflightTo = d.durable
		d.h.log.Error("collab: commit failed; reloading document", "doc", d.id, "err", err)
		cerr := errorf(CodeInternal, "commit failed: %v", err)
		if CodeOf(storeErr("append", d.id, err)) == CodeNotFound {
			cerr = errorf(CodeNotFound, "document %q not found", d.id)
		}
		d.failFrom(d.durable+1, cerr)
		if d.closing {
			return // drain exits
		}
		if lerr := d.load(); lerr != nil {
			d.h.log.Error("collab: reload failed; unloading document", "doc", d.id, "err", lerr)
			d.exit()
			return
		}
		d.clampPresence()
		return
	}
	d.info.Version = d.durable
	d.info.Size = int64(d.docAt(d.durable).Size())
	if len(d.deletes) > 0 && len(d.flights) == 0 {
		d.failFrom(d.durable+1, errorf(CodeNotFound, "document %q was deleted", d.id))
	}
	d.trim()
	d.flush()
}

// record notes the outcome of the batch ending at res.to.
func (d *sequencer) record(res commitResult) {
	for i := range d.flights {
		if d.flights[i].to == res.to && !d.flights[i].reported {
			d.flights[i].reported, d.flights[i].err = true, res.err
			return
		}
	}
	d.h.log.Error("collab: commit result for no batch in flight", "doc", d.id, "version", res.to)
}

func (d *sequencer) allReported() bool {
	for _, f := range d.flights {
		if !f.reported {
			return false
		}
	}
	return true
}

// release broadcasts the ops of a durable batch and answers their submitters.
// Each op is broadcast before its own submitters are answered, so a Submit
// that returned has had its op handed to the Broadcaster (a caller that
// looks at the room right after the ack sees it).
func (d *sequencer) release(f flight) {
	for v := d.durable + 1; v <= f.to; v++ {
		e := &d.hist[v-d.histStart]
		if e.ctx != nil {
			trace.Log(e.ctx, "stage", "durable")
			e.ctx = nil
		}
		d.h.bc.BroadcastOp(d.id, e.except, OpEvent{Doc: d.id, Version: v, Op: e.rec.Op, Client: e.rec.Client})
		if e.own != nil {
			e.own(&Committed{Version: v, Op: e.rec.Op}, nil)
			e.own = nil
		}
		for _, reply := range e.dups {
			reply(&Committed{Version: v, Op: e.rec.Op, Duplicate: true}, nil)
		}
		e.dups = nil
	}
	d.h.opts.Observer.ObserveCommit(int(f.to-d.durable), time.Since(f.at))
	d.durable = f.to
}

// failFrom answers every waiter of versions >= v with err and drops those
// versions from memory.
func (d *sequencer) failFrom(v uint64, err error) {
	for x := v; x <= d.head; x++ {
		e := &d.hist[x-d.histStart]
		if e.own != nil {
			e.own(nil, err)
			e.own = nil
		}
		for _, reply := range e.dups {
			reply(nil, err)
		}
		e.dups = nil
	}
	if v <= d.head {
		d.head = v - 1
		d.doc = d.baseDoc
		if d.head >= d.histStart {
			d.doc = d.hist[d.head-d.histStart].doc
		}
		for i := v - d.histStart; i < uint64(len(d.hist)); i++ {
			d.histBytes -= d.hist[i].bytes
		}
		clear(d.hist[v-d.histStart:])
		d.hist = d.hist[:v-d.histStart]
		d.inflightTo = min(d.inflightTo, d.head)
		d.seqs, d.seqBytes = make(map[string]seqMark), 0
	}
}

// maybeDelete runs pending Delete calls once nothing is in flight.
func (d *sequencer) maybeDelete() {
	if len(d.deletes) == 0 || len(d.flights) > 0 {
		return
	}
	d.failFrom(d.durable+1, errorf(CodeNotFound, "document %q was deleted", d.id))
	err := storeErr("delete", d.id, d.h.store.DeleteDoc(context.Background(), d.id))
	gone := err == nil || CodeOf(err) == CodeNotFound
	if gone {
		// Before Delete returns: its caller may reuse the id at once, and
		// the room must be empty by then.
		d.h.bc.DocDeleted(d.id)
	}
	for _, ch := range d.deletes {
		ch <- err
	}
	d.deletes = nil
	if !gone {
		return
	}
	d.loadErr = errorf(CodeNotFound, "document %q not found", d.id)
	d.exit()
}

// opBytes estimates the JSON size of op without encoding it.
func opBytes(op ot.Op) int {
	n := 2
	for _, c := range op {
		switch {
		case c.Insert != "":
			n += len(c.Insert) + 3
		case c.DeleteText != "":
			n += len(c.DeleteText) + 9
		default:
			n += 12
		}
	}
	return n
}
