//go:build !linux

package wsconn

// Parker is Linux-only (epoll): elsewhere an idle connection keeps a
// goroutine (a fresh one, see Conn.readLoop).
type Parker struct{}

// Parking reports whether idle connections are parked (see Parker).
const Parking = false

// NewParker returns nil: parking is unsupported here.
func NewParker() *Parker { return nil }

func (p *Parker) add(int, *Conn) bool { return false }

func (p *Parker) remove(int) {}

// Stop does nothing.
func (p *Parker) Stop() {}
