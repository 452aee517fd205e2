package api

import (
	"context"
	"sync"
	"testing"
)

func newTestAPI() *API {
	a := &API{}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	return a
}

// The worker runs calls in order across bursts, keeps running between
// bursts, runs the final call after everything queued before it, refuses
// calls after it and then exits.
func TestMailboxOrderAndFinal(t *testing.T) {
	a := newTestAPI()
	mb := newMailbox(a)
	var mu sync.Mutex
	var got []int
	rec := func(i int) func() {
		return func() { mu.Lock(); got = append(got, i); mu.Unlock() }
	}
	gate := make(chan struct{})
	if !mb.post(func() { <-gate }, false) {
		t.Fatal("first post refused")
	}
	for i := 0; i < 10; i++ {
		if !mb.post(rec(i), false) {
			t.Fatalf("post %d refused", i)
		}
	}
	final := make(chan struct{})
	if !mb.post(func() { rec(100)(); close(final) }, true) {
		t.Fatal("final post refused")
	}
	if mb.post(rec(200), false) || mb.post(rec(201), true) {
		t.Fatal("a post after the final one was accepted")
	}
	close(gate)
	<-final
	a.wg.Wait() // the worker exits after the final call
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 11 || got[10] != 100 {
		t.Fatalf("calls ran as %v, want 0..9 then 100", got)
	}
	for i := 0; i < 10; i++ {
		if got[i] != i {
			t.Fatalf("calls ran as %v, want 0..9 then 100", got)
		}
	}
}

// The queue is bounded for ordinary calls, never for the final one.
func TestMailboxFull(t *testing.T) {
	a := newTestAPI()
	mb := newMailbox(a)
	gate := make(chan struct{})
	mb.post(func() { <-gate }, false)
	n := 0
	for mb.post(func() {}, false) {
		n++
	}
	if n < maxPendingCalls-1 || n > maxPendingCalls {
		t.Fatalf("accepted %d calls while blocked, want about %d", n, maxPendingCalls)
	}
	if !mb.post(func() {}, true) {
		t.Fatal("final call refused on a full mailbox")
	}
	close(gate)
	a.wg.Wait()
}

// A worker idle between bursts is reused; Close ends it (no leak, checked by
// goleak in TestMain too) and later calls are refused.
func TestMailboxIdleWorkerAndClose(t *testing.T) {
	a := newTestAPI()
	mb := newMailbox(a)
	for burst := 0; burst < 3; burst++ {
		done := make(chan struct{})
		if !mb.post(func() { close(done) }, false) {
			t.Fatalf("burst %d refused", burst)
		}
		<-done
	}
	a.Close()
	if mb.post(func() { t.Error("call ran after Close") }, false) {
		t.Fatal("post accepted after Close")
	}
	if mb.post(func() {}, true) {
		t.Fatal("final post accepted after Close")
	}
	// A mailbox that never started a worker refuses work after Close too.
	if newMailbox(a).post(func() {}, false) {
		t.Fatal("new mailbox accepted a call after Close")
	}
}

// doc:op submissions waiting for their commit count against the bound too,
// and free their place once answered.
func TestMailboxInflightOps(t *testing.T) {
	a := newTestAPI()
	defer a.Close()
	mb := newMailbox(a)
	for i := 0; i < maxPendingCalls; i++ {
		mb.opStarted()
	}
	if mb.post(func() {}, false) {
		t.Fatal("post accepted with maxPendingCalls ops in flight")
	}
	mb.opDone()
	done := make(chan struct{})
	if !mb.post(func() { close(done) }, false) {
		t.Fatal("post refused after an op was answered")
	}
	<-done
}

// direct runs its function only while the mailbox is idle (nothing queued
// or running) and the API open, and counts what it handed over as in flight.
func TestMailboxDirect(t *testing.T) {
	a := newTestAPI()
	mb := newMailbox(a)
	ran := 0
	try := func(ok bool) func() bool { return func() bool { ran++; return ok } }
	if !mb.direct(try(true)) || ran != 1 || mb.inflight != 1 {
		t.Fatalf("idle mailbox: ran %d, inflight %d", ran, mb.inflight)
	}
	if mb.direct(try(false)) || ran != 2 || mb.inflight != 1 {
		t.Fatalf("refused hand-off: ran %d, inflight %d", ran, mb.inflight)
	}
	mb.opDone()
	gate, running := make(chan struct{}), make(chan struct{})
	mb.post(func() { close(running); <-gate }, false)
	<-running
	if mb.direct(try(true)) || ran != 2 {
		t.Fatal("direct ran while a call was running")
	}
	mb.post(func() {}, false)
	close(gate)
	a.Close()
	if mb.direct(try(true)) || ran != 2 {
		t.Fatal("direct ran after Close")
	}
}
