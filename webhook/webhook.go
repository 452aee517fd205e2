// Package webhook delivers Cowrite's webhook events (SPEC.md section 8)
// from the durable outbox in the data file (storage.DB.EnableOutbox) to one
// receiver URL.
//
// # Model
//
// Events are written by the storage committer in the same transaction as
// the commit that caused them: doc.created and doc.deleted at once, and,
// per document, a pending doc.updated {from, to} that grows with every
// commit. The Dispatcher turns a pending update into a queued event once
// Options.Debounce has passed since its first change (so at most one
// doc.updated per document per Debounce), reads the queued events in order
// and POSTs each as JSON with the headers
//
//	Content-Type: application/json
//	Cowrite-Delivery: <event id>
//	Cowrite-Event: <event type>
//	Cowrite-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">
//
// An event is removed from the outbox when the receiver answers 2xx. Any
// other answer, a network error or no answer within Options.Timeout is
// retried after RetryBase (1 s), then twice as long each time (at most
// RetryMax), each wait with ±20% jitter, until the event is older than
// MaxAge (24 h): then it is dropped and counted as abandoned. Delivery is
// at least once: an event whose 2xx was received but whose removal did not
// reach the disk before a crash is sent again (receivers dedupe on
// Cowrite-Delivery).
//
// Order: the events of one document are delivered one at a time, in the
// order they were queued (a later one only after the earlier succeeded or
// was abandoned). Different documents are delivered concurrently, at most
// Options.Concurrency at once. While a document's doc.updated is queued,
// its later changes do not queue another one: they extend the pending one
// (its "to" moves on), which is queued once the first is delivered. So a
// receiver that is down for a day costs one queued doc.updated per changed
// document plus the creations and deletions of that day; the outbox is
// bounded besides (storage.OutboxOptions: when it is full the oldest events
// are dropped and counted). Events older than MaxAge are abandoned.
//
// # Concurrency
//
// Start runs one loop goroutine and one goroutine per delivery in flight;
// Close cancels them (a request in flight is aborted: its event stays
// queued) and waits. Events still queued are delivered after a restart.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cowrite/cowrite/storage"
)

// Defaults of Options.
const (
	DefaultDebounce    = 2 * time.Second
	DefaultTimeout     = 10 * time.Second
	DefaultRetryBase   = time.Second
	DefaultRetryMax    = 10 * time.Minute
	DefaultMaxAge      = 24 * time.Hour
	DefaultConcurrency = 4
	// DefaultMaxInMemory caps the events read from the outbox and waiting
	// for delivery in memory; the rest stay on disk until these are done.
	DefaultMaxInMemory = 10_000
	// maxResponseBytes of a receiver's answer are read (and discarded).
	maxResponseBytes = 64 << 10
)

// Store is the outbox the Dispatcher delivers from; *storage.DB implements
// it once EnableOutbox was called.
type Store interface {
	OutboxEvents(ctx context.Context, after uint64, limit int) ([]storage.OutboxEvent, error)
	OutboxAck(ctx context.Context, seq uint64) error
	OutboxFlush(ctx context.Context, now time.Time, debounce time.Duration) (time.Time, error)
	OutboxNotify() <-chan struct{}
}

// Options configure a Dispatcher. URL is required.
type Options struct {
	// URL receives the POSTs; http or https (see ValidateURL).
	URL string
	// Secret keys the Cowrite-Signature HMAC. Empty: the header is still
	// sent, keyed by the empty secret (receivers should insist on one).
	Secret string
	// Debounce: a document's doc.updated is sent at most once per Debounce.
	// Default DefaultDebounce.
	Debounce time.Duration
	// Timeout bounds each delivery attempt. Default DefaultTimeout.
	Timeout time.Duration
	// RetryBase is the wait before the first retry; it doubles with each
	// failed attempt up to RetryMax. Defaults DefaultRetryBase,
	// DefaultRetryMax.
	RetryBase, RetryMax time.Duration
	// MaxAge: an event still undelivered this long after it was queued is
	// abandoned. Default DefaultMaxAge.
	MaxAge time.Duration
	// Concurrency is how many documents' events are delivered at once.
	// Default DefaultConcurrency.
	Concurrency int
	// MaxInMemory: see DefaultMaxInMemory.
	MaxInMemory int
	// Client sends the requests. Default: a client with Timeout.
	Client *http.Client
	// Logger. Default slog.Default().
	Logger *slog.Logger
	// OnDelivered, when set, is called after each successful delivery with
	// the time from queueing to the receiver's 2xx (metrics).
	OnDelivered func(latency time.Duration)
	// OnFailed, when set, is called after each failed attempt (metrics).
	OnFailed func()
	// OnAbandoned, when set, is called for each event given up (metrics).
	OnAbandoned func()
}

