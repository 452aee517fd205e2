package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/cowrite/cowrite/sio/engine/internal/wsconn"
)

// testServer is an echo Engine.IO server on a real fiber app.
type testServer struct {
	srv     *Server
	addr    string
	client  *http.Client
	reasons chan string
	mu      sync.Mutex // guards onSession
	// onSession, set with setOnSession, runs after the echo handlers are
	// installed (it may replace them).
	onSession func(*Session)
}

func (ts *testServer) setOnSession(fn func(*Session)) {
	ts.mu.Lock()
	ts.onSession = fn
	ts.mu.Unlock()
}

func startServer(t testing.TB, opts *Options, fiberCfg ...fiber.Config) *testServer {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	opts.Logger = quietLogger
	cfg := fiber.Config{DisableStartupMessage: true}
	if len(fiberCfg) > 0 {
		cfg = fiberCfg[0]
		cfg.DisableStartupMessage = true
	}
	app := fiber.New(cfg)
	ts := &testServer{srv: NewServer(opts), reasons: make(chan string, 100)}
	ts.srv.OnSession(func(s *Session) {
		s.OnMessage(func(m Message) { _ = s.Send(m) })
		s.OnClose(func(r string) { ts.reasons <- r })
		ts.mu.Lock()
		fn := ts.onSession
		ts.mu.Unlock()
		if fn != nil {
			fn(s)
		}
	})
	ts.srv.Mount(app, "/socket.io/")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = app.Listener(ln)
	}()
	tr := &http.Transport{}
	ts.client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(func() {
		ts.srv.Close()
		tr.CloseIdleConnections()
		_ = app.ShutdownWithTimeout(5 * time.Second)
		<-served
	})
	return ts
}

func (ts *testServer) url(query string) string {
	return "http://" + ts.addr + "/socket.io/?" + query
}

func (ts *testServer) do(t testing.TB, method, query, body string, hdr ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url(query), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := ts.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, query, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, res.Header, string(b)
}

type openPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

func parseOpen(t testing.TB, body string) openPacket {
	t.Helper()
	if !strings.HasPrefix(body, "0") {
		t.Fatalf("not an open packet: %q", body)
	}
	var o openPacket
	if err := json.Unmarshal([]byte(body[1:]), &o); err != nil {
		t.Fatalf("open packet %q: %v", body, err)
	}
	return o
}

func (ts *testServer) handshake(t testing.TB) string {
	t.Helper()
	code, _, body := ts.do(t, "GET", "EIO=4&transport=polling", "")
	if code != 200 {
		t.Fatalf("handshake: %d %s", code, body)
	}
	return parseOpen(t, body).SID
}

func (ts *testServer) dial(t testing.TB, query string, hdr http.Header) *websocket.Conn {
	t.Helper()
	c, res, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/socket.io/?"+query, hdr)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", query, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (ts *testServer) reason(t *testing.T) string {
	t.Helper()
	select {
	case r := <-ts.reasons:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("no session closed")
	}
	return ""
}

// waitGetPending waits until the session sid has a pending GET.
func (ts *testServer) waitGetPending(t *testing.T, sid string) {
	t.Helper()
	eventually(t, "a GET pending for "+sid, func() bool {
		s := ts.srv.lookup(sid)
		if s == nil {
			return false
		}
		p, ok := s.currentPolling()
		return ok && p.Writable()
	})
}

// asyncGet starts a GET and returns a channel with "status body".
func (ts *testServer) asyncGet(t *testing.T, sid string) <-chan string {
	ch := make(chan string, 1)
	go func() {
		res, err := ts.client.Get(ts.url("EIO=4&transport=polling&sid=" + sid))
		if err != nil {
			ch <- "error " + err.Error()
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		ch <- fmt.Sprintf("%d %s", res.StatusCode, b)
	}()
	return ch
}

func recv(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("GET not answered")
	}
	return ""
}

func TestHandshakePolling(t *testing.T) {
	ts := startServer(t, &Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond})
	code, hdr, body := ts.do(t, "GET", "EIO=4&transport=polling", "")
	if code != 200 || hdr.Get("Content-Type") != "text/plain; charset=UTF-8" {
		t.Fatalf("handshake: %d %q", code, hdr.Get("Content-Type"))
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(body[1:]), &raw); err != nil || len(raw) != 5 {
		t.Fatalf("open packet %q: %v", body, err)
	}
	o := parseOpen(t, body)
	if len(o.SID) != 20 || len(o.Upgrades) != 1 || o.Upgrades[0] != "websocket" ||
		o.PingInterval != 300 || o.PingTimeout != 200 || o.MaxPayload != 1000000 {
		t.Fatalf("open packet %+v", o)
	}
	if ts.srv.SessionCount() != 1 {
		t.Fatalf("SessionCount = %d", ts.srv.SessionCount())
	}
}

