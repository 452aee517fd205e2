package sio

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// PacketType is the Socket.IO v5 packet type, the first character of a packet.
type PacketType byte

// The Socket.IO v5 packet types.
const (
	PacketConnect      PacketType = 0
	PacketDisconnect   PacketType = 1
	PacketEvent        PacketType = 2
	PacketAck          PacketType = 3
	PacketConnectError PacketType = 4
	PacketBinaryEvent  PacketType = 5
	PacketBinaryAck    PacketType = 6
)

var packetTypeNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

func (t PacketType) String() string {
	if int(t) < len(packetTypeNames) {
		return packetTypeNames[t]
	}
	return "UNKNOWN(" + strconv.Itoa(int(t)) + ")"
}

// binary reports whether packets of this type carry attachments.
func (t PacketType) binary() bool { return t == PacketBinaryEvent || t == PacketBinaryAck }

// reservedEvents may not be sent by a client nor emitted by the server.
var reservedEvents = map[string]bool{
	"connect": true, "connect_error": true, "disconnect": true,
	"disconnecting": true, "newListener": true, "removeListener": true,
}

// maxAckIDDigits bounds the ack id so that it fits an int64 (Node uses a counter from 0).
const maxAckIDDigits = 15

// Packet is one Socket.IO packet: `<type>[<attachments>-][<nsp>,][<ackId>][<JSON>]`.
//
// For EVENT and ACK packets (and their binary forms) the payload array is kept as its raw
// elements in Args (for an EVENT, Args[0] is the JSON string of the event name), never
// decoded and re-encoded, so that a packet can be forwarded byte for byte. Other packet
// types keep their payload in Data (nil when absent).
type Packet struct {
	Type        PacketType
	Nsp         string            // namespace; "" is treated as "/"
	ID          int64             // ack id; -1 when the packet asks no ack
	Data        json.RawMessage   // CONNECT / CONNECT_ERROR payload, nil when absent
	Args        []json.RawMessage // EVENT / ACK payload elements
	Attachments [][]byte          // binary attachments, referenced by placeholders in Args
}

// Encode returns the packet as one Engine.IO text message followed by its binary
// attachments. A packet of type EVENT or ACK holding attachments is written as
// BINARY_EVENT / BINARY_ACK (and the reverse when it holds none), as the Node encoder does.
func (p *Packet) Encode() (text []byte, attachments [][]byte) {
	t := p.Type
	switch {
	case t == PacketEvent && len(p.Attachments) > 0:
		t = PacketBinaryEvent
	case t == PacketAck && len(p.Attachments) > 0:
		t = PacketBinaryAck
	case t == PacketBinaryEvent && len(p.Attachments) == 0:
		t = PacketEvent
	case t == PacketBinaryAck && len(p.Attachments) == 0:
		t = PacketAck
	}
	size := 24 + len(p.Nsp) + len(p.Data)
	for _, a := range p.Args {
		size += len(a) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, '0'+byte(t))
	if t.binary() {
		b = strconv.AppendInt(b, int64(len(p.Attachments)), 10)
		b = append(b, '-')
	}
	if p.Nsp != "" && p.Nsp != "/" {
		b = append(b, p.Nsp...)
		b = append(b, ',')
	}
	if p.ID >= 0 {
		b = strconv.AppendInt(b, p.ID, 10)
	}
	switch t {
	case PacketEvent, PacketAck, PacketBinaryEvent, PacketBinaryAck:
		b = append(b, '[')
		for i, a := range p.Args {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, a...)
		}
		b = append(b, ']')
	default:
		b = append(b, p.Data...)
	}
	return b, p.Attachments
}

// DecodePacket parses the text part of a packet. For BINARY_EVENT and BINARY_ACK it also
// returns how many binary attachments follow (to be appended to p.Attachments by the caller);
// it returns 0 for other types. Validation follows the reference parser: CONNECT payload
// an object or absent, DISCONNECT without payload, EVENT a non-empty array starting with a
// non-reserved event name, ACK an array, CONNECT_ERROR an object or a string.
func DecodePacket(data []byte) (p *Packet, attachments int, err error) {
	if len(data) == 0 {
		return nil, 0, parseErr(data, "empty packet")
	}
	c := data[0]
	if c < '0' || c > '6' {
		return nil, 0, parseErr(data, "unknown packet type")
	}
	p = &Packet{Type: PacketType(c - '0'), Nsp: "/", ID: -1}
	i := 1
	if p.Type.binary() {
		j := i
		for j < len(data) && data[j] >= '0' && data[j] <= '9' {
			j++
		}
		if j == i || j >= len(data) || data[j] != '-' || j-i > 9 {
			return nil, 0, parseErr(data, "illegal attachments")
		}
		n, _ := strconv.Atoi(string(data[i:j]))
		attachments = n
		i = j + 1
	}
	if i < len(data) && data[i] == '/' {
		j := bytes.IndexByte(data[i:], ',')
		if j < 0 {
			p.Nsp = string(data[i:])
			i = len(data)
		} else {
			p.Nsp = string(data[i : i+j])
			i += j + 1
		}
	}
	if j := i; j < len(data) && data[j] >= '0' && data[j] <= '9' {
		for j < len(data) && data[j] >= '0' && data[j] <= '9' {
			j++
		}
		if j-i > maxAckIDDigits {
			return nil, 0, parseErr(data, "ack id too large")
		}
		p.ID, _ = strconv.ParseInt(string(data[i:j]), 10, 64)
		i = j
	}
	payload := data[i:]
	if err := p.setPayload(payload); err != nil {
		return nil, 0, parseErr(data, err.Error())
	}
	return p, attachments, nil
}

