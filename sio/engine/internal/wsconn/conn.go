package wsconn

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// Timeouts of writes. WriteTimeout bounds one write call; once the
// connection is closing (Close) or its handler reported the end
// (FillDone), CloseTimeout bounds what is left (the final frames and the
// close frame), so a client that stopped reading cannot hold the
// connection.
const (
	WriteTimeout = 10 * time.Second
	CloseTimeout = time.Second
)

// DeferLimit is how long a Notify during a delivery waits for the
// delivery to end (the reader then writes in one non-blocking write)
// before a writer goroutine takes the write.
const DeferLimit = time.Millisecond

// DefaultIdleHandoff is Config.IdleHandoff's default.
const DefaultIdleHandoff = time.Second

// ColdBursts is how many bursts of messages a new connection, or one that
// went idle, delivers each on a reader goroutine that then rests: most
// connections of a server are mostly idle, and the stacks grown by their
// occasional deliveries are freed at once rather than after IdleHandoff.
// A busier connection then keeps its goroutine (and pays no hand-off or
// stack growth per message).
const ColdBursts = 4

// BatchSize is the size past which a Fill should stop encoding: the
// frames encoded so far are written before more are encoded.
const BatchSize = 64 << 10

// Verdict is what Handler.Message tells the reader.
type Verdict uint8

const (
	Handled   Verdict = iota // read on; nothing was delivered (an upgrade probe's message)
	Delivered                // read on; a message was delivered
	Stop                     // stop reading and end the connection
)

// FillState is what Handler.Fill reports after encoding.
type FillState uint8

const (
	FillIdle FillState = iota // everything taken is encoded
	FillMore                  // more is taken than fitted in BatchSize: call again
	FillDone                  // everything is encoded and the connection ends: the close frame follows
)

// EndKind is why a reader stopped.
type EndKind uint8

const (
	EndNone      EndKind = iota
	EndStopped           // Handler.Message returned Stop
	EndPeerClose         // the client sent a close frame (echoed in the final close frame)
	EndProtocol          // the client broke RFC 6455; Err is a *FrameError
	EndRead              // reading failed (Err, nil when the connection was made to end)
)

// End is why a reader stopped, as given to Handler.ReadEnded.
type End struct {
	Kind EndKind
	Err  error
}

// Handler is the owner of a Conn's messages (the engine's transport).
// Message and ReadEnded are called by the reader, Fill and WriteFailed by
// the writer; none is called concurrently with another of its role.
type Handler interface {
	// Message receives a complete data message; payload is owned by the
	// callee.
	Message(binary bool, payload []byte) Verdict
	// ReadEnded is called once, by the reader, when it has stopped and
	// before the connection is shut.
	ReadEnded(End)
	// Fill appends frames (AppendHeader) to dst, at most about BatchSize
	// bytes. take asks it to take what was queued since the last take; it
	// is false while the previous Fill reported FillMore.
	Fill(dst []byte, take bool) ([]byte, FillState)
	// WriteFailed is called once, by the writer, when a write failed:
	// nothing more is written and the connection ends.
	WriteFailed(err error)
	// Finished is called once the socket is closed.
	Finished()
}

// Config configures a Conn.
type Config struct {
	// MaxPayload bounds a message (longer ones fail with CloseTooBig).
	MaxPayload int64
	// Parker returns the parker for idle connections; nil, or a nil
	// result, means a fresh goroutine waits instead.
	Parker func() *Parker
	// IdleHandoff is how long a reader waits with nothing delivered
	// before it rests; a busy connection re-arms its read deadline once
	// per IdleHandoff. Default DefaultIdleHandoff.
	IdleHandoff time.Duration
	// Hooks are called by the reader, for tests to wait on its steps.
	Hooks Hooks
}

// Hooks are test hooks: functions called, if set, by a Conn's reader. They
// run on the reader's goroutine and must not block for long.
type Hooks struct {
	// Read is called once the bytes of one read (n of them) are parsed
	// and their messages delivered.
	Read func(n int)
	// Rest is called when the reader rests (parks the connection or hands
	// the wait to a fresh goroutine): idle tells that it found the
	// connection idle (IdleHandoff with nothing delivered) rather than
	// cold.
	Rest func(idle bool)
}

// connState is the life of a Conn.
type connState uint8

const (
	stateNew     connState = iota // no socket yet (Attach)
	stateOpen                     // attached
	stateClosing                  // Close was called: the writer finishes, or the reader ends at once if writes are off
)

