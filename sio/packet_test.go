package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodePacket(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		typ   PacketType
		nsp   string
		id    int64
		data  string
		args  []string
		atts  int
		encTo string // expected re-encoding; "" means same as in
	}{
		{name: "connect", in: "0", typ: PacketConnect, nsp: "/", id: -1},
		{name: "connect payload", in: `0{"token":"123"}`, typ: PacketConnect, nsp: "/", id: -1, data: `{"token":"123"}`},
		{name: "connect custom", in: "0/custom,", typ: PacketConnect, nsp: "/custom", id: -1},
		{name: "connect custom no comma", in: "0/custom", typ: PacketConnect, nsp: "/custom", id: -1, encTo: "0/custom,"},
		{name: "connect custom payload", in: `0/custom,{"a":1}`, typ: PacketConnect, nsp: "/custom", id: -1, data: `{"a":1}`},
		{name: "disconnect", in: "1", typ: PacketDisconnect, nsp: "/", id: -1},
		{name: "disconnect custom", in: "1/custom,", typ: PacketDisconnect, nsp: "/custom", id: -1},
		{name: "event", in: `2["message",1,"2",{"3":[true]}]`, typ: PacketEvent, nsp: "/", id: -1,
			args: []string{`"message"`, `1`, `"2"`, `{"3":[true]}`}},
		{name: "event key order kept", in: `2["m",{"z":1,"a":2.50}]`, typ: PacketEvent, nsp: "/", id: -1,
			args: []string{`"m"`, `{"z":1,"a":2.50}`}},
		{name: "event ack", in: `2456["message-with-ack",1]`, typ: PacketEvent, nsp: "/", id: 456,
			args: []string{`"message-with-ack"`, `1`}},
		{name: "event nsp ack", in: `2/custom,7["x"]`, typ: PacketEvent, nsp: "/custom", id: 7, args: []string{`"x"`}},
		{name: "ack", in: `3456[1,"2"]`, typ: PacketAck, nsp: "/", id: 456, args: []string{`1`, `"2"`}},
		{name: "ack empty", in: `30[]`, typ: PacketAck, nsp: "/", id: 0, args: []string{}},
		{name: "connect error", in: `4/random,{"message":"Invalid namespace"}`, typ: PacketConnectError, nsp: "/random", id: -1,
			data: `{"message":"Invalid namespace"}`},
		{name: "binary event", in: `52-["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, typ: PacketBinaryEvent,
			nsp: "/", id: -1, atts: 2, args: []string{`"m"`, `{"_placeholder":true,"num":0}`, `{"_placeholder":true,"num":1}`}},
		{name: "binary ack", in: `61-/custom,789[{"_placeholder":true,"num":0}]`, typ: PacketBinaryAck, nsp: "/custom", id: 789, atts: 1,
			args: []string{`{"_placeholder":true,"num":0}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, n, err := DecodePacket([]byte(tt.in))
			if err != nil {
				t.Fatalf("DecodePacket(%q): %v", tt.in, err)
			}
			if p.Type != tt.typ || p.Nsp != tt.nsp || p.ID != tt.id || string(p.Data) != tt.data || n != tt.atts {
				t.Fatalf("got type=%v nsp=%q id=%d data=%q atts=%d", p.Type, p.Nsp, p.ID, p.Data, n)
			}
			var got []string
			for _, a := range p.Args {
				got = append(got, string(a))
			}
			if len(got) != len(tt.args) || (len(got) > 0 && !reflect.DeepEqual(got, tt.args)) {
				t.Fatalf("args = %q, want %q", got, tt.args)
			}
			for i := 0; i < n; i++ {
				p.Attachments = append(p.Attachments, []byte{byte(i)})
			}
			text, atts := p.Encode()
			want := tt.encTo
			if want == "" {
				want = tt.in
			}
			if string(text) != want || len(atts) != n {
				t.Fatalf("Encode = %q (%d attachments), want %q", text, len(atts), want)
			}
		})
	}
}