// ValidateURL accepts absolute http and https URLs with a host.
func ValidateURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("webhook: invalid URL %q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("webhook: URL %q must be http:// or https://", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("webhook: URL %q has no host", raw)
	}
	return nil
}

// Sign returns the Cowrite-Signature header value for body at time t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by Verify.
var ErrBadSignature = errors.New("webhook: bad signature")

// Verify checks a Cowrite-Signature header against body: the HMAC must
// match and, when tolerance > 0, t must be within tolerance of now.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return fmt.Errorf("%w: header %q is not t=<unix>,v1=<hex>", ErrBadSignature, header)
	}
	if !hmac.Equal([]byte(sig), []byte(mac(secret, ts, body))) {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(t, 0)); tolerance > 0 && (d > tolerance || d < -tolerance) {
		return fmt.Errorf("%w: timestamp %d is outside the tolerance", ErrBadSignature, t)
	}
	return nil
}

// Stats are the Dispatcher's cumulative counters.
type Stats struct {
	Delivered uint64 // events delivered (2xx)
	Failed    uint64 // failed attempts (each retry counts)
	Abandoned uint64 // events given up after MaxAge
}

// Dispatcher delivers the outbox to Options.URL.
type Dispatcher struct {
	store Store
	opts  Options
	log   *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	delivered, failed, abandoned atomic.Uint64
}

// New returns a Dispatcher; call Start. It fails on a bad URL.
func New(store Store, opts Options) (*Dispatcher, error) {
	if err := ValidateURL(opts.URL); err != nil {
		return nil, err
	}
	o := opts
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Debounce, DefaultDebounce)
	def(&o.Timeout, DefaultTimeout)
	def(&o.RetryBase, DefaultRetryBase)
	def(&o.RetryMax, DefaultRetryMax)
	def(&o.MaxAge, DefaultMaxAge)
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.MaxInMemory <= 0 {
		o.MaxInMemory = DefaultMaxInMemory
	}
	if o.Client == nil {
		o.Client = &http.Client{Timeout: o.Timeout}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{store: store, opts: o, log: o.Logger.With("webhook", o.URL), ctx: ctx, cancel: cancel}, nil
}

// Stats returns the counters.
func (d *Dispatcher) Stats() Stats {
	return Stats{Delivered: d.delivered.Load(), Failed: d.failed.Load(), Abandoned: d.abandoned.Load()}
}

// Start starts delivering.
func (d *Dispatcher) Start() {
	d.wg.Add(1)
	go d.loop()
}

// Close stops delivering and waits for the goroutines. Idempotent.
func (d *Dispatcher) Close() {
	d.once.Do(d.cancel)
	d.wg.Wait()
}

type result struct {
	ev  storage.OutboxEvent
	err error // non-nil: not removed (Close, or the store failed): retried
}

