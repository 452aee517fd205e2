package netguard

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// DefaultMaxConns is the default cap on open connections of a Listener.
const DefaultMaxConns = 10_000

// Backoff bounds of Accept after a resource error.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// rejectTimeout bounds the write of the refusal to a connection over the cap.
const rejectTimeout = 100 * time.Millisecond

// DefaultReject is the answer written to a connection over the cap: an HTTP
// 503 in the SPEC error shape, code rate_limited, connection closed.
var DefaultReject = []byte("HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: application/json\r\n" +
	"Retry-After: 1\r\n" +
	"Connection: close\r\n" +
	"Content-Length: 79\r\n\r\n" +
	`{"error":{"code":"rate_limited","message":"too many connections, retry later"}}`)

// Options configure a Listener. A nil *Options means defaults.
type Options struct {
	// MaxConns caps the connections open at once. Default DefaultMaxConns;
	// negative means no cap.
	MaxConns int
	// Reject is written (best effort, without blocking) to a connection
	// accepted over the cap before it is closed. Default DefaultReject;
	// an empty non-nil slice writes nothing.
	Reject []byte
	// Logger receives a warning when Accept backs off or refuses
	// connections, at most once per second of either. Default
	// slog.Default().
	Logger *slog.Logger
	// OnEvent, when set, is called with "backoff" for each Accept error
	// waited out and "reject" for each connection refused over the cap
	// (for metrics and tests). It must not block.
	OnEvent func(event string)
}

// Listener is a net.Listener with a connection cap and Accept errors backed
// off; see the package documentation.
type Listener struct {
	ln      net.Listener
	max     int
	reject  []byte
	log     *slog.Logger
	onEvent func(string)

	open      atomic.Int64
	done      chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex // guards lastWarn
	lastWarn time.Time
}

// Wrap returns ln guarded by opts.
func Wrap(ln net.Listener, opts *Options) *Listener {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.Reject == nil {
		o.Reject = DefaultReject
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Listener{ln: ln, max: o.MaxConns, reject: o.Reject, log: o.Logger, onEvent: o.OnEvent, done: make(chan struct{})}
}

// Accept returns the next connection under the cap. It returns an error
// only once the listener is closed or for an error that is not transient.
func (l *Listener) Accept() (net.Conn, error) {
	backoff := time.Duration(0)
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if l.closed() || errors.Is(err, net.ErrClosed) || !Transient(err) {
				return nil, err
			}
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			l.event("backoff")
			l.warn("accept failed, retrying", "err", err, "retry_in", backoff, "open_conns", l.open.Load())
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
			}
			continue
		}
		backoff = 0
		if n := l.open.Add(1); l.max > 0 && n > int64(l.max) {
			l.open.Add(-1)
			l.refuse(c)
			continue
		}
		return &conn{Conn: c, l: l}, nil
	}
}

// refuse writes the refusal to c and closes it.
func (l *Listener) refuse(c net.Conn) {
	if len(l.reject) > 0 {
		_ = c.SetWriteDeadline(time.Now().Add(rejectTimeout))
		_, _ = c.Write(l.reject)
	}
	_ = c.Close()
	l.event("reject")
	l.warn("connection refused: too many open connections", "max_conns", l.max)
}

func (l *Listener) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

func (l *Listener) event(e string) {
	if l.onEvent != nil {
		l.onEvent(e)
	}
}

// warn logs at most once per second.
func (l *Listener) warn(msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	if now.Sub(l.lastWarn) < time.Second {
		l.mu.Unlock()
		return
	}
	l.lastWarn = now
	l.mu.Unlock()
	l.log.Warn(msg, args...)
}

// Close closes the underlying listener and wakes a backing-off Accept.
// Connections already accepted stay open.
func (l *Listener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.ln.Close()
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Open returns the number of accepted connections not yet closed.
func (l *Listener) Open() int { return int(l.open.Load()) }

// MaxConns returns the cap (negative: none).
func (l *Listener) MaxConns() int { return l.max }

// Transient reports whether an Accept error concerns only a resource that
// may come back (descriptors, buffers, memory) or only the pending
// connection, so that accepting again later may succeed.
func Transient(err error) bool {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		switch errno {
		case syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM,
			syscall.ECONNABORTED, syscall.ECONNRESET, syscall.EINTR, syscall.EAGAIN,
			syscall.EPROTO, syscall.EPERM, syscall.ETIMEDOUT,
			syscall.ENETDOWN, syscall.ENETUNREACH, syscall.EHOSTDOWN, syscall.EHOSTUNREACH,
			syscall.ENOPROTOOPT, syscall.EOPNOTSUPP:
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// conn is an accepted connection counted by its Listener until Close.
type conn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// errNoRawConn is SyscallConn's error for a connection without one.
var errNoRawConn = errors.New("netguard: connection has no raw descriptor")

// SyscallConn returns the underlying connection's RawConn, so that the
// runtime-poller reads of the WebSocket transport keep working.
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errNoRawConn
}

// HTTP server limits that main applies to fasthttp next to the Listener.
const (
	// DefaultReadTimeout is the time a client has to send a whole request
	// (line, headers, body) once the server starts reading it; on a new
	// connection that includes the wait for its first byte.
	DefaultReadTimeout = 30 * time.Second
	// DefaultIdleTimeout is how long a keep-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = time.Minute
	// DefaultMaxHeaderBytes bounds the request line and headers (fasthttp's
	// read buffer); larger requests get 431. It leaves room for a token of
	// auth.MaxTokenLen.
	DefaultMaxHeaderBytes = 16 << 10
)
