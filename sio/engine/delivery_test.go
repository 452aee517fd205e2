package engine

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// TestSessionInboxBackpressure: with OnMessage blocked in the first
// receive (which delivers inline), inboxSize more messages are taken at
// once, the next receive waits until a message has been delivered, and a
// close releases a waiting receive; the close comes after every message,
// in order.
func TestSessionInboxBackpressure(t *testing.T) {
	cfg := newConfig(&Options{Logger: quietLogger})
	tr := newFake(transportWebSocket)
	reg := &fakeRegistry{closed: make(chan bool, 10), forgot: make(chan struct{}, 10)}
	s := newSession("sid", cfg, &Handshake{}, tr, reg)
	release := make(chan struct{})
	var got []byte
	var active atomic.Int32
	var closedAfter int
	entered := make(chan struct{}, 1)
	s.OnMessage(func(m Message) {
		if active.Add(1) != 1 {
			t.Error("OnMessage called concurrently")
		}
		select {
		case entered <- struct{}{}:
		default:
		}
		<-release
		got = append(got, m.Data[0])
		active.Add(-1)
	})
	s.OnClose(func(string) {
		if active.Load() != 0 {
			t.Error("OnClose concurrent with OnMessage")
		}
		closedAfter = len(got)
	})
	var wg sync.WaitGroup
	s.start(&wg)
	msg := func(i int) packet { return packet{typ: PacketMessage, data: []byte{byte(i)}} }
	// The first receive delivers its message itself (and stays blocked in
	// OnMessage, delivering whatever comes next); inboxSize more are
	// queued without waiting.
	first := make(chan bool, 1)
	go func() { first <- s.receive(tr, msg(0)) }()
	select {
	case <-entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the first message was not delivered")
	}
	for i := 1; i <= inboxSize; i++ {
		done := make(chan bool, 1)
		go func() { done <- s.receive(tr, msg(i)) }()
		select {
		case ok := <-done:
			if !ok {
				t.Fatalf("receive %d = false", i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("receive %d blocked with %d queued", i, i)
		}
	}
	blocked := make(chan bool, 1)
	go func() { blocked <- s.receive(tr, msg(inboxSize+1)) }()
	waitForRoom(t, s)
	select {
	case <-blocked:
		t.Fatal("receive past a full inbox did not wait")
	default:
	}
	release <- struct{}{} // one delivered: room for one
	select {
	case ok := <-blocked:
		if !ok {
			t.Fatal("receive after room = false")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("receive still blocked after a delivery")
	}
	// Full again: a close releases the waiting receive with false.
	go func() { blocked <- s.receive(tr, msg(200)) }()
	waitForRoom(t, s)
	s.Close()
	select {
	case ok := <-blocked:
		if ok {
			t.Fatal("receive on a closed session = true")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("close did not release a waiting receive")
	}
	close(release)
	if !<-first {
		t.Fatal("the delivering receive = false")
	}
	select {
	case <-s.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed")
	}
	wg.Wait()
	if len(got) != inboxSize+2 || closedAfter != len(got) {
		t.Fatalf("delivered %d, OnClose after %d, want %d", len(got), closedAfter, inboxSize+2)
	}
	for i, b := range got {
		if int(b) != i {
			t.Fatalf("message %d delivered as %d", i, b)
		}
	}
}

// waitForRoom waits until a receive waits for room in s's full inbox (it
// made inboxRoom, which only a delivery clears).
func waitForRoom(t *testing.T, s *Session) {
	t.Helper()
	eventually(t, "a receive waiting for room in the inbox", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.inboxRoom != nil
	})
}

// TestSessionDeliveryStream: a long stream from one reader, with a close
// racing the end, is delivered in order, never concurrently, OnClose once
// and last; idle sessions keep no deliverer goroutine.
func TestSessionDeliveryStream(t *testing.T) {
	cfg := newConfig(&Options{Logger: quietLogger})
	tr := newFake(transportWebSocket)
	s := newSession("sid", cfg, &Handshake{}, tr, nil)
	var active atomic.Int32
	next := 0
	var closes atomic.Int32
	s.OnMessage(func(m Message) {
		if active.Add(1) != 1 {
			t.Error("OnMessage called concurrently")
		}
		if int(m.Data[0])|int(m.Data[1])<<8 != next {
			t.Errorf("got message %d, want %d", int(m.Data[0])|int(m.Data[1])<<8, next)
		}
		next++
		active.Add(-1)
	})
	s.OnClose(func(string) {
		if active.Load() != 0 {
			t.Error("OnClose concurrent with OnMessage")
		}
		closes.Add(1)
	})
	var wg sync.WaitGroup
	s.start(&wg)
	const n = 3000
	for i := range n {
		if !s.receive(tr, packet{typ: PacketMessage, data: []byte{byte(i), byte(i >> 8)}}) {
			t.Fatalf("receive %d = false", i)
		}
	}
	s.Close()
	wg.Wait()
	if next != n || closes.Load() != 1 {
		t.Fatalf("delivered %d of %d, OnClose %d times", next, n, closes.Load())
	}
	s.mu.Lock()
	delivering := s.delivering
	s.mu.Unlock()
	if !delivering {
		t.Fatal("a finished session must not start deliverers again")
	}
}

// TestWebSocketWriterOnDemand: once an idle WebSocket session has written
// what it had, no writer runs; a later Send starts one again, and a
// server-side close still writes what was queued, then the close frame.
func TestWebSocketWriterOnDemand(t *testing.T) {
	ts := startServer(t, nil)
	sessCh := make(chan *Session, 1)
	ts.setOnSession(func(s *Session) { sessCh <- s })
	c := ts.dial(t, "EIO=4&transport=websocket", nil)
	readWS(t, c) // open
	sess := <-sessCh
	_ = c.WriteMessage(websocket.TextMessage, []byte("4echo"))
	if _, s := readWS(t, c); s != "4echo" {
		t.Fatalf("echo %q", s)
	}
	sess.mu.Lock()
	w := sess.transport.(*wsTransport)
	sess.mu.Unlock()
	idle := func() bool {
		st := w.conn.Status()
		return !st.Writing && !st.Ended
	}
	eventually(t, "no writer on an idle connection", idle)
	if err := sess.Send(Message{Data: []byte("later")}); err != nil {
		t.Fatal(err)
	}
	if _, s := readWS(t, c); s != "4later" {
		t.Fatalf("later send %q", s)
	}
	if err := sess.Send(Message{Data: []byte("last")}); err != nil {
		t.Fatal(err)
	}
	sess.Close()
	if _, s := readWS(t, c); s != "4last" {
		t.Fatalf("final packet %q", s)
	}
	expectClose(t, c, websocket.CloseNormalClosure)
	if r := ts.reason(t); r != ReasonForcedClose {
		t.Fatalf("reason %q", r)
	}
}
