package engine

import (
	"encoding/binary"
	"unicode/utf8"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	wsOpContinuation = 0x0
	wsOpText         = 0x1
	wsOpBinary       = 0x2
	wsOpClose        = 0x8
	wsOpPing         = 0x9
	wsOpPong         = 0xA
)

// WebSocket close codes (RFC 6455 section 7.4.1).
const (
	wsCloseNormal        = 1000
	wsCloseGoingAway     = 1001
	wsCloseProtocolError = 1002
	wsCloseNoStatus      = 1005 // sent as a close frame without a body
	wsCloseInvalidData   = 1007
	wsClosePolicy        = 1008
	wsCloseTooBig        = 1009
)

// wsFrameError is a violation of RFC 6455 by the client; the connection
// is failed with a close frame carrying code.
type wsFrameError struct {
	code int
	msg  string
}

func (e *wsFrameError) Error() string { return "websocket: " + e.msg }

// wsReader parses the frames a client sends (RFC 6455 section 5) from
// successive reads of the socket, which may cut frames anywhere, and
// reassembles fragmented messages. No extension is negotiated, so every
// RSV bit must be 0; client frames must be masked; control frames must be
// final and at most 125 bytes; a text message must be valid UTF-8; a
// message larger than maxPayload fails the connection with 1009.
//
// Between reads it keeps only a partial frame header (in a fixed array),
// the message assembled so far (allocated at the size announced by the
// frame header, up to wsMsgPrealloc, so a message is usually copied once,
// straight into the slice the receiver then owns) and, rarely, a control
// frame's payload cut by a read.
type wsReader struct {
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

// wsMsgPrealloc bounds the allocation made for a message on its header.
const wsMsgPrealloc = 64 << 10

// wsFrameFunc receives a complete message (op text or binary; payload
// owned by the callee) or a control frame (op close, ping or pong; payload
// valid only during the call). It returns false to stop parsing.
type wsFrameFunc func(op byte, payload []byte) bool

// feed parses p, calling fn for every complete message and control frame.
// p is unmasked in place. It returns (false, nil) when fn stopped it, and an
// error for a protocol violation (the reader must not be fed again).
func (r *wsReader) feed(p []byte, fn wsFrameFunc) (bool, *wsFrameError) {
	for {
		if !r.in {
			if len(p) == 0 {
				return true, nil
			}
			var ok bool
			var err *wsFrameError
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
		wsUnmask(chunk, r.mask, r.mpos)
		r.mpos = (r.mpos + int(n)) & 3
		r.left -= n
		if r.op >= wsOpClose {
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
		if op == wsOpText && !utf8.Valid(msg) {
			return false, &wsFrameError{wsCloseInvalidData, "invalid UTF-8 in a text message"}
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
func (r *wsReader) readHeader(p []byte) (rest []byte, ok bool, err *wsFrameError) {
	var h []byte
	if r.nhdr == 0 && len(p) >= 2 && len(p) >= wsHeaderLen(p[1]) {
		n := wsHeaderLen(p[1])
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
		n := wsHeaderLen(r.hdr[1])
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
		return nil, false, &wsFrameError{wsCloseProtocolError, "reserved bits set"}
	}
	if h[1]&0x80 == 0 {
		return nil, false, &wsFrameError{wsCloseProtocolError, "unmasked client frame"}
	}
	var length int64
	switch l := h[1] & 0x7f; l {
	case 126:
		length = int64(binary.BigEndian.Uint16(h[2:]))
	case 127:
		u := binary.BigEndian.Uint64(h[2:])
		if u>>63 != 0 {
			return nil, false, &wsFrameError{wsCloseProtocolError, "invalid frame length"}
		}
		length = int64(u)
	default:
		length = int64(l)
	}
	copy(r.mask[:], h[len(h)-4:])
	switch op {
	case wsOpClose, wsOpPing, wsOpPong:
		if !fin || length > 125 {
			return nil, false, &wsFrameError{wsCloseProtocolError, "fragmented or long control frame"}
		}
	case wsOpText, wsOpBinary, wsOpContinuation:
		if (op == wsOpContinuation) != (r.msgOp != 0) {
			return nil, false, &wsFrameError{wsCloseProtocolError, "unexpected continuation or data frame"}
		}
		if length > r.maxPayload-int64(len(r.msg)) {
			return nil, false, &wsFrameError{wsCloseTooBig, "message over maxPayload"}
		}
		if op != wsOpContinuation {
			r.msgOp = op
		}
		if r.msg == nil {
			// The message's final size when unfragmented (a fragmented
			// one grows as its frames arrive), but no more than
			// wsMsgPrealloc before the bytes have arrived: a client
			// announcing large frames and sending nothing would
			// otherwise hold MaxPayload per connection.
			r.msg = make([]byte, 0, min(length, wsMsgPrealloc))
		}
	default:
		return nil, false, &wsFrameError{wsCloseProtocolError, "unknown opcode"}
	}
	r.in, r.fin, r.op, r.mpos, r.left = true, fin, op, 0, length
	return rest, true, nil
}

// control handles a complete control frame: a close frame's body is
// checked (RFC 6455 section 7.1.5 and 7.4) before fn sees it.
func (r *wsReader) control(payload []byte, fn wsFrameFunc) (bool, *wsFrameError) {
	if r.op == wsOpClose && len(payload) > 0 {
		if len(payload) == 1 {
			return false, &wsFrameError{wsCloseProtocolError, "one-byte close body"}
		}
		if !wsValidCloseCode(int(binary.BigEndian.Uint16(payload))) {
			return false, &wsFrameError{wsCloseProtocolError, "invalid close code"}
		}
		if !utf8.Valid(payload[2:]) {
			return false, &wsFrameError{wsCloseInvalidData, "invalid UTF-8 in a close reason"}
		}
	}
	return fn(r.op, payload), nil
}

// wsHeaderLen is the length of a client frame header given its second
// byte: 2, plus 2 or 8 bytes of extended length, plus the 4-byte mask key.
func wsHeaderLen(b1 byte) int {
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

// wsValidCloseCode reports whether a peer may send code (RFC 6455 section
// 7.4): 1000–1003, 1007–1011 and the registered/private 3000–4999.
func wsValidCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1011:
		return true
	}
	return code >= 3000 && code <= 4999
}

// wsUnmask XORs b with the mask key, starting at key position pos.
func wsUnmask(b []byte, key [4]byte, pos int) {
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

// appendWSFrame appends one unmasked, unfragmented server frame holding
// p: a binary frame with the raw data for a binary message, otherwise a
// text frame with the packet's text form (RFC 6455 section 5.2).
func appendWSFrame(dst []byte, p packet) []byte {
	n := len(p.data)
	op := byte(0x80 | wsOpBinary)
	if !p.binary {
		op = 0x80 | wsOpText
		n++ // the type digit
	}
	dst = appendWSHeader(dst, op, n)
	if !p.binary {
		dst = append(dst, byte('0'+p.typ))
	}
	return append(dst, p.data...)
}

func appendWSHeader(dst []byte, b0 byte, n int) []byte {
	dst = append(dst, b0)
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

// appendWSControl appends a server control frame (payload ≤ 125 bytes).
func appendWSControl(dst []byte, op byte, payload []byte) []byte {
	return append(appendWSHeader(dst, 0x80|op, len(payload)), payload...)
}

// appendWSClose appends a close frame with code (none for wsCloseNoStatus).
func appendWSClose(dst []byte, code int) []byte {
	if code == wsCloseNoStatus {
		return appendWSControl(dst, wsOpClose, nil)
	}
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], uint16(code))
	return appendWSControl(dst, wsOpClose, b[:])
}
