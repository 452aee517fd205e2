package sio

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoServer installs handlers like those of e2e/sio-echo.
func echoServer(t testing.TB, opts *Options) *Server {
	srv := newTestServer(t, opts)
	root := srv.Of("/")
	root.OnConnection(func(s *Socket) {
		_ = s.Emit("auth", s.Handshake().Auth)
		s.On("message", func(s *Socket, args Args, _ AckFunc) { _ = s.Emit("message-back", args) })
		s.On("message-with-ack", func(s *Socket, args Args, ack AckFunc) {
			if ack != nil {
				_ = ack(args)
			}
		})
		s.On("join", func(s *Socket, args Args, ack AckFunc) {
			var room string
			_ = args.Decode(0, &room)
			s.Join(room)
			if ack != nil {
				_ = ack(s.Rooms())
			}
		})
		s.On("leave", func(s *Socket, args Args, ack AckFunc) {
			var room string
			_ = args.Decode(0, &room)
			s.Leave(room)
			if ack != nil {
				_ = ack(s.Rooms())
			}
		})
		s.On("to-room", func(s *Socket, args Args, _ AckFunc) {
			var room string
			_ = args.Decode(0, &room)
			_ = s.To(room).Emit("room-message", args.Slice(1))
		})
		s.On("io-to-room", func(s *Socket, args Args, _ AckFunc) {
			var room string
			_ = args.Decode(0, &room)
			_ = root.To(room).Emit("room-message", args.Slice(1))
		})
		s.On("broadcast", func(s *Socket, args Args, _ AckFunc) {
			_ = s.Broadcast().Emit("broadcast-back", args)
		})
		s.On("server-ack", func(s *Socket, args Args, _ AckFunc) {
			_ = s.EmitWithAckFunc("server-ack", 0, func(res Args, err error) {
				if err == nil {
					_ = s.Emit("server-ack-result", res)
				}
			}, args)
		})
		s.On("disconnect-me", func(s *Socket, _ Args, _ AckFunc) { s.Disconnect(false) })
	})
	srv.Of("/custom").OnConnection(func(s *Socket) { _ = s.Emit("auth", s.Handshake().Auth) })
	return srv
}

