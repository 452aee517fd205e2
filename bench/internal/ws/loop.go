package ws

import (
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// loop is one epoll event loop. Its goroutine runs while it has
// connections and exits (closing the epoll descriptor) when the last one
// is dropped, so that an idle process has no loop goroutines.
type loop struct {
	mu      sync.Mutex // guards the fields below
	epfd    int
	conns   map[int32]*Conn
	running bool
}

var (
	loopsOnce sync.Once
	loops     []*loop
	nextLoop  atomic.Uint32
)

// pickLoop spreads connections over GOMAXPROCS loops.
func pickLoop() *loop {
	loopsOnce.Do(func() {
		loops = make([]*loop, runtime.GOMAXPROCS(0))
		for i := range loops {
			loops[i] = &loop{epfd: -1, conns: map[int32]*Conn{}}
		}
	})
	return loops[int(nextLoop.Add(1))%len(loops)]
}

func (l *loop) add(c *Conn) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.running {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return err
		}
		l.epfd, l.running = fd, true
		go l.run(fd)
	}
	l.conns[int32(c.fd)] = c
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP, Fd: int32(c.fd)}
	if err := syscall.EpollCtl(l.epfd, syscall.EPOLL_CTL_ADD, c.fd, &ev); err != nil {
		delete(l.conns, int32(c.fd))
		return err
	}
	return nil
}

// run waits for readable connections and serves them until none is left.
func (l *loop) run(epfd int) {
	events := make([]syscall.EpollEvent, 256)
	ready := make([]*Conn, 0, 256)
	for {
		n, err := epollWait(epfd, events)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			panic("ws: epoll_wait: " + err.Error())
		}
		ready = ready[:0]
		l.mu.Lock()
		for _, ev := range events[:n] {
			if c := l.conns[ev.Fd]; c != nil {
				ready = append(ready, c)
			}
		}
		l.mu.Unlock()
		for _, c := range ready {
			if err := c.serve(); err != nil {
				l.mu.Lock()
				delete(l.conns, int32(c.fd))
				_ = syscall.EpollCtl(epfd, syscall.EPOLL_CTL_DEL, c.fd, nil)
				last := len(l.conns) == 0
				if last {
					l.running = false
					l.epfd = -1
					syscall.Close(epfd)
				}
				l.mu.Unlock()
				c.drop(err)
				if last {
					return
				}
			}
		}
	}
}

// serve reads what is there once and delivers every complete message.
func (c *Conn) serve() error {
	if err := c.fill(); err != nil {
		return err
	}
	return c.deliver()
}

func (c *Conn) deliver() error {
	for {
		op, p, ok, err := c.next()
		if err != nil || !ok {
			return err
		}
		c.onMessage(op, p)
	}
}

// epollWait returns ready events, blocking when there are none. It first
// polls without telling the scheduler (a busy loop usually finds events
// waiting). Before blocking it yields once and polls again: a goroutine
// made runnable by a callback (the fanout sender, woken by deliveries)
// would otherwise wait for sysmon to take the P back from the blocked
// system call, which also costs the extra context switches and sysmon
// wake-ups that made blocking here dearer than the Go netpoller.
func epollWait(epfd int, events []syscall.EpollEvent) (int, error) {
	p := uintptr(unsafe.Pointer(&events[0]))
	poll := func() int {
		n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_WAIT, uintptr(epfd), p, uintptr(len(events)), 0, 0, 0)
		if e != 0 {
			return 0
		}
		return int(n)
	}
	if n := poll(); n > 0 {
		return n, nil
	}
	runtime.Gosched()
	if n := poll(); n > 0 {
		return n, nil
	}
	n, _, e := syscall.Syscall6(syscall.SYS_EPOLL_WAIT, uintptr(epfd), p, uintptr(len(events)), ^uintptr(0), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