func TestRequestErrors(t *testing.T) {
	ts := startServer(t, nil)
	sid := ts.handshake(t)
	tests := []struct {
		name, method, query string
		status              int
		body                string
	}{
		{"unknown transport", "GET", "EIO=4&transport=carrier-pigeon", 400, `{"code":0,"message":"Transport unknown"}`},
		{"missing transport", "GET", "EIO=4", 400, `{"code":0,"message":"Transport unknown"}`},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", 400, `{"code":1,"message":"Session ID unknown"}`},
		{"POST handshake", "POST", "EIO=4&transport=polling", 400, `{"code":2,"message":"Bad handshake method"}`},
		{"websocket without upgrade", "GET", "EIO=4&transport=websocket", 400, `{"code":3,"message":"Bad request"}`},
		{"transport mismatch", "GET", "EIO=4&transport=websocket&sid=" + sid, 400, `{"code":3,"message":"Bad request"}`},
		{"EIO 3", "GET", "EIO=3&transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"no EIO", "GET", "transport=polling", 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"PUT with sid", "PUT", "EIO=4&transport=polling&sid=" + sid, 400, `{"code":3,"message":"Bad request"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, hdr, body := ts.do(t, tt.method, tt.query, "")
			if code != tt.status || body != tt.body || hdr.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q %q, want %d %q", code, hdr.Get("Content-Type"), body, tt.status, tt.body)
			}
		})
	}
}

func TestPollingEcho(t *testing.T) {
	ts := startServer(t, nil)
	sid := ts.handshake(t)
	q := "EIO=4&transport=polling&sid=" + sid
	code, hdr, body := ts.do(t, "POST", q, "4hello\x1ebAQID\x1e4é")
	if code != 200 || body != "ok" || hdr.Get("Content-Type") != "text/html" {
		t.Fatalf("POST: %d %q %q", code, hdr.Get("Content-Type"), body)
	}
	// The POST is answered after OnMessage ran: one GET has every echo.
	if code, _, body = ts.do(t, "GET", q, ""); code != 200 || body != "4hello\x1ebAQID\x1e4é" {
		t.Fatalf("GET: %d %q", code, body)
	}
}

func TestPollingConcurrentGet(t *testing.T) {
	ts := startServer(t, nil)
	sid := ts.handshake(t)
	first := ts.asyncGet(t, sid)
	ts.waitGetPending(t, sid)
	code, _, body := ts.do(t, "GET", "EIO=4&transport=polling&sid="+sid, "")
	if code != 400 {
		t.Fatalf("second GET: %d %q", code, body)
	}
	if got := recv(t, first); got != "200 1" {
		t.Fatalf("pending GET got %q, want a close packet", got)
	}
	if r := ts.reason(t); r != ReasonTransportError {
		t.Fatalf("reason %q", r)
	}
	if ts.srv.SessionCount() != 0 {
		t.Fatal("session still registered")
	}
}

func TestPollingPostErrors(t *testing.T) {
	ts := startServer(t, &Options{MaxPayload: 100})
	for _, tt := range []struct {
		name, body string
		status     int
		reason     string
	}{
		{"too big", "4" + strings.Repeat("x", 100), 413, ReasonTransportError},
		{"unparsable", "4a\x1e\x1e9", 400, ReasonParseError},
		{"empty", "", 400, ReasonParseError},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sid := ts.handshake(t)
			q := "EIO=4&transport=polling&sid=" + sid
			if code, _, body := ts.do(t, "POST", q, tt.body); code != tt.status {
				t.Fatalf("POST: %d %q, want %d", code, body, tt.status)
			}
			if r := ts.reason(t); r != tt.reason {
				t.Fatalf("reason %q, want %q", r, tt.reason)
			}
			// An error close drops the sid at once (like engine.io).
			if code, _, body := ts.do(t, "GET", q, ""); code != 400 || body != `{"code":1,"message":"Session ID unknown"}` {
				t.Fatalf("GET after close: %d %q", code, body)
			}
		})
	}
}

