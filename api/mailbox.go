package api

import "sync"

// maxPendingCalls is how many events a socket may have queued, plus doc:op
// submissions awaiting their commit, before more get rate_limited.
const maxPendingCalls = 64

// mailbox runs one socket's events one after the other on its worker
// goroutine, off the connection's dispatch goroutine (hub calls wait for
// durable commits and must not delay pings, acks and other packets of the
// connection). The worker is started by the first event posted and then
// lives until the disconnect (the final call) has run, or until API.Close:
// it waits idle between bursts, because a goroutine per burst of work would
// pay for growing a fresh stack on every op.
type mailbox struct {
	a    *API
	wake chan struct{} // capacity 1: there may be work in queue

	mu       sync.Mutex // guards the fields below
	queue    []func()
	inflight int  // doc:op submissions handed to the hub and not yet answered
	started  bool // the worker was started
	running  bool // the worker is running a call
	closed   bool // the final call was accepted: nothing more is
	stopped  bool // the worker exited (API.Close): nothing more is accepted
}

func newMailbox(a *API) *mailbox {
	return &mailbox{a: a, wake: make(chan struct{}, 1)}
}

// post queues fn; it returns false when the mailbox is closed or full.
// final marks the last call (the disconnect): nothing is accepted after it.
func (m *mailbox) post(fn func(), final bool) bool {
	m.mu.Lock()
	if m.closed || m.stopped || (!final && len(m.queue)+m.inflight >= maxPendingCalls) {
		m.mu.Unlock()
		return false
	}
	if !m.started {
		if !m.a.addWorker() {
			m.mu.Unlock()
			return false
		}
		m.started = true
		go m.run()
	}
	if final {
		m.closed = true
	}
	m.queue = append(m.queue, fn)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
	return true
}

// opStarted and opDone count a doc:op whose ack comes from the document
// (see API.runOp): it counts against maxPendingCalls until answered.
func (m *mailbox) opStarted() { m.mu.Lock(); m.inflight++; m.mu.Unlock() }
func (m *mailbox) opDone()    { m.mu.Lock(); m.inflight--; m.mu.Unlock() }

// direct runs try on the caller's goroutine in place of posting a call, if
// the mailbox is idle: no call queued or running, so that nothing the
// socket sent before is still waiting. try reports whether it handed an op
// to the hub; it then counts as in flight (see opStarted). try runs with
// the mailbox locked and must not wait.
func (m *mailbox) direct(try func() bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.stopped || m.running || len(m.queue) > 0 || m.inflight >= maxPendingCalls || m.a.ctx.Err() != nil {
		return false
	}
	if !try() {
		return false
	}
	m.inflight++
	return true
}

// run is the worker: it runs the queued calls in order and waits for more;
// it exits once the final call has run, or when the API is closed and the
// queue is empty.
func (m *mailbox) run() {
	defer m.a.wg.Done()
	done := m.a.ctx.Done()
	for {
		m.mu.Lock()
		if len(m.queue) == 0 {
			m.running = false
			if m.closed {
				m.stopped = true
				m.mu.Unlock()
				return
			}
			m.mu.Unlock()
			select {
			case <-m.wake:
			case <-done:
				m.mu.Lock()
				if len(m.queue) == 0 {
					m.stopped = true
					m.queue = nil
					m.mu.Unlock()
					return
				}
				m.mu.Unlock()
			}
			continue
		}
		fn := m.queue[0]
		m.queue[0] = nil
		m.queue = m.queue[1:]
		m.running = true
		m.mu.Unlock()
		fn()
	}
}
