package client

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// Change is a remote op as applied to the local text.
type Change struct {
	Version uint64 // the document's version right after it
	Op      ot.Op  // transformed against the local pending edits
	Client  string // the client id that submitted it
}

// Presence is a collaborator's selection as the server last sent it.
type Presence struct {
	Client    string         `json:"client"`
	User      User           `json:"user"`
	Version   uint64         `json:"version"`
	Selection []ot.Selection `json:"selection"`
}

// User is a collaborator's identity in presence.
type User struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color"`
}

type opEvent struct {
	Version uint64 `json:"version"`
	Op      ot.Op  `json:"op"`
	Client  string `json:"client"`
}

// Doc is an open (joined) document.
type Doc struct {
	c      *Conn
	id     string
	client string

	mu       sync.Mutex // guards the fields below
	joined   bool
	early    []opEvent // ops that arrived before the join's ack
	text     *ot.Doc   // local text: server version + in flight + buffer
	base     *ot.Doc   // the server's text at version (without the pending edits)
	version  uint64    // the server version the local text is based on
	probe    *joinAck  // a rejoin answered with content while an op is in flight: its resend is asking whether it was committed
	inflight ot.Op     // sent, not acked (valid when sent)
	sent     bool
	sentSeq  uint64
	buffer   ot.Op // local edits not sent yet (valid when buffered)
	buffered bool
	seq      uint64
	changes  []Change
	presence map[string]Presence
	err      error
	signal   chan struct{} // closed and replaced on every change of state
}

func randomClientID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "go-" + hex.EncodeToString(b[:])
}

// joinAck is a doc:join ack: content, or the ops since the version given.
type joinAck struct {
	Version  uint64     `json:"version"`
	Content  *string    `json:"content"`
	Ops      *[]opEvent `json:"ops"`
	Presence []Presence `json:"presence"`
}