// loop owns the lanes: per document, the events read and not yet done. It
// flushes due pending updates (a write) only when one can be due: at the
// time the last flush reported, Debounce after a commit notified it, and
// after a doc.updated was delivered (the document's next one may wait).
func (d *Dispatcher) loop() {
	defer d.wg.Done()
	lanes := map[string][]storage.OutboxEvent{}
	busy := map[string]bool{}
	inMem := 0
	var seen uint64
	done := make(chan result)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	backoff := time.Duration(0) // after a store error
	flushAt := time.Now()       // zero: no pending update is known to wait for time
	for {
		var err error
		if now := time.Now(); !flushAt.IsZero() && !now.Before(flushAt) {
			flushAt, err = d.store.OutboxFlush(d.ctx, now, d.opts.Debounce)
		}
		if err == nil && inMem < d.opts.MaxInMemory {
			var evs []storage.OutboxEvent
			evs, err = d.store.OutboxEvents(d.ctx, seen, d.opts.MaxInMemory-inMem)
			for _, ev := range evs {
				lanes[ev.Doc] = append(lanes[ev.Doc], ev)
				seen = ev.Seq
				inMem++
			}
		}
		if err != nil {
			if d.ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, d.opts.RetryBase), d.opts.RetryMax)
			d.log.Error("webhook outbox failed; retrying", "err", err, "in", backoff)
			flushAt = time.Now().Add(backoff)
		} else {
			backoff = 0
		}
		// Start the lanes whose head is oldest, up to Concurrency.
		for len(busy) < d.opts.Concurrency {
			var pick string
			var seq uint64
			for doc, q := range lanes {
				if !busy[doc] && len(q) > 0 && (pick == "" || q[0].Seq < seq) {
					pick, seq = doc, q[0].Seq
				}
			}
			if pick == "" {
				break
			}
			busy[pick] = true
			ev := lanes[pick][0]
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				r := result{ev: ev, err: d.deliver(ev)}
				select {
				case done <- r:
				case <-d.ctx.Done():
				}
			}()
		}
		if !flushAt.IsZero() {
			timer.Reset(max(time.Until(flushAt), 0))
		} else {
			timer.Reset(time.Hour)
		}
		select {
		case <-d.ctx.Done():
			return
		case <-d.store.OutboxNotify():
			if at := time.Now().Add(d.opts.Debounce); flushAt.IsZero() || flushAt.After(at) {
				flushAt = at
			}
		case <-timer.C:
		case r := <-done:
			doc := r.ev.Doc
			delete(busy, doc)
			if r.err == nil {
				inMem--
				if q := lanes[doc][1:]; len(q) == 0 {
					delete(lanes, doc)
				} else {
					lanes[doc] = q
				}
				if r.ev.Type == storage.EventDocUpdated {
					flushAt = time.Now()
				}
			}
		}
	}
}

// deliver sends ev until the receiver takes it or it is too old, then
// removes it from the outbox. A non-nil error means it was not removed
// (Close, or the store failed): the lane retries it later.
func (d *Dispatcher) deliver(ev storage.OutboxEvent) error {
	for attempt := 0; ; attempt++ {
		err := d.post(ev)
		if err == nil {
			d.delivered.Add(1)
			if d.opts.OnDelivered != nil {
				d.opts.OnDelivered(time.Since(ev.Time))
			}
			break
		}
		if d.ctx.Err() != nil {
			return d.ctx.Err()
		}
		d.failed.Add(1)
		if d.opts.OnFailed != nil {
			d.opts.OnFailed()
		}
		wait := d.opts.RetryBase << min(attempt, 30)
		if wait > d.opts.RetryMax || wait <= 0 {
			wait = d.opts.RetryMax
		}
		wait = time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
		if time.Since(ev.Time)+wait > d.opts.MaxAge {
			d.abandoned.Add(1)
			if d.opts.OnAbandoned != nil {
				d.opts.OnAbandoned()
			}
			d.log.Warn("webhook event abandoned", "id", ev.ID, "type", ev.Type, "doc", ev.Doc, "queued", ev.Time, "err", err)
			break
		}
		d.log.Info("webhook delivery failed; retrying", "id", ev.ID, "attempt", attempt+1, "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-d.ctx.Done():
			t.Stop()
			return d.ctx.Err()
		}
	}
	if err := d.store.OutboxAck(d.ctx, ev.Seq); err != nil {
		d.log.Error("webhook outbox ack failed; the event will be sent again", "id", ev.ID, "err", err)
		t := time.NewTimer(d.opts.RetryBase) // not in a tight loop while the store fails
		select {
		case <-t.C:
		case <-d.ctx.Done():
			t.Stop()
		}
		return err
	}
	return nil
}

// post makes one delivery attempt.
func (d *Dispatcher) post(ev storage.OutboxEvent) error {
	req, err := http.NewRequestWithContext(d.ctx, http.MethodPost, d.opts.URL, bytes.NewReader(ev.Body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "cowrite-webhook/1")
	req.Header.Set("Cowrite-Delivery", ev.ID)
	req.Header.Set("Cowrite-Event", ev.Type)
	req.Header.Set("Cowrite-Signature", Sign(d.opts.Secret, time.Now(), ev.Body))
	resp, err := d.opts.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("receiver answered %s", resp.Status)
	}
	return nil
}
