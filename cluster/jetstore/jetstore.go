// Package jetstore is a collab.Store on NATS JetStream: the storage of a
// Cowrite cluster, shared by every node.
//
// # Layout
//
//   - K op streams CW_OPS_0 .. CW_OPS_{K-1} (Options.OpStreams), file
//     storage, Options.Replicas replicas, no limits (history is never
//     dropped), a 2-minute duplicate window. A document lives on one subject
//     cw.ops.<k>.<key>, where k = fnv32a(id) mod K and key is the id in
//     unpadded base64url (subject tokens may not hold '.'). Its first
//     message is the creation (Cw-Kind: create, the title and the initial
//     content), published with Nats-Expected-Last-Subject-Sequence 0, so one
//     creator wins; each later message is one batch of committed ops
//     (Cw-Kind: ops, Cw-From/Cw-To versions, Cw-Size). Every stored message
//     is republished on cw.room.<k>.<key> (RePublish) for the nodes' rooms.
//   - KV CW_DOCS: key → {id, title, created}, for listing and renames.
//   - KV CW_SNAP: key → the latest snapshot {gen, version, seq, content,
//     dedupe}: gen is the stream sequence of the creation message (a
//     snapshot of an earlier document with the same id is ignored), seq
//     the sequence of the message that ends at version, dedupe the last
//     (seq, version) of every client at version.
//   - KV CW_NAMES: <key>.<version> → a named version {gen, label, author,
//     created}; object store CW_PINS: <key>.<version> → its pinned
//     content (any size). A name of an earlier generation is ignored.
//   - KV CW_TOMBS: key → when the document was deleted (DeleteDoc writes
//     it, CreateDoc of the id removes it).
//
// # The fence
//
// Every commit carries Nats-Expected-Last-Subject-Sequence: the stream
// sequence of the document's last message as this node knows it (from
// LoadDoc and its own PubAcks). A node whose view is stale — another node
// committed meanwhile — has its commit refused by the stream leader
// (10071/10164); Append then fails with ErrFenced, nothing of the batch is
// stored, and the sequencer reloads the document (collab reloads on any
// commit failure). At most one publish per document is in flight: the
// batches of a document are published one after the other.
//
// # Ambiguous commits
//
// A publish that times out, finds no stream leader or loses its connection
// may or may not have been stored. Append never reports such a batch: it
// publishes the same message again (same Nats-Msg-Id, same expected
// sequence) until the outcome is known. A duplicate PubAck means it was
// stored; a wrong-last-sequence answer makes it read the first message of
// the subject after the expected sequence: its Msg-Id is this batch's (it
// was stored) or another's (fenced). That holds after the duplicate window
// too, since the expected sequence alone decides what follows it. It
// retries until Close.
//
// Reads (loads, history, metadata) are retried for up to DefaultReadRetry
// while JetStream answers that it is unavailable (a leader election).
//
// # Caveats
//
//   - A batch larger than one message (the server's max_payload less
//     headroom) is published as several messages, each fenced on the one
//     before; if a later one fails, the earlier ones stay stored although
//     the batch is reported as failed (the sequencer reloads and sees them;
//     their clients' resubmissions are acknowledged by (client, seq)
//     dedupe). One op or one snapshot must fit in a message.
//   - History reads (ReadOps from below the latest snapshot) scan the
//     document's messages from its creation, one request per message.
//   - ListDocs reads every key of CW_DOCS and each listed document's last
//     message: O(documents) per page.
//   - The dedupe table in a snapshot is never pruned.
//   - Nothing is pruned: CatchUpFloor is always 0.
package jetstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of Options.
const (
	DefaultOpStreams     = 3
	DefaultReplicas      = 3
	DefaultCommitTimeout = 5 * time.Second
	DefaultRetryBackoff  = 200 * time.Millisecond
	// DefaultMsgHeadroom is subtracted from the server's max_payload to
	// get the largest message body Append writes.
	DefaultMsgHeadroom = 4 << 10
)

// Names of the streams, buckets and headers.
const (
	opStreamPrefix = "CW_OPS_"
	docsBucket     = "CW_DOCS"
	snapBucket     = "CW_SNAP"
	namesBucket    = "CW_NAMES"
	tombsBucket    = "CW_TOMBS"
	pinsStore      = "CW_PINS"
	hdrKind        = "Cw-Kind"
	hdrFrom        = "Cw-From"
	hdrTo          = "Cw-To"
	hdrSize        = "Cw-Size"
	hdrExpect      = "Nats-Expected-Last-Subject-Sequence"
	kindCreate     = "create"
	kindOps        = "ops"
)