func TestPollingCloseAnswersPendingGet(t *testing.T) {
	ts := startServer(t, nil)
	t.Run("client close", func(t *testing.T) {
		sid := ts.handshake(t)
		get := ts.asyncGet(t, sid)
		ts.waitGetPending(t, sid)
		if code, _, _ := ts.do(t, "POST", "EIO=4&transport=polling&sid="+sid, "1"); code != 200 {
			t.Fatalf("POST 1: %d", code)
		}
		if got := recv(t, get); got != "200 6" {
			t.Fatalf("pending GET got %q, want a noop", got)
		}
		if r := ts.reason(t); r != ReasonTransportClose {
			t.Fatalf("reason %q", r)
		}
	})
	t.Run("client close before the GET", func(t *testing.T) {
		sid := ts.handshake(t)
		q := "EIO=4&transport=polling&sid=" + sid
		if code, _, _ := ts.do(t, "POST", q, "1"); code != 200 {
			t.Fatalf("POST 1: %d", code)
		}
		if r := ts.reason(t); r != ReasonTransportClose {
			t.Fatalf("reason %q", r)
		}
		if code, _, body := ts.do(t, "GET", q, ""); code != 200 || body != "6" {
			t.Fatalf("GET racing the close: %d %q", code, body)
		}
		if code, _, body := ts.do(t, "GET", q, ""); code != 400 || !strings.Contains(body, `"code":1`) {
			t.Fatalf("later GET: %d %q", code, body)
		}
	})
	t.Run("server close", func(t *testing.T) {
		sid := ts.handshake(t)
		get := ts.asyncGet(t, sid)
		ts.waitGetPending(t, sid)
		sess := ts.srv.lookup(sid)
		_ = sess.Send(Message{Data: []byte("bye")})
		sess.Close()
		// The GET may be woken by the Send before the Close: the close
		// packet then waits for the next GET.
		got := recv(t, get)
		if got == "200 4bye" {
			code, _, body := ts.do(t, "GET", "EIO=4&transport=polling&sid="+sid, "")
			got += fmt.Sprintf("|%d %s", code, body)
			if got != "200 4bye|200 1" {
				t.Fatalf("GETs got %q", got)
			}
		} else if got != "200 4bye\x1e1" {
			t.Fatalf("pending GET got %q", got)
		}
		if code, _, body := ts.do(t, "GET", "EIO=4&transport=polling&sid="+sid, ""); code != 400 || !strings.Contains(body, `"code":1`) {
			t.Fatalf("GET after the close packet: %d %q", code, body)
		}
		if r := ts.reason(t); r != ReasonForcedClose {
			t.Fatalf("reason %q", r)
		}
	})
}

func TestPollingAbortedGetClosesSession(t *testing.T) {
	ts := startServer(t, nil)
	sid := ts.handshake(t)
	conn, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "GET /socket.io/?EIO=4&transport=polling&sid=%s HTTP/1.1\r\nHost: x\r\n\r\n", sid)
	ts.waitGetPending(t, sid)
	conn.Close()
	if r := ts.reason(t); r != ReasonTransportError {
		t.Fatalf("reason %q", r)
	}
}

func TestPollingBinaryFromServer(t *testing.T) {
	ts := startServer(t, nil)
	sid := ts.handshake(t)
	sess := ts.srv.lookup(sid)
	_ = sess.Send(Message{Data: []byte("h")}, Message{Binary: true, Data: []byte{0xff, 0, 1}})
	code, _, body := ts.do(t, "GET", "EIO=4&transport=polling&sid="+sid, "")
	if code != 200 || body != "4h\x1eb/wAB" {
		t.Fatalf("GET: %d %q", code, body)
	}
}

func readWS(t testing.TB, c *websocket.Conn) (int, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, data, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("websocket read: %v", err)
	}
	return mt, string(data)
}

// readWSSkipPings reads the next message that is not a ping.
func readWSSkipPings(t *testing.T, c *websocket.Conn) (int, string) {
	t.Helper()
	for {
		mt, s := readWS(t, c)
		if mt == websocket.TextMessage && s == "2" {
			continue
		}
		return mt, s
	}
}

