package engine

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"
)

// fakeTransport records what the session tells it.
type fakeTransport struct {
	name     string
	notified chan struct{}
	mu       sync.Mutex
	writable bool
	closed   int
}

func newFake(name string) *fakeTransport {
	return &fakeTransport{name: name, notified: make(chan struct{}, 1), writable: true}
}

func (f *fakeTransport) Name() string { return f.name }
func (f *fakeTransport) Notify() {
	select {
	case f.notified <- struct{}{}:
	default:
	}
}
func (f *fakeTransport) Writable() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.writable }
func (f *fakeTransport) Close()         { f.mu.Lock(); f.closed++; f.mu.Unlock(); f.Notify() }
func (f *fakeTransport) closes() int    { f.mu.Lock(); defer f.mu.Unlock(); return f.closed }

// fakeRegistry records what a session reports to its table.
type fakeRegistry struct {
	closed chan bool // linger flag of each sessionClosed
	forgot chan struct{}
}

func (r *fakeRegistry) sessionClosed(_ *Session, linger bool) { r.closed <- linger }
func (r *fakeRegistry) forgetSession(*Session)                { r.forgot <- struct{}{} }

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

type sessionHarness struct {
	s        *Session
	t        *fakeTransport
	wg       sync.WaitGroup
	msgs     chan Message
	reasons  chan string
	reg      *fakeRegistry
	closeCnt int
}

func newHarness(t *testing.T, opts *Options) *sessionHarness {
	t.Helper()
	if opts == nil {
		opts = &Options{}
	}
	opts.Logger = quietLogger
	h := &sessionHarness{
		t:       newFake(transportPolling),
		msgs:    make(chan Message, 100),
		reasons: make(chan string, 10),
		reg:     &fakeRegistry{closed: make(chan bool, 10), forgot: make(chan struct{}, 10)},
	}
	h.s = newSession("sid1", newConfig(opts), &Handshake{}, h.t, h.reg)
	h.s.OnMessage(func(m Message) { h.msgs <- m })
	h.s.OnClose(func(r string) { h.reasons <- r })
	h.s.start(&h.wg)
	t.Cleanup(func() {
		h.s.Close()
		h.wg.Wait()
	})
	return h
}

func (h *sessionHarness) reason(t *testing.T) string {
	t.Helper()
	select {
	case r := <-h.reasons:
		// Done is closed once the deliverer has run OnClose and ended for
		// good: a second OnClose would be in reasons by then.
		select {
		case <-h.s.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Done not closed after OnClose")
		}
		select {
		case r2 := <-h.reasons:
			t.Fatalf("OnClose called twice: %q then %q", r, r2)
		default:
		}
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("OnClose not called")
	}
	return ""
}

func types(pkts []packet) []PacketType {
	out := make([]PacketType, len(pkts))
	for i, p := range pkts {
		out[i] = p.typ
	}
	return out
}

func TestSessionOpenPacket(t *testing.T) {
	for _, tc := range []struct {
		transport string
		upgrades  []string
	}{{transportPolling, []string{"websocket"}}, {transportWebSocket, []string{}}} {
		t.Run(tc.transport, func(t *testing.T) {
			cfg := newConfig(&Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, Logger: quietLogger})
			s := newSession("abc", cfg, &Handshake{}, newFake(tc.transport), nil)
			pkts, st := s.take(s.transport)
			if st != takeOpen || len(pkts) != 1 || pkts[0].typ != PacketOpen {
				t.Fatalf("take = %v %v, want one open packet", types(pkts), st)
			}
			var fields map[string]json.RawMessage
			if err := json.Unmarshal(pkts[0].data, &fields); err != nil {
				t.Fatal(err)
			}
			keys := make([]string, 0, len(fields))
			for k := range fields {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if want := []string{"maxPayload", "pingInterval", "pingTimeout", "sid", "upgrades"}; !slices.Equal(keys, want) {
				t.Fatalf("open packet keys %v, want %v", keys, want)
			}
			var ups []string
			_ = json.Unmarshal(fields["upgrades"], &ups)
			if !slices.Equal(ups, tc.upgrades) || string(fields["pingInterval"]) != "300" ||
				string(fields["pingTimeout"]) != "200" || string(fields["maxPayload"]) != "1000000" || string(fields["sid"]) != `"abc"` {
				t.Fatalf("open packet %s", pkts[0].data)
			}
		})
	}
}