func TestDecodePacketMalformed(t *testing.T) {
	bad := []string{
		"",
		"7",
		"a",
		"4abc",                       // CONNECT_ERROR with a non-JSON payload
		`2{}`,                        // event payload not an array
		`2abc["message-with-ack",1]`, // invalid ack id
		`2[]`,                        // empty event
		`2[1,2]`,                     // event name not a string
		`2["connect"]`,               // reserved names
		`2["connect_error"]`,
		`2["disconnect"]`,
		`2["disconnecting"]`,
		`2["newListener"]`,
		`2["removeListener"]`,
		`2`,       // event without payload
		`2["a",`,  // truncated JSON
		`2["a"]x`, // trailing garbage
		`2null`,
		`3`,        // ack without payload
		`3{"a":1}`, // ack not an array
		`3null`,
		`0[]`, // connect payload not an object
		`0"x"`,
		`0null`,
		`0{`,
		`1{}`,    // disconnect with payload
		`5["m"]`, // binary without attachment count
		`5x-["m"]`,
		`51["m"]`,
		`5-["m"]`,
		`2123456789012345678["m"]`, // ack id too large
		`4[1]`,
	}
	for _, in := range bad {
		t.Run(in, func(t *testing.T) {
			p, _, err := DecodePacket([]byte(in))
			if err == nil {
				t.Fatalf("DecodePacket(%q) = %+v, want error", in, p)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
		})
	}
}

func TestDecoderBinary(t *testing.T) {
	d := decoder{maxAttachments: 10}
	p, err := d.add(false, []byte(`52-5["m",{"_placeholder":true,"num":1},[{"_placeholder":true,"num":0}]]`))
	if err != nil || p != nil {
		t.Fatalf("header: p=%v err=%v, want pending", p, err)
	}
	if p, err = d.add(true, []byte{1}); err != nil || p != nil {
		t.Fatalf("first attachment: p=%v err=%v", p, err)
	}
	p, err = d.add(true, []byte{2, 3})
	if err != nil || p == nil {
		t.Fatalf("second attachment: p=%v err=%v", p, err)
	}
	if p.ID != 5 || len(p.Attachments) != 2 || !bytes.Equal(p.Attachments[1], []byte{2, 3}) {
		t.Fatalf("packet = %+v", p)
	}
	// The decoder is ready for the next packet.
	if p, err = d.add(false, []byte(`2["x"]`)); err != nil || p == nil {
		t.Fatalf("next packet: %v %v", p, err)
	}
	if p, err = d.add(false, []byte(`50-["x"]`)); err != nil || p == nil {
		t.Fatalf("binary packet without attachments: %v %v", p, err)
	}
}

func TestDecoderBinaryErrors(t *testing.T) {
	tests := []struct {
		name string
		msgs []string // "b:" prefix = binary message
	}{
		{"binary without header", []string{"b:x"}},
		{"text while awaiting", []string{`51-["m",{"_placeholder":true,"num":0}]`, `2["x"]`}},
		{"placeholder out of range", []string{`51-["m",{"_placeholder":true,"num":1}]`, "b:x"}},
		{"placeholder negative", []string{`51-["m",{"_placeholder":true,"num":-1}]`, "b:x"}},
		{"placeholder fraction", []string{`52-["m",{"_placeholder":true,"num":0.5}]`, "b:x", "b:y"}},
		{"placeholder num string", []string{`51-["m",{"_placeholder":true,"num":"0"}]`, "b:x"}},
		{"placeholder without attachments", []string{`50-["m",{"_placeholder":true,"num":0}]`}},
		{"too many attachments", []string{`511-["m"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := decoder{maxAttachments: 10}
			var err error
			for _, m := range tt.msgs {
				if b, ok := strings.CutPrefix(m, "b:"); ok {
					_, err = d.add(true, []byte(b))
				} else {
					_, err = d.add(false, []byte(m))
				}
				if err != nil {
					break
				}
			}
			if err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// FuzzDecodePacket checks that decoding never panics and that every accepted packet
// re-encodes to a packet that decodes to the same value.
func FuzzDecodePacket(f *testing.F) {
	for _, s := range []string{"0", `0{"token":"123"}`, "0/custom,", "1", `2["message",1,"2",{"3":[true]}]`,
		`2456["message-with-ack",1]`, `3456[1]`, `4/x,{"message":"m"}`, `52-["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
		`61-/c,9[{"_placeholder":true,"num":0}]`, "42{}", `2abc["x"]`, `2["connect"]`} {
		f.Add([]byte(s), uint8(2))
	}
	f.Fuzz(func(t *testing.T, data []byte, nAtt uint8) {
		d := decoder{maxAttachments: 10}
		p, err := d.add(false, data)
		if err != nil {
			return
		}
		for i := 0; p == nil && i < int(nAtt); i++ {
			p, err = d.add(true, []byte{byte(i)})
			if err != nil {
				return
			}
		}
		if p == nil {
			return // still awaiting attachments
		}
		text, atts := p.Encode()
		d2 := decoder{maxAttachments: 10}
		q, err := d2.add(false, text)
		for i := 0; err == nil && q == nil && i < len(atts); i++ {
			q, err = d2.add(true, atts[i])
		}
		if err != nil || q == nil {
			t.Fatalf("re-decode of %q (from %q): %v", text, data, err)
		}
		if q.Type != p.Type && !(len(p.Attachments) == 0 && (p.Type == PacketBinaryEvent || p.Type == PacketBinaryAck)) {
			t.Fatalf("type %v != %v", q.Type, p.Type)
		}
		if q.Nsp != p.Nsp || q.ID != p.ID || !bytes.Equal(q.Data, p.Data) || len(q.Args) != len(p.Args) ||
			len(q.Attachments) != len(p.Attachments) {
			t.Fatalf("round trip of %q: %+v != %+v", data, q, p)
		}
		for i := range p.Args {
			if !bytes.Equal(p.Args[i], q.Args[i]) || !json.Valid(q.Args[i]) {
				t.Fatalf("arg %d: %q != %q", i, q.Args[i], p.Args[i])
			}
		}
	})
}
