package engine

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/fasthttp/websocket"
)

// TestSlowConsumerBytes: the outbound queue is bounded in bytes as well
// as packets. Over polling with no GET, nothing is taken: two 40 kB
// messages fit a 100 kB budget, the third closes the session as a slow
// consumer (and its Send says so) although the queue holds 3 packets of
// the 1024 allowed; the next GET still gets what was queued, then the
// close packet.
func TestSlowConsumerBytes(t *testing.T) {
	ts := startServer(t, &Options{MaxQueuedBytes: 100_000})
	sid := ts.handshake(t)
	sess := ts.srv.lookup(sid)
	msg := Message{Data: []byte(strings.Repeat("x", 40_000))}
	for i := range 2 {
		if err := sess.Send(msg); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if err := sess.Send(msg); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("third send: %v, want ErrSlowConsumer", err)
	}
	if r := ts.reason(t); r != ReasonSlowConsumer {
		t.Fatalf("reason %q", r)
	}
	code, _, body := ts.do(t, "GET", "EIO=4&transport=polling&sid="+sid, "")
	want := "4" + string(msg.Data) + "\x1e4" + string(msg.Data) + "\x1e1"
	if code != 200 || body != want {
		t.Fatalf("final GET: %d, %d bytes (want %d)", code, len(body), len(want))
	}
}

// TestSlowConsumerBytesLargeMessage: one message larger than the byte
// budget is written when the queue holds no message data; a second one
// queued behind it is refused.
func TestSlowConsumerBytesLargeMessage(t *testing.T) {
	ts := startServer(t, &Options{MaxQueuedBytes: 1000})
	sid := ts.handshake(t)
	sess := ts.srv.lookup(sid)
	big := Message{Data: []byte(strings.Repeat("y", 5000))}
	if err := sess.Send(big); err != nil {
		t.Fatalf("large message into an empty queue: %v", err)
	}
	code, _, body := ts.do(t, "GET", "EIO=4&transport=polling&sid="+sid, "")
	if code != 200 || body != "4"+string(big.Data) {
		t.Fatalf("GET: %d, %d bytes", code, len(body))
	}
	if err := sess.Send(big); err != nil {
		t.Fatalf("after the GET took it: %v", err)
	}
	if err := sess.Send(Message{Data: []byte("z")}); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("behind a large message: %v, want ErrSlowConsumer", err)
	}
}

// TestSlowConsumerBytesWebSocket: a WebSocket client that stops reading
// is disconnected by the byte budget long before the packet bound: 64 KiB
// messages, 1 MiB budget, at most 1000 sends (under MaxQueue's 1024), so
// only the socket buffers (far less than 64 MB) can take the rest.
func TestSlowConsumerBytesWebSocket(t *testing.T) {
	ts := startServer(t, &Options{MaxQueuedBytes: 1 << 20})
	sessCh := make(chan *Session, 1)
	ts.setOnSession(func(s *Session) { sessCh <- s })
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	readWS(t, c) // the open packet; then the client reads nothing
	sess := <-sessCh
	ts.sendUntilSlow(t, sess, Message{Data: []byte(strings.Repeat("w", 64<<10))}, 1000)
}

// sendUntilSlow sends msg to sess, whose client does not read, at most n
// times, and fails unless a Send ends with ErrSlowConsumer and the session
// closes for that reason.
func (ts *testServer) sendUntilSlow(t *testing.T, sess *Session, msg Message, n int) {
	t.Helper()
	var err error
	for i := 0; i < n && err == nil; i++ {
		err = sess.Send(msg)
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("%d sends to a client that does not read: %v, want ErrSlowConsumer", n, err)
	}
	if r := ts.reason(t); r != ReasonSlowConsumer {
		t.Fatalf("reason %q", r)
	}
}

// TestMaxSessions: handshakes beyond MaxSessions get 503 with the
// Engine.IO error JSON, over polling and for a WebSocket (before the
// upgrade); a closed session frees its place.
func TestMaxSessions(t *testing.T) {
	ts := startServer(t, &Options{MaxSessions: 2})
	first := ts.handshake(t)
	ts.handshake(t)
	code, hdr, body := ts.do(t, "GET", "EIO=4&transport=polling", "")
	if code != http.StatusServiceUnavailable || body != `{"code":3,"message":"Server at capacity"}` ||
		hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("third handshake: %d %q %q", code, hdr.Get("Content-Type"), body)
	}
	_, res, err := websocket.DefaultDialer.Dial("ws://"+ts.addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err == nil || res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("websocket handshake at capacity: %v", err)
	}
	// Requests of existing sessions are not refused.
	if code, _, body := ts.do(t, "POST", "EIO=4&transport=polling&sid="+first, "4hi"); code != 200 || body != "ok" {
		t.Fatalf("POST of an existing session: %d %q", code, body)
	}
	ts.srv.lookup(first).Close()
	if r := ts.reason(t); r != ReasonForcedClose {
		t.Fatalf("reason %q", r)
	}
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	if _, s := readWS(t, c); !strings.HasPrefix(s, "0{") {
		t.Fatalf("websocket after a session closed: %q", s)
	}
}

// TestMaxSessionsDefault: the default cap applies, and a negative one
// means none.
func TestMaxSessionsDefault(t *testing.T) {
	if got := newConfig(nil).maxSessions; got != DefaultMaxSessions {
		t.Fatalf("default cap %d", got)
	}
	if got := newConfig(&Options{MaxSessions: -1}).maxSessions; got != 0 {
		t.Fatalf("negative cap: %d, want none", got)
	}
}

// TestCORSOriginCase: listed origins match case-insensitively (scheme and
// host), as the REST API's CORS does; the request's Origin is reflected.
func TestCORSOriginCase(t *testing.T) {
	ts := startServer(t, &Options{CORSOrigins: []string{"https://App.Example.com"}})
	for _, origin := range []string{"https://app.example.com", "HTTPS://APP.EXAMPLE.COM", "https://App.Example.com"} {
		code, hdr, body := ts.do(t, "GET", "EIO=4&transport=polling", "", "Origin", origin)
		if code != 200 || !strings.HasPrefix(body, "0{") || hdr.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("Origin %q: %d %q, allowed %q", origin, code, body, hdr.Get("Access-Control-Allow-Origin"))
		}
		code, hdr, _ = ts.do(t, "OPTIONS", "EIO=4&transport=polling", "", "Origin", origin)
		if code != 204 || hdr.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("preflight from %q: %d", origin, code)
		}
	}
	c := ts.dial(t, "EIO=4&transport=websocket", http.Header{"Origin": {"https://APP.example.com"}})
	if _, s := readWS(t, c); !strings.HasPrefix(s, "0{") {
		t.Fatalf("websocket: %q", s)
	}
	for _, origin := range []string{"https://app.example.org", "http://app.example.com", "https://app.example.com:8443"} {
		if code, _, _ := ts.do(t, "GET", "EIO=4&transport=polling", "", "Origin", origin); code != 403 {
			t.Fatalf("Origin %q: %d, want 403", origin, code)
		}
	}
}