// writeState is the write token.
type writeState uint8

const (
	writesOff  writeState = iota // before EnableWrites: only the reader writes (WriteDirect)
	writeIdle                    // no writer runs
	writeBusy                    // the token is held: a writer goroutine, or the reader after a delivery
	writeEnded                   // the final write is done, or a write failed: nothing more is written
)

// deliveryState is whether the reader is delivering (writes are then left
// to it, see Notify).
type deliveryState uint8

const (
	deliverNone  deliveryState = iota // not delivering, or the deferral expired
	delivering                        // delivering, nothing notified yet
	deliverTimed                      // delivering, notified: deferTimer runs
)

// readState is where the reader is.
type readState uint8

const (
	readRunning readState = iota // a goroutine plays the reader (reading, delivering or resting)
	readParked                   // held by the parker, with no goroutine
)

// idleState is the reader's idle detection on its own goroutines.
type idleState uint8

const (
	idleOff    idleState = iota // no idle read deadline
	idleArmed                   // the read deadline is IdleHandoff ahead, nothing delivered since
	idleActive                  // armed, and a message was delivered since
)

// Conn is one server-side WebSocket connection on a raw net.Conn, after
// the handshake. See the package doc for the roles and their hand-offs.
type Conn struct {
	h   Handler
	cfg Config
	raw net.Conn // set by Attach, before any reader or writer runs

	// Shared state: mu guards it; each field group changes only through
	// its set method (transitions are checked in race builds).
	mu        sync.Mutex
	state     connState
	writes    writeState
	delivery  deliveryState
	read      readState
	pending   bool          // notified since the writer last took
	ctl       []byte        // a pong for the writer to write between frames
	closeCode int           // code of the final close frame; 0 means CloseNormal
	endCh     chan struct{} // closed at writeEnded; made only when the reader waits on it
	parker    *Parker       // the parker used last
	timer     *time.Timer   // deferTimer: ends the deferral to the reader

	// Reader state: only the goroutine playing the reader uses it.
	reader   role
	sock     sock
	rd       frameReader
	own      bool // the reader runs on its own goroutines (may rest)
	idle     idleState
	cold     int  // bursts after each of which the reader still rests
	received bool // the current burst delivered a message
	end      End  // why the reader stops, once known
	burstFn  func([]byte) bool
	frameFn  frameFunc

	// Writer state: only the write token holder uses it.
	writer   role
	out      *[]byte   // encoded frames (pooled buffer) ...
	outOff   int       // ... written up to here
	fill     FillState // what the last Fill reported
	closeOut bool      // the close frame is in out
}

// New returns a Conn for h, not yet attached to a socket.
func New(h Handler, cfg Config) *Conn {
	if cfg.IdleHandoff <= 0 {
		cfg.IdleHandoff = DefaultIdleHandoff
	}
	c := &Conn{h: h, cfg: cfg}
	c.reader.name, c.writer.name = "reader", "writer"
	return c
}

// Attach gives c its socket; false if c was closed before.
func (c *Conn) Attach(raw net.Conn) bool {
	c.raw = raw
	c.sock.init(raw)
	c.rd.maxPayload = c.cfg.MaxPayload
	c.burstFn = c.onBurst
	c.frameFn = c.onFrame
	c.cold = ColdBursts
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != stateNew {
		return false
	}
	c.setState(stateOpen)
	return true
}

// Serve starts the reader on the calling goroutine. With own, the
// connection rests at once (parked, or waited for by a fresh goroutine)
// and Serve returns; the reader then runs on goroutines of its own,
// resting whenever the connection goes idle. Without own, Serve reads
// until the connection ends.
func (c *Conn) Serve(own bool) {
	c.reader.acquire()
	c.own = own
	if !own {
		c.readLoop()
		return
	}
	if c.rest(true) == restStop {
		c.reader.release()
		go c.resume(true) // it ends the connection
	}
}

// EnableWrites lets writers run (until then only the reader writes, with
// WriteDirect) and starts one for what was notified before.
func (c *Conn) EnableWrites() {
	c.mu.Lock()
	if c.writes == writesOff {
		c.setWrites(writeIdle)
	}
	c.mu.Unlock()
	c.Notify()
}

