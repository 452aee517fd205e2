package main

// Cluster mode (SPEC.md section 7): the flags' checks and the start of a
// cluster.Node, with an embedded nats-server for --cluster-embedded.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/proxy"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/cowrite/cowrite/cluster"
	"github.com/cowrite/cowrite/cluster/natsd"
	"github.com/cowrite/cowrite/collab"
)

func (c *config) clusterMode() bool { return c.Cluster != "" || c.ClusterEmbedded }

func (c *config) validateCluster() []error {
	if !c.clusterMode() {
		return nil
	}
	var errs []error
	if c.ClusterReplicas < 1 || c.ClusterReplicas > 5 {
		errs = append(errs, errors.New("--cluster-replicas must be 1 to 5"))
	}
	if c.ClusterStreams < 1 || c.ClusterStreams > 64 {
		errs = append(errs, errors.New("--cluster-op-streams must be 1 to 64"))
	}
	if c.ClusterGrace < 0 {
		errs = append(errs, errors.New("--cluster-nats-grace must not be negative"))
	}
	if c.ClusterTimeout <= 0 {
		errs = append(errs, errors.New("--cluster-connect-timeout must be positive"))
	}
	switch c.ClusterSync {
	case "default", "durable", "strict":
	default:
		errs = append(errs, fmt.Errorf("--cluster-sync must be default, durable or strict, got %q", c.ClusterSync))
	}
	if c.ClusterPeers != "" && !c.ClusterEmbedded {
		errs = append(errs, errors.New("--cluster-peers needs --cluster-embedded"))
	}
	if c.Advertise != "" && !strings.HasPrefix(c.Advertise, "http://") && !strings.HasPrefix(c.Advertise, "https://") {
		errs = append(errs, fmt.Errorf("--advertise must be an http:// or https:// URL, got %q", c.Advertise))
	}
	return errs
}

// nodeID is --node-id, or the hostname made into a valid id.
func (c *config) nodeID() string {
	if c.NodeID != "" {
		return c.NodeID
	}
	h, _ := os.Hostname()
	var b strings.Builder
	for _, r := range h {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "cowrite"
	}
	return b.String()
}

// advertise is --advertise, or http://<host of --addr, else the hostname>:<port>.
func (c *config) advertise(addr net.Addr) string {
	if c.Advertise != "" {
		return strings.TrimRight(c.Advertise, "/")
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host, _ = os.Hostname()
	}
	return "http://" + net.JoinHostPort(host, port)
}

// clusterRuntime is what cluster mode started: the node, its NATS
// connection and the embedded server (when --cluster-embedded).
type clusterRuntime struct {
	node *cluster.Node
	nc   *nats.Conn
	srv  *server.Server
}

// close ends the NATS connection and the embedded server (after the node
// was closed).
func (r *clusterRuntime) close() {
	r.nc.Close()
	if r.srv != nil {
		r.srv.Shutdown()
		r.srv.WaitForShutdown()
	}
}