type payloadError string

func (e payloadError) Error() string { return string(e) }

func firstByte(b []byte) byte {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func (p *Packet) setPayload(payload []byte) error {
	switch p.Type {
	case PacketConnect:
		if len(payload) == 0 {
			return nil
		}
		if firstByte(payload) != '{' || !json.Valid(payload) {
			return payloadError("invalid payload: CONNECT payload must be an object")
		}
		p.Data = append(json.RawMessage(nil), payload...)
	case PacketDisconnect:
		if len(payload) != 0 {
			return payloadError("invalid payload: DISCONNECT has no payload")
		}
	case PacketConnectError:
		if len(payload) == 0 {
			return nil
		}
		if c := firstByte(payload); (c != '{' && c != '"') || !json.Valid(payload) {
			return payloadError("invalid payload: CONNECT_ERROR payload must be an object or a string")
		}
		p.Data = append(json.RawMessage(nil), payload...)
	case PacketEvent, PacketBinaryEvent, PacketAck, PacketBinaryAck:
		if firstByte(payload) != '[' {
			return payloadError("invalid payload: expected an array")
		}
		if !json.Valid(payload) {
			return payloadError("invalid payload: malformed JSON")
		}
		args := splitArray(append([]byte(nil), payload...))
		if p.Type == PacketEvent || p.Type == PacketBinaryEvent {
			if len(args) == 0 {
				return payloadError("invalid payload: empty event")
			}
			if firstByte(args[0]) != '"' {
				return payloadError("invalid payload: event name must be a string")
			}
			name, err := stringValue(args[0])
			if err != nil {
				return payloadError("invalid payload: bad event name")
			}
			if reservedEvents[name] {
				return payloadError("invalid payload: reserved event name " + strconv.Quote(name))
			}
		}
		p.Args = args
	}
	return nil
}

// splitArray returns the elements of the JSON array b, each as its raw
// bytes without the whitespace around it (what json.Unmarshal into a
// []json.RawMessage gives, without copying: the elements share b). b must
// be valid JSON (json.Valid) whose first non-space byte is '['; the result
// is never nil.
func splitArray(b []byte) []json.RawMessage {
	// An event is its name and a few arguments: one allocation for most.
	args := make([]json.RawMessage, 0, 4)
	i := 0
	for b[i] != '[' {
		i++
	}
	depth, start, end, inString := 0, -1, 0, false
	for i++; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++ // the escaped byte cannot end the string
			case '"':
				inString = false
			}
			end = i + 1
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case ',':
			if depth == 0 {
				args = append(args, b[start:end:end])
				start = -1
				continue
			}
		case ']', '}':
			if depth == 0 { // the end of the array
				if start >= 0 {
					args = append(args, b[start:end:end])
				}
				return args
			}
			depth--
		case '[', '{':
			depth++
		case '"':
			inString = true
		}
		if start < 0 {
			start = i
		}
		end = i + 1
	}
	return args // not reached for valid JSON
}

// stringValue returns the value of the JSON string literal raw (valid
// JSON), exactly as json.Unmarshal would: without escapes and in valid
// UTF-8 it is the bytes between the quotes; anything else goes through
// json.Unmarshal.
func stringValue(raw []byte) (string, error) {
	if len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw, '\\') < 0 && utf8.Valid(raw) {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// decoder reassembles binary packets from consecutive Engine.IO messages. It is used by
// the session's deliverer (the engine delivers a session's messages sequentially).
type decoder struct {
	maxAttachments int
	pending        *Packet // a binary packet waiting for attachments
	want           int     // number of attachments pending expects
}

// add consumes one Engine.IO message. It returns a complete packet, or nil when more
// attachments are awaited, or an error when the stream is not valid Socket.IO.
func (d *decoder) add(binary bool, data []byte) (*Packet, error) {
	if binary {
		if d.pending == nil {
			return nil, parseErr(nil, "unexpected binary attachment")
		}
		d.pending.Attachments = append(d.pending.Attachments, data)
		if len(d.pending.Attachments) < d.want {
			return nil, nil
		}
		p := d.pending
		d.pending, d.want = nil, 0
		if err := checkPlaceholders(p.Args, len(p.Attachments)); err != nil {
			return nil, err
		}
		return p, nil
	}
	if d.pending != nil {
		return nil, parseErr(data, "text packet while awaiting binary attachments")
	}
	p, n, err := DecodePacket(data)
	if err != nil {
		return nil, err
	}
	if !p.Type.binary() {
		return p, nil
	}
	if n > d.maxAttachments {
		return nil, parseErr(data, "too many attachments")
	}
	if n == 0 {
		if err := checkPlaceholders(p.Args, 0); err != nil {
			return nil, err
		}
		return p, nil
	}
	p.Attachments = make([][]byte, 0, n)
	d.pending, d.want = p, n
	return nil, nil
}
