//go:build !linux

package engine

// wsParker is Linux-only (epoll): elsewhere an idle connection keeps a
// goroutine (a fresh one, see readLoop).
type wsParker struct{}

const wsParking = false

func newWSParker() *wsParker { return nil }

func (p *wsParker) add(int, *wsTransport) bool { return false }

func (p *wsParker) remove(int) {}

func (p *wsParker) stop() {}
