package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/gofiber/fiber/v2"
)

// Change feed limits and timings (GET /api/docs/{id}/events).
const (
	// DefaultEventsHeartbeat is how often an idle stream gets a comment line
	// (keeps proxies from closing it, and finds clients that went away).
	DefaultEventsHeartbeat = 15 * time.Second
	// DefaultMaxEventStreams caps the change-feed streams open at once;
	// one more gets 429 rate_limited.
	DefaultMaxEventStreams = 1000
	// eventsPage is how many ops one store read of a stream returns.
	eventsPage = 500
)

// Feed wraps the hub's Broadcaster and wakes the change-feed streams of a
// document when one of its ops is committed or it is deleted. Streams read
// the ops themselves from the store (Hub.Ops), so a wake-up carries no data
// and a slow stream never loses an op: it reads everything after the last
// version it sent. Create it with NewFeed, give it to collab.NewHub as the
// Broadcaster and to the API as Options.Feed, and Close it when shutdown
// starts (before the HTTP server's shutdown, which waits for open streams).
type Feed struct {
	collab.Broadcaster

	heartbeat time.Duration
	max       int64
	open      atomic.Int64 // streams open
	stop      chan struct{}
	once      sync.Once

	mu   sync.Mutex // guards subs
	subs map[string]map[*feedSub]struct{}
}

// FeedOptions configure NewFeed; nil means defaults.
type FeedOptions struct {
	// Heartbeat: default DefaultEventsHeartbeat.
	Heartbeat time.Duration
	// MaxStreams: default DefaultMaxEventStreams.
	MaxStreams int
}

type feedSub struct {
	wake    chan struct{} // capacity 1
	deleted atomic.Bool
}

// NewFeed returns a Feed that forwards everything to inner.
func NewFeed(inner collab.Broadcaster, opts *FeedOptions) *Feed {
	f := &Feed{Broadcaster: inner, heartbeat: DefaultEventsHeartbeat, max: DefaultMaxEventStreams,
		stop: make(chan struct{}), subs: map[string]map[*feedSub]struct{}{}}
	if opts != nil && opts.Heartbeat > 0 {
		f.heartbeat = opts.Heartbeat
	}
	if opts != nil && opts.MaxStreams > 0 {
		f.max = int64(opts.MaxStreams)
	}
	return f
}

// BroadcastOp forwards to the inner Broadcaster and wakes doc's streams.
func (f *Feed) BroadcastOp(doc string, except collab.SocketID, ev collab.OpEvent) {
	f.Broadcaster.BroadcastOp(doc, except, ev)
	f.notify(doc, false)
}

// DocDeleted forwards to the inner Broadcaster and ends doc's streams with
// a deleted event.
func (f *Feed) DocDeleted(doc string) {
	f.Broadcaster.DocDeleted(doc)
	f.notify(doc, true)
}

// Close ends every stream; later ones are refused. Idempotent. (DocMeta
// is the embedded Broadcaster's.)
func (f *Feed) Close() { f.once.Do(func() { close(f.stop) }) }

func (f *Feed) notify(doc string, deleted bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for s := range f.subs[doc] {
		if deleted {
			s.deleted.Store(true)
		}
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

func (f *Feed) subscribe(doc string) (*feedSub, error) {
	select {
	case <-f.stop:
		return nil, &collab.Error{Code: collab.CodeInternal, Message: "server is shutting down"}
	default:
	}
	if f.open.Add(1) > f.max {
		f.open.Add(-1)
		return nil, &collab.Error{Code: collab.CodeRateLimited, Message: fmt.Sprintf("too many change-feed streams open (at most %d)", f.max)}
	}
	s := &feedSub{wake: make(chan struct{}, 1)}
	f.mu.Lock()
	m := f.subs[doc]
	if m == nil {
		m = map[*feedSub]struct{}{}
		f.subs[doc] = m
	}
	m[s] = struct{}{}
	f.mu.Unlock()
	return s, nil
}

func (f *Feed) unsubscribe(doc string, s *feedSub) {
	f.mu.Lock()
	delete(f.subs[doc], s)
	if len(f.subs[doc]) == 0 {
		delete(f.subs, doc)
	}
	f.mu.Unlock()
	f.open.Add(-1)
}

// eventJSON is the data of an "op" event.
type eventJSON struct {
	Version uint64      `json:"version"`
	Op      ot.Op       `json:"op"`
	Client  string      `json:"client"`
	Author  *authorJSON `json:"author"` // null when unknown
	Time    time.Time   `json:"time"`
}

// eventsFrom returns the version the stream resumes after: Last-Event-ID,
// else ?from=, else ok=false (start at the head).
func eventsFrom(c *fiber.Ctx) (v uint64, ok bool, err error) {
	if h := strings.TrimSpace(c.Get("Last-Event-ID")); h != "" {
		v, err := strconv.ParseUint(h, 10, 64)
		if err != nil {
			return 0, false, badRequest(fmt.Sprintf("Last-Event-ID must be a document version (a non-negative integer), got %q", h))
		}
		return v, true, nil
	}
	return queryUint(c, "from")
}

// getEvents serves GET /api/docs/{id}/events: Server-Sent Events.
func (a *API) getEvents(c *fiber.Ctx) error {
	feed := a.opts.Feed
	if feed == nil {
		return a.fail(c, &collab.Error{Code: collab.CodeNotFound, Message: "the change feed is not enabled on this server"})
	}
	id, err := a.docParam(c, auth.Read)
	if err != nil {
		return a.fail(c, err)
	}
	from, resume, err := eventsFrom(c)
	if err != nil {
		return a.fail(c, err)
	}
	// Subscribe before reading: every op committed from now on wakes the
	// stream, and every op committed before is in the store.
	sub, err := feed.subscribe(id)
	if err != nil {
		return a.fail(c, err)
	}
	ctx, cancel := a.reqCtx(c)
	defer cancel()
	first, head, err := a.firstEvents(ctx, id, from, resume)
	if err != nil {
		feed.unsubscribe(id, sub)
		return a.fail(c, err)
	}
	if !resume {
		from = head
	}
	c.Set(fiber.HeaderContentType, "text/event-stream; charset=utf-8")
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set("X-Accel-Buffering", "no")
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		defer feed.unsubscribe(id, sub)
		a.stream(w, feed, sub, id, from, first)
	})
	return nil
}

