// Package metrics holds Cowrite's Prometheus metrics and serves them in the
// Prometheus text format (GET /metrics).
//
// # Model
//
// [New] builds a [Metrics] with its own registry (never the global one), so
// tests and several servers in one process do not collide. The registry also
// carries the Go runtime and process collectors. Packages record events by
// calling typed methods (SessionOpened, ObserveCommit, Error, …) on a
// *Metrics they are handed; there are no package-level variables.
//
// Every method is safe on a nil *Metrics and then does nothing, so a
// package can take an optional *metrics.Metrics without checks.
//
// Series (all prefixed "cowrite_"):
//
//	sessions{transport}              gauge     Engine.IO sessions by transport (polling, websocket)
//	sockets                          gauge     Socket.IO sockets connected
//	rooms                            gauge     Socket.IO rooms (documents with live collaborators)
//	documents_loaded                 gauge     documents held in memory by the engine
//	ops_committed_total              counter   ops durably committed
//	commit_batch_ops                 histogram ops per group commit (one fsync)
//	commit_duration_seconds          histogram time of one group commit, fsync included
//	transform_depth                  histogram committed ops an incoming op was transformed against
//	broadcast_fanout                 histogram recipients of one broadcast
//	slow_consumer_disconnects_total  counter   connections closed because their queue was full
//	errors_total{code}               counter   errors returned to clients, by SPEC code
//	http_requests_total{route,method,status}        counter
//	http_request_duration_seconds{route,method}     histogram
//
// Other packages register their own series next to these in run.go (for
// example engine_queued_bytes, the bytes queued for all Engine.IO sessions,
// storage_journal_bytes, the data file's journal, and the webhook outbox
// gauges).
//
// Label values are bounded: unknown transports, error codes and HTTP methods
// are recorded as "other", and HTTP routes are the matched route pattern
// (never the raw path), or "unmatched".
//
// # Concurrency
//
// All methods are safe for concurrent use and cheap (atomic adds, no
// allocation on the hot paths), so call them inline.
package metrics

import (
	"math"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "cowrite"

// Transports known to the sessions gauge.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
)

// Metrics is the set of Cowrite metrics. Create it with New; a nil
// *Metrics is a valid no-op.
type Metrics struct {
	reg *prometheus.Registry

	sessions      *prometheus.GaugeVec
	sessionsByT   map[string]prometheus.Gauge // pre-resolved children, read-only after New
	sockets       level
	rooms         level
	docsLoaded    level
	opsCommitted  prometheus.Counter
	commitBatch   prometheus.Histogram
	commitLatency prometheus.Histogram
	transform     prometheus.Histogram
	fanout        prometheus.Histogram
	slowConsumers prometheus.Counter
	errors        *prometheus.CounterVec
	errorsByCode  map[string]prometheus.Counter // pre-resolved children, read-only after New
	httpRequests  *prometheus.CounterVec
	httpDuration  *prometheus.HistogramVec
}

// New returns a Metrics with its own registry holding every Cowrite series
// plus the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	m.sessions = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace, Name: "sessions",
		Help: "Engine.IO sessions open, by current transport.",
	}, []string{"transport"})
	m.sessionsByT = map[string]prometheus.Gauge{}
	for _, t := range []string{TransportPolling, TransportWebSocket, "other"} {
		m.sessionsByT[t] = m.sessions.WithLabelValues(t)
	}

	m.opsCommitted = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "ops_committed_total",
		Help: "Operations durably committed.",
	})
	m.commitBatch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "commit_batch_ops",
		Help:    "Operations per group commit (one fsync).",
		Buckets: prometheus.ExponentialBuckets(1, 2, 12), // 1 … 2048
	})
	m.commitLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "commit_duration_seconds",
		Help:    "Duration of one group commit, fsync included.",
		Buckets: prometheus.ExponentialBuckets(0.0002, 2, 15), // 0.2ms … 3.3s
	})
	m.transform = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "transform_depth",
		Help:    "Committed operations an incoming operation was transformed against.",
		Buckets: append([]float64{0}, prometheus.ExponentialBuckets(1, 2, 11)...), // 0, 1 … 1024
	})
	m.fanout = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: namespace, Name: "broadcast_fanout",
		Help:    "Recipients of one broadcast.",
		Buckets: append([]float64{0}, prometheus.ExponentialBuckets(1, 2, 11)...),
	})
	m.slowConsumers = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "slow_consumer_disconnects_total",
		Help: "Connections closed because their outbound queue was full.",
	})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "errors_total",
		Help: "Errors returned to clients, by error code.",
	}, []string{"code"})
	m.errorsByCode = map[string]prometheus.Counter{}
	// The SPEC.md error codes (collab owns the list); others count as "other".
	for _, c := range append(collab.Codes(), "other") {
		m.errorsByCode[string(c)] = m.errors.WithLabelValues(string(c))
	}
	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_total",
		Help: "HTTP requests served, by route pattern, method and status.",
	}, []string{"route", "method", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds",
		Help:    "HTTP request duration (long-polling requests included), by route pattern and method.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10), // 0.5ms … 131s
	}, []string{"route", "method"})

	m.reg.MustRegister(
		m.sessions, m.opsCommitted, m.commitBatch, m.commitLatency, m.transform,
		m.fanout, m.slowConsumers, m.errors, m.httpRequests, m.httpDuration,
		m.sockets.gaugeFunc("sockets", "Socket.IO sockets connected."),
		m.rooms.gaugeFunc("rooms", "Socket.IO rooms with at least one member."),
		m.docsLoaded.gaugeFunc("documents_loaded", "Documents held in memory by the engine."),
	)
	return m
}