// Errors.
var (
	// ErrFenced: another node committed to the document since this node
	// loaded it; the batch was not stored.
	ErrFenced = errors.New("jetstore: commit fenced: another node wrote the document")
	// ErrClosed: the Store was closed; a batch in flight then has an
	// unknown outcome.
	ErrClosed = errors.New("jetstore: store closed")
	// ErrBroken: an earlier batch of the document failed; reload it.
	ErrBroken = errors.New("jetstore: an earlier batch of the document failed")
)

// Observer receives the store's events for metrics. Methods must be cheap.
type Observer interface {
	// ObserveFenced: a commit was refused because another node wrote.
	ObserveFenced()
	// ObserveAmbiguous: a publish had an unknown outcome; resolved is
	// "stored", "not_stored" (retried and then stored) or "fenced".
	ObserveAmbiguous(resolved string)
	// ObserveCommit: a message was stored after d.
	ObserveCommit(d time.Duration)
	// ObserveLoad: a document was loaded (read from its snapshot and
	// messages) in d.
	ObserveLoad(d time.Duration)
}

type nopObserver struct{}

func (nopObserver) ObserveFenced()              {}
func (nopObserver) ObserveAmbiguous(string)     {}
func (nopObserver) ObserveCommit(time.Duration) {}
func (nopObserver) ObserveLoad(time.Duration)   {}

// Options configure a Store. A nil *Options means defaults.
type Options struct {
	// NodeID names this node in message ids. Default "node".
	NodeID string
	// OpStreams is K, the number of op streams. Default 3. Every node of
	// a cluster must use the same value.
	OpStreams int
	// Replicas of every stream and bucket. Default 3.
	Replicas int
	// CommitTimeout bounds one publish attempt. Default 5 s.
	CommitTimeout time.Duration
	// RetryBackoff is the wait before publishing an ambiguous commit
	// again (doubling up to 8×). Default 200 ms.
	RetryBackoff time.Duration
	Logger       *slog.Logger // default slog.Default()
	Observer     Observer     // default none
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.NodeID == "" {
		r.NodeID = "node"
	}
	if r.OpStreams <= 0 {
		r.OpStreams = DefaultOpStreams
	}
	if r.Replicas <= 0 {
		r.Replicas = DefaultReplicas
	}
	if r.CommitTimeout <= 0 {
		r.CommitTimeout = DefaultCommitTimeout
	}
	if r.RetryBackoff <= 0 {
		r.RetryBackoff = DefaultRetryBackoff
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Observer == nil {
		r.Observer = nopObserver{}
	}
	return r
}

// publishFunc publishes a message and waits for its PubAck (a test hook
// can lose acks or messages).
type publishFunc func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error)

// Store is a collab.Store on JetStream. It is safe for concurrent use.
type Store struct {
	js      jetstream.JetStream
	streams []jetstream.Stream
	docs    jetstream.KeyValue
	snaps   jetstream.KeyValue
	names   jetstream.KeyValue    // named versions (versions.go)
	tombs   jetstream.KeyValue    // deleted documents (versions.go)
	pins    jetstream.ObjectStore // named versions' content (versions.go)
	opts    Options
	log     *slog.Logger
	maxMsg  int
	msgBase string // node.epoch. prefix of message ids
	msgN    atomic.Uint64
	publish publishFunc

	ctx    context.Context // canceled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // drain goroutines

	mu     sync.Mutex // guards the fields below
	states map[string]*docState
	closed bool
}

var _ collab.Store = (*Store)(nil)

// docState is what this node knows of a document it commits to.
type docState struct {
	known   bool   // set by LoadDoc: lastSeq and version are valid
	lastSeq uint64 // stream sequence of the document's last message
	version uint64 // the version at lastSeq
	gen     uint64 // stream sequence of the creation message
	dedupe  map[string]seqMark
	broken  error // a batch failed: every Append fails until LoadDoc
	queue   []pending
	running bool // a drain goroutine serves queue
}

type pending struct {
	b    *collab.Batch
	done func(error)
}

type seqMark struct {
	Seq     uint64 `json:"s"`
	Version uint64 `json:"v"`
}

