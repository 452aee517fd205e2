package metrics

import (
	"testing"
	"time"
)

func BenchmarkHotPath(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveTransform(3)
		m.ObserveBroadcast(8)
		m.Error("invalid_op")
		m.SocketConnected()
		m.SocketDisconnected()
	}
}

func BenchmarkObserveCommit(b *testing.B) {
	m := New()
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveCommit(16, 3*time.Millisecond)
	}
}

func BenchmarkNil(b *testing.B) {
	var m *Metrics
	b.ReportAllocs()
	for b.Loop() {
		m.ObserveCommit(16, 3*time.Millisecond)
		m.Error("invalid_op")
	}
}
