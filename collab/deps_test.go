package collab_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps enforces the layering: collab depends on collab/ot, the standard
// library, go-diff and internal/jsonstr (stdlib only) only (no sio, fiber,
// bbolt or storage).
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/cowrite/cowrite/collab").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, p := range strings.Fields(string(out)) {
		switch {
		case !strings.Contains(strings.SplitN(p, "/", 2)[0], "."): // standard library
		case p == "github.com/cowrite/cowrite/collab", p == "github.com/cowrite/cowrite/collab/ot", p == "github.com/cowrite/cowrite/internal/jsonstr":
		case strings.HasPrefix(p, "github.com/sergi/go-diff/"):
		default:
			t.Errorf("collab depends on %s", p)
		}
	}
}