// New connects a Store to JetStream over nc, creating (or updating) its
// streams and buckets. It fails with a clear error when JetStream is not
// available or cannot hold the replicas asked for.
func New(ctx context.Context, nc *nats.Conn, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("jetstore: %w", err)
	}
	var epoch [4]byte
	_, _ = rand.Read(epoch[:])
	sctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		js:      js,
		opts:    o,
		log:     o.Logger,
		maxMsg:  int(nc.MaxPayload()) - DefaultMsgHeadroom,
		msgBase: o.NodeID + "." + hex.EncodeToString(epoch[:]) + ".",
		ctx:     sctx,
		cancel:  cancel,
		states:  make(map[string]*docState),
	}
	s.publish = func(ctx context.Context, m *nats.Msg) (*jetstream.PubAck, error) { return js.PublishMsg(ctx, m) }
	for k := range o.OpStreams {
		name := fmt.Sprintf("%s%d", opStreamPrefix, k)
		st, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
			Name:        name,
			Description: "Cowrite op log",
			Subjects:    []string{fmt.Sprintf("cw.ops.%d.*", k)},
			Storage:     jetstream.FileStorage,
			Replicas:    o.Replicas,
			Retention:   jetstream.LimitsPolicy,
			Discard:     jetstream.DiscardNew,
			Duplicates:  2 * time.Minute,
			RePublish:   &jetstream.RePublish{Source: fmt.Sprintf("cw.ops.%d.>", k), Destination: fmt.Sprintf("cw.room.%d.>", k)},
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("jetstore: create stream %s with %d replicas: %w", name, o.Replicas, err)
		}
		s.streams = append(s.streams, st)
	}
	for _, b := range []struct {
		name string
		kv   *jetstream.KeyValue
	}{{docsBucket, &s.docs}, {snapBucket, &s.snaps}, {namesBucket, &s.names}, {tombsBucket, &s.tombs}} {
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: b.name, History: 1, Storage: jetstream.FileStorage, Replicas: o.Replicas,
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("jetstore: create bucket %s with %d replicas: %w", b.name, o.Replicas, err)
		}
		*b.kv = kv
	}
	s.pins, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: pinsStore, Description: "Cowrite named versions' content", Storage: jetstream.FileStorage, Replicas: o.Replicas,
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("jetstore: create object store %s with %d replicas: %w", pinsStore, o.Replicas, err)
	}
	return s, nil
}

// Close stops the retries of ambiguous commits (their batches fail with
// ErrClosed: the outcome is unknown, the clients resubmit) and waits for
// every batch handed to Append to be reported. Further Appends fail. It
// does not close the NATS connection. It is idempotent.
func (s *Store) Close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
}

// Key returns the subject token and KV key of a document id: the id in
// unpadded base64url.
func Key(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func idOfKey(key string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(key)
	return string(b), err == nil
}

// Shard returns the op stream index of a document id among k streams.
func Shard(id string, k int) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(k))
}

func (s *Store) stream(id string) (jetstream.Stream, string) {
	k := Shard(id, len(s.streams))
	return s.streams[k], fmt.Sprintf("cw.ops.%d.%s", k, Key(id))
}

// RoomSubject is the subject on which the stored messages of a document are
// republished.
func RoomSubject(id string, k int) string {
	return fmt.Sprintf("cw.room.%d.%s", Shard(id, k), Key(id))
}

// Wire forms.
type (
	createBody struct {
		Title   string    `json:"title"`
		Created time.Time `json:"created"`
		Content string    `json:"content"`
	}
	opWire struct {
		Version uint64          `json:"version"`
		Op      json.RawMessage `json:"op"`
		Client  string          `json:"client,omitempty"`
		Seq     uint64          `json:"seq,omitempty"`
		Time    time.Time       `json:"time"`
		// Author of the op (blame); absent in ops stored before authors were.
		AuthorID   string `json:"aid,omitempty"`
		AuthorName string `json:"aname,omitempty"`
	}
	opsBody struct {
		Ops []opWire `json:"ops"`
	}
	docMeta struct {
		ID      string    `json:"id"`
		Title   string    `json:"title"`
		Created time.Time `json:"created"`
	}
	snapRecord struct {
		Gen     uint64             `json:"gen"`
		Version uint64             `json:"version"`
		Seq     uint64             `json:"seq"`
		Content string             `json:"content"`
		Dedupe  map[string]seqMark `json:"dedupe"`
	}
)

// jsErrDuplicateInProcess: a message with this Msg-Id is being proposed.
const jsErrDuplicateInProcess = 10158

func isWrongLastSeq(err error) bool {
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant
	}
	return false
}

// definite reports whether a publish error certainly means "not stored
// and retrying will not help" (as opposed to an unknown outcome).
func definite(err error) bool {
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		// The stream answered, except: the same Msg-Id is still being
		// proposed (10158), or JetStream is electing a leader (503).
		return ae.ErrorCode != jsErrDuplicateInProcess && ae.Code != 503
	}
	return errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, nats.ErrBadSubject) || errors.Is(err, jetstream.ErrInvalidJSAck)
}

