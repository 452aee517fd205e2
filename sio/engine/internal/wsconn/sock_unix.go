//go:build linux || darwin || freebsd || netbsd || openbsd

package wsconn

import (
	"io"
	"net"
	"syscall"
)

// sock does a connection's socket I/O through the connection's
// syscall.RawConn: a read waits for readability in the runtime's poller
// holding no buffer, then reads into a pooled one; tryWrite writes without
// ever blocking. Connections without a RawConn (TLS) fall back to blocking
// reads into a pooled buffer and leave every write to a writer goroutine.
type sock struct {
	fd      int // the socket's descriptor, -1 without a RawConn
	rc      syscall.RawConn
	readFn  func(fd uintptr) bool // rc.Read callback, allocated once
	writeFn func(fd uintptr)      // rc.Control callback, allocated once

	rbuf    *[]byte           // read: the pooled buffer while reading
	onBurst func([]byte) bool // readBursts' callback
	rerr    error             // why reading ended
	stopped bool              // onBurst ended reading
	wbuf    []byte            // tryWrite: what to write, bytes written, error
	wn      int
	werr    error
}

func (s *sock) init(c net.Conn) {
	s.fd = -1
	sc, ok := c.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	if rc.Control(func(fd uintptr) { s.fd = int(fd) }) != nil {
		return
	}
	s.rc = rc
	s.readFn = s.readOnce
	s.writeFn = s.writeOnce
}

// readBursts reads the socket and passes the bytes of every read to
// onBurst, until onBurst returns false (then it returns nil) or reading
// fails or its deadline passes. It waits for readability in the runtime's
// poller holding no buffer.
//
// All of it runs in one rc.Read call, and that is what makes the empty
// read before each wait unnecessary: rc.Read clears the poller's
// readiness record once, when it starts, and the first callback reads;
// after that, a read that did not fill the buffer has taken everything the
// socket held, and every later arrival is recorded (the poller is
// edge-triggered), so waiting at once loses nothing. A new rc.Read always
// reads before it waits.
func (s *sock) readBursts(c net.Conn, onBurst func([]byte) bool) error {
	if s.rc == nil {
		return readBurstsBlocking(c, onBurst)
	}
	s.onBurst, s.rerr, s.stopped = onBurst, nil, false
	err := s.rc.Read(s.readFn)
	s.onBurst = nil
	if s.rbuf != nil {
		readPool.Put(s.rbuf)
		s.rbuf = nil
	}
	if err == nil && !s.stopped {
		err = s.rerr
	}
	return err
}

// readOnce is the rc.Read callback: it returns false to wait in the
// poller (with no buffer held), true to end the rc.Read call.
func (s *sock) readOnce(fd uintptr) bool {
	for {
		if s.rbuf == nil {
			s.rbuf = readPool.Get().(*[]byte)
		}
		n, err := syscall.Read(int(fd), *s.rbuf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			readPool.Put(s.rbuf)
			s.rbuf = nil
			return false
		case err != nil:
			s.rerr = err
			return true
		case n == 0:
			s.rerr = io.EOF
			return true
		}
		full := n == len(*s.rbuf)
		if !s.onBurst((*s.rbuf)[:n]) {
			s.stopped = true
			return true
		}
		if !full {
			// Everything the socket held is read (see readBursts).
			readPool.Put(s.rbuf)
			s.rbuf = nil
			return false
		}
	}
}

// tryWrite writes what the socket takes now and returns how much that was.
func (s *sock) tryWrite(b []byte) (int, error) {
	if s.rc == nil {
		return 0, nil
	}
	s.wbuf, s.wn, s.werr = b, 0, nil
	err := s.rc.Control(s.writeFn)
	n := s.wn
	if err == nil {
		err = s.werr
	}
	s.wbuf, s.werr = nil, nil
	return n, err
}

func (s *sock) writeOnce(fd uintptr) {
	for s.wn < len(s.wbuf) {
		n, err := syscall.Write(int(fd), s.wbuf[s.wn:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			return
		case err != nil:
			s.werr = err
			return
		case n <= 0:
			return
		}
		s.wn += n
	}
}
