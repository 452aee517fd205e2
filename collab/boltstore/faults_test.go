package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/boltstore"
	"github.com/cowrite/cowrite/collab/ot"
	"github.com/cowrite/cowrite/storage"
)

// faultEnv is a Hub over a real data file whose writes may fail.
type faultEnv struct {
	t    *testing.T
	path string
	sopt *storage.Options
	db   *storage.DB
	hub  *collab.Hub
}

func newFaultEnv(t *testing.T, path string, sopt *storage.Options) *faultEnv {
	t.Helper()
	sopt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &faultEnv{t: t, path: path, sopt: sopt}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *faultEnv) open() {
	e.t.Helper()
	db, err := storage.Open(e.path, e.sopt)
	if err != nil {
		e.t.Fatalf("storage.Open: %v", err)
	}
	e.db = db
	e.hub = collab.NewHub(boltstore.New(db), nopBroadcaster{}, &collab.Options{OpsPerSecond: -1, Logger: e.sopt.Logger})
}

func (e *faultEnv) close() {
	if e.hub == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.hub.Close(ctx); err != nil {
		e.t.Errorf("hub.Close: %v", err)
	}
	if err := e.db.Close(); err != nil {
		e.t.Errorf("db.Close: %v", err)
	}
	e.hub = nil
}

type nopBroadcaster struct{}

func (nopBroadcaster) BroadcastOp(string, collab.SocketID, collab.OpEvent)             {}
func (nopBroadcaster) BroadcastPresence(string, collab.SocketID, collab.PresenceEvent) {}
func (nopBroadcaster) DocDeleted(string)                                               {}
func (nopBroadcaster) DocMeta(string, collab.DocInfo)                                  {}

// typist appends chunks to the end of document "d" and remembers what was
// acknowledged: the content must always be exactly the acknowledged chunks.
type typist struct {
	e     *faultEnv
	acked strings.Builder
	n     int // code points acknowledged
	ver   uint64
	seq   uint64
}

// typeChunk submits one chunk; it returns the error (nil when acked).
func (ty *typist) typeChunk(chunk string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ty.seq++
	o := ot.Op{ot.Ins(chunk)}
	if ty.n > 0 {
		o = ot.Op{ot.Retain(ty.n), ot.Ins(chunk)}
	}
	c, err := ty.e.hub.Submit(ctx, "d", "", collab.Submission{Version: ty.ver, Op: o, Client: "typist", Seq: ty.seq})
	if err != nil {
		return err
	}
	ty.acked.WriteString(chunk)
	ty.n += len(chunk) // ASCII
	ty.ver = c.Version
	return nil
}

// check reopens the data file and compares its content with the acked text.
func (ty *typist) check(t *testing.T) {
	t.Helper()
	ty.e.close()
	ty.e.open()
	_, content, err := ty.e.hub.Get(context.Background(), "d")
	if err != nil {
		t.Fatalf("after reopen: %v", err)
	}
	if content != ty.acked.String() {
		t.Fatalf("after reopen: %d bytes, %d acknowledged (acked ops lost or unacked ones kept)", len(content), ty.acked.Len())
	}
}

// verify checks the closed data file offline (storage.Verify).
func (ty *typist) verify(t *testing.T) {
	t.Helper()
	ty.e.close()
	r, err := storage.Verify(ty.e.path, time.Second, func(content string) storage.Replayer { return &otReplay{ot.NewDoc(content)} })
	if err != nil || len(r.Problems) > 0 || r.Docs != 1 {
		t.Fatalf("Verify: %+v, %v", r, err)
	}
}

type otReplay struct{ d *ot.Doc }

func (r *otReplay) Apply(op []byte) error {
	o, err := ot.Parse(op)
	if err == nil {
		r.d, err = r.d.Apply(o)
	}
	return err
}
func (r *otReplay) Content() string { return r.d.String() }