// Open joins the document id (the server creates it unless it runs with
// --no-auto-create) and returns it with its current text.
func (c *Conn) Open(ctx context.Context, id string) (*Doc, error) {
	d := &Doc{c: c, id: id, client: randomClientID(), signal: make(chan struct{}), presence: map[string]Presence{}}
	c.mu.Lock()
	if c.err != nil {
		c.mu.Unlock()
		return nil, c.err
	}
	if c.docs[id] != nil {
		c.mu.Unlock()
		return nil, fmt.Errorf("cowrite: document %q is already open on this connection", id)
	}
	c.docs[id] = d
	c.mu.Unlock()
	raw, err := c.call(ctx, "doc:join", map[string]string{"doc": id, "client": d.client})
	var ack joinAck
	if err == nil {
		err = ackResult(raw, &ack)
	}
	if err == nil && ack.Content == nil {
		err = fmt.Errorf("cowrite: join of %q answered without content", id)
	}
	if err != nil {
		c.mu.Lock()
		delete(c.docs, id)
		c.mu.Unlock()
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.text = ot.NewDoc(*ack.Content)
	d.base = d.text
	d.joinedLocked(ack)
	return d, nil
}

// joinedLocked applies a join's ack: the content (first join) or the ops
// since d.version (rejoin), then the ops that arrived before the ack; then
// it resends the op in flight and the buffer.
//
// A rejoin answered with the content (the server no longer keeps the ops
// since d.version) while local edits are pending rebases them on it: they
// are transformed over a diff of the server's text at d.version (d.base)
// and the content, and sent as a new op. Whether an op in flight was
// committed before the connection was lost is asked first, by resending it
// as it was (same seq and version): the server answers a duplicate with its
// version (then only the buffer is rebased, on the text with that op), and
// an op it never committed with version_too_old (it cannot transform it
// from that far back; then the op is rebased with the buffer). See probed.
func (d *Doc) joinedLocked(ack joinAck) {
	switch {
	case ack.Ops != nil:
		for _, ev := range *ack.Ops {
			d.remoteLocked(ev)
		}
	case d.text.String() == *ack.Content && d.version == ack.Version:
	case d.sent:
		d.probe = &ack
		d.sendLocked()
		return // probed finishes the join
	case d.buffered:
		d.rebaseLocked(d.buffer, d.base, ack)
	default: // rebase on the content
		op := collab.DiffOp(d.text.String(), *ack.Content)
		d.text, d.version = ot.NewDoc(*ack.Content), ack.Version
		d.base = d.text
		if len(op) > 0 {
			d.changes = append(d.changes, Change{Version: ack.Version, Op: op})
		}
	}
	d.finishJoinLocked(ack)
}

// finishJoinLocked ends a join once the ack's text is integrated.
func (d *Doc) finishJoinLocked(ack joinAck) {
	d.version = max(d.version, ack.Version)
	clear(d.presence)
	for _, p := range ack.Presence {
		d.presence[p.Client] = p
	}
	// Ops broadcast before the ack: drop those the ack covers.
	for _, ev := range d.early {
		d.remoteLocked(ev)
	}
	d.early = nil
	d.joined = true
	if d.sent {
		d.sendLocked()
	}
	d.flushLocked()
	d.notifyLocked()
}

// rebaseDiffBytes bounds the diff a rebase on content computes (see
// collab.DiffOptions.MaxBytes); past it the changed middle counts as
// replaced whole, and the pending edits land at its start.
const rebaseDiffBytes = 4 << 20

// rebaseLocked replaces the pending edits (pending, on base at d.version)
// with the same edits transformed onto ack's content, as one buffered op
// (sent with a new seq).
func (d *Doc) rebaseLocked(pending ot.Op, base *ot.Doc, ack joinAck) {
	content := ot.NewDoc(*ack.Content)
	diff := collab.Diff(base.String(), *ack.Content, collab.DiffOptions{Lines: true, MaxBytes: rebaseDiffBytes})
	rebased, err := ot.Transform(pending, diff, ot.Left)
	var text *ot.Doc
	if err == nil {
		text, err = content.Apply(rebased)
	}
	if err != nil {
		d.err = fmt.Errorf("cowrite: rebase of the pending edits on the server's content: %w", err)
		return
	}
	if op := collab.DiffOp(d.text.String(), text.String()); len(op) > 0 {
		d.changes = append(d.changes, Change{Version: ack.Version, Op: op})
	}
	d.text, d.base, d.version = text, content, ack.Version
	d.inflight, d.sent = nil, false
	d.buffer, d.buffered = ot.Normalize(rebased), len(ot.Normalize(rebased)) > 0
}

// probed handles the answer to the resend of the op in flight after a
// rejoin answered with content (joinedLocked): a duplicate's version (it
// was committed, so its effect is in the content), or version_too_old (it
// was not). Then it rebases what is pending and finishes the join.
func (d *Doc) probed(raw json.RawMessage) {
	ack := *d.probe
	d.probe = nil
	var res struct {
		Version uint64 `json:"version"`
	}
	err := ackResult(raw, &res)
	var ce *Error
	pending, base := d.inflight, d.base
	switch {
	case err == nil && res.Version <= ack.Version: // committed before the loss
		if base, err = d.base.Apply(d.inflight); err != nil {
			d.err = fmt.Errorf("cowrite: own op does not apply: %w", err)
			d.notifyLocked()
			return
		}
		pending = ot.Op{}
	case errors.As(err, &ce) && ce.Code == "version_too_old": // never committed
	case err == nil:
		d.err = fmt.Errorf("cowrite: the server committed an op behind its horizon (version %d after content at %d): reopen the document", res.Version, ack.Version)
		d.notifyLocked()
		return
	default:
		d.err = fmt.Errorf("cowrite: op refused, reopen the document: %w", err)
		d.notifyLocked()
		return
	}
	if d.buffered {
		if pending, err = ot.Compose(pending, d.buffer); err != nil {
			d.err = fmt.Errorf("cowrite: compose: %w", err)
			d.notifyLocked()
			return
		}
	}
	d.rebaseLocked(pending, base, ack)
	if d.err != nil {
		d.notifyLocked()
		return
	}
	d.finishJoinLocked(ack)
}

// disconnected holds the document's edits until it rejoined.
func (d *Doc) disconnected() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.joined = false
	d.probe = nil // the rejoin asks again
	d.notifyLocked()
}

// rejoin joins again on a new connection, from d.version.
func (d *Doc) rejoin() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return
	}
	payload := map[string]any{"doc": d.id, "version": d.version, "client": d.client}
	_ = d.c.emit("doc:join", payload, func(raw json.RawMessage, err error) {
		if err != nil {
			return // lost again: the next connection rejoins
		}
		var ack joinAck
		err = ackResult(raw, &ack)
		if err == nil && ack.Content == nil && ack.Ops == nil {
			err = fmt.Errorf("cowrite: rejoin of %q answered without content or ops", d.id)
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		if err != nil {
			d.err = fmt.Errorf("cowrite: rejoin: %w", err)
			d.notifyLocked()
			return
		}
		d.joinedLocked(ack)
	})
}

// ID returns the document id.
func (d *Doc) ID() string { return d.id }

// Text returns the local text (the server's plus the pending local edits).
func (d *Doc) Text() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.text.String()
}

// Len returns the local text's length in code points.
func (d *Doc) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.text.Len()
}