// CreateDoc implements collab.Store: the creation message wins with
// expected subject sequence 0.
func (s *Store) CreateDoc(ctx context.Context, info collab.DocInfo, content string) error {
	body, err := json.Marshal(createBody{Title: info.Title, Created: info.Created, Content: content})
	if err != nil {
		return err
	}
	if len(body) > s.maxMsg {
		return &collab.Error{Code: collab.CodeTooLarge, Message: fmt.Sprintf("initial content of %d bytes does not fit in one message (%d)", len(content), s.maxMsg)}
	}
	st, subj := s.stream(info.ID)
	m := nats.NewMsg(subj)
	m.Data = body
	m.Header.Set(hdrKind, kindCreate)
	m.Header.Set(hdrTo, "0")
	m.Header.Set(hdrSize, strconv.Itoa(len(content)))
	if _, err := s.commitMsg(ctx, st, m, 0); err != nil {
		if errors.Is(err, ErrFenced) {
			return fmt.Errorf("%w: %q", collab.ErrDocExists, info.ID)
		}
		return err
	}
	meta, _ := json.Marshal(docMeta{ID: info.ID, Title: info.Title, Created: info.Created})
	if _, err := s.docs.Put(ctx, Key(info.ID), meta); err != nil {
		// The document exists (its creation is stored); LoadDoc repairs
		// the listing.
		s.log.Warn("jetstore: document created but not listed", "doc", info.ID, "err", err)
	}
	s.clearTombstone(ctx, info.ID)
	return nil
}

// commitMsg publishes m fenced on expected and resolves an unknown
// outcome; it returns the stream sequence m was stored at, or ErrFenced.
func (s *Store) commitMsg(ctx context.Context, st jetstream.Stream, m *nats.Msg, expected uint64) (uint64, error) {
	id := s.msgBase + strconv.FormatUint(s.msgN.Add(1), 10)
	m.Header.Set(jetstream.MsgIDHeader, id)
	m.Header.Set(hdrExpect, strconv.FormatUint(expected, 10))
	ambiguous := false
	backoff := s.opts.RetryBackoff
	start := time.Now()
	for {
		pctx, cancel := context.WithTimeout(s.ctx, s.opts.CommitTimeout)
		ack, err := s.publish(pctx, m)
		cancel()
		if err == nil {
			if ambiguous {
				res := "not_stored"
				if ack.Duplicate {
					res = "stored"
				}
				s.opts.Observer.ObserveAmbiguous(res)
			}
			s.opts.Observer.ObserveCommit(time.Since(start))
			return ack.Sequence, nil
		}
		if isWrongLastSeq(err) {
			// Whoever won at expected wrote the first message after it.
			rctx, cancel := context.WithTimeout(s.ctx, s.opts.CommitTimeout)
			next, gerr := st.GetMsg(rctx, expected+1, jetstream.WithGetMsgSubject(m.Subject))
			cancel()
			switch {
			case gerr == nil && next.Header.Get(jetstream.MsgIDHeader) == id:
				if ambiguous {
					s.opts.Observer.ObserveAmbiguous("stored")
				}
				s.opts.Observer.ObserveCommit(time.Since(start))
				return next.Sequence, nil
			case gerr == nil || errors.Is(gerr, jetstream.ErrMsgNotFound):
				if ambiguous {
					s.opts.Observer.ObserveAmbiguous("fenced")
				}
				s.opts.Observer.ObserveFenced()
				return 0, ErrFenced
			}
			err = gerr // could not read: still unknown
		} else if definite(err) {
			return 0, fmt.Errorf("jetstore: publish to %s: %w", m.Subject, err)
		}
		if !ambiguous {
			s.log.Warn("jetstore: commit outcome unknown; retrying", "subject", m.Subject, "msg_id", id, "err", err)
		}
		ambiguous = true
		select {
		case <-s.ctx.Done():
			return 0, ErrClosed
		case <-ctx.Done():
			// A caller that gives up (CreateDoc's request) learns
			// nothing more; the message may be stored.
			return 0, fmt.Errorf("jetstore: publish to %s: outcome unknown: %w", m.Subject, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 8*s.opts.RetryBackoff)
	}
}

// DefaultReadRetry bounds how long a read is retried while JetStream
// answers that it is unavailable (a stream leader is being elected).
const DefaultReadRetry = 15 * time.Second

// transient reports whether a read error may go away by itself: no stream
// leader yet (503, no responders) or a request that timed out.
func transient(err error) bool {
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		return ae.Code == 503
	}
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse)
}

// retryRead runs a read, retrying transient errors (each attempt bounded
// by CommitTimeout) for up to DefaultReadRetry or until ctx ends.
func retryRead[T any](ctx context.Context, s *Store, read func(context.Context) (T, error)) (T, error) {
	deadline := time.Now().Add(DefaultReadRetry)
	wait := 50 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, s.opts.CommitTimeout)
		v, err := read(actx)
		cancel()
		if err == nil || !transient(err) || ctx.Err() != nil || time.Now().After(deadline) {
			return v, err
		}
		select {
		case <-ctx.Done():
			return v, err
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// getMsg is Stream.GetMsg (next message of subj at or after seq) or, with
// last, GetLastMsgForSubject, through retryRead.
func (s *Store) getMsg(ctx context.Context, st jetstream.Stream, seq uint64, subj string, last bool) (*jetstream.RawStreamMsg, error) {
	return retryRead(ctx, s, func(ctx context.Context) (*jetstream.RawStreamMsg, error) {
		if last {
			return st.GetLastMsgForSubject(ctx, subj)
		}
		return st.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(subj))
	})
}

