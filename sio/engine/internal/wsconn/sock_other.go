//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package wsconn

import "net"

// sock reads with blocking reads into a pooled buffer on this platform
// and leaves every write to the writer goroutine.
type sock struct{ fd int }

func (s *sock) init(net.Conn) { s.fd = -1 }

func (s *sock) readBursts(c net.Conn, onBurst func([]byte) bool) error {
	return readBurstsBlocking(c, onBurst)
}

func (s *sock) tryWrite([]byte) (int, error) { return 0, nil }
