package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cowrite/cowrite/collab/ot"
)

// collabStats are shared by every editor of a run.
type collabStats struct {
	t0        time.Time
	measuring atomic.Bool
	running   atomic.Bool
	committed atomic.Int64 // acks while measuring
	bcasts    atomic.Int64 // remote ops received while measuring
	ack       hist
	bcast     hist
	lag       hist         // open loop: arrival → submission (an op waits while one is in flight)
	openLoop  bool         // ops are submitted on arrivals (arrive), not one after another
	dropped   atomic.Int64 // open loop: arrivals dropped (an editor had 1,024 waiting)
	errors    atomic.Int64
	lastErr   atomic.Value // string
	firstErr  atomic.Value // string: the first failure, kept when later ones (non-convergence) follow
	p         *progress
}

func (st *collabStats) fail(format string, args ...any) {
	st.errors.Add(1)
	st.p.errors.Add(1)
	msg := fmt.Sprintf(format, args...)
	st.firstErr.CompareAndSwap(nil, msg)
	st.lastErr.Store(msg)
}

// editor is one closed-loop collaborator: at most one op in flight; remote
// ops and the ack are applied in version order (they may arrive out of
// order across the reorder buffer), with the pending op transformed
// against remote ops (Left) and remote ops against it (Right), as a
// ShareDB client does. Versions are Cowrite's: an op's version is the
// document version right after it.
type editor struct {
	st     *collabStats
	maxLen int
	// submit sends op (JSON) based on version ver with sequence seq.
	submit func(ver, seq uint64, op []byte) error

	mu       sync.Mutex // guards the fields below
	joined   bool
	failed   bool
	doc      *text
	ver      uint64
	inflight ot.Op
	sentAt   time.Time
	ackVer   uint64
	buf      map[uint64]ot.Op
	seq      uint64
	rng      *rand.Rand
	opbuf    []byte
	// Open loop: arrival times of ops not yet submitted (at most one op is
	// in flight, as in a ShareDB or Cowrite client, so arrivals during an
	// op's round trip wait for its ack).
	arrivals []time.Time
}

func newEditor(st *collabStats, seed uint64, maxLen int) *editor {
	return &editor{st: st, maxLen: maxLen, buf: make(map[uint64]ot.Op), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// joinedAt installs the joined state (content at version).
func (e *editor) joinedAt(ver uint64, content string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.doc = newText(content)
	e.ver = ver
	for v := range e.buf {
		if v <= ver {
			delete(e.buf, v)
		}
	}
	e.joined = true
	e.process()
}

// remote takes a committed op of another client. An op seen before is
// dropped and not counted as a broadcast: ShareDB sends a submitter the ops
// its op was transformed against, which its subscription delivers as well
// (its clients drop the second copy by version, as this does).
func (e *editor) remote(ver uint64, op ot.Op) {
	now := time.Since(e.st.t0)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.joined && ver <= e.ver {
		return
	}
	if _, dup := e.buf[ver]; dup {
		return
	}
	if e.st.measuring.Load() {
		for _, c := range op {
			if c.Insert != "" {
				if ts, err := strconv.ParseInt(c.Insert[:len(c.Insert)-1], 36, 64); err == nil {
					e.st.bcast.record(now - time.Duration(ts))
					e.st.bcasts.Add(1)
				}
				break
			}
		}
	}
	e.buf[ver] = op
	e.process()
}

// acked takes the ack of the op in flight.
func (e *editor) acked(ver uint64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inflight == nil || e.ackVer != 0 {
		e.failLocked("unexpected ack (version %d)", ver)
		return
	}
	if e.st.measuring.Load() {
		e.st.ack.record(time.Since(e.sentAt))
		e.st.committed.Add(1)
	}
	e.st.p.ops.Add(1)
	e.ackVer = ver
	e.process()
}

func (e *editor) fail(format string, args ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.failLocked(format, args...)
}

func (e *editor) failLocked(format string, args ...any) {
	if !e.failed {
		e.failed = true
		e.st.fail(format, args...)
	}
}

// process applies whatever is next in version order, then submits a new op
// when none is in flight. Callers hold mu.
func (e *editor) process() {
	if !e.joined || e.failed {
		return
	}
	for {
		next := e.ver + 1
		if e.inflight != nil && e.ackVer == next {
			e.inflight, e.ackVer, e.ver = nil, 0, next
			continue
		}
		op, ok := e.buf[next]
		if !ok {
			break
		}
		delete(e.buf, next)
		if e.inflight != nil {
			op2, err := ot.Transform(op, e.inflight, ot.Right)
			if err != nil {
				e.failLocked("transform: %v", err)
				return
			}
			pend, err := ot.Transform(e.inflight, op, ot.Left)
			if err != nil {
				e.failLocked("transform: %v", err)
				return
			}
			op, e.inflight = op2, pend
		}
		if err := e.doc.Apply(op); err != nil {
			e.failLocked("apply remote op v%d: %v", next, err)
			return
		}
		e.ver = next
	}
	if e.inflight != nil || !e.st.running.Load() {
		return
	}
	if !e.st.openLoop {
		e.next()
		return
	}
	if len(e.arrivals) > 0 {
		at := e.arrivals[0]
		e.arrivals = e.arrivals[1:]
		if e.st.measuring.Load() {
			e.st.lag.record(time.Since(at))
		}
		e.next()
	}
}

// arrive takes one open-loop arrival (scheduled at at).
func (e *editor) arrive(at time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.arrivals) < 1024 {
		e.arrivals = append(e.arrivals, at)
	} else {
		e.st.dropped.Add(1)
	}
	e.process()
}

// next generates one op (an insert carrying a timestamp, plus a delete when
// the document is over maxLen), applies it locally and submits it.
func (e *editor) next() {
	n := e.doc.Len()
	var ts [16]byte
	ins := string(append(strconv.AppendInt(ts[:0], int64(time.Since(e.st.t0)), 36), ';'))
	var op ot.Op
	b := append(e.opbuf[:0], '[')
	if n > e.maxLen && n > 16 {
		p := e.rng.IntN(n - 16)
		if p > 0 {
			op = append(op, ot.Retain(p))
			b = append(strconv.AppendInt(b, int64(p), 10), ',')
		}
		op = append(op, ot.Ins(ins), ot.Del(8))
		b = append(appendJSONString(b, ins), `,{"d":8}`...)
	} else {
		p := e.rng.IntN(n + 1)
		if p > 0 {
			op = append(op, ot.Retain(p))
			b = append(strconv.AppendInt(b, int64(p), 10), ',')
		}
		op = append(op, ot.Ins(ins))
		b = appendJSONString(b, ins)
	}
	b = append(b, ']')
	e.opbuf = b
	if err := e.doc.Apply(op); err != nil {
		e.failLocked("apply own op: %v", err)
		return
	}
	e.inflight = op
	e.seq++
	e.sentAt = time.Now()
	if err := e.submit(e.ver, e.seq, b); err != nil {
		e.failLocked("submit: %v", err)
	}
}

// kick starts an editor's loop (after running was set).
func (e *editor) kick() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.process()
}