func TestConnect(t *testing.T) {
	srv := echoServer(t, nil)
	t.Run("main", func(t *testing.T) {
		tc := dial(t, srv)
		id := tc.connect("/")
		if len(id) != 20 || id == tc.f.id {
			t.Fatalf("socket id %q (engine id %q)", id, tc.f.id)
		}
		tc.expect(`2["auth",{}]`)
	})
	t.Run("payload", func(t *testing.T) {
		tc := dial(t, srv)
		tc.send(`0{"token":"123","b":[1,2]}`)
		got := tc.f.take()
		if len(got) != 2 || got[1] != `2["auth",{"token":"123","b":[1,2]}]` {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("custom", func(t *testing.T) {
		tc := dial(t, srv)
		tc.send(`0/custom,{"token":"abc"}`)
		got := tc.f.take()
		if len(got) != 2 || !strings.HasPrefix(got[0], `0/custom,{"sid":"`) || got[1] != `2/custom,["auth",{"token":"abc"}]` {
			t.Fatalf("got %q", got)
		}
	})
	t.Run("two namespaces distinct ids", func(t *testing.T) {
		tc := dial(t, srv)
		a := tc.connect("/")
		tc.f.take()
		b := tc.connect("/custom")
		if a == b {
			t.Fatal("same socket id in two namespaces")
		}
	})
	t.Run("unknown namespace", func(t *testing.T) {
		tc := dial(t, srv)
		tc.send("0/random")
		tc.expect(`4/random,{"message":"Invalid namespace"}`)
		if tc.f.isClosed() {
			t.Fatal("session closed")
		}
		tc.connect("/") // still usable
	})
}

func TestMessages(t *testing.T) {
	srv := echoServer(t, nil)
	tc := dial(t, srv)
	tc.connect("/")
	tc.f.take()
	tests := []struct{ in, want []string }{
		{[]string{`2["message",1,"2",{"3":[true]}]`}, []string{`2["message-back",1,"2",{"3":[true]}]`}},
		{[]string{`2["message",{"z":1,"a":1.50e3,"é":"😀"}]`}, []string{`2["message-back",{"z":1,"a":1.50e3,"é":"😀"}]`}},
		{[]string{`2["message"]`}, []string{`2["message-back"]`}},
		{[]string{`52-["message",{"_placeholder":true,"num":0},{"a":[{"_placeholder":true,"num":1}]}]`, "b:AQID", "b:BAUG"},
			[]string{`52-["message-back",{"_placeholder":true,"num":0},{"a":[{"_placeholder":true,"num":1}]}]`, "b:AQID", "b:BAUG"}},
		{[]string{`2456["message-with-ack",1,"2",{"3":[false]}]`}, []string{`3456[1,"2",{"3":[false]}]`}},
		{[]string{`52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "b:AQID", "b:BAUG"},
			[]string{`62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, "b:AQID", "b:BAUG"}},
		{[]string{`2["unknown-event",1]`}, nil},
		{[]string{`3999[1]`}, nil}, // ack for an unknown id is ignored
	}
	for _, tt := range tests {
		tc.send(tt.in...)
		tc.expect(tt.want...)
	}
	if tc.f.isClosed() {
		t.Fatal("closed")
	}
}

func TestProtocolErrorsClose(t *testing.T) {
	srv := echoServer(t, nil)
	cases := map[string][]string{
		"unknown type":              {"9"},
		"invalid payload":           {`2{}`},
		"invalid ack id":            {`2abc["message-with-ack",1]`},
		"reserved event":            {`2["disconnect"]`},
		"namespace not connected":   {`2/custom,["message"]`},
		"second connect":            {"0"},
		"connect error from client": {`4{"message":"x"}`},
		"stray binary":              {"b:AQID"},
		"text while awaiting":       {`51-["message",{"_placeholder":true,"num":0}]`, `2["message"]`},
		"bad placeholder":           {`51-["message",{"_placeholder":true,"num":3}]`, "b:AQID"},
	}
	for name, msgs := range cases {
		t.Run(name, func(t *testing.T) {
			tc := dial(t, srv)
			tc.connect("/")
			tc.f.take()
			var reason string
			srv.Of("/").Socket(tc.c.snapshot()[0].ID()).OnDisconnect(func(r string) { reason = r })
			tc.send(msgs...)
			if !tc.f.isClosed() {
				t.Fatal("session not closed")
			}
			if reason != ReasonParseError {
				t.Fatalf("reason %q", reason)
			}
			if n := srv.Of("/").SocketCount(); n != 0 {
				t.Fatalf("%d sockets left", n)
			}
		})
	}
}

func TestClientNamespaceDisconnect(t *testing.T) {
	srv := echoServer(t, nil)
	tc := dial(t, srv)
	id := tc.connect("/")
	tc.f.take()
	tc.connect("/custom")
	tc.f.take()
	var reason string
	for _, s := range tc.c.snapshot() {
		if s.nsp.name == "/custom" {
			s.OnDisconnect(func(r string) { reason = r })
		}
	}
	tc.send("1/custom,", `2["message","still here"]`)
	tc.expect(`2["message-back","still here"]`)
	if reason != ReasonClientNamespaceDisconnect || srv.Of("/custom").SocketCount() != 0 || tc.f.isClosed() {
		t.Fatalf("reason=%q custom sockets=%d closed=%v", reason, srv.Of("/custom").SocketCount(), tc.f.isClosed())
	}
	tc.send("1")
	if srv.Of("/").Socket(id) != nil || tc.f.isClosed() {
		t.Fatal("main socket still there or session closed")
	}
	tc.connect("/") // reconnect on the same session
	tc.send(`2/custom,["message"]`)
	if !tc.f.isClosed() {
		t.Fatal("packet for a disconnected namespace did not close")
	}
}

func TestServerDisconnect(t *testing.T) {
	srv := echoServer(t, nil)
	tc := dial(t, srv)
	tc.connect("/")
	tc.f.take()
	tc.connect("/custom")
	tc.f.take()
	var reasons []string
	var mu sync.Mutex
	for _, s := range tc.c.snapshot() {
		s.OnDisconnect(func(r string) { mu.Lock(); reasons = append(reasons, r); mu.Unlock() })
	}
	tc.send(`2["disconnect-me"]`)
	tc.expect("1")
	if tc.f.isClosed() || len(reasons) != 1 || reasons[0] != ReasonServerNamespaceDisconnect {
		t.Fatalf("closed=%v reasons=%q", tc.f.isClosed(), reasons)
	}
	tc.c.snapshot()[0].Disconnect(true)
	tc.expect("1/custom,")
	if !tc.f.isClosed() || len(reasons) != 2 {
		t.Fatalf("closed=%v reasons=%q", tc.f.isClosed(), reasons)
	}
}

func TestTransportClose(t *testing.T) {
	srv := echoServer(t, nil)
	tc := dial(t, srv)
	id := tc.connect("/")
	tc.f.take()
	s := srv.Of("/").Socket(id)
	s.Join("r1", "r2")
	var order []string
	s.OnDisconnecting(func(r string) { order = append(order, "disconnecting:"+r+":"+strings.Join(s.Rooms(), ",")) })
	s.OnDisconnect(func(r string) { order = append(order, "disconnect:"+r+":"+strings.Join(s.Rooms(), ",")) })
	tc.c.onClose("ping timeout")
	want := []string{"disconnecting:ping timeout:" + strings.Join(sortedCopy([]string{id, "r1", "r2"}), ","), "disconnect:ping timeout:"}
	if !reflect.DeepEqual(order, want) {
		t.Fatalf("order %q, want %q", order, want)
	}
	if err := s.Emit("x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Emit after close: %v", err)
	}
	s.Join("r3")
	if len(s.Rooms()) != 0 || len(srv.Of("/").To("r3").SocketIDs()) != 0 {
		t.Fatal("join after disconnect took effect")
	}
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	for i := range c {
		for j := i + 1; j < len(c); j++ {
			if c[j] < c[i] {
				c[i], c[j] = c[j], c[i]
			}
		}
	}
	return c
}

func TestRooms(t *testing.T) {
	srv := echoServer(t, nil)
	var tcs []*testConn
	var ids []string
	for i := 0; i < 4; i++ {
		tc := dial(t, srv)
		ids = append(ids, tc.connect("/"))
		tc.f.take()
		tcs = append(tcs, tc)
	}
	a, b, c, d := tcs[0], tcs[1], tcs[2], tcs[3]
	a.send(`21["join","room1"]`)
	a.expect(`31[` + quoteList(sortedCopy([]string{ids[0], "room1"})) + `]`)
	b.send(`2["join","room1"]`, `2["join","room2"]`)
	c.send(`2["join","room2"]`)

	// to-room excludes the sender
	a.send(`2["to-room","room1",{"k":"v"},1]`)
	a.expect()
	b.expect(`2["room-message",{"k":"v"},1]`)
	c.expect()
	d.expect()

	// io-to-room includes the sender
	a.send(`2["io-to-room","room1","x"]`)
	a.expect(`2["room-message","x"]`)
	b.expect(`2["room-message","x"]`)
	c.expect()

	// several rooms: b is in both and gets one copy
	if err := srv.Of("/").To("room1", "room2").Emit("multi", []byte{9}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []*testConn{a, b, c} {
		tc.expect(`51-["multi",{"_placeholder":true,"num":0}]`, "b:CQ==")
	}
	d.expect()

	// except
	_ = srv.Of("/").To("room1", "room2").Except("room2").Emit("ex")
	a.expect(`2["ex"]`)
	b.expect()
	c.expect()

	// broadcast: all but sender
	b.send(`2["broadcast",true]`)
	for _, tc := range []*testConn{a, c, d} {
		tc.expect(`2["broadcast-back",true]`)
	}
	b.expect()

	// socket ids per room
	if got := srv.Of("/").In("room2").SocketIDs(); !reflect.DeepEqual(got, sortedCopy([]string{ids[1], ids[2]})) {
		t.Fatalf("room2 = %q", got)
	}
	// leave
	b.send(`22["leave","room2"]`)
	b.expect(`32[` + quoteList(sortedCopy([]string{ids[1], "room1"})) + `]`)
	// disconnect removes from every room
	c.send("1")
	if got := srv.Of("/").In("room2").SocketIDs(); len(got) != 0 {
		t.Fatalf("room2 after leave/disconnect = %q", got)
	}
	// isolation between namespaces
	_ = srv.Of("/custom").To("room1").Emit("other")
	a.expect()
}

func quoteList(s []string) string {
	q := make([]string, len(s))
	for i, x := range s {
		q[i] = `"` + x + `"`
	}
	return `[` + strings.Join(q, ",") + `]`
}

func TestBroadcastOperatorImmutable(t *testing.T) {
	srv := newTestServer(t, nil)
	base := srv.Of("/").To("a")
	x := base.To("b")
	y := base.To("c").Except("d").Volatile()
	if !reflect.DeepEqual(base.rooms, []string{"a"}) || !reflect.DeepEqual(x.rooms, []string{"a", "b"}) ||
		!reflect.DeepEqual(y.rooms, []string{"a", "c"}) || len(base.except) != 0 || base.volatile || !y.volatile {
		t.Fatalf("base=%+v x=%+v y=%+v", base, x, y)
	}
}

func TestBroadcastEncodesOnce(t *testing.T) {
	srv := newTestServer(t, nil)
	var tcs []*testConn
	for i := 0; i < 3; i++ {
		tc := dial(t, srv)
		tc.connect("/")
		tcs = append(tcs, tc)
	}
	_ = srv.Of("/").Emit("hello", map[string]any{"b": 1, "a": "<&>"})
	var first *byte
	for _, tc := range tcs {
		tc.f.mu.Lock()
		m := tc.f.sent[0]
		tc.f.mu.Unlock()
		if string(m.Data) != `2["hello",{"a":"<&>","b":1}]` {
			t.Fatalf("got %q", m.Data)
		}
		if first == nil {
			first = &m.Data[0]
		} else if first != &m.Data[0] {
			t.Fatal("broadcast re-encoded the packet per socket")
		}
	}
}

func TestVolatile(t *testing.T) {
	srv := newTestServer(t, nil)
	tc := dial(t, srv)
	tc.connect("/")
	tc.f.mu.Lock()
	tc.f.full = true
	tc.f.mu.Unlock()
	_ = srv.Of("/").To().Volatile().Emit("v")
	tc.expect()
	tc.f.mu.Lock()
	n := tc.f.volatile
	tc.f.mu.Unlock()
	if n != 1 {
		t.Fatalf("SendVolatile called %d times", n)
	}
}

func TestServerToClientAcks(t *testing.T) {
	srv := echoServer(t, &Options{AckTimeout: 50 * time.Millisecond})
	tc := dial(t, srv)
	id := tc.connect("/")
	tc.f.take()
	s := srv.Of("/").Socket(id)

	// the echo server's server-ack: ack round trip handled on the session's deliverer
	tc.send(`2["server-ack",1,{"a":2}]`)
	tc.expect(`20["server-ack",1,{"a":2}]`)
	tc.send(`30["r",[3]]`)
	tc.expect(`2["server-ack-result","r",[3]]`)
	tc.send(`30["again"]`) // already answered: ignored
	tc.expect()

	// timeout
	done := make(chan error, 1)
	if err := s.EmitWithAckFunc("t", 0, func(_ Args, err error) { done <- err }, []byte{1}); err != nil {
		t.Fatal(err)
	}
	tc.expect(`51-1["t",{"_placeholder":true,"num":0}]`, "b:AQ==")
	if err := <-done; !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("got %v, want timeout", err)
	}
	tc.send(`31[]`) // late ack ignored
	tc.expect()

	// blocking EmitWithAck from another goroutine, binary ack
	res := make(chan Args, 1)
	go func() {
		a, err := s.EmitWithAck(context.Background(), "q")
		if err != nil {
			t.Error(err)
		}
		res <- a
	}()
	waitSent(t, tc, `22["q"]`)
	tc.send(`61-2[{"x":{"_placeholder":true,"num":0}}]`, "b:BQY=")
	a := <-res
	var v struct{ X []byte }
	if err := a.Decode(0, &v); err != nil || string(v.X) != "\x05\x06" {
		t.Fatalf("decoded %v %v", v, err)
	}

	// ctx cancel
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { _, err := s.EmitWithAck(ctx, "c"); errc <- err }()
	waitSent(t, tc, `23["c"]`)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}

	// disconnect fails pending acks
	go func() { _, err := s.EmitWithAck(context.Background(), "d"); errc <- err }()
	waitSent(t, tc, `24["d"]`)
	tc.send("1")
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
	if _, err := s.EmitWithAck(context.Background(), "e"); !errors.Is(err, ErrClosed) {
		t.Fatalf("got %v", err)
	}
}

func waitSent(t *testing.T, tc *testConn, want string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		tc.f.mu.Lock()
		n := len(tc.f.sent)
		tc.f.mu.Unlock()
		if n > 0 {
			tc.expect(want)
			return
		}
		select {
		case <-tc.f.sentCh:
		case <-timeout:
			t.Fatalf("nothing sent, want %q", want)
		}
	}
}

