package client_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/cowrite/cowrite/client"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/storage"
)

// Retention that keeps every op but the last before the newest snapshot,
// snapshots every 2 ops: a client away for a few ops is behind the horizon.
var (
	retentionStore = &storage.Options{NoSync: true, Retention: 1, CheckpointOps: 1}
	retentionHub   = &collab.Options{SnapshotEveryOps: 2}
)

// edits makes n edits on document id through a client of its own on url
// (each prepends "x"), then closes it.
func edits(t *testing.T, url, id string, n int) {
	t.Helper()
	ctx := context.Background()
	c, err := client.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.Open(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := d.Insert(0, "x"); err != nil {
			t.Fatal(err)
		}
		if err := d.Sync(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// get returns the status and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(body)
}

// serverText is document "h"'s content on the server at url.
func serverText(t *testing.T, url string) string {
	t.Helper()
	_, body := get(t, url+"/api/docs/h/content")
	return body
}

// helloDoc opens document "h" on url with a reconnecting client (closed at
// the test's end) and writes "hello" there.
func helloDoc(t *testing.T, url string) *client.Doc {
	t.Helper()
	ctx := context.Background()
	a, err := client.Dial(ctx, url, &client.Options{Reconnect: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	d, err := a.Open(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Insert(0, "hello"); err != nil {
		t.Fatal(err)
	}
	if err := d.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// behindHorizon checks over REST that the ops after version from are no
// longer kept (the join of a client at from gets the content).
func behindHorizon(t *testing.T, url, id string, from int) {
	t.Helper()
	status, body := get(t, url+"/api/docs/"+id+"/ops?from="+strconv.Itoa(from))
	if status != 400 || !strings.Contains(body, "version_too_old") {
		t.Fatalf("ops after %d: %d %s; want them pruned (version_too_old)", from, status, body)
	}
}

// TestRebaseBehindHorizon: a client with edits made offline returns after
// retention pruned the ops since its version. The server answers its rejoin
// with the content; the edits are rebased on it and committed, not dropped.
func TestRebaseBehindHorizon(t *testing.T) {
	dir := t.TempDir()
	url, stop := startServerWith(dir, "127.0.0.1:0", retentionStore, retentionHub)
	addr := strings.TrimPrefix(url, "http://")
	ctx := context.Background()
	da := helloDoc(t, url)
	stop()
	// Offline: the edit is buffered.
	if err := da.Insert(5, " world"); err != nil {
		t.Fatal(err)
	}
	// Meanwhile others make 30 edits (on a server at another address, which
	// alice does not reach); closing it checkpoints and prunes.
	url2, stop2 := startServerWith(dir, "127.0.0.1:0", retentionStore, retentionHub)
	edits(t, url2, "h", 30)
	stop2()
	// Back at alice's address: she rejoins from version 1.
	url3, stop3 := startServerWith(dir, addr, retentionStore, retentionHub)
	defer stop3()
	behindHorizon(t, url3, "h", 1)
	if err := da.Sync(ctx); err != nil {
		t.Fatalf("sync after the rejoin: %v", err)
	}
	want := strings.Repeat("x", 30) + "hello world"
	if da.Text() != want || da.Version() != 32 {
		t.Fatalf("alice: %q at %d, want %q at 32", da.Text(), da.Version(), want)
	}
	if body := serverText(t, url3); body != want {
		t.Fatalf("server: %q, want %q", body, want)
	}
}

// proxy forwards TCP connections to a server and can drop what flows in
// either direction, cut the connections, and refuse new ones: a network
// that loses an op or its ack, deterministically.
type proxy struct {
	ln net.Listener
	wg sync.WaitGroup

	mu       sync.Mutex // guards the fields below
	target   string
	refuse   bool // close new connections at once
	dropUp   bool // drop client → server bytes
	dropDown bool // drop server → client bytes
	conns    []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refuse, target := p.refuse, p.target
		p.mu.Unlock()
		var s net.Conn
		if !refuse {
			s, err = net.Dial("tcp", target)
		}
		if refuse || err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pump(s, c, true)
		go p.pump(c, s, false)
	}
}

func (p *proxy) pump(dst, src net.Conn, up bool) {
	defer p.wg.Done()
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if err != nil {
			return
		}
		p.mu.Lock()
		drop := p.dropDown
		if up {
			drop = p.dropUp
		}
		p.mu.Unlock()
		if !drop {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
}

// set changes the proxy's state under its lock.
func (p *proxy) set(f func(p *proxy)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

// cut closes the connections in progress.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) close() {
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// TestRebaseInFlightBehindHorizon: the connection is lost while an op is in
// flight, and the client returns behind the retention horizon. Whether the
// server committed the op (only its ack was lost) or never got it, the
// client ends with the op applied exactly once, on top of the others' edits.
func TestRebaseInFlightBehindHorizon(t *testing.T) {
	for _, committed := range []bool{true, false} {
		t.Run(map[bool]string{true: "ack lost", false: "op lost"}[committed], func(t *testing.T) {
			dir := t.TempDir()
			url, stop := startServerWith(dir, "127.0.0.1:0", retentionStore, retentionHub)
			p := newProxy(t, strings.TrimPrefix(url, "http://"))
			ctx := context.Background()
			da := helloDoc(t, p.url())
			// bob watches the document on the server directly.
			b, err := client.Dial(ctx, url, nil)
			if err != nil {
				t.Fatal(err)
			}
			db, err := b.Open(ctx, "h")
			if err != nil {
				t.Fatal(err)
			}
			if committed {
				p.set(func(p *proxy) { p.dropDown = true }) // the ack will be lost
			} else {
				p.set(func(p *proxy) { p.dropUp = true }) // the op will be lost
			}
			if err := da.Insert(5, " world"); err != nil {
				t.Fatal(err)
			}
			if committed { // the server has it: bob gets it
				if ch, err := db.Next(ctx); err != nil || db.Text() != "hello world" {
					t.Fatalf("bob: %+v %v, text %q", ch, err, db.Text())
				}
			}
			if !da.Pending() {
				t.Fatal("alice's op is not in flight")
			}
			p.set(func(p *proxy) { p.refuse, p.dropUp, p.dropDown = true, false, false })
			p.cut()
			b.Close()
			// 30 more edits while alice is away; a restart checkpoints
			// and prunes.
			edits(t, url, "h", 30)
			stop()
			url2, stop2 := startServerWith(dir, "127.0.0.1:0", retentionStore, retentionHub)
			defer stop2()
			behindHorizon(t, url2, "h", 1)
			p.set(func(p *proxy) { p.target, p.refuse = strings.TrimPrefix(url2, "http://"), false })
			if err := da.Sync(ctx); err != nil {
				t.Fatalf("sync after the rejoin: %v", err)
			}
			want := strings.Repeat("x", 30) + "hello world"
			if body := serverText(t, url2); da.Text() != want || body != want {
				t.Fatalf("alice %q, server %q; want %q", da.Text(), body, want)
			}
		})
	}
}