// Notify tells c that its handler has something to write (or has ended):
// it starts a writer if none runs and writes are enabled, or, while the
// reader delivers, leaves the write to it for up to DeferLimit.
func (c *Conn) Notify() {
	c.mu.Lock()
	c.pending = true
	if c.writes != writeIdle || c.delivery == deliverTimed {
		c.mu.Unlock()
		return
	}
	if c.delivery == delivering {
		c.setDelivery(deliverTimed)
		if c.timer == nil {
			c.timer = time.AfterFunc(DeferLimit, c.deferExpired)
		} else {
			c.timer.Reset(DeferLimit)
		}
		c.mu.Unlock()
		return
	}
	c.setWrites(writeBusy)
	c.mu.Unlock()
	go c.writeRun(false)
}

// deferExpired ends the deferral of a delivery that takes long: what it
// notified is written by a writer goroutine, and so is anything notified
// until the delivery ends.
func (c *Conn) deferExpired() {
	c.mu.Lock()
	if c.delivery != deliverTimed {
		c.mu.Unlock()
		return
	}
	c.setDelivery(deliverNone)
	start := c.pending && c.writes == writeIdle
	if start {
		c.setWrites(writeBusy)
	}
	c.mu.Unlock()
	if start {
		go c.writeRun(false)
	}
}

// Close ends the connection: the writer takes what the handler still has
// (Fill reports FillDone), writes the close frame, and the reader then
// closes the socket. With writes off (an upgrade probe), the reader ends
// at once. A write in progress gets CloseTimeout from now. Close is
// idempotent; before Attach it makes Attach fail.
func (c *Conn) Close() {
	c.mu.Lock()
	switch c.state {
	case stateNew:
		c.setState(stateClosing)
		c.mu.Unlock()
		return
	case stateOpen:
		c.setState(stateClosing)
		_ = c.raw.SetWriteDeadline(time.Now().Add(CloseTimeout))
		if c.writes == writesOff {
			c.wakeReader()
		}
	}
	c.mu.Unlock()
	c.Notify()
}

// WriteDirect writes b at once; only the reader calls it, before
// EnableWrites (an upgrade probe's answer).
func (c *Conn) WriteDirect(b []byte) bool {
	c.reader.check()
	_ = c.raw.SetWriteDeadline(time.Now().Add(WriteTimeout))
	_, err := c.raw.Write(b)
	return err == nil
}

// WriteClose writes a close frame with code on a connection that no Conn
// drives, giving up after CloseTimeout.
func WriteClose(raw net.Conn, code int) {
	_ = raw.SetWriteDeadline(time.Now().Add(CloseTimeout))
	_, _ = raw.Write(appendClose(nil, code))
}

// Status is a snapshot of a Conn's state, for tests and diagnostics.
type Status struct {
	Parked  bool // held by the parker, with no goroutine
	Writing bool // a writer holds the token
	Ended   bool // nothing more is written
}

// Status returns c's state now.
func (c *Conn) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Status{Parked: c.read == readParked, Writing: c.writes == writeBusy, Ended: c.writes == writeEnded}
}

// stopWanted reports (mu held) whether the reader must end: c is closing
// with writes off, or the writer has ended.
func (c *Conn) stopWanted() bool {
	return (c.state == stateClosing && c.writes == writesOff) || c.writes == writeEnded
}

// wakeReader (mu held) makes the reader see stopWanted: a parked
// connection is unparked (the fresh reader sees it before it reads); a
// reader waiting in the runtime poller can only be interrupted by a read
// deadline, so it gets one in the past. Every read deadline the reader
// sets itself is set under mu after checking stopWanted, so this one is
// never overwritten. This is the only past deadline a Conn uses.
func (c *Conn) wakeReader() {
	if c.read == readParked {
		c.unparkLocked()
		return
	}
	_ = c.raw.SetReadDeadline(time.Unix(1, 0))
}

// State transitions: every change of the shared state goes through one of
// these (mu held), which check it in race builds.

func (c *Conn) setState(to connState) {
	if checked && to <= c.state {
		panic("wsconn: state goes back")
	}
	c.state = to
}

func (c *Conn) setWrites(to writeState) {
	if checked {
		from := c.writes
		ok := (from == writesOff && to == writeIdle) || (from == writeIdle && to == writeBusy) ||
			(from == writeBusy && (to == writeIdle || to == writeEnded))
		if !ok {
			panic("wsconn: bad write state transition")
		}
	}
	c.writes = to
}