func TestMiddleware(t *testing.T) {
	srv := newTestServer(t, nil)
	nsp := srv.Of("/")
	nsp.Use(func(s *Socket) error {
		var auth struct{ Token string }
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		switch auth.Token {
		case "ok":
			s.Set("user", "alice")
			return nil
		case "plain":
			return errors.New("plain error")
		}
		return &ConnectError{Message: "unauthorized", Data: map[string]any{"code": 401}}
	})
	var user any
	nsp.OnConnection(func(s *Socket) { user, _ = s.Get("user") })
	tc := dial(t, srv)
	tc.send(`0{"token":"bad"}`)
	tc.expect(`4{"message":"unauthorized","data":{"code":401}}`)
	tc.send(`0{"token":"plain"}`)
	tc.expect(`4{"message":"plain error"}`)
	if nsp.SocketCount() != 0 || tc.f.isClosed() {
		t.Fatal("refused socket registered or session closed")
	}
	tc.send("0") // no payload: auth {} → refused
	tc.expect(`4{"message":"unauthorized","data":{"code":401}}`)
	tc.send(`0{"token":"ok"}`)
	if got := tc.f.take(); len(got) != 1 || user != "alice" {
		t.Fatalf("got %q, user %v", got, user)
	}
}

func TestMiddlewareAccept(t *testing.T) {
	srv := newTestServer(t, nil)
	nsp := srv.Of("/")
	nsp.Use(func(s *Socket) error {
		if string(s.Handshake().Auth) != `{"token":"ok"}` {
			return &ConnectError{Message: "unauthorized"}
		}
		s.Set("user", "alice")
		return nil
	})
	var user any
	nsp.OnConnection(func(s *Socket) { user, _ = s.Get("user") })
	tc := dial(t, srv)
	tc.send(`0`)
	tc.expect(`4{"message":"unauthorized"}`)
	tc.send(`0{"token":"ok"}`)
	if got := tc.f.take(); len(got) != 1 || !strings.HasPrefix(got[0], `0{"sid":`) || user != "alice" {
		t.Fatalf("got %q user %v", got, user)
	}
}

