package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv("COWRITE_TEST_SERVE") == "1" {
		// Re-executed by a test as the server process (see startProcess).
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
		// The cluster's Engine.IO forwarding (fasthttp's client: connection
		// and DNS cache cleaners that live with the process).
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*Client).mCleaner"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*TCPDialer).tcpAddrsClean"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*HostClient).connsCleaner"),
	)
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseConfig(t *testing.T) {
	c, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":3000" || c.Data != "./data" || c.ShutdownTimeout != 10*time.Second || c.LogFormat != "text" {
		t.Fatalf("defaults: %+v", c)
	}

	c, err = parseConfig([]string{"--addr", "127.0.0.1:9"}, env(map[string]string{
		"COWRITE_ADDR": "ignored:1", "COWRITE_DATA": "/tmp/x", "COWRITE_SHUTDOWN_TIMEOUT": "3s", "COWRITE_NO_AUTO_CREATE": "true",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9" || c.Data != "/tmp/x" || c.ShutdownTimeout != 3*time.Second || !c.NoAutoCreate {
		t.Fatalf("flag over env: %+v", c)
	}

	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--log-format", "xml"}, nil, "--log-format"},
		{[]string{"--log-level", "loud"}, nil, "--log-level"},
		{[]string{"--max-body", "0"}, nil, "--max-body"},
		{nil, map[string]string{"COWRITE_MAX_BODY": "lots"}, "COWRITE_MAX_BODY"},
		{[]string{"stray"}, nil, "unexpected argument"},
		{[]string{"--nope"}, nil, "not defined"},
	} {
		_, err := parseConfig(tc.args, env(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: error %v, want it to mention %q", tc.args, tc.env, err, tc.want)
		}
	}

	var help bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, env(nil), &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{"--addr (env COWRITE_ADDR)", `(default ":3000")`, "--data (env COWRITE_DATA)", `(default "./data")`, "--shutdown-timeout", "--cors-origins"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, help.String())
		}
	}
}

// start runs the server in the background on a loopback port and returns
// its base URL, a stop function (graceful shutdown) and run's result.
func start(t *testing.T, cfg *config) (url string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	select {
	case addr := <-ready:
		return "http://" + addr.String(), func() error {
			cancel()
			select {
			case err := <-done:
				http.DefaultClient.CloseIdleConnections()
				return err
			case <-time.After(15 * time.Second):
				t.Fatal("run did not return after cancel")
				return nil
			}
		}
	case err := <-done:
		cancel()
		t.Fatalf("run failed to start: %v", err)
	case <-time.After(15 * time.Second):
		t.Fatal("run did not start")
	}
	return "", nil
}

func testConfig(t *testing.T, dir string) *config {
	c, err := parseConfig([]string{"--addr", "127.0.0.1:0", "--data", dir, "--log-level", "error", "--cors-origins", "https://editor.example"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func TestRunServesAndShutsDown(t *testing.T) {
	dir := t.TempDir()
	url, stop := start(t, testConfig(t, dir))
	if code, _ := get(t, url+"/healthz"); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code, _ := get(t, url+"/readyz"); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	res, err := http.Post(url+"/api/docs", "application/json", strings.NewReader(`{"id":"kept","content":"durable"}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("create %d", res.StatusCode)
	}
	if code, body := get(t, url+"/socket.io/?EIO=4&transport=polling"); code != 200 || !strings.HasPrefix(body, `0{"sid":`) {
		t.Fatalf("engine.io handshake: %d %q", code, body)
	}
	req, _ := http.NewRequest("OPTIONS", url+"/api/docs", nil)
	req.Header.Set("Origin", "https://editor.example")
	req.Header.Set("Access-Control-Request-Method", "PUT")
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://editor.example" {
		t.Errorf("CORS preflight: Access-Control-Allow-Origin %q", got)
	}
	if code, body := get(t, url+"/metrics"); code != 200 || !strings.Contains(body, "cowrite_http_requests_total") {
		t.Errorf("/metrics: %d", code)
	}
	if code, _ := get(t, url+"/"); code != 200 && code != 503 {
		t.Fatalf("frontend / answered %d", code)
	}
	if err := stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	// The data survives a restart on the same directory.
	url, stop = start(t, testConfig(t, dir))
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	if code, body := get(t, url+"/api/docs/kept/content"); code != 200 || body != "durable" {
		t.Fatalf("after restart: %d %q", code, body)
	}
}

func TestRunFailsClearly(t *testing.T) {
	t.Run("port taken", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		cfg := testConfig(t, t.TempDir())
		cfg.Addr = ln.Addr().String()
		err = run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err == nil || !strings.Contains(err.Error(), "cannot listen on "+cfg.Addr) {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("data file locked", func(t *testing.T) {
		dir := t.TempDir()
		_, stop := start(t, testConfig(t, dir))
		defer func() {
			if err := stop(); err != nil {
				t.Error(err)
			}
		}()
		cfg := testConfig(t, dir)
		err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err == nil || !strings.Contains(err.Error(), "is locked") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("bad cors origin", func(t *testing.T) {
		cfg := testConfig(t, t.TempDir())
		cfg.CORSOrigins = "not a url"
		err := run(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err == nil || !strings.Contains(err.Error(), "--cors-origins") {
			t.Fatalf("error %v", err)
		}
	})
	t.Run("data file corrupt", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "cowrite.db"), bytes.Repeat([]byte("not a bolt file "), 512), 0o600); err != nil {
			t.Fatal(err)
		}
		err := run(context.Background(), testConfig(t, dir), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
		if err == nil || !strings.Contains(err.Error(), "corrupt") {
			t.Fatalf("error %v", err)
		}
	})
}

// TestBackupRestore follows docs/self-hosting.md: download an online backup
// from a running server, put it as cowrite.db into a data directory, start
// a server there and find the documents.
func TestBackupRestore(t *testing.T) {
	url, stop := start(t, testConfig(t, t.TempDir()))
	for i, content := range []string{"first", "second 😀"} {
		res, err := http.Post(url+"/api/docs", "application/json", strings.NewReader(fmt.Sprintf(`{"id":"doc-%d","content":%q}`, i, content)))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("create %d", res.StatusCode)
		}
	}
	res, err := http.Post(url+"/api/docs/doc-0/ops", "application/json", strings.NewReader(`{"version":0,"op":[5," edit"]}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	code, backup := get(t, url+"/api/admin/backup")
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if code != 200 || len(backup) == 0 {
		t.Fatalf("backup: %d, %d bytes", code, len(backup))
	}

	restored := t.TempDir()
	if err := os.WriteFile(filepath.Join(restored, "cowrite.db"), []byte(backup), 0o600); err != nil {
		t.Fatal(err)
	}
	url, stop = start(t, testConfig(t, restored))
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	for id, want := range map[string]string{"doc-0": "first edit", "doc-1": "second 😀"} {
		if code, body := get(t, url+"/api/docs/"+id+"/content"); code != 200 || body != want {
			t.Errorf("restored %s: %d %q, want %q", id, code, body, want)
		}
	}
}