func TestWebSocketHandshakeAndEcho(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	mt, s := readWS(t, c)
	o := parseOpen(t, s)
	if mt != websocket.TextMessage || o.Upgrades == nil || len(o.Upgrades) != 0 || o.SID == "" {
		t.Fatalf("open: %d %q", mt, s)
	}
	if !strings.Contains(s, `"upgrades":[]`) {
		t.Fatalf("upgrades not an empty array: %q", s)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte("4hello"))
	_ = c.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3})
	if mt, s := readWS(t, c); mt != websocket.TextMessage || s != "4hello" {
		t.Fatalf("text echo: %d %q", mt, s)
	}
	if mt, s := readWS(t, c); mt != websocket.BinaryMessage || s != "\x01\x02\x03" {
		t.Fatalf("binary echo: %d %q", mt, s)
	}
	// Polling requests for a websocket session are refused.
	if code, _, body := ts.do(t, "GET", "EIO=4&transport=polling&sid="+o.SID, ""); code != 400 || !strings.Contains(body, `"code":3`) {
		t.Fatalf("polling on websocket session: %d %q", code, body)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte("1"))
	if r := ts.reason(t); r != ReasonTransportClose {
		t.Fatalf("reason %q", r)
	}
}

func expectClose(t *testing.T, c *websocket.Conn, code int) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || (code != 0 && ce.Code != code) {
			t.Fatalf("read error %v, want close %d", err, code)
		}
		return
	}
}

func TestWebSocketTooBig(t *testing.T) {
	ts := startServer(t, &Options{MaxPayload: 100})
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	readWS(t, c)
	_ = c.WriteMessage(websocket.TextMessage, []byte("4"+strings.Repeat("x", 200)))
	expectClose(t, c, websocket.CloseMessageTooBig)
	if r := ts.reason(t); r != ReasonTransportError {
		t.Fatalf("reason %q", r)
	}
}

func TestWebSocketClientPingIsAnError(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	readWS(t, c)
	_ = c.WriteMessage(websocket.TextMessage, []byte("2"))
	expectClose(t, c, 0)
	if r := ts.reason(t); r != ReasonTransportError {
		t.Fatalf("reason %q", r)
	}
}

func TestHeartbeatOverWebSocket(t *testing.T) {
	// The pong deadline leaves room for a test goroutine that a loaded
	// machine runs late.
	ts := startServer(t, &Options{PingInterval: 30 * time.Millisecond, PingTimeout: time.Second})
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	readWS(t, c)
	for range 3 {
		if mt, s := readWS(t, c); mt != websocket.TextMessage || s != "2" {
			t.Fatalf("want ping, got %d %q", mt, s)
		}
		_ = c.WriteMessage(websocket.TextMessage, []byte("3"))
	}
	// Stop answering: the server closes with ping timeout.
	expectClose(t, c, 0)
	if r := ts.reason(t); r != ReasonPingTimeout {
		t.Fatalf("reason %q", r)
	}
}

func TestPingTimeoutDropsPollingSession(t *testing.T) {
	ts := startServer(t, &Options{PingInterval: 30 * time.Millisecond, PingTimeout: 20 * time.Millisecond})
	sid := ts.handshake(t)
	if r := ts.reason(t); r != ReasonPingTimeout {
		t.Fatalf("reason %q", r)
	}
	if code, _, body := ts.do(t, "GET", "EIO=4&transport=polling&sid="+sid, ""); code != 400 || !strings.Contains(body, `"code":1`) {
		t.Fatalf("GET after ping timeout: %d %q", code, body)
	}
}

func TestServerCloseWithoutPendingGet(t *testing.T) {
	ts := startServer(t, nil)
	sid := ts.handshake(t)
	q := "EIO=4&transport=polling&sid=" + sid
	sess := ts.srv.lookup(sid)
	_ = sess.Send(Message{Data: []byte("bye")})
	sess.Close()
	if ts.srv.SessionCount() != 0 {
		t.Fatal("closed session still counted")
	}
	// The next GET gets the final packets, then the sid is gone.
	if code, _, body := ts.do(t, "GET", q, ""); code != 200 || body != "4bye\x1e1" {
		t.Fatalf("GET after Close: %d %q", code, body)
	}
	if code, _, body := ts.do(t, "GET", q, ""); code != 400 || !strings.Contains(body, `"code":1`) {
		t.Fatalf("second GET after Close: %d %q", code, body)
	}
}

// TestUpgradeThenImmediateGet follows the protocol test suite: 2probe and
// 5 sent back to back, then a GET, which must be refused.
func TestUpgradeThenImmediateGet(t *testing.T) {
	ts := startServer(t, nil)
	for range 20 {
		sid := ts.handshake(t)
		c := ts.dial(t, "EIO=4&transport=websocket&sid="+sid, nil)
		_ = c.WriteMessage(websocket.TextMessage, []byte("2probe"))
		_ = c.WriteMessage(websocket.TextMessage, []byte("5"))
		if code, _, body := ts.do(t, "GET", "EIO=4&transport=polling&sid="+sid, ""); code != 400 {
			t.Fatalf("GET after upgrade: %d %q", code, body)
		}
		if _, s := readWS(t, c); s != "3probe" {
			t.Fatalf("probe answer %q", s)
		}
		_ = c.WriteMessage(websocket.TextMessage, []byte("4hello"))
		if _, s := readWSSkipPings(t, c); s != "4hello" {
			t.Fatalf("echo %q", s)
		}
	}
}

