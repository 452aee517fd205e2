package api_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/boltstore"
	"github.com/cowrite/cowrite/storage"
)

// download GETs path into a file in a temp dir and returns the response
// (body not kept) and the file's path.
func download(t *testing.T, s *server, path string, header ...string) (*http.Response, string, error) {
	t.Helper()
	req, err := http.NewRequest("GET", s.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	file := filepath.Join(t.TempDir(), "cowrite.db")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = io.Copy(f, res.Body)
	return res, file, err
}

// TestBackupWhileWriting downloads a backup while documents are being
// written and checks that it is a consistent database holding them.
func TestBackupWhileWriting(t *testing.T) {
	s := newServer(t, nil, nil)
	const docs = 4
	for i := range docs {
		expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": fmt.Sprint("doc-", i), "content": "start"}), 201)
	}
	// Writers keep submitting ops until the backup is done.
	var stop atomic.Bool
	var wg sync.WaitGroup
	var written atomic.Int64
	for i := range docs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for v := 0; !stop.Load(); v++ {
				body := fmt.Sprintf(`{"version":%d,"op":["x"]}`, v)
				res, err := http.Post(s.url+fmt.Sprintf("/api/docs/doc-%d/ops", i), "application/json", strings.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Errorf("op: status %d", res.StatusCode)
					return
				}
				written.Add(1)
			}
		}()
	}
	for written.Load() < 20 {
		time.Sleep(time.Millisecond)
	}
	res, file, err := download(t, s, "/api/admin/backup")
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/octet-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="cowrite-\d{8}T\d{6}Z\.db"$`).MatchString(cd) {
		t.Errorf("Content-Disposition %q", cd)
	}

	db, err := storage.Open(file, &storage.Options{NoSync: true})
	if err != nil {
		t.Fatalf("the backup does not open: %v", err)
	}
	defer db.Close()
	// Read it through a Hub: loading a document replays its snapshot and
	// ops and checks them against its metadata.
	hub := collab.NewHub(boltstore.New(db), nopBroadcaster{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer hub.Close(ctx)
	infos, _, err := hub.List(ctx, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != docs {
		t.Fatalf("backup holds %d documents, want %d", len(infos), docs)
	}
	total := 0
	for _, info := range infos {
		got, content, err := hub.Get(ctx, info.ID)
		if err != nil {
			t.Fatalf("%s: %v", info.ID, err)
		}
		v := int(got.Version)
		total += v
		if content != strings.Repeat("x", v)+"start" {
			t.Errorf("%s: version %d content %q", info.ID, v, content)
		}
		if v > 0 {
			if old, err := hub.ContentAt(ctx, info.ID, 1); err != nil || old != "xstart" {
				t.Errorf("%s at version 1: %q %v", info.ID, old, err)
			}
		}
	}
	if total < 20 {
		t.Errorf("backup holds %d ops, at least 20 were acked before it started", total)
	}
}

type nopBroadcaster struct{}

func (nopBroadcaster) BroadcastOp(string, collab.SocketID, collab.OpEvent)             {}
func (nopBroadcaster) BroadcastPresence(string, collab.SocketID, collab.PresenceEvent) {}
func (nopBroadcaster) DocDeleted(string)                                               {}

func TestBackupAuth(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	authn, err := auth.New(&auth.Options{Mode: auth.Token, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, &api.Options{Auth: authn}, nil)
	mint := func(c auth.Claims) string {
		tok, err := auth.Mint(secret, c, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	r := s.do(t, "GET", "/api/admin/backup", nil)
	expectStatus(t, r, 401)
	if c := r.errCode(t); c != "unauthorized" {
		t.Errorf("code %q", c)
	}
	owner := mint(auth.Claims{Subject: "o", Docs: map[string]auth.Role{"*": auth.RoleOwner}})
	r = s.do(t, "GET", "/api/admin/backup", nil, "Authorization", owner)
	expectStatus(t, r, 403)
	if c := r.errCode(t); c != "forbidden" {
		t.Errorf("code %q", c)
	}
	r = s.do(t, "GET", "/api/admin/backup", nil, "Authorization", mint(auth.Claims{Subject: "root", Admin: true}))
	expectStatus(t, r, 200)
	if len(r.body) < 4096 {
		t.Fatalf("backup of %d bytes", len(r.body))
	}
}

// TestBackupFailureMidStream: a copy that fails after sending bytes (or
// panics) must not look like a complete file, and the server goes on.
func TestBackupFailureMidStream(t *testing.T) {
	for name, fn := range map[string]func(context.Context, io.Writer) (int64, error){
		"error": func(_ context.Context, w io.Writer) (int64, error) {
			n, _ := w.Write(make([]byte, 100<<10))
			return int64(n), errors.New("disk on fire")
		},
		"panic": func(_ context.Context, w io.Writer) (int64, error) {
			_, _ = w.Write(make([]byte, 100<<10))
			panic("boom")
		},
	} {
		t.Run(name, func(t *testing.T) {
			s := newServer(t, &api.Options{Backup: fn}, nil)
			res, _, err := download(t, s, "/api/admin/backup")
			if res.StatusCode != 200 || !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("status %d, read error %v; want a truncated transfer", res.StatusCode, err)
			}
			expectStatus(t, s.do(t, "GET", "/healthz", nil), 200)
		})
	}
}

// TestBackupClientGoesAway: a client that stops reading and closes the
// connection ends the copy (its read transaction is not held forever).
func TestBackupClientGoesAway(t *testing.T) {
	ended := make(chan error, 1)
	endless := func(_ context.Context, w io.Writer) (int64, error) {
		buf := make([]byte, 64<<10)
		var n int64
		for {
			m, err := w.Write(buf)
			n += int64(m)
			if err != nil {
				ended <- err
				return n, err
			}
		}
	}
	s := newServer(t, &api.Options{Backup: endless}, nil)
	res, err := http.Get(s.url + "/api/admin/backup")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(res.Body, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	res.Body.Close() // closes the connection: the body was not read to the end
	select {
	case err := <-ended:
		if err == nil {
			t.Fatal("copy ended without an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the copy goes on after the client left")
	}
}
