package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// sioClient is a minimal Socket.IO v5 client over Engine.IO long-polling
// (text packets only), enough to drive the event handlers from Go tests
// under the race detector.
type sioClient struct {
	t    testing.TB
	base string
	sid  string // engine.io session id
	id   string // socket.io socket id
	http *http.Client

	mu     sync.Mutex // guards the fields below
	acks   map[int]chan json.RawMessage
	events []event
	signal chan struct{} // closed and replaced when an event arrives
	nextID int
	closed bool

	done chan struct{}
	wg   sync.WaitGroup
}

type event struct {
	name    string
	payload json.RawMessage
}

func dial(t testing.TB, s *server, auth string) *sioClient {
	t.Helper()
	c := &sioClient{t: t, base: s.url + "/socket.io/?EIO=4&transport=polling", http: &http.Client{Timeout: 40 * time.Second},
		acks: map[int]chan json.RawMessage{}, done: make(chan struct{}), signal: make(chan struct{})}
	body := c.get()
	var open struct {
		SID string `json:"sid"`
	}
	if !strings.HasPrefix(body, "0") || json.Unmarshal([]byte(body[1:]), &open) != nil {
		t.Fatalf("handshake: %q", body)
	}
	c.sid = open.SID
	c.post("40" + auth)
	for _, p := range strings.Split(c.get(), "\x1e") {
		if strings.HasPrefix(p, "40") {
			var ok struct {
				SID string `json:"sid"`
			}
			if err := json.Unmarshal([]byte(p[2:]), &ok); err != nil {
				t.Fatalf("connect: %q", p)
			}
			c.id = ok.SID
		} else if strings.HasPrefix(p, "44") {
			t.Fatalf("connect refused: %s", p)
		}
	}
	if c.id == "" {
		t.Fatal("no CONNECT reply")
	}
	c.wg.Add(1)
	go c.poll()
	t.Cleanup(c.close)
	return c
}

func (c *sioClient) url() string { return c.base + "&sid=" + c.sid }