func TestHeartbeatOverPolling(t *testing.T) {
	// The pong deadline leaves room for a test goroutine that a loaded
	// machine runs late.
	ts := startServer(t, &Options{PingInterval: 30 * time.Millisecond, PingTimeout: time.Second})
	sid := ts.handshake(t)
	q := "EIO=4&transport=polling&sid=" + sid
	for range 2 {
		if code, _, body := ts.do(t, "GET", q, ""); code != 200 || body != "2" {
			t.Fatalf("GET: %d %q, want a ping", code, body)
		}
		ts.do(t, "POST", q, "3")
	}
	if r := ts.reason(t); r != ReasonPingTimeout {
		t.Fatalf("reason %q", r)
	}
}

// upgrade runs a full polling → websocket upgrade and returns the socket.
func (ts *testServer) upgrade(t *testing.T, sid string) *websocket.Conn {
	t.Helper()
	return ts.upgradeWith(t, sid, nil)
}

// upgradeWith is upgrade with beforeFive, if not nil, called once
// "buffered" is queued during the probe, before the client sends "5".
func (ts *testServer) upgradeWith(t *testing.T, sid string, beforeFive func()) *websocket.Conn {
	t.Helper()
	pending := ts.asyncGet(t, sid)
	ts.waitGetPending(t, sid)
	c := ts.dial(t, "EIO=4&transport=websocket&sid="+sid, nil)
	_ = c.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if mt, s := readWS(t, c); mt != websocket.TextMessage || s != "3probe" {
		t.Fatalf("probe answer %d %q", mt, s)
	}
	if got := recv(t, pending); got != "200 6" {
		t.Fatalf("pending GET during upgrade: %q, want a noop", got)
	}
	if code, _, body := ts.do(t, "GET", "EIO=4&transport=polling&sid="+sid, ""); code != 200 || body != "6" {
		t.Fatalf("new GET during upgrade: %d %q, want a noop", code, body)
	}
	_ = ts.srv.lookup(sid).Send(Message{Data: []byte("buffered")})
	if beforeFive != nil {
		beforeFive()
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte("5"))
	if mt, s := readWSSkipPings(t, c); mt != websocket.TextMessage || s != "4buffered" {
		t.Fatalf("after upgrade: %d %q", mt, s)
	}
	return c
}

func TestUpgrade(t *testing.T) {
	ts := startServer(t, nil)
	sid := ts.handshake(t)
	c := ts.upgrade(t, sid)
	if got := ts.srv.lookup(sid).Transport(); got != transportWebSocket {
		t.Fatalf("Transport() = %q", got)
	}
	q := "EIO=4&transport=polling&sid=" + sid
	for _, m := range []string{"GET", "POST"} {
		if code, _, body := ts.do(t, m, q, "4x"); code != 400 || body != `{"code":3,"message":"Bad request"}` {
			t.Fatalf("%s after upgrade: %d %q", m, code, body)
		}
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte("4over ws"))
	if _, s := readWSSkipPings(t, c); s != "4over ws" {
		t.Fatalf("echo %q", s)
	}

	// A second websocket for the upgraded sid is closed; the first works.
	c2 := ts.dial(t, "EIO=4&transport=websocket&sid="+sid, nil)
	expectClose(t, c2, 0)
	_ = c.WriteMessage(websocket.BinaryMessage, []byte{7})
	if mt, s := readWSSkipPings(t, c); mt != websocket.BinaryMessage || s != "\x07" {
		t.Fatalf("binary echo after second websocket: %d %q", mt, s)
	}
	// A server close sends the close frame.
	ts.srv.lookup(sid).Close()
	expectClose(t, c, websocket.CloseNormalClosure)
	if r := ts.reason(t); r != ReasonForcedClose {
		t.Fatalf("reason %q", r)
	}
}

