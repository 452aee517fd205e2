package testwait

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestUntilReturnsOnceTrue(t *testing.T) {
	var n atomic.Int32
	Until(t, 5*time.Second, "three checks", func() bool { return n.Add(1) >= 3 })
	if got := n.Load(); got != 3 {
		t.Fatalf("cond checked %d times, want 3", got)
	}
}

// failT records Fatalf instead of stopping the test.
type failT struct {
	testing.TB
	failed atomic.Bool
}

func (f *failT) Helper() {}
func (f *failT) Fatalf(string, ...any) {
	f.failed.Store(true)
	panic(f) // Fatalf must not return
}

func TestUntilFailsAtDeadline(t *testing.T) {
	f := &failT{TB: t}
	func() {
		defer func() {
			if r := recover(); r != f {
				panic(r)
			}
		}()
		Until(f, 20*time.Millisecond, "never", func() bool { return false })
	}()
	if !f.failed.Load() {
		t.Fatal("Until returned without failing on a condition that never holds")
	}
}