// startCluster starts the embedded server (if asked), connects to NATS and
// joins the cluster, retrying until --cluster-connect-timeout while NATS or
// JetStream is not there yet (a fresh cluster elects its leaders).
//
// onNATSLost runs when NATS stayed unreachable for --cluster-nats-grace
// (and again after each further grace while it stays so): it closes the
// Socket.IO sessions, so clients reconnect through the load balancer to a
// healthy node (this one's /readyz answers 503 meanwhile).
func startCluster(ctx context.Context, cfg *config, log *slog.Logger, addr net.Addr, local collab.Broadcaster, hubOpts *collab.Options, reg *prometheus.Registry, onNATSLost func()) (*clusterRuntime, error) {
	if cfg.ClusterGrace == 0 {
		onNATSLost = nil // --cluster-nats-grace 0: never
	}
	cm := newClusterMetrics(reg)
	id := cfg.nodeID()
	rt := &clusterRuntime{}
	ctx, cancel := context.WithTimeout(ctx, cfg.ClusterTimeout)
	defer cancel()
	var opts []nats.Option
	urls := cfg.Cluster
	if cfg.ClusterEmbedded {
		srv, err := startEmbedded(cfg, id)
		if err != nil {
			return nil, err
		}
		rt.srv = srv
		opts = append(opts, nats.InProcessServer(srv))
		log.Info("embedded nats-server started", "name", id, "routes", cfg.ClusterRoute, "peers", cfg.ClusterPeers)
	}
	opts = append(opts, nats.Name("cowrite "+id), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { log.Warn("NATS disconnected", "err", err) }),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("NATS reconnected", "url", nc.ConnectedUrl()) }))
	var err error
	for {
		rt.nc, err = nats.Connect(urls, opts...)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			rt.shutdownServer()
			return nil, fmt.Errorf("cannot reach NATS at %q within %v: %w", urls, cfg.ClusterTimeout, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	for {
		// One attempt may hang while JetStream has no leader: bound it.
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		rt.node, err = cluster.New(actx, rt.nc, local, &cluster.Options{
			NodeID: id, Advertise: cfg.advertise(addr), Replicas: cfg.ClusterReplicas, OpStreams: cfg.ClusterStreams,
			Hub: hubOpts, Logger: log, StoreObserver: cm, NATSGrace: cfg.ClusterGrace, OnNATSLost: onNATSLost,
		})
		acancel()
		if err == nil {
			break
		}
		if errors.Is(err, cluster.ErrDuplicateNode) || ctx.Err() != nil {
			rt.close()
			return nil, fmt.Errorf("cannot join the cluster as %q: %w", id, err)
		}
		log.Info("waiting for JetStream", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(500 * time.Millisecond):
		}
	}
	cm.node(reg, rt.node)
	log.Info("joined the cluster", "node", id, "advertise", cfg.advertise(addr), "members", len(rt.node.Members()))
	return rt, nil
}

func (r *clusterRuntime) shutdownServer() {
	if r.srv != nil {
		r.srv.Shutdown()
		r.srv.WaitForShutdown()
	}
}

// startEmbedded starts this node's nats-server: JetStream under
// <data>/nats, routes to --cluster-peers, clients only in-process and on
// 127.0.0.1 (a random port).
func startEmbedded(cfg *config, id string) (*server.Server, error) {
	host, port, err := net.SplitHostPort(cfg.ClusterRoute)
	if err != nil {
		return nil, fmt.Errorf("--cluster-route %q: %w", cfg.ClusterRoute, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, fmt.Errorf("--cluster-route %q: bad port", cfg.ClusterRoute)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	nc := natsd.Config{Name: id, StoreDir: filepath.Join(cfg.Data, "nats"), RouteHost: host}
	if cfg.ClusterPeers != "" {
		nc.ClusterPort = p
		for _, peer := range strings.Split(cfg.ClusterPeers, ",") {
			if peer = strings.TrimSpace(peer); peer != "" {
				nc.Routes = append(nc.Routes, "nats-route://"+peer)
			}
		}
	}
	switch cfg.ClusterSync {
	case "durable":
		nc.SyncInterval = time.Second
	case "strict":
		nc.SyncAlways = true
	}
	srv, err := natsd.Start(nc)
	if err != nil {
		return nil, fmt.Errorf("embedded nats-server: %w", err)
	}
	return srv, nil
}

// clusterMetrics are the cluster's series in the process's registry:
// fenced and ambiguous commits (jetstore.Observer), commit and load
// latency, forwarded calls, ownership moves and live members.
type clusterMetrics struct {
	fenced    prometheus.Counter
	ambiguous *prometheus.CounterVec
	commit    prometheus.Histogram
	load      prometheus.Histogram
}

func newClusterMetrics(reg *prometheus.Registry) *clusterMetrics {
	m := &clusterMetrics{
		fenced: prometheus.NewCounter(prometheus.CounterOpts{Name: "cowrite_cluster_fenced_commits_total",
			Help: "Commits refused because another node wrote the document (the node reloaded it)."}),
		ambiguous: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cowrite_cluster_ambiguous_commits_total",
			Help: "Commits whose outcome was unknown at first, by how they resolved (stored, not_stored, fenced)."}, []string{"resolved"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cowrite_cluster_commit_seconds",
			Help: "Time from publishing a batch to JetStream to its known outcome.", Buckets: prometheus.ExponentialBuckets(0.0002, 2, 16)}),
		load: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "cowrite_cluster_cold_load_seconds",
			Help: "Time to load a document from JetStream (snapshot and later messages).", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
	}
	if reg != nil {
		reg.MustRegister(m.fenced, m.ambiguous, m.commit, m.load)
	}
	return m
}

func (m *clusterMetrics) ObserveFenced()                { m.fenced.Inc() }
func (m *clusterMetrics) ObserveAmbiguous(res string)   { m.ambiguous.WithLabelValues(res).Inc() }
func (m *clusterMetrics) ObserveCommit(d time.Duration) { m.commit.Observe(d.Seconds()) }
func (m *clusterMetrics) ObserveLoad(d time.Duration)   { m.load.Observe(d.Seconds()) }

// node registers the node's own counters.
func (m *clusterMetrics) node(reg *prometheus.Registry, n *cluster.Node) {
	if reg == nil {
		return
	}
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cowrite_cluster_forwarded_total",
			Help: "Calls and ops this node sent to a document's owner on another node."}, func() float64 { return float64(n.Stats().Forwarded) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cowrite_cluster_ownership_moves_total",
			Help: "Sockets re-joined at a document's new owner after ownership moved."}, func() float64 { return float64(n.Stats().Moves) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cowrite_cluster_recovered_ops_total",
			Help: "Ops whose broadcast to this node was lost, read from the op stream instead."}, func() float64 { return float64(n.Stats().Recovered) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "cowrite_cluster_nats_lost_total",
			Help: "Times NATS stayed unreachable past --cluster-nats-grace (this node's Socket.IO sessions were closed)."}, func() float64 { return float64(n.Stats().NATSLost) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cowrite_cluster_members",
			Help: "Live members of the cluster as this node sees them."}, func() float64 { return float64(len(n.Members())) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "cowrite_cluster_active_members",
			Help: "Members that take documents, as this node sees them (joining and draining ones do not)."}, func() float64 { return float64(n.ActiveMembers()) }),
	)
}

