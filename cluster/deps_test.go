package cluster

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps keeps the layering: the cluster packages reach documents only
// through collab (no sio, api, fiber, storage or bbolt), and collab never
// reaches NATS (its own import test allows only collab/ot and go-diff).
func TestDeps(t *testing.T) {
	for _, pkg := range []string{"github.com/cowrite/cowrite/cluster", "github.com/cowrite/cowrite/cluster/jetstore", "github.com/cowrite/cowrite/cluster/natsd"} {
		out, err := exec.Command("go", "list", "-deps", pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		for _, d := range strings.Fields(string(out)) {
			for _, bad := range []string{"github.com/cowrite/cowrite/sio", "github.com/cowrite/cowrite/api", "github.com/cowrite/cowrite/storage", "github.com/cowrite/cowrite/collab/boltstore", "github.com/gofiber/", "go.etcd.io/bbolt"} {
				if d == bad || strings.HasPrefix(d, bad+"/") || strings.HasSuffix(bad, "/") && strings.HasPrefix(d, bad) {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
	}
	out, err := exec.Command("go", "list", "-deps", "github.com/cowrite/cowrite/collab").Output()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "nats-io") {
		t.Error("collab depends on NATS")
	}
}