// Version returns the server version the local text is based on.
func (d *Doc) Version() uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.version
}

// Pending reports whether local edits are not acknowledged yet.
func (d *Doc) Pending() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.sent || d.buffered
}

// Presence returns the collaborators' last known selections by client id.
func (d *Doc) Presence() map[string]Presence {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]Presence, len(d.presence))
	for k, v := range d.presence {
		out[k] = v
	}
	return out
}

// Err returns why the document stopped (connection lost, document deleted,
// an op refused by the server), or nil.
func (d *Doc) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Insert inserts s at code point pos of the local text.
func (d *Doc) Insert(pos int, s string) error {
	if s == "" {
		return nil
	}
	return d.Apply(edit(pos, ot.Ins(s)))
}

// Delete deletes n code points at pos of the local text.
func (d *Doc) Delete(pos, n int) error {
	if n <= 0 {
		return nil
	}
	return d.Apply(edit(pos, ot.Del(n)))
}

func edit(pos int, c ot.Component) ot.Op {
	if pos > 0 {
		return ot.Op{ot.Retain(pos), c}
	}
	return ot.Op{c}
}

// Apply applies op to the local text at once and sends it (when no op is in
// flight; else it is composed into the buffer and sent after the ack). An
// op that does not fit the local text is refused and changes nothing.
func (d *Doc) Apply(op ot.Op) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err != nil {
		return d.err
	}
	op = ot.Normalize(op)
	if len(op) == 0 {
		return nil
	}
	text, err := d.text.Apply(op)
	if err != nil {
		return fmt.Errorf("cowrite: op does not apply to the local text: %w", err)
	}
	if d.buffered {
		if op, err = ot.Compose(d.buffer, op); err != nil {
			return fmt.Errorf("cowrite: compose: %w", err)
		}
	}
	d.text, d.buffer, d.buffered = text, op, true
	d.flushLocked()
	d.notifyLocked()
	return nil
}

// flushLocked sends the buffer when nothing is in flight.
func (d *Doc) flushLocked() {
	if d.sent || !d.buffered || d.err != nil || !d.joined {
		return
	}
	d.seq++
	d.inflight, d.sent, d.sentSeq = d.buffer, true, d.seq
	d.buffer, d.buffered = nil, false
	d.sendLocked()
}

// sendLocked sends the op in flight (again, after a reconnect: same seq,
// based on the version it is now transformed to).
func (d *Doc) sendLocked() {
	seq := d.sentSeq
	payload := map[string]any{"doc": d.id, "version": d.version, "op": d.inflight, "client": d.client, "seq": seq}
	err := d.c.emit("doc:op", payload, func(raw json.RawMessage, err error) { d.acked(raw, err, seq) })
	if err != nil && !d.c.opts.Reconnect {
		d.err = err
	}
}

// acked handles the ack of the op in flight (on the reader).
func (d *Doc) acked(raw json.RawMessage, lost error, seq uint64) {
	if lost != nil {
		return // the connection went: the rejoin resends it
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.sent || seq != d.sentSeq {
		return
	}
	if d.probe != nil {
		d.probed(raw)
		return
	}
	var ack struct {
		Version uint64 `json:"version"`
	}
	if err := ackResult(raw, &ack); err != nil {
		// The local text now holds an edit the server refused.
		d.err = fmt.Errorf("cowrite: op refused, reopen the document: %w", err)
		d.notifyLocked()
		return
	}
	// Every op committed before ours was sent to us before this ack.
	if ack.Version > d.version {
		base, err := d.base.Apply(d.inflight)
		if err != nil {
			d.err = fmt.Errorf("cowrite: own op does not apply: %w", err)
			d.notifyLocked()
			return
		}
		d.base = base
	}
	d.version = max(d.version, ack.Version)
	d.inflight, d.sent = nil, false
	d.flushLocked()
	d.notifyLocked()
}

// event handles a server event for this document (on the reader).
func (d *Doc) event(name string, raw json.RawMessage) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch name {
	case "doc:op":
		var ev opEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			d.err = fmt.Errorf("cowrite: bad doc:op %s: %w", raw, err)
			break
		}
		if !d.joined {
			d.early = append(d.early, ev)
			return
		}
		d.remoteLocked(ev)
		d.flushLocked() // it may have been the ack of our op in flight
	case "doc:presence":
		var p Presence
		if json.Unmarshal(raw, &p) == nil {
			if p.Selection == nil {
				delete(d.presence, p.Client)
			} else {
				d.presence[p.Client] = p
			}
		}
	case "doc:deleted":
		if d.err == nil {
			d.err = &Error{Code: "not_found", Message: "the document was deleted"}
		}
	default:
		return
	}
	d.notifyLocked()
}

