// Package testwait is the project's one polling helper for tests: Until
// checks a condition until it holds or a deadline passes. Tests wait on
// events (channels, hooks, acks) wherever one exists; Until is only for
// states that nothing announces (a GET becoming pending, an idle unload, a
// server becoming ready, a gauge settling).
package testwait

import (
	"testing"
	"time"
)

// Every is how often Until checks.
const Every = time.Millisecond

// Until fails t unless cond holds within timeout, checking it every Every.
func Until(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !For(timeout, cond) {
		t.Fatalf("still not true after %v: %s", timeout, what)
	}
}

// For reports whether cond held within timeout, checking it every Every;
// for callers that say themselves what was wrong.
func For(timeout time.Duration, cond func() bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(Every)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			return false
		case <-tick.C:
		}
	}
	return true
}