func TestConnectTimeout(t *testing.T) {
	// The timeout must be long enough that "active" (dialed and connected
	// in a row) cannot be preempted past it on a loaded machine.
	srv := echoServer(t, &Options{ConnectTimeout: 500 * time.Millisecond})
	idle := dial(t, srv)
	active := dial(t, srv)
	active.connect("/")
	refused := dial(t, srv)
	refused.send("0/nope,")
	for _, tc := range []*testConn{idle, refused} {
		select {
		case <-tc.f.done:
		case <-time.After(5 * time.Second):
			t.Fatal("session without a namespace not closed by the connect timeout")
		}
	}
	// A connected session is never closed by the connect timeout: its
	// CONNECT stopped the timer (Stop finds it disarmed), and the callback,
	// run here as a timer that fired anyway would run it, leaves it open.
	if active.c.connectTimer.Stop() {
		t.Fatal("connect timer still armed after a successful CONNECT")
	}
	active.c.onConnectTimeout()
	if active.f.isClosed() {
		t.Fatal("connected session closed by the connect timeout")
	}
}

func TestEmitErrors(t *testing.T) {
	srv := newTestServer(t, nil)
	tc := dial(t, srv)
	s := srv.Of("/").Socket(tc.connect("/"))
	for _, name := range []string{"connect", "disconnect", "connect_error", "disconnecting", "newListener", "removeListener"} {
		if err := s.Emit(name); !errors.Is(err, ErrReservedEvent) {
			t.Errorf("Emit(%q) = %v", name, err)
		}
	}
	if err := s.Emit("x", json.RawMessage("{bad")); err == nil {
		t.Error("invalid raw JSON accepted")
	}
	if err := s.Emit("x", make(chan int)); err == nil {
		t.Error("channel accepted")
	}
	tc.expect()
}

