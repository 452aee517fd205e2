package engine

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
	"github.com/gofiber/fiber/v2"

	"github.com/cowrite/cowrite/sio/engine/internal/wsconn"
	"github.com/cowrite/cowrite/sio/engine/internal/wsconn/wstest"
)

// writeRaw writes raw client frames on c's connection.
func writeRaw(t *testing.T, c *websocket.Conn, frames ...[]byte) {
	t.Helper()
	for _, f := range frames {
		if _, err := c.NetConn().Write(f); err != nil {
			t.Fatal(err)
		}
	}
}

// hookCounter counts what a reader's hook reports (wsHooks) and lets a
// test wait for a count: an event, not a poll.
type hookCounter struct {
	n  atomic.Int64
	ch chan struct{} // a token after each add
}

func newHookCounter() *hookCounter { return &hookCounter{ch: make(chan struct{}, 1)} }

func (c *hookCounter) add(d int64) {
	c.n.Add(d)
	select {
	case c.ch <- struct{}{}:
	default:
	}
}

// waitFor waits until the count reaches n.
func (c *hookCounter) waitFor(t *testing.T, what string, n int64) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for c.n.Load() < n {
		select {
		case <-c.ch:
		case <-timeout:
			t.Fatalf("%s: %d, want %d", what, c.n.Load(), n)
		}
	}
}

// setWSHooks makes the connections opened from now on report to hooks,
// until the test ends. Call it before starting the server.
func setWSHooks(t *testing.T, hooks wsconn.Hooks) {
	old := wsHooks
	wsHooks = hooks
	t.Cleanup(func() { wsHooks = old })
}

func TestWebSocketFramesFromClient(t *testing.T) {
	read := newHookCounter() // bytes the server has read and handled
	setWSHooks(t, wsconn.Hooks{Read: func(n int) { read.add(int64(n)) }})
	ts := startServer(t, nil)
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	readWS(t, c)
	pongs := make(chan string, 1)
	c.SetPongHandler(func(s string) error { pongs <- s; return nil })
	// A fragmented message with a ping between its fragments, each frame
	// written separately, then cut at odd places.
	frames := [][]byte{
		wstest.ClientFrame(wsconn.OpText, []byte("4fr")),
		wstest.ClientFrame(0x80|wsconn.OpPing, []byte("hi")),
		wstest.ClientFrame(wsconn.OpContinuation, []byte("agm")),
	}
	writeRaw(t, c, frames...)
	last := wstest.ClientFrame(0x80|wsconn.OpContinuation, []byte("ented"))
	writeRaw(t, c, last[:3])
	// The server reads the cut frame's start alone: it has handled every
	// byte written so far before the rest is written.
	var sent int64 = 3
	for _, f := range frames {
		sent += int64(len(f))
	}
	read.waitFor(t, "bytes read before the rest of the cut frame", sent)
	writeRaw(t, c, last[3:])
	if mt, s := readWSSkipPings(t, c); mt != websocket.TextMessage || s != "4fragmented" {
		t.Fatalf("echo of a fragmented message: %d %q", mt, s)
	}
	select {
	case s := <-pongs:
		if s != "hi" {
			t.Fatalf("pong %q", s)
		}
	default:
		t.Fatal("no pong before the echo")
	}
	// A close with a code is answered with the same code.
	writeRaw(t, c, wstest.ClientFrame(0x80|wsconn.OpClose, []byte{0x0f, 0xa0})) // 4000
	expectClose(t, c, 4000)
	if r := ts.reason(t); r != ReasonTransportClose {
		t.Fatalf("reason %q", r)
	}
}

func TestWebSocketProtocolErrors(t *testing.T) {
	ts := startServer(t, nil)
	for _, tc := range []struct {
		name  string
		frame []byte
		code  int
	}{
		{"invalid UTF-8", wstest.ClientFrame(0x80|wsconn.OpText, []byte("4\xff")), websocket.CloseInvalidFramePayloadData},
		{"unknown opcode", wstest.ClientFrame(0x80|0x3, []byte("x")), websocket.CloseProtocolError},
		{"unmasked", []byte{0x81, 2, '4', 'x'}, websocket.CloseProtocolError},
		{"reserved bit", wstest.ClientFrame(0x80|0x20|wsconn.OpText, []byte("4x")), websocket.CloseProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.dial(t, "EIO=4&transport=websocket", nil)
			readWS(t, c)
			writeRaw(t, c, tc.frame)
			expectClose(t, c, tc.code)
			if r := ts.reason(t); r != ReasonTransportError {
				t.Fatalf("reason %q", r)
			}
		})
	}
}