// hopHeader marks a request forwarded to the node of its Engine.IO session
// (it is never forwarded again).
const hopHeader = "X-Cw-Hop"

// sidPrefix is the Engine.IO session id prefix: "<node id>." in cluster
// mode (see forwardSessions), none otherwise.
func (c *config) sidPrefix() string {
	if !c.clusterMode() {
		return ""
	}
	return c.nodeID() + "."
}

// forwardSessions sends an Engine.IO request whose sid names another node
// to that node — a polling request through a reverse proxy, a WebSocket
// upgrade by piping the connection — so that no sticky load balancing is
// needed. An sid of a node that is not live gets the engine's answer to an
// unknown session.
func (r *clusterRuntime) forwardSessions(c *fiber.Ctx) error {
	sid := c.Query("sid")
	if sid == "" || len(c.Request().Header.Peek(hopHeader)) > 0 {
		return c.Next()
	}
	tag, _, ok := strings.Cut(sid, ".")
	if !ok || tag == r.node.ID() {
		return c.Next()
	}
	m, live := r.node.Member(tag)
	if !live || !strings.HasPrefix(m.Advertise, "http://") {
		c.Status(fiber.StatusBadRequest).Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
		return c.SendString(`{"code":1,"message":"Session ID unknown"}`)
	}
	c.Request().Header.Set(hopHeader, r.node.ID())
	if strings.EqualFold(c.Get(fiber.HeaderUpgrade), "websocket") {
		return pipeWebSocket(c, strings.TrimPrefix(m.Advertise, "http://"))
	}
	// Forward the request as it came: fasthttp would otherwise add an
	// application/octet-stream type to a body without one (binary to the
	// engine).
	c.Request().Header.SetNoDefaultContentType(true)
	return proxy.Do(c, m.Advertise+c.OriginalURL())
}

// pipeWebSocket hands the client's connection over to the node at host:
// the upgrade request is replayed there and bytes are copied both ways
// until either side closes.
func pipeWebSocket(c *fiber.Ctx, host string) error {
	hdr := append([]byte(nil), c.Request().Header.Header()...)
	c.Context().HijackSetNoResponse(true)
	c.Context().Hijack(func(conn net.Conn) {
		up, err := net.DialTimeout("tcp", host, 5*time.Second)
		if err != nil {
			_, _ = conn.Write([]byte("HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			return
		}
		defer up.Close()
		if _, err := up.Write(hdr); err != nil {
			return
		}
		go func() {
			_, _ = io.Copy(up, conn)
			_ = up.Close()
		}()
		_, _ = io.Copy(conn, up)
		_ = conn.Close()
	})
	return nil
}
