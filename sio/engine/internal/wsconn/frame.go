package wsconn

import (
	"encoding/binary"
	"unicode/utf8"
)

// Opcodes (RFC 6455 section 5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// Close codes (RFC 6455 section 7.4.1).
const (
	CloseNormal        = 1000
	CloseGoingAway     = 1001
	CloseProtocolError = 1002
	CloseNoStatus      = 1005 // sent as a close frame without a body
	CloseInvalidData   = 1007
	ClosePolicy        = 1008
	CloseTooBig        = 1009
	CloseTryAgainLater = 1013
)

// FrameError is a violation of RFC 6455 by the client; the connection
// is failed with a close frame carrying code.
type FrameError struct {
	Code int    // the close code the connection is failed with
	Msg  string // what was wrong
}

func (e *FrameError) Error() string { return "websocket: " + e.Msg }

// frameReader parses the frames a client sends (RFC 6455 section 5) from
// successive reads of the socket, which may cut frames anywhere, and
// reassembles fragmented messages. No extension is negotiated, so every
// RSV bit must be 0; client frames must be masked; control frames must be
// final and at most 125 bytes; a text message must be valid UTF-8; a
// message larger than maxPayload fails the connection with 1009.
//
// Between reads it keeps only a partial frame header (in a fixed array),
// the message assembled so far (allocated at the size announced by the
// frame header, up to msgPrealloc, so a message is usually copied once,
// straight into the slice the receiver then owns) and, rarely, a control
// frame's payload cut by a read.
type frameReader struct {
	maxPayload int64

	hdr  [14]byte // header of the frame being read, while incomplete
	nhdr int      // bytes in hdr
	in   bool     // a frame header has been read; its payload is being read
	fin  bool
	op   byte
	mask [4]byte
	mpos int   // bytes of the frame's payload unmasked so far, mod 4
	left int64 // payload bytes of the frame still to read

	msgOp byte   // opcode of the data message being assembled; 0 when none
	msg   []byte // its payload so far
	ctl   []byte // payload of a control frame cut by a read
}

// msgPrealloc bounds the allocation made for a message on its header.
const msgPrealloc = 64 << 10

// frameFunc receives a complete message (op text or binary; payload
// owned by the callee) or a control frame (op close, ping or pong; payload
// valid only during the call). It returns false to stop parsing.
type frameFunc func(op byte, payload []byte) bool

// feed parses p, calling fn for every complete message and control frame.
// p is unmasked in place. It returns (false, nil) when fn stopped it, and an
// error for a protocol violation (the reader must not be fed again).
func (r *frameReader) feed(p []byte, fn frameFunc) (bool, *FrameError) {
	for {
		if !r.in {
			if len(p) == 0 {
				return true, nil
			}
			var ok bool
			var err *FrameError
			if p, ok, err = r.readHeader(p); err != nil {
				return false, err
			} else if !ok {
				return true, nil // header incomplete: p is consumed
			}
		}
		n := int64(len(p))
		if n > r.left {
			n = r.left
		}
		chunk := p[:n]
		p = p[n:]
		unmask(chunk, r.mask, r.mpos)
		r.mpos = (r.mpos + int(n)) & 3
		r.left -= n
		if r.op >= OpClose {
			if r.left > 0 || r.ctl != nil {
				r.ctl = append(r.ctl, chunk...)
				chunk = r.ctl
			}
			if r.left > 0 {
				return true, nil
			}
			r.in = false
			r.ctl = nil
			if ok, err := r.control(chunk, fn); !ok || err != nil {
				return ok, err
			}
			continue
		}
		r.msg = append(r.msg, chunk...)
		if r.left > 0 {
			return true, nil
		}
		r.in = false
		if !r.fin {
			continue
		}
		op, msg := r.msgOp, r.msg
		r.msgOp, r.msg = 0, nil
		if op == OpText && !utf8.Valid(msg) {
			return false, &FrameError{CloseInvalidData, "invalid UTF-8 in a text message"}
		}
		if msg == nil {
			msg = []byte{}
		}
		if !fn(op, msg) {
			return false, nil
		}
	}
}