// firstEvents checks the resume point against the document and reads the
// first page of ops after it.
func (a *API) firstEvents(ctx context.Context, id string, from uint64, resume bool) ([]collab.OpRecord, uint64, error) {
	info, _, err := a.hub.Get(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	if !resume || from == info.Version {
		return nil, info.Version, nil
	}
	if from > info.Version {
		return nil, 0, &collab.Error{Code: collab.CodeVersionAhead,
			Message: fmt.Sprintf("version %d is above the document's head %d", from, info.Version)}
	}
	recs, err := a.hub.Ops(ctx, id, from, 0, eventsPage)
	return recs, info.Version, err
}

// stream writes the events after version last until the client goes away,
// the document is deleted or the feed closes.
func (a *API) stream(w *bufio.Writer, feed *Feed, sub *feedSub, id string, last uint64, recs []collab.OpRecord) {
	tick := time.NewTicker(feed.heartbeat)
	defer tick.Stop()
	// The retry hint and a first comment, so clients see the stream open.
	if _, err := w.WriteString("retry: 2000\n: stream of " + id + "\n\n"); err != nil || w.Flush() != nil {
		return
	}
	for {
		for _, r := range recs {
			if r.Version <= last {
				continue
			}
			if r.Version != last+1 { // pruned meanwhile: the client must resync
				writeEvent(w, "error", 0, fmt.Appendf(nil, `{"code":%q,"message":"ops after version %d are no longer kept"}`, collab.CodeVersionTooOld, last))
				_ = w.Flush()
				return
			}
			data, _ := json.Marshal(eventJSON{Version: r.Version, Op: r.Op, Client: r.Client, Author: authorWire(r.Author), Time: r.Time})
			writeEvent(w, "op", r.Version, data)
			last = r.Version
		}
		if w.Flush() != nil {
			return
		}
		if len(recs) < eventsPage {
			select {
			case <-sub.wake:
			case <-tick.C:
				if _, err := w.WriteString(": ping\n\n"); err != nil || w.Flush() != nil {
					return
				}
				continue
			case <-feed.stop:
				return
			}
		}
		recs = nil
		if sub.deleted.Load() {
			writeDeleted(w, id)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), a.opts.RequestTimeout)
		var err error
		recs, err = a.hub.Ops(ctx, id, last, 0, eventsPage)
		cancel()
		if err != nil {
			if collab.CodeOf(err) == collab.CodeNotFound {
				writeDeleted(w, id)
				return
			}
			wire := toWire(err)
			if wire.Code == collab.CodeInternal {
				a.log.Error("change feed read failed", "doc", id, "err", err)
			}
			data, _ := json.Marshal(wire)
			writeEvent(w, "error", 0, data)
			_ = w.Flush()
			return
		}
	}
}

func writeDeleted(w *bufio.Writer, id string) {
	data, _ := json.Marshal(map[string]string{"doc": id})
	writeEvent(w, "deleted", 0, data)
	_ = w.Flush()
}

// writeEvent writes one SSE event; id 0 writes no id line. data is one
// line of JSON.
func writeEvent(w *bufio.Writer, event string, id uint64, data []byte) {
	if id > 0 {
		w.WriteString("id: ")
		w.WriteString(strconv.FormatUint(id, 10))
		w.WriteByte('\n')
	}
	w.WriteString("event: ")
	w.WriteString(event)
	w.WriteString("\ndata: ")
	w.Write(data)
	w.WriteString("\n\n")
}