// needRoot fails the test unless it runs as root (mounting needs it; CI
// runs as root). COWRITE_SKIP_ROOT_TESTS=1 skips it explicitly.
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("COWRITE_SKIP_ROOT_TESTS") == "1" {
		t.Skip("SKIPPED: needs root to mount a tmpfs (COWRITE_SKIP_ROOT_TESTS=1)")
	}
	t.Fatal("this test needs root to mount a small tmpfs (CI runs it as root); run it as root, or set COWRITE_SKIP_ROOT_TESTS=1 to skip it explicitly")
}

// TestDiskFull: the data file lives on a 4 MiB tmpfs (half of it taken by a
// ballast file, so that freeing it leaves room for a snapshot) that fills up while a
// client types. Commits then fail with internal and nothing unacknowledged
// is kept; Err says why; once space is freed, writes resume without a
// restart; no acknowledged op is lost, also across a reopen.
func TestDiskFull(t *testing.T) {
	needRoot(t)
	mnt := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs (needs root / CAP_SYS_ADMIN): %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	e := newFaultEnv(t, filepath.Join(mnt, "data", "cowrite.db"), &storage.Options{})
	if _, err := e.hub.Create(context.Background(), "d", "", ""); err != nil {
		t.Fatal(err)
	}
	ty := &typist{e: e}
	chunk := strings.Repeat("0123456789abcdef", 512) // 8 KiB
	var full error
	for i := 0; i < 2000 && full == nil; i++ {
		full = ty.typeChunk(chunk)
	}
	if full == nil {
		t.Fatal("4 MiB never filled up")
	}
	if code := collab.CodeOf(full); code != collab.CodeInternal {
		t.Fatalf("commit on a full disk: %v (code %q), want internal", full, code)
	}
	if err := e.db.Err(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Err() = %v, want no space left on device", err)
	}
	t.Logf("full after %d KiB acknowledged: %v", ty.acked.Len()>>10, e.db.Err())
	// Still full: still failing cleanly.
	for range 3 {
		if err := ty.typeChunk(chunk); collab.CodeOf(err) != collab.CodeInternal {
			t.Fatalf("still full: %v", err)
		}
	}
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	// Writes resume without a restart.
	for i := range 5 {
		if err := ty.typeChunk(fmt.Sprint("after-", i)); err != nil {
			t.Fatalf("after freeing space: %v", err)
		}
	}
	if err := e.db.Err(); err != nil {
		t.Fatalf("Err() after a successful write: %v", err)
	}
	ty.check(t)
	ty.verify(t)
}

// TestCommitIOError: an I/O error of the commit (injected where an fsync
// failure would surface) fails the writes cleanly with internal, Err says
// why, and writes resume once the error is gone; nothing acked is lost.
func TestCommitIOError(t *testing.T) {
	var failing atomic.Bool
	eio := fmt.Errorf("fsync: %w", syscall.EIO)
	e := newFaultEnv(t, filepath.Join(t.TempDir(), "cowrite.db"), &storage.Options{
		FaultHook: func(string) error {
			if failing.Load() {
				return eio
			}
			return nil
		},
	})
	if _, err := e.hub.Create(context.Background(), "d", "", ""); err != nil {
		t.Fatal(err)
	}
	ty := &typist{e: e}
	for i := range 20 {
		if err := ty.typeChunk(fmt.Sprint("ok", i, " ")); err != nil {
			t.Fatal(err)
		}
	}
	failing.Store(true)
	for i := range 5 {
		err := ty.typeChunk(fmt.Sprint("lost", i, " "))
		if code := collab.CodeOf(err); code != collab.CodeInternal {
			t.Fatalf("commit with an I/O error: %v (code %q), want internal", err, code)
		}
	}
	if err := e.db.Err(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Err() = %v, want the I/O error", err)
	}
	failing.Store(false)
	for i := range 5 {
		if err := ty.typeChunk(fmt.Sprint("again", i, " ")); err != nil {
			t.Fatalf("after the I/O error: %v", err)
		}
	}
	if err := e.db.Err(); err != nil {
		t.Fatalf("Err() = %v after a successful commit", err)
	}
	ty.check(t)
	ty.verify(t)
}
