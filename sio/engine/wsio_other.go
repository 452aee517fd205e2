//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package engine

import "net"

// wsSock reads with blocking reads into a pooled buffer on this platform
// and leaves every write to the writer goroutine.
type wsSock struct{ fd int }

func (s *wsSock) init(net.Conn) { s.fd = -1 }

func (s *wsSock) readBursts(c net.Conn, onBurst func([]byte) bool) error {
	return readBurstsBlocking(c, onBurst)
}

func (s *wsSock) tryWrite([]byte) (int, error) { return 0, nil }
