package api_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies keeps the layering: the edge talks to collab, sio and
// fiber, never to storage or bbolt directly (main wires the store in).
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/cowrite/cowrite/api").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, forbidden := range []string{
		"github.com/cowrite/cowrite/storage",
		"github.com/cowrite/cowrite/collab/boltstore",
		"go.etcd.io/bbolt",
		"github.com/cowrite/cowrite/frontend",
		"github.com/cowrite/cowrite/metrics",
		"github.com/cowrite/cowrite/cluster",
		"github.com/cowrite/cowrite/cluster/jetstore",
	} {
		for _, d := range deps {
			if d == forbidden {
				t.Errorf("api imports %s", forbidden)
			}
		}
	}
	// Cluster mode reaches api as a collab.Engine: no NATS here.
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/nats-io/") {
			t.Errorf("api imports %s", d)
		}
	}
}
