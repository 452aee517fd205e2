package engine

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// TestQueueBudgetDefault: the global budget defaults to
// DefaultMaxQueuedBytesTotal; a negative one means none.
func TestQueueBudgetDefault(t *testing.T) {
	if got := newConfig(nil).queued.max; got != DefaultMaxQueuedBytesTotal {
		t.Fatalf("default budget %d", got)
	}
	if got := newConfig(&Options{MaxQueuedBytesTotal: -1}).queued.max; got != 0 {
		t.Fatalf("negative budget: %d, want none", got)
	}
	b := newConfig(&Options{MaxQueuedBytesTotal: -1}).queued
	if !b.reserve(1<<40, 0, false) || b.total.Load() != 1<<40 {
		t.Fatal("no budget refused a reservation")
	}
}

// TestQueueBudgetSlowConsumers: many slow consumers — polling sessions
// that never GET, and a WebSocket client that stops reading — share a
// 200 kB global budget while each may queue 1 MB. Once the total is
// exhausted, a slow consumer's next Send closes it as a slow consumer
// (ErrSlowConsumer, reason "slow consumer") and releases its bytes; the
// total never exceeds the budget; the slow consumers that were not closed
// still get their queue. Fast consumers (over both transports, each
// reading a message before the next is sent, some larger than the room
// left) get every message and stay open, and new sessions are still
// accepted.
func TestQueueBudgetSlowConsumers(t *testing.T) {
	const budget = 200_000
	ts := startServer(t, &Options{MaxQueuedBytes: 1 << 20, MaxQueuedBytesTotal: budget})
	msg := Message{Data: []byte(strings.Repeat("s", 20_000))}

	// Fast consumers: one WebSocket, one polling session with a GET
	// pending at every Send.
	fastWS := ts.dial(t, "EIO=4&transport=websocket", nil)
	_, open := readWS(t, fastWS)
	fastWSSess := ts.srv.lookup(parseOpen(t, open).SID)
	fastPollSID := ts.handshake(t)
	fastPoll := ts.srv.lookup(fastPollSID)
	fast := func(round int) {
		t.Helper()
		big := Message{Data: []byte(strings.Repeat("f", 150_000+round))} // more than the room left
		if err := fastWSSess.Send(big); err != nil {
			t.Fatalf("round %d: Send to the fast WebSocket: %v", round, err)
		}
		if _, s := readWSSkipPings(t, fastWS); s != "4"+string(big.Data) {
			t.Fatalf("round %d: fast WebSocket got %d bytes", round, len(s))
		}
		get := ts.asyncGet(t, fastPollSID)
		ts.waitGetPending(t, fastPollSID)
		if err := fastPoll.Send(big); err != nil {
			t.Fatalf("round %d: Send to the fast polling session: %v", round, err)
		}
		if got := recv(t, get); got != "200 4"+string(big.Data) {
			t.Fatalf("round %d: fast GET got %d bytes", round, len(got))
		}
	}

	// A WebSocket slow consumer: its writer blocks once the socket
	// buffers are full (far less than 1000 × 64 KiB), then its queue fills.
	slowWS := ts.dial(t, "EIO=4&transport=websocket", nil)
	_, open = readWS(t, slowWS) // then the client reads nothing
	slowWSSess := ts.srv.lookup(parseOpen(t, open).SID)
	ts.sendUntilSlow(t, slowWSSess, Message{Data: make([]byte, 64<<10)}, 1000)

	// Polling slow consumers: 30 sessions, rounds of one 20 kB message
	// each (600 kB a round, three times the budget).
	const slow = 30
	sids := make([]string, slow)
	sessions := make([]*Session, slow)
	for i := range sids {
		sids[i] = ts.handshake(t)
		sessions[i] = ts.srv.lookup(sids[i])
	}
	queued := make([]int, slow) // messages queued per open slow session
	exact := func(when string) {
		t.Helper()
		var sum int64
		for i, sess := range sessions {
			if sess != nil {
				sum += int64(queued[i] * len(msg.Data))
			}
		}
		if n := ts.srv.QueuedBytes(); n != sum {
			t.Fatalf("%s: QueuedBytes = %d, want %d (the open slow sessions' queues)", when, n, sum)
		}
	}
	closedSlow := 0
	for round := range 4 {
		for i, sess := range sessions {
			if sess == nil {
				continue
			}
			switch err := sess.Send(msg); {
			case err == nil:
				queued[i]++
			case errors.Is(err, ErrSlowConsumer):
				if queued[i] == 0 {
					t.Fatalf("round %d: session %d closed with an empty queue", round, i)
				}
				if r := ts.reason(t); r != ReasonSlowConsumer {
					t.Fatalf("reason %q", r)
				}
				sessions[i] = nil
				closedSlow++
			default:
				t.Fatalf("round %d: session %d: %v", round, i, err)
			}
		}
		exact(fmt.Sprintf("round %d", round))
		// Round 0 takes one message into each empty queue (600 kB); from
		// round 1 on every refused Send releases its session's bytes.
		if n := ts.srv.QueuedBytes(); round > 0 && (n > budget || n == 0) {
			t.Fatalf("round %d: %d bytes queued, want some and at most the %d budget", round, n, budget)
		}
		fast(round)
		exact(fmt.Sprintf("round %d, fast consumers served", round))
	}
	if closedSlow == 0 || closedSlow == slow {
		t.Fatalf("%d of %d slow consumers closed by the global budget", closedSlow, slow)
	}

	// The server is up: a new session works, the fast ones are open, and
	// the slow consumers left open get what they queued.
	if sid := ts.handshake(t); ts.srv.lookup(sid) == nil {
		t.Fatal("new session not registered")
	}
	for _, s := range []*Session{fastWSSess, fastPoll} {
		if err := s.Send(Message{Data: []byte("still open")}); err != nil {
			t.Fatalf("fast session %s: %v", s.ID(), err)
		}
	}
	for i, sess := range sessions {
		if sess == nil {
			continue
		}
		code, _, body := ts.do(t, "GET", "EIO=4&transport=polling&sid="+sids[i], "")
		if want := strings.Repeat("\x1e4"+string(msg.Data), queued[i])[1:]; code != 200 || body != want {
			t.Fatalf("slow session %d: GET %d, %d bytes, want %d messages", i, code, len(body), queued[i])
		}
	}
}

