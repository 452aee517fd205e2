//go:build linux || darwin || freebsd || netbsd || openbsd

package engine

import (
	"errors"
	"net"
	"os"
	"syscall"
	"time"
)

// watchConn reports on w.closed when the peer of an HTTP connection closes
// it while its request is being handled (a client aborting a long-poll).
//
// fasthttp does not read the connection while a handler runs, so the
// watcher waits for the socket to become readable (through the runtime
// poller) and peeks at it with MSG_PEEK, consuming nothing: end of stream
// or an error means the client went away; data (a pipelined request)
// ends the watch without a verdict. stop ends the watch and clears the
// read deadline it used to wake the poller.
func watchConn(c net.Conn) *connWatch {
	w := &connWatch{closed: make(chan struct{}), exited: make(chan struct{})}
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

type connWatch struct {
	conn   net.Conn
	closed chan struct{} // closed when the client has gone
	exited chan struct{} // closed when the watcher goroutine has returned
}

func (w *connWatch) stop() {
	if w.conn == nil {
		return
	}
	_ = w.conn.SetReadDeadline(time.Unix(1, 0)) // wakes rc.Read
	<-w.exited
	_ = w.conn.SetReadDeadline(time.Time{})
}
