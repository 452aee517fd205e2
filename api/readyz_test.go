package api_test

import (
	"errors"
	"sync/atomic"
	"testing"

	"github.com/cowrite/cowrite/api"
)

// TestReadyzHealth: /readyz says why the storage cannot write (Health).
func TestReadyzHealth(t *testing.T) {
	var health atomic.Pointer[error]
	s := newServer(t, &api.Options{Health: func() error {
		if p := health.Load(); p != nil {
			return *p
		}
		return nil
	}}, nil)
	expectStatus(t, s.do(t, "GET", "/readyz", nil), 200)
	full := errors.New("storage: writes failing: no space left on device")
	health.Store(&full)
	r := s.do(t, "GET", "/readyz", nil)
	expectStatus(t, r, 503)
	if got := r.json(t); got["status"] != "unavailable" || got["reason"] != full.Error() {
		t.Fatalf("readyz %v", got)
	}
	health.Store(nil)
	expectStatus(t, s.do(t, "GET", "/readyz", nil), 200)
}
