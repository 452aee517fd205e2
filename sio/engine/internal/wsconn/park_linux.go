package wsconn

import (
	"sync"
	"syscall"
)

// Parking reports whether idle connections are parked (see Parker).
const Parking = true

// Parker holds idle connections without a goroutine each: a connection
// idle for Config.IdleHandoff is registered in one epoll instance
// (level-triggered) and its reader's goroutine exits; when the socket
// becomes readable (data, end of stream, error), or the connection must
// end (see Conn.Close), a fresh reader goroutine is started. Connections
// in use keep their goroutine waiting in the runtime's poller, so the
// common path has no extra hand-off. The parker is one goroutine, blocked
// in epoll_wait from NewParker until Stop; one serves any number of
// connections (the engine makes one per Server).

type Parker struct {
	epfd int
	wake [2]int // pipe: a byte on it stops run

	mu    sync.Mutex
	conns map[int32]*Conn // parked connections by fd

	done chan struct{}
}

// NewParker starts a parker; nil if epoll is unavailable.
func NewParker() *Parker {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	p := &Parker{epfd: epfd, conns: make(map[int32]*Conn), done: make(chan struct{})}
	if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
		_ = syscall.Close(epfd)
		return nil
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.wake[0])}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(p.wake[0])
		_ = syscall.Close(p.wake[1])
		return nil
	}
	go p.run()
	return p
}

func (p *Parker) run() {
	defer close(p.done)
	events := make([]syscall.EpollEvent, 64)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.wake[0]) {
				return
			}
			p.mu.Lock()
			w := p.conns[ev.Fd]
			p.mu.Unlock()
			if w != nil {
				w.unpark() // takes w.mu: the lock order is Conn, then Parker
			}
		}
	}
}

// add registers fd (the caller holds w.mu and is parking w).
func (p *Parker) add(fd int, w *Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return false
	}
	p.conns[int32(fd)] = w
	return true
}

// remove unregisters fd (the caller holds w's mutex and is unparking it).
func (p *Parker) remove(fd int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	delete(p.conns, int32(fd))
}

// Stop ends the parker's goroutine; no connection may be parked any more.
func (p *Parker) Stop() {
	_, _ = syscall.Write(p.wake[1], []byte{1})
	<-p.done
	_ = syscall.Close(p.epfd)
	_ = syscall.Close(p.wake[0])
	_ = syscall.Close(p.wake[1])
}
