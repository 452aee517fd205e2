//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package engine

import (
	"io"
	"net"
)

// wsSock reads with blocking reads into a pooled buffer on this platform
// and leaves every write to the writer goroutine.
type wsSock struct{ fd int }

func (s *wsSock) init(net.Conn) { s.fd = -1 }

func (s *wsSock) read(c net.Conn) (*[]byte, int, error) {
	bp := wsBlockingReadPool.Get().(*[]byte)
	n, err := c.Read(*bp)
	if n > 0 {
		return bp, n, nil
	}
	wsBlockingReadPool.Put(bp)
	if err == nil {
		err = io.ErrNoProgress
	}
	return nil, 0, err
}

func (s *wsSock) tryWrite([]byte) (int, error) { return 0, nil }
