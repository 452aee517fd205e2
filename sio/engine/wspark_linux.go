package engine

import (
	"sync"
	"syscall"
)

// wsParker holds idle WebSocket connections without a goroutine each: a
// connection idle for wsIdleHandoff is registered in one epoll instance
// (level-triggered) and its reading goroutine exits; when the socket
// becomes readable (data, end of stream, error), or Close or end wants
// the reader (unpark), a fresh reading goroutine is started. Connections
// in use keep their goroutine waiting in the runtime's poller, so the
// common path has no extra hand-off. One goroutine per Server, blocked in
// epoll_wait, runs from the first park until Server.Close.
// wsParking: idle connections are parked (see wsParker).
const wsParking = true

type wsParker struct {
	epfd int
	wake [2]int // pipe: a byte on it stops run

	mu    sync.Mutex
	conns map[int32]*wsTransport // parked connections by fd

	done chan struct{}
}

func newWSParker() *wsParker {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil
	}
	p := &wsParker{epfd: epfd, conns: make(map[int32]*wsTransport), done: make(chan struct{})}
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

func (p *wsParker) run() {
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
				w.unpark()
			}
		}
	}
}

// add registers fd (the caller holds w.mu and has set w.parked).
func (p *wsParker) add(fd int, w *wsTransport) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(fd)}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return false
	}
	p.conns[int32(fd)] = w
	return true
}

// remove unregisters fd (the caller holds w.mu and has cleared w.parked).
func (p *wsParker) remove(fd int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	_ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	delete(p.conns, int32(fd))
}

// stop ends run; no connection may be parked any more.
func (p *wsParker) stop() {
	_, _ = syscall.Write(p.wake[1], []byte{1})
	<-p.done
	_ = syscall.Close(p.epfd)
	_ = syscall.Close(p.wake[0])
	_ = syscall.Close(p.wake[1])
}
