package sio

import (
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/cowrite/cowrite/sio/engine"
)

var benchPacket = []byte(`2/docs,12["doc:op",{"doc":"readme","version":41,"op":[12,"hello",{"d":3}],"client":"c-1","seq":7}]`)

func BenchmarkDecodePacket(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPacket)))
	for i := 0; i < b.N; i++ {
		if _, _, err := DecodePacket(benchPacket); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	payload := map[string]any{"doc": "readme", "version": 41, "op": []any{12, "hello", map[string]any{"d": 3}}, "client": "c-1"}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, err := newEventPacket("/", "doc:op", []any{payload})
		if err != nil {
			b.Fatal(err)
		}
		_, _ = p.Encode()
	}
}

func BenchmarkEncodeRawEvent(b *testing.B) {
	a, _ := ArgsOf(map[string]any{"doc": "readme", "version": 41, "op": []any{12, "hello"}})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p, err := newEventPacket("/", "doc:op", []any{a})
		if err != nil {
			b.Fatal(err)
		}
		_, _ = p.Encode()
	}
}

// nopSession discards what it is sent.
type nopSession struct{ id string }

func (n *nopSession) ID() string                               { return n.id }
func (n *nopSession) Transport() string                        { return "websocket" }
func (n *nopSession) Send(msgs ...engine.Message) error        { return nil }
func (n *nopSession) SendVolatile(msgs ...engine.Message) bool { return true }
func (n *nopSession) Close()                                   {}

// BenchmarkBroadcastRoom1000 emits one event to a room of 1,000 sockets (plus the
// sender, excluded); the cost of the engine queues is not included.
func BenchmarkBroadcastRoom1000(b *testing.B) {
	b.Run("nil observer", func(b *testing.B) { benchBroadcastRoom1000(b, nil) })
	b.Run("observer", func(b *testing.B) { benchBroadcastRoom1000(b, &atomicObserver{}) })
}

// atomicObserver is an Observer as cheap as the metrics one: atomic adds.
type atomicObserver struct{ sockets, rooms, broadcasts, recipients atomic.Int64 }

func (o *atomicObserver) SocketConnected()       { o.sockets.Add(1) }
func (o *atomicObserver) SocketDisconnected()    { o.sockets.Add(-1) }
func (o *atomicObserver) AddRooms(d int)         { o.rooms.Add(int64(d)) }
func (o *atomicObserver) ObserveBroadcast(n int) { o.broadcasts.Add(1); o.recipients.Add(int64(n)) }

func benchBroadcastRoom1000(b *testing.B, obs Observer) {
	srv := NewServer(&Options{Logger: quietLogger(), Observer: obs})
	defer srv.Close()
	nsp := srv.Of("/")
	var sender *Socket
	for i := 0; i <= 1000; i++ {
		c := newClient(srv, &nopSession{id: "e" + strconv.Itoa(i)}, nil)
		c.onMessage(false, []byte("0"))
		s := c.snapshot()[0]
		s.Join("doc")
		sender = s
		defer c.onClose("transport close")
	}
	payload := map[string]any{"doc": "readme", "version": 41, "op": []any{12, "hello"}, "client": "c-1"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := sender.To("doc").Emit("doc:op", payload); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := len(nsp.To("doc").SocketIDs()); n != 1001 {
		b.Fatalf("room has %d sockets", n)
	}
}

// BenchmarkEventDispatch measures receiving an event with an ack and acking it.
func BenchmarkEventDispatch(b *testing.B) {
	srv := NewServer(&Options{Logger: quietLogger()})
	defer srv.Close()
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("doc:op", func(s *Socket, args Args, ack AckFunc) {
			var v struct{ Version int }
			_ = args.Decode(0, &v)
			_ = ack(map[string]any{"ok": true, "version": v.Version + 1})
		})
	})
	c := newClient(srv, &nopSession{id: "e"}, nil)
	defer c.onClose("transport close")
	c.onMessage(false, []byte("0"))
	msg := []byte(`212["doc:op",{"doc":"readme","version":41,"op":[12,"hello",{"d":3}],"client":"c-1","seq":7}]`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.onMessage(false, msg)
	}
}

// BenchmarkEchoAck is the echo server's message-with-ack: an event whose
// arguments are acked back unchanged.
func BenchmarkEchoAck(b *testing.B) {
	srv := NewServer(&Options{Logger: quietLogger()})
	defer srv.Close()
	srv.Of("/").OnConnection(func(s *Socket) {
		s.On("message-with-ack", func(s *Socket, args Args, ack AckFunc) {
			if ack != nil {
				_ = ack(args)
			}
		})
	})
	c := newClient(srv, &nopSession{id: "e"}, nil)
	defer c.onClose("transport close")
	c.onMessage(false, []byte("0"))
	msg := []byte(`21["message-with-ack",{"t":1732590000000,"n":12345}]`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		c.onMessage(false, msg)
	}
}