func TestHandlerPanicRecovered(t *testing.T) {
	srv := newTestServer(t, nil)
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("boom", func(*Socket, Args, AckFunc) { panic("boom") })
		s.On("ok", func(s *Socket, _ Args, ack AckFunc) { _ = ack("fine") })
	})
	tc := dial(t, srv)
	tc.connect("/")
	tc.send(`2["boom"]`, `21["ok"]`)
	tc.expect(`31["fine"]`)
}

func TestMiddlewarePanicRefuses(t *testing.T) {
	srv := newTestServer(t, nil)
	srv.Of("/").Use(func(*Socket) error { panic("auth backend down") })
	tc := dial(t, srv)
	tc.send("0")
	tc.expect(`4{"message":"Internal error"}`)
	if srv.Of("/").SocketCount() != 0 {
		t.Fatal("socket accepted after a middleware panic")
	}
}

func TestAckOnce(t *testing.T) {
	srv := newTestServer(t, nil)
	var second error
	srv.Of("/").OnConnection(func(s *Socket) {
		s.OnAny(func(_ *Socket, event string, _ Args, ack AckFunc) { _ = ack("any:" + event) })
		s.On("e", func(_ *Socket, _ Args, ack AckFunc) { second = ack("handler") })
	})
	tc := dial(t, srv)
	tc.connect("/")
	tc.send(`27["e"]`)
	tc.expect(`37["any:e"]`)
	if !errors.Is(second, ErrAckUsed) {
		t.Fatalf("second ack: %v", second)
	}
}

