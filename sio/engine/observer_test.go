package engine

import (
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// recordingObserver counts sessions by transport and logs every event.
type recordingObserver struct {
	mu     sync.Mutex
	open   map[string]int // transport → sessions open
	events []string
	slow   int
}

func newRecordingObserver() *recordingObserver {
	return &recordingObserver{open: map[string]int{}}
}

func (o *recordingObserver) SessionOpened(t string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.open[t]++
	o.events = append(o.events, "open "+t)
}

func (o *recordingObserver) SessionUpgraded(from, to string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.open[from]--
	o.open[to]++
	o.events = append(o.events, "upgrade "+from+" "+to)
}

func (o *recordingObserver) SessionClosed(t string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.open[t]--
	o.events = append(o.events, "close "+t)
}

func (o *recordingObserver) SlowConsumerDisconnected() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.slow++
	o.events = append(o.events, "slow")
}

// counts returns the open sessions by transport, zeros left out.
func (o *recordingObserver) counts() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]int{}
	for t, n := range o.open {
		if n != 0 {
			out[t] = n
		}
	}
	return out
}

func (o *recordingObserver) log() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return strings.Join(o.events, ", ")
}

func (o *recordingObserver) expect(t *testing.T, counts map[string]int, log string) {
	t.Helper()
	if got := o.counts(); !maps.Equal(got, counts) {
		t.Errorf("open sessions %v, want %v", got, counts)
	}
	if got := o.log(); got != log {
		t.Errorf("events %q, want %q", got, log)
	}
}

func TestObserverPollingUpgradeClose(t *testing.T) {
	obs := newRecordingObserver()
	ts := startServer(t, &Options{Observer: obs})
	sid := ts.handshake(t)
	obs.expect(t, map[string]int{"polling": 1}, "open polling")

	c := ts.upgrade(t, sid)
	obs.expect(t, map[string]int{"websocket": 1}, "open polling, upgrade polling websocket")

	_ = c.WriteMessage(websocket.TextMessage, []byte("1"))
	if r := ts.reason(t); r != ReasonTransportClose {
		t.Fatalf("reason %q", r)
	}
	obs.expect(t, map[string]int{}, "open polling, upgrade polling websocket, close websocket")
}

func TestObserverAbortedUpgradeStaysPolling(t *testing.T) {
	obs := newRecordingObserver()
	ts := startServer(t, &Options{Observer: obs})
	sid := ts.handshake(t)
	c := ts.dial(t, "EIO=4&transport=websocket&sid="+sid, nil)
	_ = c.WriteMessage(websocket.TextMessage, []byte("2probe"))
	if _, s := readWS(t, c); s != "3probe" {
		t.Fatalf("probe answer %q", s)
	}
	c.Close() // the probe dies before "5"
	eventually(t, "the probe abandoned", func() bool { return !probing(ts.srv.lookup(sid)) })
	obs.expect(t, map[string]int{"polling": 1}, "open polling")
	if code, _, body := ts.do(t, "POST", "EIO=4&transport=polling&sid="+sid, "1"); code != 200 {
		t.Fatalf("close POST: %d %q", code, body)
	}
	if r := ts.reason(t); r != ReasonTransportClose {
		t.Fatalf("reason %q", r)
	}
	obs.expect(t, map[string]int{}, "open polling, close polling")
}

func TestObserverWebSocketAndShutdown(t *testing.T) {
	obs := newRecordingObserver()
	ts := startServer(t, &Options{Observer: obs})
	for range 3 {
		c := ts.dial(t, "EIO=4&transport=websocket", nil)
		readWS(t, c)
	}
	ts.handshake(t)
	ts.handshake(t)
	if got := obs.counts(); !maps.Equal(got, map[string]int{"websocket": 3, "polling": 2}) {
		t.Fatalf("open sessions %v", got)
	}
	ts.srv.Close()
	if got := obs.counts(); len(got) != 0 {
		t.Fatalf("after Server.Close: %v, want none open", got)
	}
	if got := strings.Count(obs.log(), "close "); got != 5 {
		t.Fatalf("%d closes reported, want 5: %s", got, obs.log())
	}
	// Closing again reports nothing more.
	ts.srv.Close()
	if got := strings.Count(obs.log(), "close "); got != 5 {
		t.Fatalf("second Close reported more closes: %s", obs.log())
	}
}

func TestObserverSlowConsumer(t *testing.T) {
	obs := newRecordingObserver()
	ts := startServer(t, &Options{MaxQueue: 4, Observer: obs})
	sid := ts.handshake(t) // polling, no GET pending: the queue only grows
	sess := ts.srv.lookup(sid)
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = sess.Send(Message{Data: []byte("x")})
	}
	if !errors.Is(err, ErrSlowConsumer) {
		t.Fatalf("Send: %v", err)
	}
	if err := sess.Send(Message{Data: []byte("x")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after the close: %v", err)
	}
	if r := ts.reason(t); r != ReasonSlowConsumer {
		t.Fatalf("reason %q", r)
	}
	obs.expect(t, map[string]int{}, "open polling, close polling, slow")
}

func TestObserverPingTimeout(t *testing.T) {
	obs := newRecordingObserver()
	ts := startServer(t, &Options{Observer: obs, PingInterval: 20 * time.Millisecond, PingTimeout: 20 * time.Millisecond})
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	readWS(t, c) // open; the ping is never answered
	if r := ts.reason(t); r != ReasonPingTimeout {
		t.Fatalf("reason %q", r)
	}
	obs.expect(t, map[string]int{}, "open websocket, close websocket")
}

// probing reports whether s has a websocket probing an upgrade.
func probing(s *Session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.probe != nil
}
