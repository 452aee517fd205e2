//go:build linux || darwin || freebsd || netbsd || openbsd

package wsconn

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// WatchPeer reports on Gone when the peer of an HTTP connection closes it
// while its request is being handled (a client aborting a long-poll).
//
// fasthttp does not read the connection while a handler runs, so the
// watcher waits for the socket to become readable (through the runtime
// poller) and peeks at it with MSG_PEEK, consuming nothing: end of stream
// or an error means the client went away; data (a pipelined request)
// ends the watch without a verdict. Stop ends the watch: the watcher
// waits in rc.Read, which only a deadline or a close can interrupt, so
// Stop sets a past read deadline and clears it once the watcher is gone.
func WatchPeer(c net.Conn) *PeerWatch {
	w := &PeerWatch{closed: make(chan struct{}), exited: make(chan struct{})}
	for {
		u, ok := c.(interface{ NetConn() net.Conn }) // *tls.Conn
		if !ok {
			break
		}
		c = u.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		close(w.exited)
		return w
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		close(w.exited)
		return w
	}
	w.conn = c
	_ = c.SetReadDeadline(time.Time{}) // a server ReadTimeout must not end the watch
	go func() {
		defer close(w.exited)
		var buf [1]byte
		gone := false
		err := rc.Read(func(fd uintptr) bool {
			n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
				return false // not readable yet: wait on the poller
			}
			gone = err != nil || n == 0
			return true
		})
		if gone || (err != nil && !errors.Is(err, os.ErrDeadlineExceeded)) {
			close(w.closed)
		}
	}()
	return w
}

// PeerWatch is a watch started by WatchPeer.
type PeerWatch struct {
	conn   net.Conn
	closed chan struct{} // closed when the client has gone
	exited chan struct{} // closed when the watcher goroutine has returned
}

// Gone is closed when the peer has closed the connection.
func (w *PeerWatch) Gone() <-chan struct{} { return w.closed }

// Stop ends the watch and waits for its goroutine.
func (w *PeerWatch) Stop() {
	if w.conn == nil {
		return
	}
	_ = w.conn.SetReadDeadline(time.Unix(1, 0)) // wakes rc.Read
	<-w.exited
	_ = w.conn.SetReadDeadline(time.Time{})
}