func TestUpgradeAbortedAndTimeout(t *testing.T) {
	ts := startServer(t, &Options{UpgradeTimeout: 100 * time.Millisecond})
	sid := ts.handshake(t)
	q := "EIO=4&transport=polling&sid=" + sid
	t.Run("bad probe", func(t *testing.T) {
		c := ts.dial(t, "EIO=4&transport=websocket&sid="+sid, nil)
		_ = c.WriteMessage(websocket.TextMessage, []byte("4hello"))
		expectClose(t, c, 0)
	})
	t.Run("timeout", func(t *testing.T) {
		c := ts.dial(t, "EIO=4&transport=websocket&sid="+sid, nil)
		_ = c.WriteMessage(websocket.TextMessage, []byte("2probe"))
		readWS(t, c)
		expectClose(t, c, 0) // no "5" within UpgradeTimeout
	})
	// The session goes on over polling.
	ts.do(t, "POST", q, "4still here")
	if code, _, body := ts.do(t, "GET", q, ""); code != 200 || body != "4still here" {
		t.Fatalf("polling after aborted upgrades: %d %q", code, body)
	}
}

func TestCORS(t *testing.T) {
	ts := startServer(t, &Options{CORSOrigins: []string{"http://ok.example"}})
	t.Run("allowed", func(t *testing.T) {
		code, hdr, _ := ts.do(t, "GET", "EIO=4&transport=polling", "", "Origin", "http://ok.example")
		if code != 200 || hdr.Get("Access-Control-Allow-Origin") != "http://ok.example" || hdr.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("%d %v", code, hdr)
		}
	})
	t.Run("preflight", func(t *testing.T) {
		code, hdr, _ := ts.do(t, "OPTIONS", "EIO=4&transport=polling", "", "Origin", "http://ok.example",
			"Access-Control-Request-Headers", "content-type")
		if code != 204 || hdr.Get("Access-Control-Allow-Origin") != "http://ok.example" ||
			hdr.Get("Access-Control-Allow-Credentials") != "true" || !strings.Contains(hdr.Get("Access-Control-Allow-Methods"), "POST") ||
			hdr.Get("Access-Control-Allow-Headers") != "content-type" {
			t.Fatalf("%d %v", code, hdr)
		}
	})
	t.Run("disallowed", func(t *testing.T) {
		for _, m := range []string{"GET", "OPTIONS"} {
			code, hdr, body := ts.do(t, m, "EIO=4&transport=polling", "", "Origin", "http://evil.example")
			if code != 403 || body != `{"code":4,"message":"Forbidden"}` || hdr.Get("Access-Control-Allow-Origin") != "" {
				t.Fatalf("%s: %d %q %v", m, code, body, hdr)
			}
		}
		_, res, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/socket.io/?EIO=4&transport=websocket",
			http.Header{"Origin": {"http://evil.example"}})
		if err == nil || res == nil || res.StatusCode != 403 {
			t.Fatalf("websocket from a disallowed origin: %v", err)
		}
	})
	t.Run("no origin", func(t *testing.T) {
		code, hdr, _ := ts.do(t, "GET", "EIO=4&transport=polling", "")
		if code != 200 || hdr.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%d %v", code, hdr)
		}
	})
}

func TestAllowRequest(t *testing.T) {
	ts := startServer(t, &Options{AllowRequest: func(c *fiber.Ctx) error {
		if c.Query("token") != "secret" {
			return errors.New("bad token")
		}
		return nil
	}})
	if code, _, body := ts.do(t, "GET", "EIO=4&transport=polling", ""); code != 403 || body != `{"code":4,"message":"bad token"}` {
		t.Fatalf("refused: %d %q", code, body)
	}
	if code, _, _ := ts.do(t, "GET", "EIO=4&transport=polling&token=secret", ""); code != 200 {
		t.Fatalf("allowed: %d", code)
	}
}

func TestPathWithAndWithoutSlash(t *testing.T) {
	for _, strict := range []bool{false, true} {
		t.Run(fmt.Sprintf("strict=%v", strict), func(t *testing.T) {
			ts := startServer(t, nil, fiber.Config{StrictRouting: strict})
			for _, p := range []string{"/socket.io/", "/socket.io"} {
				res, err := ts.client.Get("http://" + ts.addr + p + "?EIO=4&transport=polling")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || !strings.HasPrefix(string(b), "0{") {
					t.Fatalf("%s: %d %q", p, res.StatusCode, b)
				}
			}
		})
	}
}