func (c *Conn) setDelivery(to deliveryState) {
	if checked {
		from := c.delivery
		ok := (from == deliverNone && to == delivering) || (from == delivering && (to == deliverTimed || to == deliverNone)) ||
			(from == deliverTimed && to == deliverNone)
		if !ok {
			panic("wsconn: bad delivery state transition")
		}
	}
	c.delivery = to
}

func (c *Conn) setRead(to readState) {
	if checked && to == c.read {
		panic("wsconn: bad read state transition")
	}
	c.read = to
}

// The reader.

// readLoop reads the connection until it ends, then ends it (finish). On
// its own goroutines it rests — parks the connection, or leaves the wait
// to a fresh goroutine — after each burst while the connection is cold,
// and once the connection has delivered nothing for IdleHandoff.
func (c *Conn) readLoop() {
	for c.end.Kind == EndNone {
		err := c.sock.readBursts(c.raw, c.burstFn)
		if err != nil {
			if c.idle != idleOff && errors.Is(err, os.ErrDeadlineExceeded) && !c.isStopWanted() {
				if c.idle == idleActive {
					c.armIdle() // delivered since the deadline was armed: not idle
					continue
				}
				c.cold = ColdBursts
				switch c.rest(false) {
				case restLeft:
					return
				case restStop:
					c.end = End{Kind: EndRead}
				}
				continue
			}
			c.end = End{Kind: EndRead, Err: err}
			break
		}
		// onBurst stopped the reading: the burst needs a step of this loop.
		if c.end.Kind != EndNone {
			break
		}
		if c.own && c.received && c.cold > 0 {
			// A connection that is new or was idle is likely to be idle
			// again: rest at once.
			c.received = false
			c.cold--
			switch c.rest(true) {
			case restLeft:
				return
			case restStop:
				c.end = End{Kind: EndRead}
			}
			continue
		}
		if c.received && c.idle == idleArmed {
			c.idle = idleActive
		}
		if c.own && c.received && c.idle == idleOff {
			// This goroutine's stack may have grown while delivering: if
			// the connection goes idle, it is parked (or a fresh
			// goroutine takes the wait).
			c.armIdle()
		}
		c.received = false
	}
	c.finish()
}

// onBurst parses and delivers the bytes of one read (see readBursts). It
// reports whether the reader reads on at once: false when the burst needs
// readLoop (the end, a cold connection that rests, the idle deadline to
// arm); readLoop repeats the checks.
func (c *Conn) onBurst(b []byte) bool {
	c.beginDelivery()
	ok, ferr := c.rd.feed(b, c.frameFn)
	c.endDelivery()
	if h := c.cfg.Hooks.Read; h != nil {
		h(len(b))
	}
	switch {
	case ferr != nil:
		c.setCloseCode(ferr.Code)
		c.end = End{Kind: EndProtocol, Err: ferr}
		return false
	case !ok:
		if c.end.Kind == EndNone {
			c.end = End{Kind: EndStopped}
		}
		return false
	case c.received && c.own && (c.cold > 0 || c.idle == idleOff):
		return false
	}
	if c.received {
		if c.idle == idleArmed {
			c.idle = idleActive
		}
		c.received = false
	}
	return true
}

// onFrame handles one message or control frame from the client.
func (c *Conn) onFrame(op byte, payload []byte) bool {
	switch op {
	case OpPing:
		c.pong(payload)
		return true
	case OpPong:
		return true
	case OpClose:
		code := CloseNoStatus
		if len(payload) >= 2 {
			code = int(payload[0])<<8 | int(payload[1])
		}
		c.setCloseCode(code) // echoed in the final close frame
		c.end = End{Kind: EndPeerClose}
		return false
	}
	switch c.h.Message(op == OpBinary, payload) {
	case Delivered:
		c.received = true
		return true
	case Handled:
		return true
	}
	return false
}

// pong answers a ping: written at once before writes are enabled,
// otherwise by the writer between frames (only the latest ping is
// answered, as RFC 6455 section 5.5.3 allows).
func (c *Conn) pong(payload []byte) {
	frame := appendControl(nil, OpPong, payload)
	c.mu.Lock()
	if c.writes == writesOff {
		c.mu.Unlock()
		c.WriteDirect(frame)
		return
	}
	c.ctl = frame
	c.mu.Unlock()
	c.Notify()
}

