package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The webhook outbox (see EnableOutbox). Buckets:
//
//	outbox/<u64 seq>      one queued event: its JSON body
//	outbox_pending/<doc>  JSON {f: from, t: to, n: first change ns}: a
//	                      doc.updated not yet due (debounce window)
//	outbox_updated/<doc>  u64 seq of the doc's queued doc.updated
//	outbox_meta/salt      random hex, part of every event id
var (
	bktOutbox        = []byte("outbox")
	bktOutboxPending = []byte("outbox_pending")
	bktOutboxUpdated = []byte("outbox_updated")
	bktOutboxMeta    = []byte("outbox_meta")
)

// Outbox limits.
const (
	// DefaultOutboxMaxEvents caps the events queued in the outbox.
	DefaultOutboxMaxEvents = 100_000
	// DefaultOutboxMaxBytes caps the bytes of event bodies queued.
	DefaultOutboxMaxBytes = 64 << 20
)

// Webhook event types.
const (
	EventDocCreated = "doc.created"
	EventDocUpdated = "doc.updated"
	EventDocDeleted = "doc.deleted"
	// EventVersionCreated: a version was named (NameVersion).
	EventVersionCreated = "version.created"
)

// OutboxOptions configure EnableOutbox. nil means defaults.
type OutboxOptions struct {
	// MaxEvents caps the queued events; when a new event would exceed it
	// (or MaxBytes), the oldest queued events are dropped (counted in
	// OutboxStats.Dropped). Default DefaultOutboxMaxEvents.
	MaxEvents int
	// MaxBytes caps the bytes of queued event bodies. Default
	// DefaultOutboxMaxBytes.
	MaxBytes int64
}

// OutboxEvent is one queued webhook event.
type OutboxEvent struct {
	Seq  uint64    // position in the outbox (increasing)
	ID   string    // the event id (unique in this data file)
	Type string    // EventDocCreated, EventDocUpdated or EventDocDeleted
	Doc  string    // the document
	Time time.Time // when the event was queued
	Body []byte    // the JSON body to deliver: {id, type, doc, time, ...}
}

// OutboxStats describe the outbox.
type OutboxStats struct {
	Queued  int   // events queued
	Bytes   int64 // bytes of their bodies
	Dropped int64 // events dropped because the outbox was full
}

// outbox is the state of an enabled outbox. The counters are changed by
// write transactions (the committer only) and published on commit.
type outbox struct {
	maxEvents int
	maxBytes  int64
	salt      string

	count   atomic.Int64
	bytes   atomic.Int64
	dropped atomic.Int64
	notify  chan struct{} // capacity 1: something was queued or is pending

	// Committer only: the deltas of the current write transaction.
	cur        *bolt.Tx
	dCount     int64
	dBytes     int64
	dDropped   int64
	signalling bool
}

type pendingUpdate struct {
	From  uint64 `json:"f"`
	To    uint64 `json:"t"`
	First int64  `json:"n"`
}

// EnableOutbox turns the webhook outbox on. From then on, every commit that
// creates or deletes a document queues a doc.created or doc.deleted event in
// the same transaction, and every commit that appends ops records them in a
// pending doc.updated for the document (its from and to versions), also in
// the same transaction: an event is durable exactly when what caused it is.
// OutboxFlush turns pending updates into queued events once their debounce
// window has passed. Call it once, right after Open, before any write.
func (db *DB) EnableOutbox(ctx context.Context, opts *OutboxOptions) error {
	o := &outbox{maxEvents: DefaultOutboxMaxEvents, maxBytes: DefaultOutboxMaxBytes, notify: make(chan struct{}, 1)}
	if opts != nil && opts.MaxEvents > 0 {
		o.maxEvents = opts.MaxEvents
	}
	if opts != nil && opts.MaxBytes > 0 {
		o.maxBytes = opts.MaxBytes
	}
	// Runs on the committer: db.outbox is then only read by it and by
	// readers through the atomic pointer.
	return db.write(ctx, func(tx *bolt.Tx, bt *batch) error {
		for _, name := range [][]byte{bktOutbox, bktOutboxPending, bktOutboxUpdated, bktOutboxMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return abort(err)
			}
		}
		meta := tx.Bucket(bktOutboxMeta)
		if s := meta.Get([]byte("salt")); s != nil {
			o.salt = string(s)
		} else {
			var b [4]byte
			_, _ = rand.Read(b[:])
			o.salt = hex.EncodeToString(b[:])
			if err := meta.Put([]byte("salt"), []byte(o.salt)); err != nil {
				return abort(err)
			}
		}
		var n, size int64
		if err := tx.Bucket(bktOutbox).ForEach(func(_, v []byte) error {
			n++
			size += int64(len(v))
			return nil
		}); err != nil {
			return abort(err)
		}
		o.count.Store(n)
		o.bytes.Store(size)
		if n > 0 || tx.Bucket(bktOutboxPending).Stats().KeyN > 0 {
			o.notify <- struct{}{}
		}
		db.outbox.Store(o)
		return nil
	})
}