// kvGet is KeyValue.Get through retryRead.
func (s *Store) kvGet(ctx context.Context, kv jetstream.KeyValue, key string) (jetstream.KeyValueEntry, error) {
	return retryRead(ctx, s, func(ctx context.Context) (jetstream.KeyValueEntry, error) { return kv.Get(ctx, key) })
}

func (s *Store) state(id string) *docState {
	st := s.states[id]
	if st == nil {
		st = &docState{}
		s.states[id] = st
	}
	return st
}

// Append implements collab.Store. The batches of one document are
// published one at a time, in order, by a goroutine that lives while the
// document has batches queued.
func (s *Store) Append(b *collab.Batch, done func(error)) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		done(ErrClosed)
		return
	}
	st := s.state(b.Doc)
	st.queue = append(st.queue, pending{b, done})
	if !st.running {
		st.running = true
		s.wg.Add(1)
		go s.drain(b.Doc, st)
	}
	s.mu.Unlock()
}

func (s *Store) drain(id string, st *docState) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if len(st.queue) == 0 {
			st.running = false
			s.mu.Unlock()
			return
		}
		p := st.queue[0]
		st.queue[0] = pending{}
		st.queue = st.queue[1:]
		err := st.broken
		s.mu.Unlock()
		if err == nil {
			err = s.commitBatch(id, st, p.b)
			if err != nil {
				s.mu.Lock()
				st.broken = fmt.Errorf("%w: %w", ErrBroken, err)
				s.mu.Unlock()
			}
		}
		p.done(err)
	}
}

// commitBatch stores one batch (as one message, or several when it is
// too large) and then its snapshot. Runs on the document's drain goroutine,
// the only writer of st's position fields while the batch is in flight.
func (s *Store) commitBatch(id string, st *docState, b *collab.Batch) error {
	s.mu.Lock()
	known, lastSeq, version := st.known, st.lastSeq, st.version
	s.mu.Unlock()
	if len(b.Ops) == 0 {
		return errors.New("jetstore: empty batch")
	}
	if !known {
		return fmt.Errorf("%w: the document was not loaded on this node", ErrFenced)
	}
	if b.Ops[0].Version != version+1 {
		return fmt.Errorf("%w: batch starts at version %d, the store is at %d", ErrFenced, b.Ops[0].Version, version)
	}
	stream, subj := s.stream(id)
	chunks, err := s.encodeOps(b.Ops)
	if err != nil {
		return err
	}
	for _, c := range chunks {
		m := nats.NewMsg(subj)
		m.Data = c.body
		m.Header.Set(hdrKind, kindOps)
		m.Header.Set(hdrFrom, strconv.FormatUint(c.from, 10))
		m.Header.Set(hdrTo, strconv.FormatUint(c.to, 10))
		m.Header.Set(hdrSize, strconv.FormatInt(b.Size, 10))
		seq, err := s.commitMsg(context.Background(), stream, m, lastSeq)
		if err != nil {
			return err
		}
		lastSeq = seq
		s.mu.Lock()
		st.lastSeq, st.version = seq, c.to
		for _, r := range b.Ops[c.first:c.end] {
			if r.Client != "" && r.Seq > 0 {
				st.dedupe[r.Client] = seqMark{r.Seq, r.Version}
			}
		}
		s.mu.Unlock()
	}
	if b.Snapshot != nil {
		s.mu.Lock()
		rec := snapRecord{Gen: st.gen, Version: b.Snapshot.Version, Seq: lastSeq, Content: b.Snapshot.Content, Dedupe: maps(st.dedupe)}
		s.mu.Unlock()
		if data, err := json.Marshal(rec); err == nil && len(data) <= s.maxMsg {
			ctx, cancel := context.WithTimeout(s.ctx, s.opts.CommitTimeout)
			if _, err := s.snaps.Put(ctx, Key(id), data); err != nil {
				s.log.Warn("jetstore: snapshot not stored", "doc", id, "version", rec.Version, "err", err)
			}
			cancel()
		}
	}
	return nil
}

