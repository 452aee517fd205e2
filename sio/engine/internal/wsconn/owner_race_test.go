//go:build race

package wsconn

import "testing"

// TestRoleCheck: in race builds a role's state used off its holder's
// goroutine panics, and so does taking a role that is held.
func TestRoleCheck(t *testing.T) {
	r := role{name: "reader"}
	r.acquire()
	r.check()
	panicked := make(chan any, 2)
	go func() {
		defer func() { panicked <- recover() }()
		r.check()
	}()
	if p := <-panicked; p == nil {
		t.Fatal("check from another goroutine did not panic")
	}
	go func() {
		defer func() { panicked <- recover() }()
		r.acquire()
	}()
	if p := <-panicked; p == nil {
		t.Fatal("acquiring a held role did not panic")
	}
	r.release()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.acquire()
		r.check()
		r.release()
	}()
	<-done
}