// remoteLocked transforms a committed remote op against the local pending
// edits and applies it.
func (d *Doc) remoteLocked(ev opEvent) {
	if ev.Version <= d.version || d.err != nil {
		return // already in the text (join content, or a repeat)
	}
	if ev.Version != d.version+1 {
		d.err = fmt.Errorf("cowrite: missed ops: got version %d at version %d", ev.Version, d.version)
		return
	}
	base, err := d.base.Apply(ev.Op)
	if err != nil {
		d.err = fmt.Errorf("cowrite: remote op %d does not apply: %w", ev.Version, err)
		return
	}
	d.base = base
	if d.sent && ev.Client == d.client {
		// Our op in flight, committed before the connection was lost (in
		// a rejoin's catch-up, or broadcast to the new socket): its ack.
		d.version = ev.Version
		d.inflight, d.sent = nil, false
		return
	}
	op := ev.Op
	if d.sent {
		if op, d.inflight, err = transformPair(op, d.inflight); err != nil {
			d.err = err
			return
		}
	}
	if d.buffered {
		if op, d.buffer, err = transformPair(op, d.buffer); err != nil {
			d.err = err
			return
		}
	}
	text, err := d.text.Apply(op)
	if err != nil {
		d.err = fmt.Errorf("cowrite: remote op %d does not apply: %w", ev.Version, err)
		return
	}
	d.text, d.version = text, ev.Version
	d.changes = append(d.changes, Change{Version: ev.Version, Op: op, Client: ev.Client})
}

// transformPair transforms a remote op and a local one over each other:
// the remote one with side Right (the server ordered it first), the local
// one with Left.
func transformPair(remote, local ot.Op) (ot.Op, ot.Op, error) {
	r, err := ot.Transform(remote, local, ot.Right)
	if err != nil {
		return nil, nil, fmt.Errorf("cowrite: transform: %w", err)
	}
	l, err := ot.Transform(local, remote, ot.Left)
	if err != nil {
		return nil, nil, fmt.Errorf("cowrite: transform: %w", err)
	}
	return r, l, nil
}

func (d *Doc) notifyLocked() {
	close(d.signal)
	d.signal = make(chan struct{})
}

func (d *Doc) failed(err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.err == nil {
		d.err = err
	}
	d.notifyLocked()
}

// wait blocks until cond (called under d.mu) holds, d fails or ctx ends.
func (d *Doc) wait(ctx context.Context, cond func() bool) error {
	for {
		d.mu.Lock()
		if cond() {
			d.mu.Unlock()
			return nil
		}
		if err := d.err; err != nil {
			d.mu.Unlock()
			return err
		}
		sig := d.signal
		d.mu.Unlock()
		select {
		case <-sig:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Next returns the next remote change, waiting for one.
func (d *Doc) Next(ctx context.Context) (Change, error) {
	var ch Change
	err := d.wait(ctx, func() bool {
		if len(d.changes) == 0 {
			return false
		}
		ch = d.changes[0]
		d.changes = d.changes[1:]
		return true
	})
	return ch, err
}

// Sync waits until every local edit is acknowledged (durable on the server).
func (d *Doc) Sync(ctx context.Context) error {
	return d.wait(ctx, func() bool { return !d.sent && !d.buffered })
}

// WaitVersion waits until the local text is based on version v or later.
func (d *Doc) WaitVersion(ctx context.Context, v uint64) error {
	return d.wait(ctx, func() bool { return d.version >= v })
}

// SetSelection shows sel (code points of the local text; nil clears it) to
// the other collaborators. It is refused while local edits are pending (the
// server reads a selection at a server version).
func (d *Doc) SetSelection(ctx context.Context, sel []ot.Selection) error {
	d.mu.Lock()
	if d.sent || d.buffered {
		d.mu.Unlock()
		return fmt.Errorf("cowrite: Sync before SetSelection: local edits are pending")
	}
	v := d.version
	d.mu.Unlock()
	raw, err := d.c.call(ctx, "doc:presence", map[string]any{"doc": d.id, "version": v, "selection": sel})
	if err != nil {
		return err
	}
	return ackResult(raw, nil)
}

// Close leaves the document. Pending edits that were not acknowledged may
// be lost; Sync first.
func (d *Doc) Close(ctx context.Context) error {
	raw, err := d.c.call(ctx, "doc:leave", map[string]string{"doc": d.id})
	d.c.mu.Lock()
	if d.c.docs[d.id] == d {
		delete(d.c.docs, d.id)
	}
	d.c.mu.Unlock()
	d.failed(ErrClosed)
	if err != nil {
		return err
	}
	return ackResult(raw, nil)
}
