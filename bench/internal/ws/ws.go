// Package ws is the load tool's WebSocket client (RFC 6455, client side,
// no extensions, ws:// only), built so that the client costs as little CPU
// per message as the kernel allows: after the HTTP upgrade the socket is
// a raw non-blocking file descriptor, and a few event loops (one per
// GOMAXPROCS, level-triggered epoll) read it, split frames out of a reused
// buffer and hand each message to a callback on the loop goroutine. No
// goroutine per connection, no channel hand-off, one read(2) per
// readiness and one write(2) per frame, no allocation per message.
//
// A connection is first used synchronously (ReadMessage, for the
// handshakes of the protocols above WebSocket), then Start hands it to a
// loop. Writes may come from any goroutine.
package ws

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
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

// MaxMessage bounds one message (after reassembly of fragments).
const MaxMessage = 64 << 20

// Errors.
var (
	ErrClosed   = errors.New("ws: connection closed")
	ErrProtocol = errors.New("ws: protocol error")
	ErrTooLarge = errors.New("ws: message too large")
)

// Conn is one client WebSocket connection.
type Conn struct {
	fd int

	// Read side: owned by whoever reads (ReadMessage before Start, the
	// loop after).
	rbuf []byte // rbuf[roff:] are bytes read but not yet parsed
	roff int
	frag []byte // a fragmented message being reassembled
	fop  byte   // its opcode (0 when none)

	onMessage func(op byte, payload []byte)
	started   bool

	closed atomic.Bool   // Close was called
	done   chan struct{} // closed when the connection was dropped
	err    error         // why; read after done

	wmu   sync.Mutex // guards the fields below and writes to fd
	wbuf  []byte
	rng   *mrand.ChaCha8 // mask keys
	wdead bool           // fd closed (writes fail)
}

// Dial opens a WebSocket connection to rawURL (ws:// or http://).
func Dial(ctx context.Context, rawURL string) (*Conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	switch u.Scheme {
	case "ws", "http":
	default:
		return nil, fmt.Errorf("ws: unsupported scheme %q (ws:// or http:// only)", u.Scheme)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, err
	}
	defer nc.Close() // the connection lives on as a dup of its descriptor
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	} else {
		_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	}
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	key := base64.StdEncoding.EncodeToString(seed[:16])
	path := u.RequestURI()
	req := "GET " + path + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, 4096)
	var head []byte
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= 64<<10 {
				return nil, fmt.Errorf("ws: upgrade response header too large")
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := nc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			head = buf[:i+4]
			break
		}
		if err != nil {
			return nil, fmt.Errorf("ws: upgrade response: %w", err)
		}
	}
	if err := CheckUpgrade(head, key); err != nil {
		return nil, err
	}
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nil, fmt.Errorf("ws: not a TCP connection")
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return nil, err
	}
	fd := -1
	var derr error
	if err := rc.Control(func(s uintptr) { fd, derr = syscall.Dup(int(s)) }); err != nil {
		return nil, err
	}
	if derr != nil {
		return nil, derr
	}
	syscall.CloseOnExec(fd)
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, err
	}
	return newConn(fd, seed, buf[len(head):]), nil
}

// newConn wraps a non-blocking socket; buffered are bytes already read
// from it, seed seeds the mask keys.
func newConn(fd int, seed [32]byte, buffered []byte) *Conn {
	c := &Conn{fd: fd, done: make(chan struct{}), rng: mrand.NewChaCha8(seed)}
	c.rbuf = append(make([]byte, 0, 4096), buffered...)
	return c
}