// TestWebSocketBlockedDelivery: while OnMessage blocks, what other
// goroutines send is still written (the deferral to the reader ends).
func TestWebSocketBlockedDelivery(t *testing.T) {
	ts := startServer(t, nil)
	release := make(chan struct{})
	sessCh := make(chan *Session, 1)
	ts.setOnSession(func(s *Session) {
		sessCh <- s
		s.OnMessage(func(m Message) {
			_ = s.Send(Message{Data: []byte("before")})
			<-release
			_ = s.Send(m)
		})
	})
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	readWS(t, c)
	sess := <-sessCh
	_ = c.WriteMessage(websocket.TextMessage, []byte("4block"))
	if _, s := readWSSkipPings(t, c); s != "4before" {
		t.Fatalf("sent by the blocked callback: %q", s)
	}
	_ = sess.Send(Message{Data: []byte("other")})
	if _, s := readWSSkipPings(t, c); s != "4other" {
		t.Fatalf("sent during a blocked callback: %q", s)
	}
	close(release)
	if _, s := readWSSkipPings(t, c); s != "4block" {
		t.Fatalf("echo %q", s)
	}
}

// waitParked waits until the session's WebSocket is parked (no reading
// goroutine), as it is soon after wsIdleHandoff without traffic.
func waitParked(t *testing.T, w *wsTransport) {
	t.Helper()
	if !wsconn.Parking {
		return
	}
	eventually(t, "connection parked", func() bool { return w.conn.Status().Parked })
}

func wsOf(t *testing.T, sess *Session) *wsTransport {
	t.Helper()
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if sess.probe != nil {
		return sess.probe.(*wsTransport)
	}
	return sess.transport.(*wsTransport)
}

// shortIdle makes connections go idle (park) after a millisecond.
func shortIdle(t *testing.T) {
	old := wsIdleHandoff
	wsIdleHandoff = time.Millisecond
	t.Cleanup(func() { wsIdleHandoff = old })
}

// TestWebSocketIdleHandoff: a connection that went idle (parked, with
// no goroutine, on Linux) is woken by data, by a session close (the
// writer's end) and by Server.Close, and works as before in between.
func TestWebSocketIdleHandoff(t *testing.T) {
	shortIdle(t)
	ts := startServer(t, nil)
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	_, open := readWS(t, c)
	sess := ts.srv.lookup(parseOpen(t, open).SID)
	w := wsOf(t, sess)
	for i := range 2*wsconn.ColdBursts + 3 {
		if i%3 == 0 {
			waitParked(t, w)
		}
		msg := strings.Repeat("m", i+1)
		_ = c.WriteMessage(websocket.TextMessage, []byte("4"+msg))
		if _, s := readWSSkipPings(t, c); s != "4"+msg {
			t.Fatalf("echo %d: %q", i, s)
		}
	}
	waitParked(t, w)
	sess.Close()
	expectClose(t, c, websocket.CloseNormalClosure)
	if r := ts.reason(t); r != ReasonForcedClose {
		t.Fatalf("reason %q", r)
	}

	c2 := ts.dial(t, "EIO=4&transport=websocket", nil)
	_, open = readWS(t, c2)
	waitParked(t, wsOf(t, ts.srv.lookup(parseOpen(t, open).SID)))
	ts.srv.Close()
	expectClose(t, c2, websocket.CloseNormalClosure)
}

// TestWebSocketParkedProbe: a probing WebSocket that went idle is still
// ended by the upgrade timeout, and the session goes on over polling.
func TestWebSocketParkedProbe(t *testing.T) {
	shortIdle(t)
	ts := startServer(t, &Options{UpgradeTimeout: 200 * time.Millisecond})
	sid := ts.handshake(t)
	c := ts.dial(t, "EIO=4&transport=websocket&sid="+sid, nil)
	_ = c.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, s := readWS(t, c); s != "3probe" {
		t.Fatalf("probe answer %q", s)
	}
	waitParked(t, wsOf(t, ts.srv.lookup(sid)))
	expectClose(t, c, 0) // no "5" within UpgradeTimeout
	q := "EIO=4&transport=polling&sid=" + sid
	ts.do(t, "POST", q, "4still here")
	if code, _, body := ts.do(t, "GET", q, ""); code != 200 || body != "4still here" {
		t.Fatalf("polling after the aborted upgrade: %d %q", code, body)
	}
}