// OutboxNotify returns a channel that receives a value after a commit that
// queued an event or recorded a pending update (nil before EnableOutbox).
func (db *DB) OutboxNotify() <-chan struct{} {
	if o := db.outbox.Load(); o != nil {
		return o.notify
	}
	return nil
}

// OutboxStats returns the outbox's counters (zero before EnableOutbox).
func (db *DB) OutboxStats() OutboxStats {
	o := db.outbox.Load()
	if o == nil {
		return OutboxStats{}
	}
	return OutboxStats{Queued: int(o.count.Load()), Bytes: o.bytes.Load(), Dropped: o.dropped.Load()}
}

// OutboxEvents returns the queued events with Seq > after, oldest first, at
// most limit (<= 0: 1000).
func (db *DB) OutboxEvents(ctx context.Context, after uint64, limit int) ([]OutboxEvent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if db.outbox.Load() == nil {
		return nil, fmt.Errorf("%w: the outbox is not enabled", ErrInvalid)
	}
	if limit <= 0 {
		limit = 1000
	}
	var out []OutboxEvent
	err := db.bolt.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bktOutbox).Cursor()
		for k, v := c.Seek(u64(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			ev, err := decodeOutboxEvent(be.Uint64(k), v)
			if err != nil {
				return err
			}
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

func decodeOutboxEvent(seq uint64, v []byte) (OutboxEvent, error) {
	var h struct {
		ID   string    `json:"id"`
		Type string    `json:"type"`
		Doc  string    `json:"doc"`
		Time time.Time `json:"time"`
	}
	if err := json.Unmarshal(v, &h); err != nil {
		return OutboxEvent{}, fmt.Errorf("%w: outbox event %d: %v", ErrCorrupt, seq, err)
	}
	return OutboxEvent{Seq: seq, ID: h.ID, Type: h.Type, Doc: h.Doc, Time: h.Time, Body: append([]byte(nil), v...)}, nil
}

// OutboxAck removes a delivered (or abandoned) event. Removing an event
// that is gone (dropped, or acked before) is not an error.
func (db *DB) OutboxAck(ctx context.Context, seq uint64) error {
	return db.write(ctx, func(tx *bolt.Tx, bt *batch) error {
		o := db.outbox.Load()
		if o == nil {
			return fmt.Errorf("%w: the outbox is not enabled", ErrInvalid)
		}
		o.begin(tx)
		return abort(o.remove(tx, seq))
	})
}

// OutboxFlush queues, as doc.updated events, the pending updates whose
// first change is at least debounce before now — except for a document
// whose previous doc.updated is still queued: its pending update keeps
// growing (to moves on) until that one is acked, so a receiver that is down
// costs at most one queued doc.updated per document. It returns the
// earliest time another pending update becomes due (zero if none is
// waiting for time only).
func (db *DB) OutboxFlush(ctx context.Context, now time.Time, debounce time.Duration) (time.Time, error) {
	// The write may still run after ctx ended and write returned: its
	// result travels through a channel, never through a shared variable.
	res := make(chan time.Time, 1)
	err := db.write(ctx, func(tx *bolt.Tx, bt *batch) error {
		var next time.Time
		defer func() { res <- next }()
		o := db.outbox.Load()
		if o == nil {
			return fmt.Errorf("%w: the outbox is not enabled", ErrInvalid)
		}
		o.begin(tx)
		pend, upd := tx.Bucket(bktOutboxPending), tx.Bucket(bktOutboxUpdated)
		var due []string
		var ups []pendingUpdate
		err := pend.ForEach(func(k, v []byte) error {
			var p pendingUpdate
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("%w: outbox pending %q: %v", ErrCorrupt, k, err)
			}
			if upd.Get(k) != nil {
				return nil // waits for the ack of the queued one
			}
			at := time.Unix(0, p.First).Add(debounce)
			if !at.After(now) {
				due = append(due, string(k))
				ups = append(ups, p)
			} else if next.IsZero() || at.Before(next) {
				next = at
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, doc := range due {
			if err := o.queueUpdate(tx, now, doc, ups[i]); err != nil {
				return abort(err)
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, err
	}
	return <-res, nil
}

// begin starts accounting for tx (once per transaction).
func (o *outbox) begin(tx *bolt.Tx) {
	if o.cur == tx {
		return
	}
	o.cur, o.dCount, o.dBytes, o.dDropped, o.signalling = tx, 0, 0, 0, false
	tx.OnCommit(func() {
		o.count.Add(o.dCount)
		o.bytes.Add(o.dBytes)
		o.dropped.Add(o.dDropped)
		if o.signalling {
			select {
			case o.notify <- struct{}{}:
			default:
			}
		}
	})
}

// queueUpdate queues p as doc.updated and drops the pending record.
func (o *outbox) queueUpdate(tx *bolt.Tx, now time.Time, doc string, p pendingUpdate) error {
	seq, err := o.queue(tx, now, EventDocUpdated, doc, map[string]any{"from": p.From, "to": p.To})
	if err != nil {
		return err
	}
	if err := tx.Bucket(bktOutboxUpdated).Put([]byte(doc), u64(seq)); err != nil {
		return err
	}
	return tx.Bucket(bktOutboxPending).Delete([]byte(doc))
}

// queue stores an event, dropping the oldest ones first if the outbox is
// full, and returns its seq.
func (o *outbox) queue(tx *bolt.Tx, now time.Time, typ, doc string, extra map[string]any) (uint64, error) {
	b := tx.Bucket(bktOutbox)
	seq, err := b.NextSequence()
	if err != nil {
		return 0, err
	}
	ev := map[string]any{"id": fmt.Sprintf("ev_%s_%d", o.salt, seq), "type": typ, "doc": doc, "time": now.UTC().Format(time.RFC3339Nano)}
	for k, v := range extra {
		ev[k] = v
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, err
	}
	for o.count.Load()+o.dCount > 0 && (o.count.Load()+o.dCount+1 > int64(o.maxEvents) || o.bytes.Load()+o.dBytes+int64(len(body)) > o.maxBytes) {
		k, _ := b.Cursor().First()
		if k == nil {
			break
		}
		if err := o.remove(tx, be.Uint64(k)); err != nil {
			return 0, err
		}
		o.dDropped++
	}
	if err := b.Put(u64(seq), body); err != nil {
		return 0, err
	}
	o.dCount++
	o.dBytes += int64(len(body))
	o.signalling = true
	return seq, nil
}

// remove deletes the event seq if it is still queued.
func (o *outbox) remove(tx *bolt.Tx, seq uint64) error {
	b := tx.Bucket(bktOutbox)
	v := b.Get(u64(seq))
	if v == nil {
		return nil
	}
	ev, err := decodeOutboxEvent(seq, v)
	if err != nil {
		return err
	}
	if err := b.Delete(u64(seq)); err != nil {
		return err
	}
	o.dCount--
	o.dBytes -= int64(len(v))
	if ev.Type == EventDocUpdated {
		upd := tx.Bucket(bktOutboxUpdated)
		if s := upd.Get([]byte(ev.Doc)); s != nil && be.Uint64(s) == seq {
			if err := upd.Delete([]byte(ev.Doc)); err != nil {
				return err
			}
			o.signalling = true // its pending update may now be flushed
		}
	}
	return nil
}

// appended records a's ops in the document's pending doc.updated. Called by
// the committer inside the transaction that stores a.
func (o *outbox) appended(tx *bolt.Tx, now time.Time, a *Append) error {
	if o == nil || len(a.Records) == 0 {
		return nil
	}
	o.begin(tx)
	pend := tx.Bucket(bktOutboxPending)
	p := pendingUpdate{From: a.Records[0].Version - 1, First: now.UnixNano()}
	if v := pend.Get([]byte(a.Doc)); v != nil {
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("%w: outbox pending %q: %v", ErrCorrupt, a.Doc, err)
		}
	}
	p.To = a.Records[len(a.Records)-1].Version
	v, err := json.Marshal(p)
	if err != nil {
		return err
	}
	o.signalling = true
	return pend.Put([]byte(a.Doc), v)
}

// created queues doc.created. Called inside CreateDoc's transaction.
func (o *outbox) created(tx *bolt.Tx, now time.Time, m DocMeta) error {
	if o == nil {
		return nil
	}
	o.begin(tx)
	// A pending update of an earlier document with this id was queued
	// when it was deleted; nothing is left to carry over.
	_, err := o.queue(tx, now, EventDocCreated, m.ID, map[string]any{"title": m.Title, "version": 0})
	return err
}

// deleted queues the document's pending doc.updated (at once: no update
// may follow its deletion) and doc.deleted. Called inside DeleteDoc's
// transaction.
func (o *outbox) deleted(tx *bolt.Tx, now time.Time, id string) error {
	if o == nil {
		return nil
	}
	o.begin(tx)
	if v := tx.Bucket(bktOutboxPending).Get([]byte(id)); v != nil {
		var p pendingUpdate
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("%w: outbox pending %q: %v", ErrCorrupt, id, err)
		}
		if err := o.queueUpdate(tx, now, id, p); err != nil {
			return err
		}
	}
	if _, err := o.queue(tx, now, EventDocDeleted, id, nil); err != nil {
		return err
	}
	return tx.Bucket(bktOutboxUpdated).Delete([]byte(id))
}

// versionNamed queues version.created. Called inside NameVersion's
// transaction.
func (o *outbox) versionNamed(tx *bolt.Tx, now time.Time, id string, nv NamedVersion) error {
	if o == nil {
		return nil
	}
	o.begin(tx)
	_, err := o.queue(tx, now, EventVersionCreated, id, map[string]any{
		"version": nv.Version, "label": nv.Label,
		"author": map[string]string{"id": nv.AuthorID, "name": nv.AuthorName},
	})
	return err
}