// CheckUpgrade validates the server's answer to the upgrade request sent
// with key: status 101, Upgrade and Connection headers, the
// Sec-WebSocket-Accept digest, and no extension or subprotocol (none
// was offered).
func CheckUpgrade(head []byte, key string) error {
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 101")) {
		return fmt.Errorf("ws: upgrade refused: %.100q", line)
	}
	var upgrade, connection, accept bool
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	want := base64.StdEncoding.EncodeToString(h[:])
	for len(rest) > 0 {
		line, rest, _ = bytes.Cut(rest, []byte("\r\n"))
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Upgrade")):
			upgrade = bytes.EqualFold(value, []byte("websocket"))
		case bytes.EqualFold(name, []byte("Connection")):
			for _, t := range bytes.Split(value, []byte(",")) {
				connection = connection || bytes.EqualFold(bytes.TrimSpace(t), []byte("Upgrade"))
			}
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Accept")):
			accept = string(value) == want
		case bytes.EqualFold(name, []byte("Sec-WebSocket-Extensions")),
			bytes.EqualFold(name, []byte("Sec-WebSocket-Protocol")):
			return fmt.Errorf("ws: server chose %s, which was not offered", name)
		}
	}
	if !upgrade || !connection || !accept {
		return fmt.Errorf("ws: bad upgrade response (upgrade %v, connection %v, accept %v)", upgrade, connection, accept)
	}
	return nil
}

// ParseFrame reads one server frame from b. It returns n = 0 when b does
// not hold a whole frame yet (need is then the total size needed when the
// header is complete, else 0), and an error when the frame is invalid for
// a server (masked, reserved bits, bad control frame, over MaxMessage).
func ParseFrame(b []byte) (fin bool, op byte, payload []byte, n, need int, err error) {
	if len(b) < 2 {
		return false, 0, nil, 0, 0, nil
	}
	b0, b1 := b[0], b[1]
	fin, op = b0&0x80 != 0, b0&0x0F
	if b0&0x70 != 0 {
		return false, 0, nil, 0, 0, fmt.Errorf("%w: reserved bits set", ErrProtocol)
	}
	if b1&0x80 != 0 {
		return false, 0, nil, 0, 0, fmt.Errorf("%w: masked server frame", ErrProtocol)
	}
	switch op {
	case OpContinuation, OpText, OpBinary:
	case OpClose, OpPing, OpPong:
		if !fin || b1&0x7F > 125 {
			return false, 0, nil, 0, 0, fmt.Errorf("%w: bad control frame", ErrProtocol)
		}
	default:
		return false, 0, nil, 0, 0, fmt.Errorf("%w: opcode %d", ErrProtocol, op)
	}
	h, l := 2, uint64(b1&0x7F)
	switch l {
	case 126:
		if len(b) < 4 {
			return false, 0, nil, 0, 0, nil
		}
		h, l = 4, uint64(binary.BigEndian.Uint16(b[2:]))
	case 127:
		if len(b) < 10 {
			return false, 0, nil, 0, 0, nil
		}
		h, l = 10, binary.BigEndian.Uint64(b[2:])
	}
	if l > MaxMessage {
		return false, 0, nil, 0, 0, ErrTooLarge
	}
	total := h + int(l)
	if len(b) < total {
		return false, 0, nil, 0, total, nil
	}
	return fin, op, b[h:total:total], total, total, nil
}

// WriteFrame writes one frame of opcode op whose payload fill appends to
// its argument (called with wmu held; it must not write to c). The
// payload is masked with a fresh key from a per-connection CSPRNG, as
// RFC 6455 requires of clients.
func (c *Conn) WriteFrame(op byte, fill func([]byte) []byte) error {
	const room = 14 // the longest client frame header
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wdead {
		return ErrClosed
	}
	b := append(c.wbuf[:0], make([]byte, room)...)
	b = fill(b)
	c.wbuf = b
	p := b[room:]
	n := len(p)
	var start int
	switch {
	case n <= 125:
		start = room - 6
		b[start+1] = 0x80 | byte(n)
	case n <= 65535:
		start = room - 8
		b[start+1] = 0x80 | 126
		binary.BigEndian.PutUint16(b[start+2:], uint16(n))
	default:
		start = room - 14
		b[start+1] = 0x80 | 127
		binary.BigEndian.PutUint64(b[start+2:], uint64(n))
	}
	b[start] = 0x80 | op
	key := uint32(c.rng.Uint64())
	binary.LittleEndian.PutUint32(b[room-4:], key)
	mask(p, key)
	return c.writeAll(b[start:])
}