// TestQueueBudgetReturnsToZero: every way a queue is emptied gives its
// bytes back to the global budget, so that once every session has closed
// QueuedBytes is exactly 0. Each step checks the exact count while data
// is queued, then 0 once the queue is taken (while the session is still
// open) or the session is gone: polling GET, SendVolatile, Close before
// the GET, a parse error, slow consumer, polling → websocket upgrade with
// packets queued during the probe and taken by the websocket, a
// websocket's own queue, ping timeout, and server shutdown with data
// queued on both transports.
func TestQueueBudgetReturnsToZero(t *testing.T) {
	ts := startServer(t, &Options{MaxQueuedBytes: 10_000, PingInterval: time.Hour, PingTimeout: 20 * time.Millisecond})
	want := func(step string, n int64) {
		t.Helper()
		if got := ts.srv.QueuedBytes(); got != n {
			t.Fatalf("%s: QueuedBytes = %d, want %d", step, got, n)
		}
	}
	want("start", 0)
	m := func(s string) Message { return Message{Data: []byte(s)} }

	// Taken by a GET.
	sid := ts.handshake(t)
	q := "EIO=4&transport=polling&sid=" + sid
	sess := ts.srv.lookup(sid)
	_ = sess.Send(m("abc"), m("de"))
	_ = sess.Send(Message{Binary: true, Data: []byte{1, 2, 3, 4}})
	want("two sends", 9)
	if code, _, _ := ts.do(t, "GET", q, ""); code != 200 {
		t.Fatalf("GET: %d", code)
	}
	want("after the GET", 0)

	// Echo and SendVolatile into a pending GET.
	ts.do(t, "POST", q, "4echo")
	want("echo queued", 4)
	ts.do(t, "GET", q, "")
	get := ts.asyncGet(t, sid)
	ts.waitGetPending(t, sid)
	if !sess.SendVolatile(m("vol")) {
		t.Fatal("volatile refused with a GET pending")
	}
	if got := recv(t, get); got != "200 4vol" {
		t.Fatalf("GET %q", got)
	}
	want("after SendVolatile", 0)

	// Close with data queued and no GET: released at the close; the
	// lingering session still hands the data to the next GET.
	_ = sess.Send(m("bye"))
	want("queued before Close", 3)
	sess.Close()
	ts.reason(t)
	want("after Close", 0)
	if code, _, body := ts.do(t, "GET", q, ""); code != 200 || body != "4bye\x1e1" {
		t.Fatalf("GET after Close: %d %q", code, body)
	}

	// A parse error closes the session (an error close: no linger).
	sid = ts.handshake(t)
	_ = ts.srv.lookup(sid).Send(m("lost"))
	want("queued before the parse error", 4)
	if code, _, _ := ts.do(t, "POST", "EIO=4&transport=polling&sid="+sid, "zz"); code != 400 {
		t.Fatalf("bad POST: %d", code)
	}
	if r := ts.reason(t); r != ReasonParseError {
		t.Fatalf("reason %q", r)
	}
	want("after the parse error", 0)

	// Slow consumer (its own bound).
	sid = ts.handshake(t)
	sess = ts.srv.lookup(sid)
	_ = sess.Send(m(strings.Repeat("x", 6000)))
	if err := sess.Send(m(strings.Repeat("x", 6000))); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("over MaxQueuedBytes: %v", err)
	}
	ts.reason(t)
	want("after slow consumer", 0)

	// Upgrade: "buffered" (8 bytes) is sent during the probe and written on
	// the websocket after the "5" (see upgrade), so it is counted until
	// the websocket's writer takes it.
	sid = ts.handshake(t)
	c := ts.upgradeWith(t, sid, func() { want("queued during the probe", 8) })
	want("after the upgrade", 0)
	c0 := sid
	_ = c.WriteMessage(websocket.TextMessage, []byte("4over ws"))
	if _, s := readWSSkipPings(t, c); s != "4over ws" {
		t.Fatalf("echo %q", s)
	}
	want("after a websocket echo", 0)

	// Ping timeout with data queued (the heartbeat is an hour: the test
	// sends the ping).
	sid = ts.handshake(t)
	sess = ts.srv.lookup(sid)
	_ = sess.Send(m("unanswered"))
	want("queued before the ping", 10)
	sess.sendPing()
	if r := ts.reason(t); r != ReasonPingTimeout {
		t.Fatalf("reason %q", r)
	}
	want("after ping timeout", 0)

	// Server shutdown with data queued on a polling session (no GET) and
	// a last message for the upgraded websocket.
	sess = ts.srv.lookup(c0)
	sid = ts.handshake(t)
	_ = ts.srv.lookup(sid).Send(m("queued"))
	want("polling data before shutdown", 6)
	_ = sess.Send(m("last words"))
	ts.srv.Close()
	want("after Server.Close", 0)
	for range 2 {
		if r := ts.reason(t); r != ReasonServerShutdown {
			t.Fatalf("reason %q", r)
		}
	}
	expectClose(t, c, websocket.CloseNormalClosure)
}