func maps(m map[string]seqMark) map[string]seqMark {
	out := make(map[string]seqMark, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

type chunk struct {
	body       []byte
	from, to   uint64
	first, end int // b.Ops[first:end]
}

// encodeOps encodes ops into as few message bodies as fit in maxMsg.
func (s *Store) encodeOps(ops []collab.OpRecord) ([]chunk, error) {
	var out []chunk
	var cur []opWire
	size, first := 0, 0
	flush := func(end int) error {
		body, err := json.Marshal(opsBody{Ops: cur})
		if err != nil {
			return err
		}
		out = append(out, chunk{body: body, from: cur[0].Version, to: cur[len(cur)-1].Version, first: first, end: end})
		cur, size, first = nil, 0, end
		return nil
	}
	for i, r := range ops {
		w := opWire{Version: r.Version, Op: r.Op.AppendJSON(nil), Client: r.Client, Seq: r.Seq, Time: r.Time,
			AuthorID: r.Author.ID, AuthorName: r.Author.Name}
		n := len(w.Op) + len(w.Client) + len(w.AuthorID) + len(w.AuthorName) + 128
		if n > s.maxMsg {
			return nil, &collab.Error{Code: collab.CodeTooLarge, Message: fmt.Sprintf("op %d of about %d bytes does not fit in one message (%d)", r.Version, n, s.maxMsg)}
		}
		if len(cur) > 0 && size+n > s.maxMsg {
			if err := flush(i); err != nil {
				return nil, err
			}
		}
		cur = append(cur, w)
		size += n
	}
	if err := flush(len(ops)); err != nil {
		return nil, err
	}
	return out, nil
}

// scanned is a document read from its messages.
type scanned struct {
	gen      uint64 // creation message sequence
	create   createBody
	snap     collab.Snapshot // the starting point (latest valid snapshot or the creation)
	ops      []collab.OpRecord
	lastSeq  uint64
	version  uint64
	size     int64
	updated  time.Time
	dedupe   map[string]seqMark
	fromSnap bool
}

// first returns the creation message of the document (not_found when the
// subject is empty).
func (s *Store) first(ctx context.Context, id string) (*jetstream.RawStreamMsg, createBody, error) {
	st, subj := s.stream(id)
	m, err := s.getMsg(ctx, st, 1, subj, false)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, createBody{}, fmt.Errorf("%w: %q", collab.ErrDocNotFound, id)
	}
	if err != nil {
		return nil, createBody{}, fmt.Errorf("jetstore: read %q: %w", id, err)
	}
	var cb createBody
	if m.Header.Get(hdrKind) != kindCreate {
		return nil, createBody{}, fmt.Errorf("jetstore: document %q: first message is not a creation", id)
	}
	if err := json.Unmarshal(m.Data, &cb); err != nil {
		return nil, createBody{}, fmt.Errorf("jetstore: document %q: creation: %w", id, err)
	}
	return m, cb, nil
}

// snapshot returns the latest snapshot when it belongs to generation gen.
func (s *Store) snapshot(ctx context.Context, id string, gen uint64) (*snapRecord, error) {
	e, err := s.kvGet(ctx, s.snaps, Key(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetstore: snapshot of %q: %w", id, err)
	}
	var r snapRecord
	if err := json.Unmarshal(e.Value(), &r); err != nil || r.Gen != gen {
		return nil, nil // unreadable or of an earlier document: ignore
	}
	return &r, nil
}

// scan reads the document: from the latest snapshot (useSnap, when it is at
// or below maxFrom) or from its creation, then every message after it.
// keep selects the ops returned (all when nil); stop ends the scan early.
func (s *Store) scan(ctx context.Context, id string, useSnap bool, maxFrom uint64, keep func(v uint64) (take, stop bool)) (*scanned, error) {
	fm, cb, err := s.first(ctx, id)
	if err != nil {
		return nil, err
	}
	sc := &scanned{gen: fm.Sequence, create: cb, lastSeq: fm.Sequence, updated: cb.Created,
		snap: collab.Snapshot{Content: cb.Content}, size: int64(len(cb.Content)), dedupe: make(map[string]seqMark)}
	if useSnap {
		r, err := s.snapshot(ctx, id, fm.Sequence)
		if err != nil {
			return nil, err
		}
		if r != nil && r.Version <= maxFrom {
			sc.snap = collab.Snapshot{Version: r.Version, Content: r.Content}
			sc.lastSeq, sc.version, sc.fromSnap = r.Seq, r.Version, true
			sc.size = int64(len(r.Content))
			if r.Dedupe != nil {
				sc.dedupe = r.Dedupe
			}
		}
	}
	st, subj := s.stream(id)
	for {
		m, err := s.getMsg(ctx, st, sc.lastSeq+1, subj, false)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("jetstore: read %q: %w", id, err)
		}
		if m.Header.Get(hdrKind) != kindOps {
			return nil, fmt.Errorf("jetstore: document %q: unexpected message %d (%q)", id, m.Sequence, m.Header.Get(hdrKind))
		}
		var body opsBody
		if err := json.Unmarshal(m.Data, &body); err != nil {
			return nil, fmt.Errorf("jetstore: document %q: message %d: %w", id, m.Sequence, err)
		}
		stop := false
		for _, w := range body.Ops {
			if w.Version != sc.version+1 {
				return nil, fmt.Errorf("jetstore: document %q: version %d follows %d", id, w.Version, sc.version)
			}
			sc.version = w.Version
			if w.Client != "" && w.Seq > 0 {
				sc.dedupe[w.Client] = seqMark{w.Seq, w.Version}
			}
			take := true
			if keep != nil {
				var st bool
				take, st = keep(w.Version)
				stop = stop || st
			}
			if !take {
				continue
			}
			op, err := ot.Parse(w.Op)
			if err != nil {
				return nil, fmt.Errorf("jetstore: document %q: op %d: %w", id, w.Version, err)
			}
			sc.ops = append(sc.ops, collab.OpRecord{Version: w.Version, Op: op, Client: w.Client, Seq: w.Seq, Time: w.Time,
				Author: collab.Author{ID: w.AuthorID, Name: w.AuthorName}})
		}
		sc.lastSeq, sc.updated = m.Sequence, m.Time.UTC()
		if n, err := strconv.ParseInt(m.Header.Get(hdrSize), 10, 64); err == nil {
			sc.size = n
		}
		if stop {
			break
		}
	}
	return sc, nil
}

func (s *Store) meta(ctx context.Context, id string) (*docMeta, error) {
	e, err := s.kvGet(ctx, s.docs, Key(id))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("jetstore: metadata of %q: %w", id, err)
	}
	var m docMeta
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return nil, fmt.Errorf("jetstore: metadata of %q: %w", id, err)
	}
	return &m, nil
}