// WriteText writes p as one text frame.
func (c *Conn) WriteText(p []byte) error {
	return c.WriteFrame(OpText, func(b []byte) []byte { return append(b, p...) })
}

// mask XORs p with the 4-byte key whose first wire byte is the key's low
// byte (the order binary.LittleEndian.PutUint32 writes it in).
func mask(p []byte, key uint32) {
	k8 := uint64(key) | uint64(key)<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k8)
	}
	for ; i < len(p); i++ {
		p[i] ^= byte(key >> (8 * uint(i&3)))
	}
}

// writeAll writes b, waiting for the socket to drain when its send buffer
// is full. Callers hold wmu.
func (c *Conn) writeAll(b []byte) error {
	for len(b) > 0 {
		n, err := rawIO(syscall.SYS_WRITE, c.fd, b)
		if n > 0 {
			b = b[n:]
		}
		switch {
		case err == syscall.EAGAIN:
			if err := waitFD(c.fd, pollOut, -1); err != nil {
				return err
			}
		case err == syscall.EINTR:
		case err != nil:
			return err
		}
	}
	return nil
}

// rawIO is read(2) or write(2) on the non-blocking socket without the
// scheduler hand-off of syscall.Read/Write: the call never blocks, and
// telling the runtime costs more than it saves.
func rawIO(trap uintptr, fd int, b []byte) (int, error) {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	n, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(p), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

const (
	pollIn  = 0x1
	pollOut = 0x4
)

// waitFD blocks until fd is ready for events (pollIn or pollOut) or the
// timeout (negative: none) ends.
func waitFD(fd int, events int16, timeout time.Duration) error {
	type pollFd struct {
		fd      int32
		events  int16
		revents int16
	}
	p := pollFd{fd: int32(fd), events: events}
	var ts *syscall.Timespec
	if timeout >= 0 {
		t := syscall.NsecToTimespec(int64(timeout))
		ts = &t
	}
	for {
		n, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&p)), 1, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return e
		}
		if n == 0 {
			return fmt.Errorf("ws: read: %w", errTimeout)
		}
		return nil
	}
}

var errTimeout = errors.New("timeout")

// ReadMessage reads the next data message before Start, answering pings;
// the payload is valid until the next read. It fails after deadline.
func (c *Conn) ReadMessage(deadline time.Time) (op byte, payload []byte, err error) {
	if c.started {
		return 0, nil, errors.New("ws: ReadMessage after Start")
	}
	for {
		op, p, ok, err := c.next()
		if err != nil {
			return 0, nil, err
		}
		if ok {
			return op, p, nil
		}
		d := time.Until(deadline)
		if d <= 0 {
			return 0, nil, fmt.Errorf("ws: read: %w", errTimeout)
		}
		if err := waitFD(c.fd, pollIn, d); err != nil {
			return 0, nil, err
		}
		if err := c.fill(); err != nil {
			return 0, nil, err
		}
	}
}

// next returns the next complete data message among the buffered bytes
// (ok false when more bytes are needed), handling control frames.
func (c *Conn) next() (op byte, payload []byte, ok bool, err error) {
	for {
		fin, fop, p, n, _, err := ParseFrame(c.rbuf[c.roff:])
		if err != nil {
			return 0, nil, false, err
		}
		if n == 0 {
			return 0, nil, false, nil
		}
		c.roff += n
		switch fop {
		case OpPing:
			if err := c.WriteFrame(OpPong, func(b []byte) []byte { return append(b, p...) }); err != nil {
				return 0, nil, false, err
			}
		case OpPong:
		case OpClose:
			return 0, nil, false, fmt.Errorf("%w by the server", ErrClosed)
		case OpContinuation:
			if c.fop == 0 {
				return 0, nil, false, fmt.Errorf("%w: continuation without a first frame", ErrProtocol)
			}
			if len(c.frag)+len(p) > MaxMessage {
				return 0, nil, false, ErrTooLarge
			}
			c.frag = append(c.frag, p...)
			if fin {
				op, c.fop = c.fop, 0
				return op, c.frag, true, nil
			}
		default: // text, binary
			if c.fop != 0 {
				return 0, nil, false, fmt.Errorf("%w: new message inside a fragmented one", ErrProtocol)
			}
			if fin {
				return fop, p, true, nil
			}
			c.fop, c.frag = fop, append(c.frag[:0], p...)
		}
	}
}