func TestSessionSendOrderAndDelivery(t *testing.T) {
	h := newHarness(t, nil)
	h.s.take(h.t) // open packet
	if err := h.s.Send(Message{Data: []byte("a")}, Message{Binary: true, Data: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Send(Message{Data: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	pkts, _ := h.s.take(h.t)
	if len(pkts) != 3 || string(pkts[0].data) != "a" || !pkts[1].binary || string(pkts[2].data) != "b" {
		t.Fatalf("take = %+v", pkts)
	}
	for i := range 10 {
		if !h.s.receive(h.t, packet{typ: PacketMessage, data: []byte{byte('0' + i)}}) {
			t.Fatal("receive refused")
		}
	}
	h.s.receive(h.t, packet{typ: PacketClose})
	for i := range 10 {
		m := <-h.msgs
		if string(m.Data) != string(rune('0'+i)) {
			t.Fatalf("message %d = %q", i, m.Data)
		}
	}
	if r := h.reason(t); r != ReasonTransportClose {
		t.Fatalf("reason %q", r)
	}
	if linger := <-h.reg.closed; !linger {
		t.Fatal("client-closed polling session does not linger")
	}
	// A client close queues no close packet (the pending GET gets a noop).
	if pkts, st := h.s.take(h.t); len(pkts) != 0 || st != takeDone {
		t.Fatalf("after client close: %v %v", types(pkts), st)
	}
	if err := h.s.Send(Message{Data: []byte("x")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after close: %v", err)
	}
	if h.s.receive(h.t, packet{typ: PacketMessage}) {
		t.Fatal("receive accepted after close")
	}
}

func TestSessionServerCloseQueuesClosePacket(t *testing.T) {
	h := newHarness(t, nil)
	h.s.take(h.t)
	_ = h.s.Send(Message{Data: []byte("last")})
	h.s.Close()
	h.s.Close()
	pkts, st := h.s.take(h.t)
	if st != takeDone || !slices.Equal(types(pkts), []PacketType{PacketMessage, PacketClose}) {
		t.Fatalf("take after Close = %v %v", types(pkts), st)
	}
	if r := h.reason(t); r != ReasonForcedClose {
		t.Fatalf("reason %q", r)
	}
	if h.t.closes() != 1 {
		t.Fatalf("transport closed %d times", h.t.closes())
	}
	select {
	case linger := <-h.reg.closed:
		if !linger {
			t.Fatal("closed polling session with a close packet does not linger")
		}
	default:
		t.Fatal("session not removed")
	}
	select {
	case <-h.reg.forgot:
	default:
		t.Fatal("lingering session not forgotten once its close packet was taken")
	}
	select {
	case <-h.s.Done():
	case <-time.After(time.Second):
		t.Fatal("Done not closed")
	}
}

func TestSessionQueueOverflow(t *testing.T) {
	h := newHarness(t, &Options{MaxQueue: 4})
	h.s.take(h.t)
	if err := h.s.Send(make([]Message, 4)...); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Send(Message{}); !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("overflowing Send: %v", err)
	}
	if r := h.reason(t); r != ReasonSlowConsumer {
		t.Fatalf("reason %q", r)
	}
	if err := h.s.Send(Message{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after overflow: %v", err)
	}
}

func TestSessionSendVolatile(t *testing.T) {
	h := newHarness(t, &Options{MaxQueue: 4})
	h.s.take(h.t)
	if !h.s.SendVolatile(Message{}, Message{}) {
		t.Fatal("volatile refused on an empty queue")
	}
	if h.s.SendVolatile(Message{}) {
		t.Fatal("volatile accepted over half the queue")
	}
	h.s.take(h.t)
	h.t.mu.Lock()
	h.t.writable = false
	h.t.mu.Unlock()
	if h.s.SendVolatile(Message{}) {
		t.Fatal("volatile accepted on a transport that is not writable")
	}
	if pkts, _ := h.s.take(h.t); len(pkts) != 0 {
		t.Fatalf("dropped volatile messages were queued: %v", types(pkts))
	}
}

func TestSessionHeartbeat(t *testing.T) {
	// A pong deadline a late test goroutine on a loaded machine cannot miss.
	h := newHarness(t, &Options{PingInterval: 20 * time.Millisecond, PingTimeout: time.Second})
	h.s.take(h.t)
	// Answer three pings: the session must stay open.
	for i := 0; i < 3; {
		select {
		case <-h.t.notified:
		case r := <-h.reasons:
			t.Fatalf("closed while answering pings: %q", r)
		case <-time.After(5 * time.Second):
			t.Fatal("no ping")
		}
		pkts, _ := h.s.take(h.t)
		for _, p := range pkts {
			if p.typ == PacketPing {
				i++
				h.s.receive(h.t, packet{typ: PacketPong})
			}
		}
	}
	// Stop answering: ping timeout.
	if r := h.reason(t); r != ReasonPingTimeout {
		t.Fatalf("reason %q", r)
	}
}

func TestSessionClientPingIsAnError(t *testing.T) {
	h := newHarness(t, nil)
	h.s.receive(h.t, packet{typ: PacketPing})
	if r := h.reason(t); r != ReasonTransportError {
		t.Fatalf("reason %q", r)
	}
}

func TestSessionUpgrade(t *testing.T) {
	h := newHarness(t, nil)
	h.s.take(h.t)
	ws := newFake(transportWebSocket)
	if !h.s.beginProbe(ws, time.Minute) {
		t.Fatal("beginProbe refused")
	}
	if h.s.beginProbe(newFake(transportWebSocket), time.Minute) {
		t.Fatal("second probe accepted")
	}
	if pkts, st := h.s.take(h.t); st != takeOpen || len(pkts) != 0 {
		t.Fatalf("before the probe: %v %v", types(pkts), st)
	}
	if !h.s.probed(ws) {
		t.Fatal("probed refused")
	}
	if _, st := h.s.take(h.t); st != takeUpgrading {
		t.Fatalf("polling while probed: %v, want takeUpgrading", st)
	}
	_ = h.s.Send(Message{Data: []byte("buffered")})
	if !h.s.finishUpgrade(ws) {
		t.Fatal("finishUpgrade refused")
	}
	if h.t.closes() != 1 {
		t.Fatal("polling transport not closed after the upgrade")
	}
	if _, st := h.s.take(h.t); st != takeDone {
		t.Fatalf("old transport: %v, want takeDone", st)
	}
	if pkts, st := h.s.take(ws); st != takeOpen || len(pkts) != 1 || string(pkts[0].data) != "buffered" {
		t.Fatalf("websocket take: %v %v", types(pkts), st)
	}
	if h.s.Transport() != transportWebSocket {
		t.Fatalf("Transport() = %q", h.s.Transport())
	}
	if h.s.beginProbe(newFake(transportWebSocket), time.Minute) {
		t.Fatal("probe accepted on an upgraded session")
	}
	// Messages from the replaced transport are refused.
	if h.s.receive(h.t, packet{typ: PacketMessage}) {
		t.Fatal("old transport still delivers")
	}
	// Closing over websocket queues no close packet.
	h.s.Close()
	if pkts, st := h.s.take(ws); st != takeDone || len(pkts) != 0 {
		t.Fatalf("websocket after close: %v %v", types(pkts), st)
	}
}

func TestSessionAbortedProbe(t *testing.T) {
	h := newHarness(t, nil)
	ws := newFake(transportWebSocket)
	if !h.s.beginProbe(ws, time.Minute) || !h.s.probed(ws) {
		t.Fatal("probe refused")
	}
	h.s.transportError(ws, ReasonTransportError)
	if ws.closes() != 1 {
		t.Fatal("aborted probe not closed")
	}
	if h.s.finishUpgrade(ws) {
		t.Fatal("aborted probe finished the upgrade")
	}
	if _, st := h.s.take(h.t); st != takeOpen {
		t.Fatalf("polling after aborted probe: %v", st)
	}
	select {
	case r := <-h.reasons:
		t.Fatalf("session closed by an aborted probe: %q", r)
	default:
	}
	if !h.s.beginProbe(newFake(transportWebSocket), time.Minute) {
		t.Fatal("new probe refused after an aborted one")
	}
	// Closing the session closes the probe too.
	h.s.Close()
	if h.reason(t) != ReasonForcedClose {
		t.Fatal("wrong reason")
	}
}

func TestSessionCallbackPanic(t *testing.T) {
	h := newHarness(t, nil)
	h.s.OnMessage(func(Message) { panic("boom") })
	h.s.receive(h.t, packet{typ: PacketMessage, data: []byte("x")})
	if r := h.reason(t); r != ReasonForcedClose {
		t.Fatalf("reason %q", r)
	}
}

func TestSessionSendFromCallbacks(t *testing.T) {
	h := newHarness(t, nil)
	h.s.take(h.t)
	h.s.OnMessage(func(m Message) {
		if err := h.s.Send(m); err != nil {
			t.Error(err)
		}
		h.s.Close()
	})
	h.s.receive(h.t, packet{typ: PacketMessage, data: []byte("echo")})
	if r := h.reason(t); r != ReasonForcedClose {
		t.Fatalf("reason %q", r)
	}
	pkts, _ := h.s.take(h.t)
	if !slices.Equal(types(pkts), []PacketType{PacketMessage, PacketClose}) || string(pkts[0].data) != "echo" {
		t.Fatalf("take = %v", types(pkts))
	}
}

func TestSessionLingerExpires(t *testing.T) {
	h := newHarness(t, &Options{PingInterval: 10 * time.Millisecond, PingTimeout: 10 * time.Millisecond})
	h.s.Close()
	if !<-h.reg.closed {
		t.Fatal("no linger")
	}
	select {
	case <-h.reg.forgot:
	case <-time.After(5 * time.Second):
		t.Fatal("lingering session never forgotten")
	}
}

// TestSessionSendContiguous checks that the messages of one Send are never
// interleaved with those of concurrent Sends.
func TestSessionSendContiguous(t *testing.T) {
	h := newHarness(t, &Options{MaxQueue: 100000})
	h.s.take(h.t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := []byte{byte(g), byte(i)}
				if err := h.s.Send(Message{Data: id}, Message{Binary: true, Data: id}, Message{Binary: true, Data: id}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	var got []packet
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for {
		pkts, _ := h.s.take(h.t)
		got = append(got, pkts...)
		select {
		case <-done:
			pkts, _ := h.s.take(h.t)
			got = append(got, pkts...)
			if len(got) != 8*200*3 {
				t.Fatalf("got %d packets", len(got))
			}
			for i := 0; i < len(got); i += 3 {
				a, b, c := got[i], got[i+1], got[i+2]
				if a.binary || !b.binary || !c.binary || string(a.data) != string(b.data) || string(b.data) != string(c.data) {
					t.Fatalf("Send interleaved at %d: %v %v %v", i, a, b, c)
				}
			}
			return
		default:
		}
	}
}

func TestSessionPongOverdue(t *testing.T) {
	// Timers far in the future: only the overdue check can close it.
	h := newHarness(t, &Options{PingInterval: time.Hour, PingTimeout: time.Hour})
	if h.s.pongOverdue() {
		t.Fatal("fresh session overdue")
	}
	h.s.mu.Lock()
	h.s.pingSent = time.Now().Add(-2 * time.Hour) // the timeout timer is "late"
	h.s.mu.Unlock()
	if !h.s.pongOverdue() {
		t.Fatal("overdue pong not detected")
	}
	if r := h.reason(t); r != ReasonPingTimeout {
		t.Fatalf("reason %q", r)
	}
}

func TestSessionUpgradeTimeout(t *testing.T) {
	h := newHarness(t, nil)
	ws := newFake(transportWebSocket)
	if !h.s.beginProbe(ws, 20*time.Millisecond) {
		t.Fatal("beginProbe refused")
	}
	// Only Close notifies a probe (the session notifies its transport).
	select {
	case <-ws.notified:
	case <-time.After(5 * time.Second):
		t.Fatal("probe not closed after the upgrade timeout")
	}
	if n := ws.closes(); n != 1 {
		t.Fatalf("probe closed %d times", n)
	}
	if h.s.probed(ws) || h.s.finishUpgrade(ws) {
		t.Fatal("timed-out probe still accepted")
	}
	if !h.s.beginProbe(newFake(transportWebSocket), time.Minute) {
		t.Fatal("new probe refused after a timed-out one")
	}
}
