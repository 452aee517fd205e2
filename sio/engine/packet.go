package engine

import (
	"encoding/base64"
	"strconv"
)

// PacketType is an Engine.IO v4 packet type, sent as one ASCII digit.
type PacketType byte

// The Engine.IO v4 packet types.
const (
	PacketOpen PacketType = iota
	PacketClose
	PacketPing
	PacketPong
	PacketMessage
	PacketUpgrade
	PacketNoop
)

var packetNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

func (t PacketType) String() string {
	if int(t) < len(packetNames) {
		return packetNames[t]
	}
	return "PacketType(" + strconv.Itoa(int(t)) + ")"
}

// packet is one decoded Engine.IO packet. binary is only set for messages.
type packet struct {
	typ    PacketType
	data   []byte
	binary bool
}

// decodePacket decodes the text form of a packet: a type digit followed by
// its data, or "b" followed by the base64 of a binary message. The returned
// data aliases b (with its capacity clipped, so appending to it never
// overwrites b); callers that do not own b must copy it first.
func decodePacket(b []byte) (packet, error) {
	if len(b) == 0 {
		return packet{}, errEmptyPacket
	}
	if b[0] == 'b' {
		data, err := decodeBase64(b[1:])
		if err != nil {
			return packet{}, err
		}
		return packet{typ: PacketMessage, data: data, binary: true}, nil
	}
	if b[0] < '0' || b[0] > '6' {
		return packet{}, errPacketType
	}
	return packet{typ: PacketType(b[0] - '0'), data: b[1:len(b):len(b)]}, nil
}

// decodeBase64 accepts padded and unpadded standard base64, like Node's Buffer.
func decodeBase64(src []byte) ([]byte, error) {
	enc := base64.StdEncoding
	if len(src)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	dst := make([]byte, enc.DecodedLen(len(src)))
	n, err := enc.Decode(dst, src)
	if err != nil {
		return nil, errBase64
	}
	return dst[:n:n], nil
}

// appendPacket appends the text form of p to dst: binary messages are
// written as "b" + base64 (the polling form).
func appendPacket(dst []byte, p packet) []byte {
	if p.binary {
		dst = append(dst, 'b')
		return base64.StdEncoding.AppendEncode(dst, p.data)
	}
	dst = append(dst, byte('0'+p.typ))
	return append(dst, p.data...)
}
