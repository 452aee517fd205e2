//go:build !(linux || darwin || freebsd || netbsd || openbsd)

package wsconn

import "net"

// WatchPeer cannot detect an aborted long-poll on this platform: Gone is
// never closed (the session then ends by ping timeout instead).
func WatchPeer(net.Conn) *PeerWatch {
	return &PeerWatch{closed: make(chan struct{})}
}

// PeerWatch is a watch started by WatchPeer.
type PeerWatch struct {
	closed chan struct{}
}

// Gone is closed when the peer has closed the connection (never here).
func (w *PeerWatch) Gone() <-chan struct{} { return w.closed }

// Stop ends the watch.
func (w *PeerWatch) Stop() {}
