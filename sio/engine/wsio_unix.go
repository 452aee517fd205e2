//go:build linux || darwin || freebsd || netbsd || openbsd

package engine

import (
	"io"
	"net"
	"syscall"
)

// wsSock does a WebSocket's socket I/O through the connection's
// syscall.RawConn: a read waits for readability in the runtime's poller
// holding no buffer, then reads into a pooled one; tryWrite writes without
// ever blocking. Connections without a RawConn (TLS) fall back to blocking
// reads into a pooled buffer and leave every write to the writer goroutine.
type wsSock struct {
	fd      int // the socket's descriptor, -1 without a RawConn
	rc      syscall.RawConn
	readFn  func(fd uintptr) bool // rc.Read callback, allocated once
	writeFn func(fd uintptr)      // rc.Control callback, allocated once

	rbuf *[]byte // read: the pooled buffer, n and error of the read
	rn   int
	rerr error
	wbuf []byte // tryWrite: what to write, bytes written, error
	wn   int
	werr error
}

func (s *wsSock) init(c net.Conn) {
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

// read waits until the socket has data (or fails, or its read deadline
// passes) and returns a pooled buffer holding n > 0 bytes of it.
func (s *wsSock) read(c net.Conn) (*[]byte, int, error) {
	if s.rc == nil {
		bp := wsBlockingReadPool.Get().(*[]byte)
		n, err := c.Read(*bp)
		if n > 0 {
			return bp, n, nil // an error comes back on the next read
		}
		wsBlockingReadPool.Put(bp)
		if err == nil {
			err = io.ErrNoProgress
		}
		return nil, 0, err
	}
	s.rn, s.rerr = 0, nil
	err := s.rc.Read(s.readFn)
	bp := s.rbuf
	s.rbuf = nil
	if err == nil {
		err = s.rerr
	}
	if err == nil && s.rn <= 0 {
		err = io.EOF
	}
	if err != nil {
		if bp != nil {
			wsReadPool.Put(bp)
		}
		return nil, 0, err
	}
	return bp, s.rn, nil
}

// readOnce is the rc.Read callback: false (not readable yet) parks the
// goroutine in the poller, without a buffer.
func (s *wsSock) readOnce(fd uintptr) bool {
	if s.rbuf == nil {
		s.rbuf = wsReadPool.Get().(*[]byte)
	}
	for {
		n, err := syscall.Read(int(fd), *s.rbuf)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			wsReadPool.Put(s.rbuf)
			s.rbuf = nil
			return false
		}
		s.rn, s.rerr = n, err
		return true
	}
}

// tryWrite writes what the socket takes now and returns how much that was.
func (s *wsSock) tryWrite(b []byte) (int, error) {
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

func (s *wsSock) writeOnce(fd uintptr) {
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
