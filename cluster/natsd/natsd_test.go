package natsd

import (
	"testing"

	"github.com/nats-io/nats.go"
)

func TestStartCluster(t *testing.T) {
	srvs, err := StartCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	defer Shutdown(srvs)
	for _, s := range srvs {
		if n := s.NumRoutes(); n < 2 {
			t.Errorf("%s has %d routes, want at least 2", s.Name(), n)
		}
	}
	nc, err := nats.Connect(URLs(srvs))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3}); err != nil {
		t.Fatalf("R3 stream: %v", err)
	}
	if _, err := js.Publish("t.x", []byte("hi")); err != nil {
		t.Fatal(err)
	}
}

func TestStartNeedsDir(t *testing.T) {
	if _, err := Start(Config{}); err == nil {
		t.Fatal("Start without a store directory succeeded")
	}
}
