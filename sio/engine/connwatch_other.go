//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package engine

import "net"

// watchConn cannot detect an aborted long-poll on this platform: the
// session then ends by ping timeout instead.
func watchConn(net.Conn) *connWatch {
	return &connWatch{closed: make(chan struct{})}
}

type connWatch struct {
	closed chan struct{}
}

func (w *connWatch) stop() {}