func (c *Conn) setCloseCode(code int) {
	c.mu.Lock()
	if c.closeCode == 0 {
		c.closeCode = code
	}
	c.mu.Unlock()
}

func (c *Conn) isStopWanted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stopWanted()
}

// resume is the start of every reader goroutine but the first (Serve's):
// after a park, or a rest without a parker. It arms the idle deadline
// (armed), or else clears the expired one, and reads on; if the connection
// must end, it ends it at once.
func (c *Conn) resume(armed bool) {
	c.reader.acquire()
	if armed {
		c.armIdle()
	} else {
		c.mu.Lock()
		if c.stopWanted() {
			c.end = End{Kind: EndRead}
		} else {
			_ = c.raw.SetReadDeadline(time.Time{})
		}
		c.mu.Unlock()
	}
	c.readLoop()
}

// armIdle sets the read deadline IdleHandoff ahead (see readLoop), unless
// the connection must end (then readLoop ends it).
func (c *Conn) armIdle() {
	c.reader.check()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopWanted() {
		c.end = End{Kind: EndRead}
		return
	}
	c.idle = idleArmed
	_ = c.raw.SetReadDeadline(time.Now().Add(c.cfg.IdleHandoff))
}

// Outcomes of rest and park.
const (
	restLeft        = iota // another goroutine (or the parker) has the reader: exit at once
	restStop               // the connection must end: end the reader now
	parkUnsupported        // park only: no parker, a fresh goroutine must wait instead
)

// rest ends this goroutine's turn as the reader by parking the connection
// or, without a parker, resuming on a fresh goroutine (with the idle
// deadline armed, or none: an idle connection's fresh goroutine then waits
// with its small stack until data comes).
func (c *Conn) rest(armed bool) int {
	c.idle = idleOff
	if h := c.cfg.Hooks.Rest; h != nil {
		h(!armed)
	}
	switch r := c.park(); r {
	case restLeft, restStop:
		return r
	}
	c.reader.release()
	go c.resume(armed)
	return restLeft
}

