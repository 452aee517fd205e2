package engine

import (
	"testing"
	"time"
)

// eventually fails the test unless cond holds within 5 seconds; it polls.
// Only for states that no event announces (a GET becoming pending, a
// WebSocket parked or its writer gone idle); wait on an event otherwise.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("still not true after 5s: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