func TestServerClose(t *testing.T) {
	ts := startServer(t, nil)
	sid := ts.handshake(t)
	get := ts.asyncGet(t, sid)
	ts.waitGetPending(t, sid)
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	readWS(t, c)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); ts.srv.Close() }()
	}
	wg.Wait()
	if got := recv(t, get); got != "200 1" {
		t.Fatalf("pending GET: %q", got)
	}
	expectClose(t, c, websocket.CloseNormalClosure)
	for range 2 {
		if r := ts.reason(t); r != ReasonServerShutdown {
			t.Fatalf("reason %q", r)
		}
	}
	if n := ts.srv.SessionCount(); n != 0 {
		t.Fatalf("SessionCount = %d", n)
	}
	if code, _, _ := ts.do(t, "GET", "EIO=4&transport=polling", ""); code != 503 {
		t.Fatalf("handshake after Close: %d", code)
	}
}

// TestWebSocketBatchedFrames checks that many queued messages arrive
// intact and in order (they are written as one batch of frames).
func TestWebSocketBatchedFrames(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	_, open := readWS(t, c)
	sess := ts.srv.lookup(parseOpen(t, open).SID)
	msgs := make([]Message, 200)
	for i := range msgs {
		n := i * 50
		if i%40 == 7 {
			n = wsBatchSize + i // written without copying
		}
		msgs[i] = Message{Binary: i%3 == 0, Data: []byte(strings.Repeat(string(rune('a'+i%26)), n))}
	}
	if err := sess.Send(msgs...); err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		mt, s := readWSSkipPings(t, c)
		want := string(m.Data)
		if !m.Binary {
			want = "4" + want
		}
		if (mt == websocket.BinaryMessage) != m.Binary || s != want {
			t.Fatalf("message %d: type %d len %d, want binary=%v len %d", i, mt, len(s), m.Binary, len(want))
		}
	}
}