// Registry returns the registry, for registering more collectors. It is
// nil for a nil *Metrics.
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the registry in the Prometheus exposition formats. For a
// nil *Metrics it answers 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:      m.reg, // counts its own scrape errors
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// SessionOpened counts an Engine.IO session opened on transport
// (TransportPolling or TransportWebSocket).
func (m *Metrics) SessionOpened(transport string) {
	if m != nil {
		m.session(transport).Inc()
	}
}

// SessionClosed counts an Engine.IO session closed while on transport.
func (m *Metrics) SessionClosed(transport string) {
	if m != nil {
		m.session(transport).Dec()
	}
}

// SessionUpgraded moves a session from one transport to another.
func (m *Metrics) SessionUpgraded(from, to string) {
	if m != nil {
		m.session(from).Dec()
		m.session(to).Inc()
	}
}

func (m *Metrics) session(transport string) prometheus.Gauge {
	if g, ok := m.sessionsByT[transport]; ok {
		return g
	}
	return m.sessionsByT["other"]
}

// SocketConnected counts a Socket.IO socket connected.
func (m *Metrics) SocketConnected() {
	if m != nil {
		m.sockets.add(1)
	}
}

// SocketDisconnected counts a Socket.IO socket disconnected.
func (m *Metrics) SocketDisconnected() {
	if m != nil {
		m.sockets.add(-1)
	}
}

// AddRooms adds delta (±1) to the rooms gauge.
func (m *Metrics) AddRooms(delta int) {
	if m != nil {
		m.rooms.add(int64(delta))
	}
}

// AddLoadedDocs adds delta (±1) to the loaded-documents gauge.
func (m *Metrics) AddLoadedDocs(delta int) {
	if m != nil {
		m.docsLoaded.add(int64(delta))
	}
}

// SampleSockets makes the sockets gauge read f at scrape time instead of
// the SocketConnected/SocketDisconnected count. f must be fast and safe for
// concurrent use; nil restores the count.
func (m *Metrics) SampleSockets(f func() int) {
	if m != nil {
		m.sockets.sample(f)
	}
}

// SampleRooms makes the rooms gauge read f at scrape time (see SampleSockets).
func (m *Metrics) SampleRooms(f func() int) {
	if m != nil {
		m.rooms.sample(f)
	}
}

// SampleLoadedDocs makes the loaded-documents gauge read f at scrape time,
// for example the engine's count of loaded documents (see SampleSockets).
func (m *Metrics) SampleLoadedDocs(f func() int) {
	if m != nil {
		m.docsLoaded.sample(f)
	}
}

// ObserveCommit records one group commit of ops operations that took d
// (fsync included), and adds ops to the committed-ops counter.
func (m *Metrics) ObserveCommit(ops int, d time.Duration) {
	if m == nil || ops < 0 {
		return
	}
	m.opsCommitted.Add(float64(ops))
	m.commitBatch.Observe(float64(ops))
	m.commitLatency.Observe(d.Seconds())
}

// ObserveTransform records that an incoming op was transformed against
// depth committed ops (0 when it was based on head).
func (m *Metrics) ObserveTransform(depth int) {
	if m != nil && depth >= 0 {
		m.transform.Observe(float64(depth))
	}
}

// ObserveBroadcast records a broadcast delivered to recipients sockets.
func (m *Metrics) ObserveBroadcast(recipients int) {
	if m != nil && recipients >= 0 {
		m.fanout.Observe(float64(recipients))
	}
}

// SlowConsumerDisconnected counts a connection closed because its outbound
// queue was full.
func (m *Metrics) SlowConsumerDisconnected() {
	if m != nil {
		m.slowConsumers.Inc()
	}
}

// Error counts an error returned to a client, by its SPEC code
// ("invalid_op", "forbidden", …); unknown codes count as "other".
func (m *Metrics) Error(code string) {
	if m == nil {
		return
	}
	if c, ok := m.errorsByCode[code]; ok {
		c.Inc()
		return
	}
	m.errorsByCode["other"].Inc()
}

// level is a gauge kept as an atomic count, or read from a sampling
// function when one is set.
type level struct {
	n  atomic.Int64
	fn atomic.Pointer[func() int]
}

func (l *level) add(d int64) { l.n.Add(d) }

func (l *level) sample(f func() int) {
	if f == nil {
		l.fn.Store(nil)
		return
	}
	l.fn.Store(&f)
}

func (l *level) value() float64 {
	if f := l.fn.Load(); f != nil {
		return float64((*f)())
	}
	return math.Max(0, float64(l.n.Load()))
}

func (l *level) gaugeFunc(name, help string) prometheus.GaugeFunc {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: namespace, Name: name, Help: help}, l.value)
}
