package main

import (
	"context"
	"log/slog"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cowrite/cowrite/frontend"
)

// TestVersion builds the binary in the git checkout with the toolchain's VCS
// stamp (this machine's go env sets -buildvcs=false, so it is asked for) and
// with the Makefile's -ldflags, and checks that --version names the commit.
func TestVersion(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD (the tests run in a git checkout): %v", err)
	}
	want := strings.TrimSpace(string(head))
	dir := t.TempDir()
	builds := map[string][]string{
		"buildvcs": {"build", "-buildvcs=true", "-o", filepath.Join(dir, "vcs"), "."},
		"ldflags":  {"build", "-ldflags", "-X main.version=v9.9.9 -X main.commit=" + want + " -X main.buildDate=2026-12-08T00:00:00Z", "-o", filepath.Join(dir, "ld"), "."},
	}
	for name, args := range builds {
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		bin := args[len(args)-2]
		for _, arg := range []string{"--version", "version"} {
			out, err := exec.Command(bin, arg).Output()
			if err != nil {
				t.Fatalf("%s: cowrite %s: %v", name, arg, err)
			}
			line := string(out)
			if !strings.HasPrefix(line, "cowrite ") || !strings.Contains(line, "commit "+want) || strings.Contains(line, "unknown") {
				t.Errorf("%s: cowrite %s = %q; want a version, commit %s and a build date", name, arg, line, want)
			}
			if name == "ldflags" && !strings.HasPrefix(line, "cowrite v9.9.9 ") {
				t.Errorf("ldflags: cowrite %s = %q; want version v9.9.9", arg, line)
			}
		}
	}
}

// TestWarnsWithoutEditor: a binary without the built editor says so at
// start (its / answers 503), one with it does not.
func TestWarnsWithoutEditor(t *testing.T) {
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, testConfig(t, t.TempDir()), slog.New(slog.NewTextHandler(&logs, nil)), ready) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not start")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	warned := strings.Contains(logs.String(), "browser editor is not built")
	if warned == frontend.Built() {
		t.Errorf("editor built: %v, warning logged: %v; logs:\n%s", frontend.Built(), warned, logs.String())
	}
}