// state returns the editor's version, whether it is settled (nothing in
// flight or buffered) and its text.
func (e *editor) state() (uint64, bool, string, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.doc == nil {
		return e.ver, false, "", e.failed
	}
	return e.ver, e.inflight == nil && len(e.buf) == 0, e.doc.String(), e.failed
}

// room is the editors of one document and how to close their connections.
type room struct {
	doc     string
	editors []*editor
}

// session is a set of rooms over one protocol.
type session struct {
	st     *collabStats
	rooms  []*room
	closes []func()
}

func (s *session) close() {
	for _, c := range s.closes {
		c()
	}
}

// openSession connects docs×editors editors and joins them (documents
// named prefix-0 …), over proto.
// afterDial (cowrite only; nil for none) runs once every connection is up,
// before the joins.
func openSession(ctx context.Context, cfg *config, st *collabStats, proto string, docs []string, editors, maxLen int, content string, afterDial func()) (*session, error) {
	s := &session{st: st}
	for d, name := range docs {
		r := &room{doc: name}
		for i := 0; i < editors; i++ {
			r.editors = append(r.editors, newEditor(st, uint64(d*100000+i+1), maxLen))
		}
		s.rooms = append(s.rooms, r)
	}
	var err error
	switch proto {
	case "cowrite":
		err = s.connectCowrite(ctx, cfg.url, afterDial)
	case "sharedb":
		err = s.connectShareDB(ctx, cfg.url, content)
	default:
		err = fmt.Errorf("unknown -proto %q (cowrite, sharedb)", proto)
	}
	if err != nil {
		s.close()
		return nil, err
	}
	// Wait until every editor has joined.
	deadline := time.Now().Add(30*time.Second + time.Duration(len(docs)*editors)*5*time.Millisecond)
	for _, r := range s.rooms {
		for _, e := range r.editors {
			for {
				e.mu.Lock()
				ok, failed := e.joined, e.failed
				e.mu.Unlock()
				if failed {
					s.close()
					return nil, fmt.Errorf("join %s: %v", r.doc, st.lastErr.Load())
				}
				if ok {
					break
				}
				if time.Now().After(deadline) {
					s.close()
					return nil, fmt.Errorf("join %s: no reply in time", r.doc)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
	}
	return s, nil
}

func (s *session) start() {
	s.st.running.Store(true)
	for _, r := range s.rooms {
		for _, e := range r.editors {
			e.kick()
		}
	}
}

// stop ends submissions and checks convergence: every editor of a document
// settles at the same version with the same text. It returns the number of
// documents that did not converge.
func (s *session) stop(wait time.Duration) (bad int, maxVer uint64) {
	s.st.running.Store(false)
	deadline := time.Now().Add(wait)
	for _, r := range s.rooms {
		for {
			var vers []uint64
			settled := true
			texts := map[string]bool{}
			anyFailed := false
			for _, e := range r.editors {
				v, ok, text, failed := e.state()
				if failed {
					anyFailed = true
					continue
				}
				vers = append(vers, v)
				settled = settled && ok
				texts[text] = true
			}
			same := len(vers) > 0
			for _, v := range vers {
				same = same && v == vers[0]
				maxVer = max(maxVer, v)
			}
			if settled && same && len(texts) == 1 && !anyFailed {
				break
			}
			if time.Now().After(deadline) {
				bad++
				s.st.fail("document %s did not converge within %v (versions %v, %d distinct texts, ops still in flight or buffered: %v, failed editors: %v)", r.doc, wait, vers, len(texts), !settled, anyFailed)
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return bad, maxVer
}

// --- Cowrite over Socket.IO ---

type sioAck struct {
	OK      bool            `json:"ok"`
	Version uint64          `json:"version"`
	Content *string         `json:"content"`
	Ops     json.RawMessage `json:"ops"`
	Error   *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// parseAck decodes the one-element ack array of a Cowrite event.
func parseAck(b []byte) (*sioAck, error) {
	var a [1]sioAck
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("ack %.80q: %w", b, err)
	}
	if !a[0].OK {
		if a[0].Error != nil {
			return &a[0], fmt.Errorf("%s: %s", a[0].Error.Code, a[0].Error.Message)
		}
		return &a[0], fmt.Errorf("ack not ok: %.80q", b)
	}
	return &a[0], nil
}

var docOpEvent = []byte(`["doc:op",`)

type opEvent struct {
	Version uint64          `json:"version"`
	Op      json.RawMessage `json:"op"`
}

// connectCowrite connects every editor (in parallel, connectMany), calls
// afterDial (nil for none) once all are connected, then joins them.
func (s *session) connectCowrite(ctx context.Context, base string, afterDial func()) error {
	type slot struct {
		e                   *editor
		docJSON, clientJSON []byte
		c                   *sioConn
	}
	var slots []*slot
	for _, r := range s.rooms {
		for i, e := range r.editors {
			slots = append(slots, &slot{e: e, docJSON: appendJSONString(nil, r.doc), clientJSON: appendJSONString(nil, fmt.Sprintf("%s-e%d", r.doc, i))})
		}
	}
	conns, err := connectMany(ctx, base, len(slots), func(i int, c *sioConn) {
		sl := slots[i]
		sl.c = c
		e, docJSON, clientJSON := sl.e, sl.docJSON, sl.clientJSON
		c.onAck = func(id uint64, b []byte) {
			if id > 1 {
				if v, ok := fastOpAck(b); ok {
					e.acked(v)
					return
				}
			}
			a, err := parseAck(b)
			if err != nil {
				e.fail("%s: %v", map[bool]string{true: "doc:join", false: "doc:op"}[id == 1], err)
				return
			}
			if id == 1 {
				if a.Content == nil {
					e.fail("doc:join ack without content")
					return
				}
				e.joinedAt(a.Version, *a.Content)
				return
			}
			e.acked(a.Version)
		}
		c.onEvent = func(b []byte) {
			if len(b) < len(docOpEvent)+1 || string(b[:len(docOpEvent)]) != string(docOpEvent) {
				return
			}
			var ev opEvent
			b = b[len(docOpEvent) : len(b)-1]
			if v, ok := fieldInt(b, `"version":`); ok && v > 0 {
				if raw, ok := fieldArray(b, `"op":`); ok {
					ev.Version, ev.Op = uint64(v), raw
				}
			}
			if ev.Op == nil {
				if err := json.Unmarshal(b, &ev); err != nil {
					e.fail("doc:op event: %v", err)
					return
				}
			}
			op, err := ot.Parse(ev.Op)
			if err != nil {
				e.fail("doc:op event op: %v", err)
				return
			}
			e.remote(ev.Version, op)
		}
		e.submit = func(ver, seq uint64, op []byte) error {
			return c.emit(seq+1, func(b []byte) []byte {
				b = append(b, `["doc:op",{"doc":`...)
				b = append(b, docJSON...)
				b = append(b, `,"version":`...)
				b = strconv.AppendUint(b, ver, 10)
				b = append(b, `,"op":`...)
				b = append(b, op...)
				b = append(b, `,"client":`...)
				b = append(b, clientJSON...)
				b = append(b, `,"seq":`...)
				b = strconv.AppendUint(b, seq, 10)
				return append(b, `}]`...)
			})
		}
	})
	if err != nil {
		return err
	}
	for _, c := range conns {
		s.closes = append(s.closes, c.close)
	}
	if afterDial != nil {
		afterDial()
	}
	for _, sl := range slots {
		docJSON := sl.docJSON
		if err := sl.c.emit(1, func(b []byte) []byte {
			b = append(b, `["doc:join",{"doc":`...)
			b = append(b, docJSON...)
			return append(b, `}]`...)
		}); err != nil {
			return err
		}
	}
	return nil
}

// runCollab: D documents × E editors, closed loop, for cfg.duration.
func runCollab(ctx context.Context, cfg *config, res *Result, p *progress) error {
	res.Docs, res.Editors = cfg.docs, cfg.editors
	st := &collabStats{t0: time.Now(), p: p, openLoop: cfg.rate > 0}
	runID := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	docs := make([]string, cfg.docs)
	for i := range docs {
		docs[i] = fmt.Sprintf("bench-%s-%d", runID, i)
	}
	s, err := openSession(ctx, cfg, st, cfg.proto, docs, cfg.editors, cfg.docLen, "", nil)
	if err != nil {
		return err
	}
	defer s.close()
	s.start()
	if cfg.rate > 0 {
		res.OfferedRate, res.Arrivals = cfg.rate, cfg.arrivals
		defer s.offer(ctx, cfg.rate, cfg.arrivals == "uniform")()
	}
	select {
	case <-time.After(min(cfg.duration/10, time.Second)):
	case <-ctx.Done():
	}
	var commits0 *commitMetrics
	if cfg.proto == "cowrite" && !strings.Contains(cfg.url, ",") { // one node: its commit histogram
		commits0 = scrapeCommits(cfg.url)
	}
	st.window(ctx, cfg, res)
	if commits0 != nil {
		res.CommitP50, res.CommitP99, res.CommitOps, _ = scrapeCommits(cfg.url).since(commits0)
	}
	bad, _ := s.stop(5 * time.Second)
	st.fill(res, bad)
	return nil
}

// offer starts the open-loop arrivals over every editor of the session;
// the returned func stops them.
func (s *session) offer(ctx context.Context, rate float64, uniform bool) (stop func()) {
	octx, cancel := context.WithCancel(ctx)
	var all []*editor
	for _, r := range s.rooms {
		all = append(all, r.editors...)
	}
	go offer(octx, all, rate, uniform)
	return cancel
}

// window is the measured window: server CPU and RSS before and after
// cfg.duration with measuring on; res.Ops is the acks within it.
func (st *collabStats) window(ctx context.Context, cfg *config, res *Result) {
	m := startMeasure(cfg.serverPID)
	if cfg.serverPID > 0 {
		res.RSSBeforeKiB, _ = procRSS(cfg.serverPID)
	}
	st.measuring.Store(true)
	select {
	case <-time.After(cfg.duration):
	case <-ctx.Done():
	}
	st.measuring.Store(false)
	res.Ops = st.committed.Load()
	m.finish(res)
	if cfg.serverPID > 0 {
		res.RSSAfterKiB, _ = procRSS(cfg.serverPID)
	}
}

// fill records the latencies, histograms, errors and notes of a run whose
// convergence check found bad documents diverging.
func (st *collabStats) fill(res *Result, bad int) {
	res.P50Ms, res.P99Ms, res.MaxMs = st.ack.quantile(0.5), st.ack.quantile(0.99), st.ack.maxMs()
	res.P999Ms = st.ack.quantile(0.999)
	res.BcastP50, res.BcastP99 = st.bcast.quantile(0.5), st.bcast.quantile(0.99)
	res.BcastP999 = st.bcast.quantile(0.999)
	res.AckHist, res.BcastHist = st.ack.buckets(), st.bcast.buckets()
	if st.openLoop {
		res.SendLagP99 = st.lag.quantile(0.99)
		if d := st.dropped.Load(); d > 0 {
			res.Note = fmt.Sprintf("%d arrivals dropped (an editor had 1,024 waiting): the server did not keep up; ", d)
		}
	}
	res.Broadcast = st.bcasts.Load()
	res.Errors = st.errors.Load()
	if res.Ops == 0 {
		res.Errors++
	}
	if msg, ok := st.lastErr.Load().(string); ok {
		res.Note += msg
		if first, _ := st.firstErr.Load().(string); first != msg {
			res.Note += "; first error: " + first
		}
	}
	if bad > 0 {
		res.Note = fmt.Sprintf("%d documents did not converge; %s", bad, res.Note)
	}
}
