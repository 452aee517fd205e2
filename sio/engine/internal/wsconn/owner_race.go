//go:build race

package wsconn

import (
	"bytes"
	"runtime"
	"strconv"
	"sync/atomic"
)

// checked: race builds assert ownership and state transitions.
const checked = true

// role is the ownership record of one concurrency role of a Conn (the
// reader or the writer): in race builds it holds the id of the goroutine
// currently playing the role, and check panics when another goroutine
// touches the role's state — a broken hand-off, which the race detector
// would report only if the accesses happened to race in that run. Other
// builds compile it away (see owner.go).
type role struct {
	name string
	g    atomic.Uint64
}

// acquire makes the calling goroutine the role's holder; nobody may hold it.
func (r *role) acquire() {
	if id := goid(); !r.g.CompareAndSwap(0, id) {
		panic("wsconn: goroutine " + strconv.FormatUint(id, 10) + " takes the " + r.name +
			" role held by goroutine " + strconv.FormatUint(r.g.Load(), 10))
	}
}

// release gives the role up; the caller must hold it.
func (r *role) release() {
	r.check()
	r.g.Store(0)
}

// check panics unless the calling goroutine holds the role.
func (r *role) check() {
	if id := goid(); r.g.Load() != id {
		panic("wsconn: " + r.name + " state used by goroutine " + strconv.FormatUint(id, 10) +
			", held by goroutine " + strconv.FormatUint(r.g.Load(), 10))
	}
}

// goid is the calling goroutine's id, parsed from its stack trace header
// ("goroutine 18 [running]:"), as x/net/http2's curGoroutineID does.
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		b = b[:i]
	}
	id, err := strconv.ParseUint(string(b), 10, 64)
	if err != nil {
		panic("wsconn: cannot parse goroutine id: " + err.Error())
	}
	return id
}