// TestQueueBudgetVolatile: SendVolatile keeps the total within half the
// global budget, dropping rather than closing.
func TestQueueBudgetVolatile(t *testing.T) {
	ts := startServer(t, &Options{MaxQueuedBytesTotal: 100})
	holder := ts.srv.lookup(ts.handshake(t)) // never GETs
	if err := holder.Send(Message{Data: make([]byte, 40)}); err != nil {
		t.Fatal(err)
	}
	sid := ts.handshake(t)
	sess := ts.srv.lookup(sid)
	get := ts.asyncGet(t, sid)
	ts.waitGetPending(t, sid)
	if sess.SendVolatile(Message{Data: make([]byte, 11)}) {
		t.Fatal("volatile message past half the budget (40+11 > 50) queued")
	}
	if !sess.SendVolatile(Message{Data: []byte("0123456789")}) {
		t.Fatal("volatile message within half the budget (40+10) dropped")
	}
	if got := recv(t, get); got != "200 40123456789" {
		t.Fatalf("GET %q", got)
	}
	if n := ts.srv.QueuedBytes(); n != 40 {
		t.Fatalf("QueuedBytes = %d, want the holder's 40", n)
	}
}

// TestQueueBudgetConcurrent: senders racing on many sessions — WebSocket
// clients that read, WebSocket clients and polling sessions that do not —
// with a budget small enough that the global and per-session bounds both
// close sessions, keep the count exact: the total never exceeds the budget
// by more than one message per session (the empty-queue exception), and
// once the server has closed every session it is exactly 0.
func TestQueueBudgetConcurrent(t *testing.T) {
	const budget, maxMsg = 256 << 10, 8 << 10
	ts := startServer(t, &Options{MaxQueuedBytes: 64 << 10, MaxQueuedBytesTotal: budget})
	var sessions []*Session
	var readers sync.WaitGroup
	for i := range 12 {
		c := ts.dial(t, "EIO=4&transport=websocket", nil)
		_, open := readWS(t, c)
		sessions = append(sessions, ts.srv.lookup(parseOpen(t, open).SID))
		if i%2 == 0 { // a fast consumer: reads until the connection ends
			readers.Add(1)
			go func() {
				defer readers.Done()
				for {
					if _, _, err := c.ReadMessage(); err != nil {
						return
					}
				}
			}()
		}
	}
	for range 6 {
		sessions = append(sessions, ts.srv.lookup(ts.handshake(t)))
	}
	var senders sync.WaitGroup
	var over atomic.Int64 // the largest total seen past the bound
	for g := range 4 {
		senders.Add(1)
		go func() {
			defer senders.Done()
			for i := range 2000 {
				s := sessions[(g*7+i*5)%len(sessions)]
				m := Message{Data: make([]byte, 1+(g*997+i*131)%maxMsg)}
				if i%3 == 0 {
					s.SendVolatile(m)
				} else {
					_ = s.Send(m)
				}
				if n := ts.srv.QueuedBytes(); n > budget+int64(len(sessions))*maxMsg && n > over.Load() {
					over.Store(n)
				}
			}
		}()
	}
	senders.Wait()
	if n := ts.srv.SessionCount(); n >= len(sessions) {
		t.Fatalf("%d of %d sessions open: no slow consumer closed", n, len(sessions))
	}
	if n := over.Load(); n != 0 {
		t.Fatalf("QueuedBytes reached %d, past the budget plus one message per session", n)
	}
	ts.srv.Close()
	readers.Wait()
	if n := ts.srv.QueuedBytes(); n != 0 {
		t.Fatalf("after Server.Close: QueuedBytes = %d, want 0", n)
	}
	if n := ts.srv.SessionCount(); n != 0 {
		t.Fatalf("SessionCount = %d", n)
	}
}