// park hands an idle connection to the parker, which starts a reader
// goroutine again when the socket is readable or wakeReader unparks it.
// The reader's read deadline is cleared and stopWanted checked under mu,
// which wakeReader holds, so a wake-up is never lost.
func (c *Conn) park() int {
	c.reader.check()
	var p *Parker
	if c.cfg.Parker != nil {
		p = c.cfg.Parker()
	}
	if p == nil || c.sock.fd < 0 {
		return parkUnsupported
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopWanted() {
		return restStop
	}
	_ = c.raw.SetReadDeadline(time.Time{})
	c.reader.release() // the parker may start the next reader before park returns
	c.setRead(readParked)
	c.parker = p
	if !p.add(c.sock.fd, c) {
		c.setRead(readRunning)
		c.reader.acquire()
		return parkUnsupported
	}
	return restLeft
}

// unpark starts a reader goroutine for a parked connection; the parker
// calls it when the socket is readable.
func (c *Conn) unpark() {
	c.mu.Lock()
	c.unparkLocked()
	c.mu.Unlock()
}

func (c *Conn) unparkLocked() {
	if c.read != readParked {
		return
	}
	c.setRead(readRunning)
	c.parker.remove(c.sock.fd)
	go c.resume(true)
}

// finish ends the connection once the reader has stopped: the handler is
// told, the final frames and the close frame are written (by the writer,
// or here if writes were never enabled), and the socket is closed.
func (c *Conn) finish() {
	c.h.ReadEnded(c.end)
	c.mu.Lock()
	enabled := c.writes != writesOff
	c.mu.Unlock()
	if enabled {
		c.Close() // the handler is done with c: the writer takes the end
		c.mu.Lock()
		if c.writes != writeEnded && c.endCh == nil {
			c.endCh = make(chan struct{}) // made only now: an idle connection has none
		}
		ch := c.endCh
		if c.writes == writeEnded {
			ch = nil
		}
		c.mu.Unlock()
		if ch != nil {
			<-ch
		}
	} else {
		c.mu.Lock()
		code := c.closeCode
		c.mu.Unlock()
		if code == 0 {
			code = CloseNormal
		}
		WriteClose(c.raw, code)
	}
	_ = c.raw.Close()
	c.reader.release()
	c.h.Finished()
}

// beginDelivery marks the reader as delivering: writes it causes are
// left to it (see Notify).
func (c *Conn) beginDelivery() {
	c.mu.Lock()
	c.setDelivery(delivering)
	c.mu.Unlock()
}

// endDelivery ends the delivery and writes what it left pending, unless
// a writer goroutine holds the token (it will take it).
func (c *Conn) endDelivery() {
	c.mu.Lock()
	switch c.delivery {
	case deliverTimed:
		c.timer.Stop()
		c.setDelivery(deliverNone)
	case delivering:
		c.setDelivery(deliverNone)
	}
	if !c.pending || c.writes != writeIdle {
		c.mu.Unlock()
		return
	}
	c.setWrites(writeBusy)
	c.mu.Unlock()
	c.writeRun(true)
}

// The writer.

// bufPool holds the write buffers of token holders, so that only
// connections being written to hold one.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

// writeRun holds the write token: it writes what is encoded, has the
// handler encode what it took (whole frames, up to BatchSize per write),
// and takes again, until nothing was notified since it last took. When
// the handler reports the end it writes the close frame and ends the
// connection (endWrites). inline (the reader, after a delivery) writes
// without blocking and hands whatever does not fit to a writer goroutine.
func (c *Conn) writeRun(inline bool) {
	c.writer.acquire()
	for {
		if c.out != nil && c.outOff < len(*c.out) {
			b := (*c.out)[c.outOff:]
			if inline {
				n, err := c.sock.tryWrite(b)
				c.outOff += n
				if err != nil {
					c.writeFailed(err)
					return
				}
				if n < len(b) {
					c.writer.release()
					go c.writeRun(false) // the token passes to it
					return
				}
			} else {
				c.armWriteDeadline()
				if _, err := c.raw.Write(b); err != nil {
					c.writeFailed(err)
					return
				}
			}
			*c.out, c.outOff = (*c.out)[:0], 0
			continue
		}
		if c.closeOut {
			c.releaseOut()
			c.endWrites()
			return
		}
		if c.fill == FillMore {
			c.encode(nil, false)
			continue
		}
		c.releaseOut() // before the token goes: the next holder takes its own
		c.mu.Lock()
		if !c.pending {
			c.writer.release() // before the token is free: the next holder acquires it
			c.setWrites(writeIdle)
			c.mu.Unlock()
			return
		}
		c.pending = false
		ctl := c.ctl
		c.ctl = nil
		c.mu.Unlock()
		c.encode(ctl, true)
	}
}

// encode appends ctl and what the handler encodes to out, and the close
// frame after the last frames.
func (c *Conn) encode(ctl []byte, take bool) {
	if c.out == nil {
		c.out = bufPool.Get().(*[]byte)
	}
	buf := append(*c.out, ctl...)
	buf, c.fill = c.h.Fill(buf, take)
	if c.fill == FillDone {
		c.mu.Lock()
		code := c.closeCode
		c.mu.Unlock()
		if code == 0 {
			code = CloseNormal
		}
		buf = appendClose(buf, code)
		c.closeOut = true
	}
	*c.out = buf
}

// armWriteDeadline bounds the next blocking write: WriteTimeout, or
// CloseTimeout once c is closing or the handler reported the end. It is
// set under mu, as Close sets its own, so a closing connection always
// ends with the short one.
func (c *Conn) armWriteDeadline() {
	c.mu.Lock()
	d := WriteTimeout
	if c.closeOut || c.state == stateClosing {
		d = CloseTimeout
	}
	_ = c.raw.SetWriteDeadline(time.Now().Add(d))
	c.mu.Unlock()
}

// releaseOut returns the write buffer to the pool (an idle connection
// keeps none, and the pool keeps no large one).
func (c *Conn) releaseOut() {
	if c.out == nil {
		return
	}
	if cap(*c.out) > 16<<10 {
		*c.out = nil
	} else {
		*c.out = (*c.out)[:0]
	}
	bufPool.Put(c.out)
	c.out, c.outOff = nil, 0
}

func (c *Conn) writeFailed(err error) {
	c.releaseOut()
	c.endWrites()
	c.h.WriteFailed(err)
}

// endWrites records that nothing more is written and wakes the reader,
// which closes the connection. The token holder calling it keeps the
// token, so that no other writer starts.
func (c *Conn) endWrites() {
	c.mu.Lock()
	c.writer.release() // writeEnded is final: nobody takes the token again
	c.setWrites(writeEnded)
	ch := c.endCh
	c.wakeReader()
	c.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}