// readHeader consumes header bytes from p. ok reports a complete header
// (then r.in is set and rest is what follows it).
func (r *frameReader) readHeader(p []byte) (rest []byte, ok bool, err *FrameError) {
	var h []byte
	if r.nhdr == 0 && len(p) >= 2 && len(p) >= headerLen(p[1]) {
		n := headerLen(p[1])
		h, rest = p[:n], p[n:]
	} else {
		for r.nhdr < 2 && len(p) > 0 {
			r.hdr[r.nhdr] = p[0]
			r.nhdr++
			p = p[1:]
		}
		if r.nhdr < 2 {
			return p, false, nil
		}
		n := headerLen(r.hdr[1])
		c := copy(r.hdr[r.nhdr:n], p)
		r.nhdr += c
		p = p[c:]
		if r.nhdr < n {
			return p, false, nil
		}
		h, rest = r.hdr[:n], p
		r.nhdr = 0
	}
	fin, op := h[0]&0x80 != 0, h[0]&0x0f
	if h[0]&0x70 != 0 {
		return nil, false, &FrameError{CloseProtocolError, "reserved bits set"}
	}
	if h[1]&0x80 == 0 {
		return nil, false, &FrameError{CloseProtocolError, "unmasked client frame"}
	}
	var length int64
	switch l := h[1] & 0x7f; l {
	case 126:
		length = int64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		u := binary.BigEndian.Uint64(h[2:])
		if u>>63 != 0 {
			return nil, false, &FrameError{CloseProtocolError, "invalid frame length"}
		}
		length = int64(u)
	default:
		length = int64(l)
	}
	copy(r.mask[:], h[len(h)-4:])
	switch op {
	case OpClose, OpPing, OpPong:
		if !fin || length > 125 {
			return nil, false, &FrameError{CloseProtocolError, "fragmented or long control frame"}
		}
	case OpText, OpBinary, OpContinuation:
		if (op == OpContinuation) != (r.msgOp != 0) {
			return nil, false, &FrameError{CloseProtocolError, "unexpected continuation or data frame"}
		}
		if length > r.maxPayload-int64(len(r.msg)) {
			return nil, false, &FrameError{CloseTooBig, "message over maxPayload"}
		}
		if op != OpContinuation {
			r.msgOp = op
		}
		if r.msg == nil {
			// The message's final size when unfragmented (a fragmented
			// one grows as its frames arrive), but no more than
			// msgPrealloc before the bytes have arrived: a client
			// announcing large frames and sending nothing would
			// otherwise hold MaxPayload per connection.
			r.msg = make([]byte, 0, min(length, msgPrealloc))
		}
	default:
		return nil, false, &FrameError{CloseProtocolError, "unknown opcode"}
	}
	r.in, r.fin, r.op, r.mpos, r.left = true, fin, op, 0, length
	return rest, true, nil
}

// control handles a complete control frame: a close frame's body is
// checked (RFC 6455 section 7.1.5 and 7.4) before fn sees it.
func (r *frameReader) control(payload []byte, fn frameFunc) (bool, *FrameError) {
	if r.op == OpClose && len(payload) > 0 {
		if len(payload) == 1 {
			return false, &FrameError{CloseProtocolError, "one-byte close body"}
		}
		if !validCloseCode(int(binary.BigEndian.Uint16(payload))) {
			return false, &FrameError{CloseProtocolError, "invalid close code"}
		}
		if !utf8.Valid(payload[2:]) {
			return false, &FrameError{CloseInvalidData, "invalid UTF-8 in a close reason"}
		}
	}
	return fn(r.op, payload), nil
}

// headerLen is the length of a client frame header given its second
// byte: 2, plus 2 or 8 bytes of extended length, plus the 4-byte mask key.
func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// validCloseCode reports whether a peer may send code (RFC 6455 section
// 7.4): 1000–1003, 1007–1011 and the registered/private 3000–4999.
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011:
		return true
	}
	return code >= 3000 && code <= 4999
}

// unmask XORs b with the mask key, starting at key position pos.
func unmask(b []byte, key [4]byte, pos int) {
	i := 0
	if len(b) >= 8 {
		var k [8]byte
		for j := range k {
			k[j] = key[(pos+j)&3]
		}
		kw := binary.LittleEndian.Uint64(k[:])
		for ; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^kw)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= key[(pos+i)&3]
	}
}

// AppendHeader appends the header of a final, unmasked server frame with
// opcode op and an n-byte payload (RFC 6455 section 5.2); the payload
// follows it.
func AppendHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n <= 125:
		dst = append(dst, byte(n))
	case n <= 0xffff:
		dst = append(dst, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return dst
}

// appendControl appends a server control frame (payload ≤ 125 bytes).
func appendControl(dst []byte, op byte, payload []byte) []byte {
	return append(AppendHeader(dst, op, len(payload)), payload...)
}

// appendClose appends a close frame with code (none for CloseNoStatus).
func appendClose(dst []byte, code int) []byte {
	if code == CloseNoStatus {
		return appendControl(dst, OpClose, nil)
	}
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], uint16(code))
	return appendControl(dst, OpClose, b[:])
}