// BenchmarkWebSocketSend measures Send → batched frames → client read,
// 100 text messages of 64 bytes per iteration.
func BenchmarkWebSocketSend(b *testing.B) {
	ts := startServer(b, nil)
	c := ts.dial(b, "EIO=4&transport=websocket", nil)
	_, open := readWS(b, c)
	sess := ts.srv.lookup(parseOpen(b, open).SID)
	msgs := make([]Message, 100)
	for i := range msgs {
		msgs[i] = Message{Data: []byte(strings.Repeat("x", 64))}
	}
	_ = c.SetReadDeadline(time.Time{})
	b.ReportAllocs()
	for b.Loop() {
		if err := sess.Send(msgs...); err != nil {
			b.Fatal(err)
		}
		for range msgs {
			if _, _, err := c.ReadMessage(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkPollingRoundTrip measures one POST of a message and the GET
// that receives its echo.
func BenchmarkPollingRoundTrip(b *testing.B) {
	ts := startServer(b, nil)
	sid := ts.handshake(b)
	q := "EIO=4&transport=polling&sid=" + sid
	b.ReportAllocs()
	for b.Loop() {
		ts.do(b, "POST", q, "4hello")
		if code, _, body := ts.do(b, "GET", q, ""); code != 200 || body != "4hello" {
			b.Fatalf("GET %d %q", code, body)
		}
	}
}

func TestSecondWebSocketWhileProbing(t *testing.T) {
	ts := startServer(t, nil)
	sid := ts.handshake(t)
	c := ts.dial(t, "EIO=4&transport=websocket&sid="+sid, nil)
	_ = c.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, s := readWS(t, c); s != "3probe" {
		t.Fatalf("probe answer %q", s)
	}
	c2 := ts.dial(t, "EIO=4&transport=websocket&sid="+sid, nil)
	expectClose(t, c2, 0)
	_ = c.WriteMessage(websocket.TextMessage, []byte("5"))
	_ = c.WriteMessage(websocket.TextMessage, []byte("4first"))
	if _, s := readWSSkipPings(t, c); s != "4first" {
		t.Fatalf("echo %q", s)
	}
}

func TestWebSocketSessionRefusesUpgrade(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	_, open := readWS(t, c)
	sid := parseOpen(t, open).SID
	c2 := ts.dial(t, "EIO=4&transport=websocket&sid="+sid, nil)
	expectClose(t, c2, 0)
	_ = c.WriteMessage(websocket.TextMessage, []byte("4still"))
	if _, s := readWSSkipPings(t, c); s != "4still" {
		t.Fatalf("echo %q", s)
	}
}

func TestSendVolatileOverPolling(t *testing.T) {
	ts := startServer(t, nil)
	sid := ts.handshake(t)
	sess := ts.srv.lookup(sid)
	if sess.SendVolatile(Message{Data: []byte("lost")}) {
		t.Fatal("volatile accepted with no GET pending")
	}
	get := ts.asyncGet(t, sid)
	ts.waitGetPending(t, sid)
	if !sess.SendVolatile(Message{Data: []byte("kept")}) {
		t.Fatal("volatile refused with a GET pending")
	}
	if got := recv(t, get); got != "200 4kept" {
		t.Fatalf("GET %q", got)
	}
}

// TestWebSocketSlowConsumer fills the queue of a client that does not
// read: Send fails with ErrSlowConsumer, the session closes, and the
// blocked writer is released (Server.Close in the cleanup returns).
func TestWebSocketSlowConsumer(t *testing.T) {
	ts := startServer(t, &Options{MaxQueue: 8})
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	_, open := readWS(t, c)
	sess := ts.srv.lookup(parseOpen(t, open).SID)
	ts.sendUntilSlow(t, sess, Message{Binary: true, Data: make([]byte, 256<<10)}, 10000)
	// The slow-consumer close already cut the blocked write short
	// (wsconn.CloseTimeout); Server.Close must then return rather than wait on
	// the writer. The bound only catches a hang: it is twice the write
	// timeout that would otherwise be the writer's only way out.
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		ts.srv.Close()
	}()
	select {
	case <-closed:
	case <-time.After(2 * wsconn.WriteTimeout):
		t.Fatal("Server.Close hangs with a blocked writer")
	}
}

func TestPollingConcurrentPost(t *testing.T) {
	ts := startServer(t, nil)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	ts.setOnSession(func(s *Session) {
		s.OnMessage(func(Message) {
			entered <- struct{}{}
			<-release
		})
	})
	sid := ts.handshake(t)
	q := "EIO=4&transport=polling&sid=" + sid
	first := make(chan int, 1)
	go func() {
		res, err := ts.client.Post(ts.url(q), "text/plain", strings.NewReader("4block"))
		if err != nil {
			first <- 0
			return
		}
		res.Body.Close()
		first <- res.StatusCode
	}()
	<-entered // the first POST waits for OnMessage
	if code, _, body := ts.do(t, "POST", q, "4second"); code != 400 {
		t.Fatalf("second POST: %d %q", code, body)
	}
	close(release)
	if code := <-first; code != 200 {
		t.Fatalf("first POST: %d", code)
	}
	if r := ts.reason(t); r != ReasonTransportError {
		t.Fatalf("reason %q", r)
	}
}

func TestHandshakeSnapshot(t *testing.T) {
	ts := startServer(t, nil)
	got := make(chan *Handshake, 1)
	ts.setOnSession(func(s *Session) { got <- s.Handshake() })
	ts.do(t, "GET", "EIO=4&transport=polling&token=abc", "", "X-Test", "yes")
	hs := <-got
	if hs.Query.Get("token") != "abc" || hs.Query.Get("EIO") != "4" || hs.Headers.Get("X-Test") != "yes" ||
		!strings.HasPrefix(hs.RemoteAddr, "127.0.0.1:") || !strings.HasPrefix(hs.URL, "/socket.io/?") || hs.Secure || hs.Time.IsZero() {
		t.Fatalf("handshake %+v", hs)
	}
}

func TestOnSessionPanicClosesSession(t *testing.T) {
	ts := startServer(t, nil)
	ts.setOnSession(func(*Session) { panic("boom") })
	code, _, body := ts.do(t, "GET", "EIO=4&transport=polling", "")
	if code != 200 || !strings.HasSuffix(body, "\x1e1") {
		t.Fatalf("handshake with a panicking OnSession: %d %q", code, body)
	}
	if r := ts.reason(t); r != ReasonForcedClose {
		t.Fatalf("reason %q", r)
	}
}

func TestCORSAnyOrigin(t *testing.T) {
	ts := startServer(t, &Options{CORSOrigins: []string{"*"}})
	for _, origin := range []string{"http://a.example", "https://b.example:8443"} {
		code, hdr, _ := ts.do(t, "GET", "EIO=4&transport=polling", "", "Origin", origin)
		if code != 200 || hdr.Get("Access-Control-Allow-Origin") != origin || hdr.Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("%s: %d %v", origin, code, hdr)
		}
	}
	c := ts.dial(t, "EIO=4&transport=websocket", http.Header{"Origin": {"http://a.example"}})
	if _, s := readWS(t, c); !strings.HasPrefix(s, "0{") {
		t.Fatalf("open over websocket with an origin: %q", s)
	}
}
