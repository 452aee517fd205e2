package engine

import (
	"bytes"
	"strings"
	"testing"
)

func TestDecodePacket(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want packet
	}{
		{"open", `0{"sid":"x"}`, packet{typ: PacketOpen, data: []byte(`{"sid":"x"}`)}},
		{"close", "1", packet{typ: PacketClose, data: []byte{}}},
		{"ping probe", "2probe", packet{typ: PacketPing, data: []byte("probe")}},
		{"pong", "3", packet{typ: PacketPong, data: []byte{}}},
		{"text message", "4héllo", packet{typ: PacketMessage, data: []byte("héllo")}},
		{"empty message", "4", packet{typ: PacketMessage, data: []byte{}}},
		{"upgrade", "5", packet{typ: PacketUpgrade, data: []byte{}}},
		{"noop", "6", packet{typ: PacketNoop, data: []byte{}}},
		{"binary", "bAQID", packet{typ: PacketMessage, data: []byte{1, 2, 3}, binary: true}},
		{"binary padded", "bAQI=", packet{typ: PacketMessage, data: []byte{1, 2}, binary: true}},
		{"binary unpadded", "bAQI", packet{typ: PacketMessage, data: []byte{1, 2}, binary: true}},
		{"binary empty", "b", packet{typ: PacketMessage, data: []byte{}, binary: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodePacket([]byte(tt.in))
			if err != nil {
				t.Fatalf("decodePacket(%q): %v", tt.in, err)
			}
			if got.typ != tt.want.typ || got.binary != tt.want.binary || !bytes.Equal(got.data, tt.want.data) {
				t.Fatalf("decodePacket(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecodePacketMalformed(t *testing.T) {
	for _, in := range []string{"", "7", "9abc", "a", "x4", "b!!!!", "b=AAA", "bA", "\x1e", "-1"} {
		t.Run(strings.ToValidUTF8(in, "?"), func(t *testing.T) {
			if p, err := decodePacket([]byte(in)); err == nil {
				t.Fatalf("decodePacket(%q) = %+v, want an error", in, p)
			}
		})
	}
}

func TestDecodePacketClipsCapacity(t *testing.T) {
	buf := []byte("4ab\x1e4cd")
	pkts, err := decodePayload(buf)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(pkts[0].data, 'X', 'Y', 'Z') // must not overwrite the second packet
	if string(pkts[1].data) != "cd" {
		t.Fatalf("second packet overwritten: %q", pkts[1].data)
	}
}

func TestAppendPacket(t *testing.T) {
	tests := []struct {
		name string
		in   packet
		want string
	}{
		{"ping", packet{typ: PacketPing}, "2"},
		{"close", packet{typ: PacketClose}, "1"},
		{"text", packet{typ: PacketMessage, data: []byte("hi")}, "4hi"},
		{"binary", packet{typ: PacketMessage, data: []byte{1, 2, 3, 4}, binary: true}, "bAQIDBA=="},
		{"noop", packet{typ: PacketNoop}, "6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(appendPacket(nil, tt.in)); got != tt.want {
				t.Fatalf("appendPacket = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestPayloadRoundTrip(t *testing.T) {
	pkts := []packet{
		{typ: PacketOpen, data: []byte(`{"sid":"a"}`)},
		{typ: PacketMessage, data: []byte("hello")},
		{typ: PacketMessage, data: []byte{0, 0x1e, 0xff}, binary: true},
		{typ: PacketPing, data: []byte{}},
		{typ: PacketMessage, data: []byte{}},
	}
	enc := appendPayload(nil, pkts)
	want := "0{\"sid\":\"a\"}\x1e4hello\x1ebAB7/\x1e2\x1e4"
	if string(enc) != want {
		t.Fatalf("appendPayload = %q, want %q", enc, want)
	}
	got, err := decodePayload(enc)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(pkts) {
		t.Fatalf("decoded %d packets, want %d", len(got), len(pkts))
	}
	for i := range pkts {
		if got[i].typ != pkts[i].typ || got[i].binary != pkts[i].binary || !bytes.Equal(got[i].data, pkts[i].data) {
			t.Errorf("packet %d = %+v, want %+v", i, got[i], pkts[i])
		}
	}
}

func TestDecodePayloadMalformed(t *testing.T) {
	for name, in := range map[string]string{
		"empty":             "",
		"empty record":      "4a\x1e\x1e4b",
		"trailing record":   "4a\x1e",
		"leading separator": "\x1e4a",
		"bad type":          "4a\x1e9",
		"bad base64":        "4a\x1eb***",
		"only separator":    "\x1e",
	} {
		t.Run(name, func(t *testing.T) {
			if p, err := decodePayload([]byte(in)); err == nil {
				t.Fatalf("decodePayload(%q) = %+v, want an error", in, p)
			}
		})
	}
}

func TestAppendWSFrame(t *testing.T) {
	tests := []struct {
		name   string
		in     packet
		header []byte
	}{
		{"short text", packet{typ: PacketMessage, data: []byte("hi")}, []byte{0x81, 3}},
		{"ping", packet{typ: PacketPing}, []byte{0x81, 1}},
		{"binary", packet{typ: PacketMessage, data: []byte{9}, binary: true}, []byte{0x82, 1}},
		{"126", packet{typ: PacketMessage, data: make([]byte, 125)}, []byte{0x81, 126, 0, 126}},
		{"65536", packet{typ: PacketMessage, data: make([]byte, 65536), binary: true}, []byte{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendWSFrame(nil, tt.in)
			if !bytes.HasPrefix(got, tt.header) {
				t.Fatalf("header % x, want % x", got[:len(tt.header)], tt.header)
			}
			body := got[len(tt.header):]
			want := tt.in.data
			if !tt.in.binary {
				want = append([]byte{byte('0' + tt.in.typ)}, tt.in.data...)
			}
			if !bytes.Equal(body, want) {
				t.Fatalf("frame body %q, want %q", body, want)
			}
		})
	}
}

func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{"0{}", "1", "2probe", "3", "4hello", "5", "6", "bAQID", "b", "", "7", "bA="} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := decodePacket(in)
		if err != nil {
			return
		}
		enc := appendPacket(nil, p)
		q, err := decodePacket(enc)
		if err != nil {
			t.Fatalf("re-decoding %q (from %q): %v", enc, in, err)
		}
		if q.typ != p.typ || q.binary != p.binary || !bytes.Equal(q.data, p.data) {
			t.Fatalf("round trip of %q: %+v != %+v", in, q, p)
		}
	})
}

func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{"4a\x1e4b", "4hello", "bAQID\x1e2\x1e3", "", "\x1e", "4a\x1e", "1", "4\x1e4"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		pkts, err := decodePayload(in)
		if err != nil {
			return
		}
		enc := appendPayload(nil, pkts)
		again, err := decodePayload(enc)
		if err != nil {
			t.Fatalf("re-decoding %q (from %q): %v", enc, in, err)
		}
		if len(again) != len(pkts) {
			t.Fatalf("round trip of %q: %d packets, want %d", in, len(again), len(pkts))
		}
		for i := range pkts {
			if again[i].typ != pkts[i].typ || again[i].binary != pkts[i].binary || !bytes.Equal(again[i].data, pkts[i].data) {
				t.Fatalf("round trip of %q: packet %d %+v != %+v", in, i, again[i], pkts[i])
			}
		}
	})
}

func benchPackets() []packet {
	text := []byte(`42["op",{"doc":"d1","v":12,"ops":[5,"hello world",-3]}]`)
	bin := bytes.Repeat([]byte{0xab}, 256)
	return []packet{
		{typ: PacketMessage, data: text},
		{typ: PacketMessage, data: bin, binary: true},
		{typ: PacketPing},
		{typ: PacketMessage, data: text},
	}
}

func BenchmarkAppendPacket(b *testing.B) {
	p := benchPackets()[0]
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendPacket(buf[:0], p)
	}
}

func BenchmarkDecodePacket(b *testing.B) {
	in := appendPacket(nil, benchPackets()[0])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodePacket(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBinaryPacket(b *testing.B) {
	in := appendPacket(nil, benchPackets()[1])
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodePacket(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendPayload(b *testing.B) {
	pkts := benchPackets()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendPayload(buf[:0], pkts)
	}
}

func BenchmarkDecodePayload(b *testing.B) {
	in := appendPayload(nil, benchPackets())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodePayload(in); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendWSFrames(b *testing.B) {
	pkts := benchPackets()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for _, p := range pkts {
			buf = appendWSFrame(buf, p)
		}
	}
}