// LoadDoc implements collab.Store. It also makes this node's view of the
// document current (the fence position and the dedupe table), and lists a
// document whose listing entry is missing.
func (s *Store) LoadDoc(ctx context.Context, id string) (*collab.LoadedDoc, error) {
	start := time.Now()
	sc, err := s.scan(ctx, id, true, ^uint64(0), nil)
	if err != nil {
		return nil, err
	}
	defer func() { s.opts.Observer.ObserveLoad(time.Since(start)) }()
	title := sc.create.Title
	m, err := s.meta(ctx, id)
	if err != nil {
		return nil, err
	}
	if m != nil {
		title = m.Title
	} else {
		meta, _ := json.Marshal(docMeta{ID: id, Title: title, Created: sc.create.Created})
		if _, err := s.docs.Create(ctx, Key(id), meta); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
			s.log.Warn("jetstore: cannot list document", "doc", id, "err", err)
		}
	}
	s.mu.Lock()
	st := s.state(id)
	st.known, st.lastSeq, st.version, st.gen = true, sc.lastSeq, sc.version, sc.gen
	st.dedupe = sc.dedupe
	st.broken = nil
	s.mu.Unlock()
	return &collab.LoadedDoc{
		Info:     collab.DocInfo{ID: id, Title: title, Version: sc.version, Size: sc.size, Created: sc.create.Created, Updated: sc.updated},
		Snapshot: sc.snap,
		Ops:      sc.ops,
	}, nil
}

// GetDoc implements collab.Store from the document's last message and its
// listing entry.
func (s *Store) GetDoc(ctx context.Context, id string) (collab.DocInfo, error) {
	st, subj := s.stream(id)
	last, err := s.getMsg(ctx, st, 0, subj, true)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return collab.DocInfo{}, fmt.Errorf("%w: %q", collab.ErrDocNotFound, id)
	}
	if err != nil {
		return collab.DocInfo{}, fmt.Errorf("jetstore: read %q: %w", id, err)
	}
	info := collab.DocInfo{ID: id, Updated: last.Time.UTC()}
	info.Version, _ = strconv.ParseUint(last.Header.Get(hdrTo), 10, 64)
	info.Size, _ = strconv.ParseInt(last.Header.Get(hdrSize), 10, 64)
	m, err := s.meta(ctx, id)
	if err != nil {
		return collab.DocInfo{}, err
	}
	if m == nil {
		_, cb, err := s.first(ctx, id)
		if err != nil {
			return collab.DocInfo{}, err
		}
		m = &docMeta{ID: id, Title: cb.Title, Created: cb.Created}
	}
	info.Title, info.Created = m.Title, m.Created
	if last.Header.Get(hdrKind) == kindCreate {
		info.Updated = m.Created
	}
	return info, nil
}