func (c *sioClient) get() string {
	u := c.base
	if c.sid != "" {
		u = c.url()
	}
	res, err := c.http.Get(u)
	if err != nil {
		c.t.Fatalf("poll: %v", err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func (c *sioClient) post(packets ...string) {
	res, err := c.http.Post(c.url(), "text/plain;charset=UTF-8", strings.NewReader(strings.Join(packets, "\x1e")))
	if err != nil {
		c.t.Errorf("post: %v", err)
		return
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
}

func (c *sioClient) poll() {
	defer c.wg.Done()
	for {
		select {
		case <-c.done:
			return
		default:
		}
		res, err := c.http.Get(c.url())
		if err != nil {
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			return
		}
		for _, p := range strings.Split(string(b), "\x1e") {
			c.handle(p)
		}
	}
}

func (c *sioClient) handle(p string) {
	switch {
	case p == "2":
		c.post("3")
	case p == "1" || p == "6" || p == "":
	case strings.HasPrefix(p, "43"): // ack: 43<id>[...]
		rest := p[2:]
		i := strings.IndexByte(rest, '[')
		id, _ := strconv.Atoi(rest[:i])
		var args []json.RawMessage
		_ = json.Unmarshal([]byte(rest[i:]), &args)
		c.mu.Lock()
		ch := c.acks[id]
		delete(c.acks, id)
		c.mu.Unlock()
		if ch != nil && len(args) > 0 {
			ch <- args[0]
		}
	case strings.HasPrefix(p, "42"):
		var args []json.RawMessage
		_ = json.Unmarshal([]byte(p[2:]), &args)
		var name string
		_ = json.Unmarshal(args[0], &name)
		ev := event{name: name}
		if len(args) > 1 {
			ev.payload = args[1]
		}
		c.addEvent(ev)
	case strings.HasPrefix(p, "41"):
		c.addEvent(event{name: "disconnect"})
	}
}

func (c *sioClient) addEvent(ev event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, ev)
	close(c.signal)
	c.signal = make(chan struct{})
}

// eventWatchdog bounds how long a test waits for an event that does not
// come (a failure, not a synchronization: waits end on the event itself).
const eventWatchdog = 30 * time.Second

// waitUntil waits until cond, called with c.mu held, holds: it is checked
// again whenever an event arrives.
func (c *sioClient) waitUntil(what string, cond func() bool) {
	c.t.Helper()
	watchdog := time.NewTimer(eventWatchdog)
	defer watchdog.Stop()
	for {
		c.mu.Lock()
		ok, signal := cond(), c.signal
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-signal:
		case <-watchdog.C:
			c.t.Fatalf("no %s within %v", what, eventWatchdog)
		}
	}
}

// call emits event with payload (raw JSON) and returns the ack's first argument.
func (c *sioClient) call(event, payload string) map[string]any {
	c.t.Helper()
	c.mu.Lock()
	id := c.nextID
	c.nextID++
	ch := make(chan json.RawMessage, 1)
	c.acks[id] = ch
	c.mu.Unlock()
	c.post(fmt.Sprintf(`42%d[%q,%s]`, id, event, payload))
	select {
	case raw := <-ch:
		var m map[string]any
		if err := json.Unmarshal(raw, &m); err != nil {
			c.t.Fatalf("ack %s: %v", raw, err)
		}
		return m
	case <-time.After(10 * time.Second):
		c.t.Fatalf("no ack for %s %s", event, payload)
		return nil
	}
}

// waitEvent waits for the first received event named name matching pred.
func (c *sioClient) waitEvent(name string, pred func(map[string]any) bool) map[string]any {
	c.t.Helper()
	var found map[string]any
	c.waitUntil(name+" event", func() bool {
		for _, ev := range c.events {
			if ev.name != name {
				continue
			}
			var m map[string]any
			_ = json.Unmarshal(ev.payload, &m)
			if pred == nil || pred(m) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

// waitCount waits until n events named name have arrived.
func (c *sioClient) waitCount(name string, n int) {
	c.t.Helper()
	c.waitUntil(fmt.Sprintf("%d %s events", n, name), func() bool { return c.countLocked(name) >= n })
}

func (c *sioClient) count(name string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.countLocked(name)
}

func (c *sioClient) countLocked(name string) int {
	n := 0
	for _, ev := range c.events {
		if ev.name == name {
			n++
		}
	}
	return n
}

// close ends the Engine.IO session (close packet) and the poller.
func (c *sioClient) close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.mu.Unlock()
	close(c.done)
	c.post("1")
	c.wg.Wait()
	c.http.CloseIdleConnections()
}

func errCodeOf(m map[string]any) string {
	e, _ := m["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func TestSocketEvents(t *testing.T) {
	s := newServer(t, nil, nil)
	a := dial(t, s, `{"name":"Ada","color":"#f00"}`)
	b := dial(t, s, `{"name":"Bob"}`)

	for _, tc := range []struct{ event, payload, code string }{
		{"doc:join", `"x"`, "bad_request"},
		{"doc:join", `{"doc":""}`, "bad_request"},
		{"doc:join", `{"doc":"d","version":-1}`, "bad_request"},
		{"doc:op", `{"doc":"d","version":0,"op":["x"],"client":"a","seq":1}`, "not_found"},
		{"doc:presence", `{"doc":"d","version":0}`, "bad_request"},
		{"doc:leave", `{}`, "bad_request"},
		{"doc:nope", `{}`, "bad_request"},
		{"doc:join", `{"doc":"d","client":"\udc00"}`, "bad_request"},
		{"doc:op", `{"doc":"d","version":0,"op":["a\ud800"],"client":"a","seq":1}`, "bad_request"},
		{"doc:op", `{"doc":"d","version":0,"op":null}`, "invalid_op"},
		{"doc:op", `{"doc":"d","version":0}`, "bad_request"},
	} {
		if got := errCodeOf(a.call(tc.event, tc.payload)); got != tc.code {
			t.Errorf("%s %s: code %q, want %q", tc.event, tc.payload, got, tc.code)
		}
	}

	ja := a.call("doc:join", `{"doc":"d"}`)
	if ja["ok"] != true || ja["content"] != "" || ja["version"] != 0.0 {
		t.Fatalf("join: %v", ja)
	}
	if got := errCodeOf(a.call("doc:join", `{"doc":"d","version":3}`)); got != "version_ahead" {
		t.Errorf("join ahead: %q", got)
	}
	jb := b.call("doc:join", `{"doc":"d"}`)
	if jb["ok"] != true {
		t.Fatalf("join b: %v", jb)
	}

	if got := errCodeOf(a.call("doc:op", `{"doc":"d","version":0,"op":[5,"x"],"client":"a","seq":1}`)); got != "invalid_op" {
		t.Errorf("op past end: %q", got)
	}
	ack := a.call("doc:op", `{"doc":"d","version":0,"op":["hi 😀"],"client":"a","seq":1}`)
	if ack["ok"] != true || ack["version"] != 1.0 {
		t.Fatalf("op: %v", ack)
	}
	ev := b.waitEvent("doc:op", nil)
	if ev["version"] != 1.0 || ev["client"] != "a" || ev["doc"] != "d" {
		t.Fatalf("broadcast: %v", ev)
	}
	// Duplicate: same version, no second broadcast.
	if ack := a.call("doc:op", `{"doc":"d","version":0,"op":["hi 😀"],"client":"a","seq":1}`); ack["version"] != 1.0 {
		t.Fatalf("duplicate: %v", ack)
	}
	// Rejoin with a version: catch-up ops.
	jb = b.call("doc:join", `{"doc":"d","version":0}`)
	if ops, _ := jb["ops"].([]any); len(ops) != 1 || jb["content"] != nil {
		t.Fatalf("catch-up join: %v", jb)
	}
	jb = b.call("doc:join", `{"doc":"d","version":1}`)
	if ops, ok := jb["ops"].([]any); !ok || len(ops) != 0 {
		t.Fatalf("join at head must carry ops: []: %v", jb)
	}

	if ack := a.call("doc:presence", `{"doc":"d","version":1,"selection":[{"anchor":0,"head":2}]}`); ack["ok"] != true {
		t.Fatalf("presence: %v", ack)
	}
	p := b.waitEvent("doc:presence", nil)
	if u, _ := p["user"].(map[string]any); u["name"] != "Ada" || u["color"] != "#f00" || u["id"] != a.id {
		t.Fatalf("presence user: %v", p)
	}

	// Open mode has no users: a second connection that joined later takes
	// the client id "a" over (a client reconnecting while its old
	// connection is not yet noticed dead); a resubmission of a committed
	// (client, seq) gets its version, and the older connection is then
	// refused under that id.
	a2 := dial(t, s, `{}`)
	a2.call("doc:join", `{"doc":"d","version":1}`)
	if ack := a2.call("doc:op", `{"doc":"d","version":0,"op":["hi 😀"],"client":"a","seq":1}`); ack["ok"] != true || ack["version"] != 1.0 {
		t.Fatalf("resubmission on another connection: %v", ack)
	}
	if ack := a2.call("doc:op", `{"doc":"d","version":1,"op":["!"],"client":"a","seq":2}`); ack["ok"] != true || ack["version"] != 2.0 {
		t.Fatalf("op of the newer connection under the client id: %v", ack)
	}
	if got := errCodeOf(a.call("doc:op", `{"doc":"d","version":2,"op":["?"],"client":"a","seq":3}`)); got != "forbidden" {
		t.Fatalf("older connection under a taken-over client id: %q", got)
	}
	if got := string(s.do(t, "GET", "/api/docs/d/content", nil).body); got != "!hi 😀" {
		t.Fatalf("content %q", got)
	}

	// Deleting the document reaches the room.
	expectStatus(t, s.do(t, "DELETE", "/api/docs/d", nil), 204)
	if m := b.waitEvent("doc:deleted", nil); m["doc"] != "d" {
		t.Fatalf("deleted: %v", m)
	}
	a2.waitEvent("doc:deleted", nil)
	if n := a2.count("doc:op"); n != 0 {
		t.Errorf("the submitter received %d doc:op broadcasts", n)
	}
}

func TestSocketConcurrentSubmitters(t *testing.T) {
	s := newServer(t, nil, nil)
	const clients, ops = 4, 20
	cs := make([]*sioClient, clients)
	for i := range cs {
		cs[i] = dial(t, s, `{}`)
		if j := cs[i].call("doc:join", `{"doc":"c"}`); j["ok"] != true {
			t.Fatal(j)
		}
	}
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 1; n <= ops; n++ {
				// Always based on version 0: the server transforms.
				ack := c.call("doc:op", fmt.Sprintf(`{"doc":"c","version":0,"op":["%d"],"client":"c%d","seq":%d}`, i, i, n))
				if ack["ok"] != true {
					t.Errorf("op: %v", ack)
					return
				}
			}
		}()
	}
	wg.Wait()
	r := s.do(t, "GET", "/api/docs/c", nil)
	doc := r.json(t)
	if doc["version"] != float64(clients*ops) || len(doc["content"].(string)) != clients*ops {
		t.Fatalf("after concurrent submits: %v", doc)
	}
	for i, c := range cs {
		c.waitCount("doc:op", (clients-1)*ops)
		if n := c.count("doc:op"); n != (clients-1)*ops {
			t.Errorf("client %d received %d broadcasts, want %d", i, n, (clients-1)*ops)
		}
	}
}
