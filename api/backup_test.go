package api_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
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
	twenty := make(chan struct{}) // closed when 20 ops are written
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
				if written.Add(1) == 20 {
					close(twenty)
				}
			}
		}()
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()
	select {
	case <-twenty:
	case <-writersDone:
		t.Fatal("the writers stopped before writing 20 ops")
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
func (nopBroadcaster) DocMeta(string, collab.DocInfo)                                  {}

func TestBackupAuth(t *testing.T) {
	s, mint := claimsTokenServer(t, time.Hour)
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

// TestBackupFailureIsAnError: a copy that fails (or panics) midway is
// answered 500 internal before any byte is sent (it is copied to a
// temporary file first), and the server goes on.
func TestBackupFailureIsAnError(t *testing.T) {
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
			dir := t.TempDir()
			s := newServer(t, &api.Options{Backup: fn, BackupDir: dir}, nil)
			r := s.do(t, "GET", "/api/admin/backup", nil)
			expectStatus(t, r, 500)
			if c := r.errCode(t); c != "internal" {
				t.Errorf("code %q", c)
			}
			if cd := r.header.Get("Content-Disposition"); cd != "" {
				t.Errorf("an error carries Content-Disposition %q", cd)
			}
			if left, _ := os.ReadDir(dir); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
			expectStatus(t, s.do(t, "GET", "/healthz", nil), 200)
		})
	}
}

// TestBackupStalledClientDoesNotFreezeWrites (issue 17 #6): a client that
// requests a backup and stops reading must not hold the database's read
// transaction, which blocks bbolt's remap and with it every commit once the
// file grows; the stalled download is cut off after BackupStallTimeout.
func TestBackupStalledClientDoesNotFreezeWrites(t *testing.T) {
	dir := t.TempDir()
	s := newServer(t, &api.Options{BackupDir: dir, BackupStallTimeout: 300 * time.Millisecond}, &collab.Options{MaxDocBytes: 16 << 20, MaxOpBytes: 16 << 20})
	big := strings.Repeat("x", 8<<20)
	// put stores big as a new document (raw text: no JSON decoding).
	put := func(client *http.Client, id string) error {
		expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": id}), 201)
		req, err := http.NewRequest("PUT", s.url+"/api/docs/"+id+"/content", strings.NewReader(big))
		if err != nil {
			return err
		}
		r, err := client.Do(req)
		if err != nil {
			return err
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			return fmt.Errorf("status %d", r.StatusCode)
		}
		return nil
	}
	for i := range 2 { // a data file of over 16 MiB, more than the sockets buffer
		if err := put(http.DefaultClient, fmt.Sprint("big-", i)); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(128 << 10) // above the loopback MSS, or reading resumes by zero-window probes
	if _, err := conn.Write([]byte("GET /api/admin/backup HTTP/1.1\r\nHost: localhost\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(conn, 512)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("backup: %d", res.StatusCode)
	}
	// The client reads nothing more; editors keep committing, growing the
	// file past bbolt's current mapping.
	client := &http.Client{Timeout: 30 * time.Second} // a watchdog: a frozen commit fails the test
	for i := range 8 {                                // past storage's initial 64 MiB mapping
		if err := put(client, fmt.Sprint("grow-", i)); err != nil {
			t.Fatalf("commit %d while a backup download is stalled: %v", i, err)
		}
	}
	// The stalled download is cut off: a short body, then the end.
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	n, err := io.Copy(io.Discard, res.Body)
	if !errors.Is(err, io.ErrUnexpectedEOF) || res.ContentLength <= 0 || n >= res.ContentLength {
		t.Fatalf("stalled download: read %d of %d bytes, error %v; want it cut short", n, res.ContentLength, err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