// ListDocs implements collab.Store: every listing key is read and sorted.
func (s *Store) ListDocs(ctx context.Context, limit int, cursor string) ([]collab.DocInfo, string, error) {
	kl, err := s.docs.ListKeys(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("jetstore: list: %w", err)
	}
	var ids []string
	for k := range kl.Keys() {
		if id, ok := idOfKey(k); ok && id > cursor {
			ids = append(ids, id)
		}
	}
	_ = kl.Stop()
	slices.Sort(ids)
	var out []collab.DocInfo
	for i, id := range ids {
		if limit > 0 && len(out) == limit {
			return out, ids[i-1], nil
		}
		info, err := s.GetDoc(ctx, id)
		if errors.Is(err, collab.ErrDocNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, info)
	}
	return out, "", nil
}

// RenameDoc implements collab.Store.
func (s *Store) RenameDoc(ctx context.Context, id, title string) (collab.DocInfo, error) {
	info, err := s.GetDoc(ctx, id)
	if err != nil {
		return collab.DocInfo{}, err
	}
	meta, _ := json.Marshal(docMeta{ID: id, Title: title, Created: info.Created})
	if _, err := s.docs.Put(ctx, Key(id), meta); err != nil {
		return collab.DocInfo{}, fmt.Errorf("jetstore: rename %q: %w", id, err)
	}
	info.Title = title
	return info, nil
}

// DeleteDoc implements collab.Store: the subject is purged (a commit of
// another node in flight is then fenced), then the snapshot and listing.
func (s *Store) DeleteDoc(ctx context.Context, id string) error {
	st, subj := s.stream(id)
	if _, err := s.getMsg(ctx, st, 0, subj, true); errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("%w: %q", collab.ErrDocNotFound, id)
	} else if err != nil {
		return fmt.Errorf("jetstore: delete %q: %w", id, err)
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(subj)); err != nil {
		return fmt.Errorf("jetstore: delete %q: %w", id, err)
	}
	s.mu.Lock()
	if stt := s.states[id]; stt != nil && !stt.running {
		delete(s.states, id)
	} else if stt != nil {
		stt.known = false
	}
	s.mu.Unlock()
	s.putTombstone(ctx, id)
	for _, kv := range []jetstream.KeyValue{s.snaps, s.docs} {
		if err := kv.Purge(ctx, Key(id)); err != nil {
			s.log.Warn("jetstore: deleted document left a key", "doc", id, "bucket", kv.Bucket(), "err", err)
		}
	}
	s.dropNames(ctx, id)
	return nil
}

// ReadOps implements collab.Store.
func (s *Store) ReadOps(ctx context.Context, id string, from, to uint64, limit int) ([]collab.OpRecord, error) {
	n := 0
	sc, err := s.scan(ctx, id, true, from, func(v uint64) (bool, bool) {
		if v <= from || v > to || (limit > 0 && n >= limit) {
			return false, v >= to || (limit > 0 && n >= limit)
		}
		n++
		return true, v >= to || (limit > 0 && n >= limit)
	})
	if err != nil {
		return nil, err
	}
	return sc.ops, nil
}

// SnapshotAtOrBelow implements collab.Store: the latest snapshot when it is
// at or below version, else the creation content (version 0).
func (s *Store) SnapshotAtOrBelow(ctx context.Context, id string, version uint64) (collab.Snapshot, error) {
	fm, cb, err := s.first(ctx, id)
	if err != nil {
		return collab.Snapshot{}, err
	}
	r, err := s.snapshot(ctx, id, fm.Sequence)
	if err != nil {
		return collab.Snapshot{}, err
	}
	if r != nil && r.Version <= version {
		return collab.Snapshot{Version: r.Version, Content: r.Content}, nil
	}
	return collab.Snapshot{Content: cb.Content}, nil
}

// LastSeq implements collab.Store (floor 0: the dedupe table is never pruned here): from this node's view when it loaded the
// document, else by reading it.
func (s *Store) LastSeq(ctx context.Context, id, client string) (seq, version, floor uint64, err error) {
	s.mu.Lock()
	if st := s.states[id]; st != nil && st.known && st.broken == nil {
		m := st.dedupe[client]
		s.mu.Unlock()
		return m.Seq, m.Version, 0, nil
	}
	s.mu.Unlock()
	sc, err := s.scan(ctx, id, true, ^uint64(0), func(uint64) (bool, bool) { return false, false })
	if err != nil {
		return 0, 0, 0, err
	}
	m := sc.dedupe[client]
	return m.Seq, m.Version, 0, nil
}

// CatchUpFloor implements collab.Store: nothing is pruned.
func (s *Store) CatchUpFloor(ctx context.Context, id string) (uint64, error) {
	if _, err := s.GetDoc(ctx, id); err != nil {
		return 0, err
	}
	return 0, nil
}