func TestOperatorSocketsJoinLeaveDisconnect(t *testing.T) {
	srv := newTestServer(t, nil)
	nsp := srv.Of("/")
	var tcs []*testConn
	var ids []string
	for i := 0; i < 3; i++ {
		tc := dial(t, srv)
		ids = append(ids, tc.connect("/"))
		tcs = append(tcs, tc)
	}
	a := nsp.Socket(ids[0])
	nsp.Socket(ids[1]).Join("doc")
	nsp.Socket(ids[2]).Join("doc", "vip")

	nsp.In("doc").Except("vip").SocketsJoin("plain")
	if got := srv.To("plain").SocketIDs(); !reflect.DeepEqual(got, []string{ids[1]}) {
		t.Fatalf("plain = %q", got)
	}
	// socket Except: everyone but vip members and the sender
	_ = a.Except("vip").Emit("e")
	tcs[0].expect()
	tcs[1].expect(`2["e"]`)
	tcs[2].expect()
	_ = a.In("doc").Emit("d")
	tcs[1].expect(`2["d"]`)
	tcs[2].expect(`2["d"]`)

	nsp.In("doc").SocketsLeave("doc")
	if got := nsp.In("doc").SocketIDs(); len(got) != 0 {
		t.Fatalf("doc after SocketsLeave = %q", got)
	}
	nsp.In("vip").DisconnectSockets(false)
	tcs[2].expect("1")
	if nsp.Socket(ids[2]) != nil || tcs[2].f.isClosed() || nsp.SocketCount() != 2 {
		t.Fatal("DisconnectSockets(false)")
	}
	nsp.Except(ids[0]).DisconnectSockets(true)
	if !tcs[1].f.isClosed() || tcs[0].f.isClosed() {
		t.Fatal("DisconnectSockets(true)")
	}
	if a.Namespace().Name() != "/" || a.Transport() != "websocket" || nsp.Adapter() == nil || srv.Engine() == nil {
		t.Fatal("accessors")
	}
	if PacketBinaryAck.String() != "BINARY_ACK" || PacketType(9).String() != "UNKNOWN(9)" {
		t.Fatal("PacketType.String")
	}
}
