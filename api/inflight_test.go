package api

import "testing"

// TestReserveBody: bodies in progress are bounded by MaxInflightBodyBytes;
// one body alone is always admitted (it is within MaxBodyBytes, which the
// budget is at least); released bytes make room again.
func TestReserveBody(t *testing.T) {
	o := (&Options{MaxBodyBytes: 8, MaxInflightBodyBytes: 10}).withDefaults()
	if o.MaxInflightBodyBytes != 10 {
		t.Fatalf("budget %d", o.MaxInflightBodyBytes)
	}
	if small := (&Options{MaxBodyBytes: 8, MaxInflightBodyBytes: 4}).withDefaults(); small.MaxInflightBodyBytes != 8 {
		t.Fatalf("a budget below MaxBodyBytes must be raised to it, got %d", small.MaxInflightBodyBytes)
	}
	a := &API{opts: o}
	if !a.reserveBody(8) {
		t.Fatal("first body refused")
	}
	if !a.reserveBody(2) {
		t.Fatal("a body that fits the budget (8+2 = 10) was refused")
	}
	if a.reserveBody(1) {
		t.Fatal("a body over the budget (11 > 10) was admitted while others are in progress")
	}
	a.inflight.Add(-10)
	if !a.reserveBody(8) {
		t.Fatal("after release the body was refused")
	}
}
