// Package wstest builds what a WebSocket client sends, for the tests of
// wsconn and of the engine.
package wstest

import "encoding/binary"

// ClientFrame builds a masked client frame (RFC 6455 section 5.2) with
// first byte b0 (FIN, RSV bits and opcode) and payload.
func ClientFrame(b0 byte, payload []byte) []byte {
	key := [4]byte{0x37, 0xfa, 0x21, 0x3d}
	var f []byte
	f = append(f, b0)
	n := len(payload)
	switch {
	case n <= 125:
		f = append(f, 0x80|byte(n))
	case n <= 0xffff:
		f = append(f, 0x80|126)
		f = binary.BigEndian.AppendUint16(f, uint16(n))
	default:
		f = append(f, 0x80|127)
		f = binary.BigEndian.AppendUint64(f, uint64(n))
	}
	f = append(f, key[:]...)
	for i, c := range payload {
		f = append(f, c^key[i&3])
	}
	return f
}