// fill compacts the read buffer and reads once from the socket (EAGAIN
// is not an error: nothing was there).
func (c *Conn) fill() error {
	if c.roff > 0 {
		c.rbuf = c.rbuf[:copy(c.rbuf, c.rbuf[c.roff:])]
		c.roff = 0
	}
	// Make room for the frame in progress when its size is known, and for
	// at least 4 KiB.
	want := 4096
	if _, _, _, _, need, _ := ParseFrame(c.rbuf); need > len(c.rbuf) {
		want = max(want, need-len(c.rbuf))
	}
	if cap(c.rbuf)-len(c.rbuf) < want {
		nb := make([]byte, len(c.rbuf), len(c.rbuf)+want)
		copy(nb, c.rbuf)
		c.rbuf = nb
	}
	for {
		n, err := rawIO(syscall.SYS_READ, c.fd, c.rbuf[len(c.rbuf):cap(c.rbuf)])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return nil
		case err != nil:
			return err
		case n == 0:
			return fmt.Errorf("%w: EOF", ErrClosed)
		}
		c.rbuf = c.rbuf[:len(c.rbuf)+n]
		return nil
	}
}

// Start hands the connection to an event loop, which calls onMessage for
// every data message (on the loop goroutine: it must not block for long;
// the payload is only valid during the call). Messages already buffered
// are delivered first, on the caller's goroutine, since epoll will not
// signal them (when they end the connection, it is dropped as the loop
// would). After an error the connection is closed.
func (c *Conn) Start(onMessage func(op byte, payload []byte)) error {
	if c.started {
		return errors.New("ws: started twice")
	}
	c.onMessage = onMessage
	c.started = true
	if err := c.deliver(); err != nil {
		c.drop(err)
		return nil
	}
	if err := pickLoop().add(c); err != nil {
		c.started = false
		c.Close()
		return err
	}
	return nil
}

// Done is closed when a started connection has ended; Err then says why.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (valid after Done is closed).
func (c *Conn) Err() error { return c.err }

// Close shuts the connection down. For a started connection it waits
// until the loop has dropped it (the loop owns the descriptor), so it must
// not be called from a message callback (Shutdown is for that). Close is
// idempotent.
func (c *Conn) Close() {
	if c.closed.Swap(true) {
		if c.started {
			<-c.done
		}
		return
	}
	if !c.started {
		c.wmu.Lock()
		c.wdead = true
		syscall.Close(c.fd)
		c.wmu.Unlock()
		c.err = ErrClosed
		close(c.done)
		return
	}
	// The loop sees EOF, unregisters and closes the descriptor.
	c.Shutdown()
	<-c.done
}

// Shutdown ends the connection without waiting (safe on the loop
// goroutine, from a message callback): the loop then drops it and Done is
// closed.
func (c *Conn) Shutdown() {
	c.wmu.Lock()
	if !c.wdead {
		_ = syscall.Shutdown(c.fd, syscall.SHUT_RDWR)
	}
	c.wmu.Unlock()
}

// drop ends a started connection (on its loop, which has unregistered it).
func (c *Conn) drop(err error) {
	c.wmu.Lock()
	c.wdead = true
	syscall.Close(c.fd)
	c.wmu.Unlock()
	if c.closed.Load() {
		err = ErrClosed
	}
	c.err = err
	close(c.done)
}