// TestWebSocketOnGroup: mounted on a group (fasthttp then closes hijacked
// connections itself), each WebSocket runs on fasthttp's hijack goroutine.
func TestWebSocketOnGroup(t *testing.T) {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	srv := NewServer(&Options{Logger: quietLogger})
	srv.OnSession(func(s *Session) {
		s.OnMessage(func(m Message) { _ = s.Send(m) })
	})
	srv.Mount(app.Group("/g"), "/socket.io/")
	if app.Server().KeepHijackedConns {
		t.Fatal("KeepHijackedConns set for a group")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = app.Listener(ln) }()
	t.Cleanup(func() {
		srv.Close()
		_ = app.Shutdown()
		<-served
	})
	c, _, err := websocket.DefaultDialer.Dial("ws://"+ln.Addr().String()+"/g/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	readWS(t, c)
	_ = c.WriteMessage(websocket.TextMessage, []byte("4group"))
	if _, s := readWSSkipPings(t, c); s != "4group" {
		t.Fatalf("echo %q", s)
	}
	srv.Close()
	expectClose(t, c, websocket.CloseNormalClosure)
}

func TestWebSocketBadHandshake(t *testing.T) {
	ts := startServer(t, nil)
	code, _, _ := ts.do(t, "GET", "EIO=4&transport=websocket", "",
		"Connection", "Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "12", "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if code != fiber.StatusUpgradeRequired {
		t.Fatalf("version 12: %d", code)
	}
	code, _, _ = ts.do(t, "GET", "EIO=4&transport=websocket", "",
		"Connection", "keep-alive, Upgrade", "Upgrade", "websocket", "Sec-WebSocket-Version", "13")
	if code != fiber.StatusUpgradeRequired {
		t.Fatalf("no key: %d", code)
	}
}

// TestWebSocketLargeMessages: messages spanning many reads are reassembled
// (up to exactly MaxPayload), and one byte more fails with 1009.
func TestWebSocketLargeMessages(t *testing.T) {
	const maxPayload = 300 << 10
	ts := startServer(t, &Options{MaxPayload: maxPayload})
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	readWS(t, c)
	big := make([]byte, maxPayload)
	for i := range big {
		big[i] = byte(i * 13)
	}
	_ = c.WriteMessage(websocket.BinaryMessage, big)
	text := "4" + strings.Repeat("é", (maxPayload-1)/2)
	_ = c.WriteMessage(websocket.TextMessage, []byte(text))
	if mt, s := readWSSkipPings(t, c); mt != websocket.BinaryMessage || s != string(big) {
		t.Fatalf("binary echo: type %d, %d bytes", mt, len(s))
	}
	if mt, s := readWSSkipPings(t, c); mt != websocket.TextMessage || s != text {
		t.Fatalf("text echo: type %d, %d bytes", mt, len(s))
	}
	_ = c.WriteMessage(websocket.BinaryMessage, append(big, 0))
	expectClose(t, c, websocket.CloseMessageTooBig)
	if r := ts.reason(t); r != ReasonTransportError {
		t.Fatalf("reason %q", r)
	}
}

// BenchmarkWebSocketEcho measures one message echoed by the server
// (client write, server read, delivery, Send, server write, client read).
func BenchmarkWebSocketEcho(b *testing.B) {
	ts := startServer(b, nil)
	c := ts.dial(b, "EIO=4&transport=websocket", nil)
	readWS(b, c)
	_ = c.SetReadDeadline(time.Time{})
	msg := []byte(`4{"hello":"world"}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

// selfSignedTLS returns a server config with a fresh certificate for
// 127.0.0.1 and a client config trusting it.
func selfSignedTLS(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

// TestWebSocketOverTLS: a connection without a RawConn (TLS) is read with
// blocking reads and written by the writer goroutine only; it echoes,
// idles (a fresh goroutine waits) and closes like the others.
func TestWebSocketOverTLS(t *testing.T) {
	shortIdle(t)
	idles := newHookCounter() // readers that found the connection idle and rested
	setWSHooks(t, wsconn.Hooks{Rest: func(idle bool) {
		if idle {
			idles.add(1)
		}
	}})
	srvTLS, cliTLS := selfSignedTLS(t)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	srv := NewServer(&Options{Logger: quietLogger})
	srv.OnSession(func(s *Session) {
		s.OnMessage(func(m Message) { _ = s.Send(m) })
	})
	srv.Mount(app, "/socket.io/")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = app.Listener(tls.NewListener(ln, srvTLS)) }()
	t.Cleanup(func() {
		srv.Close()
		_ = app.Shutdown()
		<-served
	})
	d := websocket.Dialer{TLSClientConfig: cliTLS}
	c, _, err := d.Dial("wss://"+ln.Addr().String()+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	readWS(t, c)
	// A new connection goes idle once before the first message; after
	// each echo it goes idle again (a fresh goroutine waits, with no read
	// deadline, until the next message).
	idles.waitFor(t, "idle rests after the open", 1)
	for i := range 2*wsconn.ColdBursts + 2 {
		msg := "4" + strings.Repeat("t", i*1000+1)
		_ = c.WriteMessage(websocket.TextMessage, []byte(msg))
		if _, s := readWSSkipPings(t, c); s != msg {
			t.Fatalf("echo %d: %d bytes", i, len(s))
		}
		idles.waitFor(t, fmt.Sprintf("idle rests after echo %d", i), int64(i)+2)
	}
	srv.Close()
	expectClose(t, c, websocket.CloseNormalClosure)
}
