// Package natsd runs a nats-server with JetStream inside the process: the
// embedded mode of a Cowrite cluster (--cluster-embedded) and the servers of
// the cluster tests.
//
// Start starts one server; StartCluster starts n servers on 127.0.0.1 with
// random ports that form one JetStream cluster (every server routes to
// all) and waits until JetStream has a meta leader. Servers are
// real nats-server instances (github.com/nats-io/nats-server/v2) writing
// their streams under the directory given; stop them with Shutdown.
package natsd

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// DefaultMaxPayload is the largest message the servers started here accept:
// 8 MiB (nats-server's own default is 1 MiB), so that a batch of large ops
// or a large snapshot fits in one message.
const DefaultMaxPayload = 8 << 20

// DefaultReadyTimeout bounds how long Start waits for a server to accept
// connections and StartCluster for JetStream to elect a meta leader.
const DefaultReadyTimeout = 30 * time.Second

// Config describes one server. Zero fields take defaults.
type Config struct {
	// Name is the server's name (unique in the cluster). Default "n1".
	Name string
	// Host to listen on for clients (and routes unless RouteHost is set).
	// Default 127.0.0.1.
	Host string
	// RouteHost to listen on for routes; default Host.
	RouteHost string
	// Port for clients; -1 (or 0) picks a random free port.
	Port int
	// ClusterName, ClusterPort and Routes make the server part of a
	// cluster: ClusterPort 0 means standalone, -1 a random port. Routes
	// are nats-route://host:port URLs of the other servers.
	ClusterName string
	ClusterPort int
	Routes      []string
	// StoreDir is where JetStream keeps its files (required).
	StoreDir string
	// SyncInterval: how often JetStream fsyncs (0: the server's default,
	// 2 minutes); SyncAlways: fsync every write.
	SyncInterval time.Duration
	SyncAlways   bool
	// MaxPayload: DefaultMaxPayload when 0.
	MaxPayload int32
	// ReadyTimeout: DefaultReadyTimeout when 0.
	ReadyTimeout time.Duration
}

// Start starts a server and waits until it accepts client connections.
func Start(c Config) (*server.Server, error) {
	if c.StoreDir == "" {
		return nil, errors.New("natsd: a store directory is required")
	}
	if c.Name == "" {
		c.Name = "n1"
	}
	if c.Host == "" {
		c.Host = "127.0.0.1"
	}
	if c.Port == 0 {
		c.Port = -1
	}
	if c.MaxPayload == 0 {
		c.MaxPayload = DefaultMaxPayload
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = DefaultReadyTimeout
	}
	o := &server.Options{
		ServerName:   c.Name,
		Host:         c.Host,
		Port:         c.Port,
		JetStream:    true,
		StoreDir:     c.StoreDir,
		SyncInterval: c.SyncInterval,
		SyncAlways:   c.SyncAlways,
		MaxPayload:   c.MaxPayload,
		NoLog:        true,
		NoSigs:       true,
	}
	if c.ClusterPort != 0 {
		rh := c.RouteHost
		if rh == "" {
			rh = c.Host
		}
		o.Cluster = server.ClusterOpts{Name: c.ClusterName, Host: rh, Port: c.ClusterPort}
		if o.Cluster.Name == "" {
			o.Cluster.Name = "cowrite"
		}
		for _, r := range c.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("natsd: route %q: %w", r, err)
			}
			o.Routes = append(o.Routes, u)
		}
	}
	s, err := server.NewServer(o)
	if err != nil {
		return nil, fmt.Errorf("natsd: %w", err)
	}
	go s.Start()
	if !s.ReadyForConnections(c.ReadyTimeout) {
		s.Shutdown()
		return nil, fmt.Errorf("natsd: server %s not ready after %v", c.Name, c.ReadyTimeout)
	}
	return s, nil
}

// StartCluster starts n servers named n1..nn on 127.0.0.1 with random
// ports, each storing under dir/<name>, forming one JetStream cluster, and
// waits until JetStream has a meta leader. On error the servers started are
// shut down.
func StartCluster(dir string, n int) ([]*server.Server, error) {
	if n < 1 {
		return nil, errors.New("natsd: a cluster needs at least one server")
	}
	var srvs []*server.Server
	fail := func(err error) ([]*server.Server, error) {
		Shutdown(srvs)
		return nil, err
	}
	// JetStream clustering wants its routes configured from the start,
	// so the route ports are picked first (free ports, then released).
	ports, err := freePorts(n)
	if err != nil {
		return nil, err
	}
	var routes []string
	for _, p := range ports {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", p))
	}
	for i := 1; i <= n; i++ {
		c := Config{Name: fmt.Sprintf("n%d", i), StoreDir: filepath.Join(dir, fmt.Sprintf("n%d", i))}
		if n > 1 {
			c.ClusterPort = ports[i-1]
			c.Routes = routes
		}
		s, err := Start(c)
		if err != nil {
			return fail(err)
		}
		srvs = append(srvs, s)
	}
	if err := WaitMetaLeader(srvs, DefaultReadyTimeout); err != nil {
		return fail(err)
	}
	return srvs, nil
}

// WaitMetaLeader waits until one of the running servers is the JetStream
// meta leader and every running one is current with it.
func WaitMetaLeader(srvs []*server.Server, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		leader, current := false, true
		for _, s := range srvs {
			if !s.Running() {
				continue
			}
			if len(srvs) == 1 {
				leader = s.JetStreamEnabled()
				continue
			}
			if s.JetStreamIsLeader() {
				leader = true
			}
			if !s.JetStreamIsCurrent() {
				current = false
			}
		}
		if leader && current {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("natsd: no JetStream meta leader after %v", timeout)
		}
		<-tick.C
	}
}

// freePorts returns n distinct TCP ports that were free on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var out []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("natsd: pick a port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// Shutdown stops every server and waits for each to finish.
func Shutdown(srvs []*server.Server) {
	for _, s := range srvs {
		s.Shutdown()
	}
	for _, s := range srvs {
		s.WaitForShutdown()
	}
}

// URLs returns the client URLs of the servers, comma-separated (the form
// --cluster takes).
func URLs(srvs []*server.Server) string {
	var out string
	for i, s := range srvs {
		if i > 0 {
			out += ","
		}
		out += s.ClientURL()
	}
	return out
}
