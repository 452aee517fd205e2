package engine

import (
	"testing"
	"time"

	"github.com/cowrite/cowrite/internal/testwait"
)

// eventually fails the test unless cond holds within 5 seconds; it polls.
// Only for states that no event announces (a GET becoming pending, a
// WebSocket parked or its writer gone idle); wait on an event otherwise.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, 5*time.Second, what, cond)
}
