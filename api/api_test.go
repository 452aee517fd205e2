package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/api/sharestore"
	"github.com/cowrite/cowrite/auth"
	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/boltstore"
	"github.com/cowrite/cowrite/sio"
	"github.com/cowrite/cowrite/storage"
	"github.com/gofiber/fiber/v2"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// fasthttp's process-wide date updater and its worker pool's
		// cleaner outlive a shut-down server by design.
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"),
		goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.(*workerPool).Start.func2"),
	)
}

// server is a real cowrite stack on a loopback port: bbolt in a temp dir,
// collab hub, sio server, fiber app with the API routes.
type server struct {
	url string
	hub *collab.Hub
}

func newServer(t *testing.T, opts *api.Options, hubOpts *collab.Options) *server {
	return newServerTB(t, opts, hubOpts)
}

func newServerTB(t testing.TB, opts *api.Options, hubOpts *collab.Options) *server {
	t.Helper()
	s, stop := startServer(t, filepath.Join(t.TempDir(), "cowrite.db"), opts, hubOpts)
	t.Cleanup(stop)
	return s
}

// startServer serves the data file at path until stop is called.
func startServer(t testing.TB, path string, opts *api.Options, hubOpts *collab.Options) (*server, func()) {
	t.Helper()
	db, err := storage.Open(path, &storage.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	io := sio.NewServer(nil)
	feed := api.NewFeed(api.NewBroadcaster(io), nil)
	hub := collab.NewHub(boltstore.New(db), feed, hubOpts)
	var o api.Options
	if opts != nil {
		o = *opts
	}
	if o.Backup == nil {
		o.Backup = db.Backup
	}
	if o.Feed == nil {
		o.Feed = feed
	}
	if o.Shares == nil {
		o.Shares = sharestore.New(db)
	}
	a := api.New(hub, io, &o)
	app := fiber.New(fiber.Config{DisableStartupMessage: true, BodyLimit: 64 << 20})
	io.Mount(app, "/socket.io/")
	a.Register(app)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Listener(ln)
	}()
	stop := func() {
		feed.Close()
		io.Close()
		// fasthttp marks a connection active as soon as it is accepted and
		// waits for active connections to end before Shutdown returns, so a
		// connection the client keeps without ever sending a request on it
		// holds Shutdown until its deadline. net/http's Transport leaves such
		// connections in its idle pool: a dial started for a request that
		// was then served by a freed keep-alive connection (common with
		// several goroutines posting at once). Close the client's idle
		// connections before and during Shutdown — a late dial can still
		// land in the pool — so only real in-flight work delays it.
		http.DefaultClient.CloseIdleConnections()
		shut := make(chan error, 1)
		go func() { shut <- app.ShutdownWithTimeout(10 * time.Second) }()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
	wait:
		for {
			select {
			case err := <-shut:
				if err != nil {
					t.Error(err)
				}
				break wait
			case <-tick.C:
				http.DefaultClient.CloseIdleConnections()
			}
		}
		<-done
		a.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hub.Close(ctx); err != nil {
			t.Error(err)
		}
		if err := db.Close(); err != nil {
			t.Error(err)
		}
		http.DefaultClient.CloseIdleConnections()
	}
	return &server{url: "http://" + ln.Addr().String(), hub: hub}, stop
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// errCode returns error.code of a JSON error body.
func (r response) errCode(t *testing.T) string {
	t.Helper()
	m := r.json(t)
	e, ok := m["error"].(map[string]any)
	if !ok {
		t.Fatalf("body %s has no error object", r.body)
	}
	if msg, _ := e["message"].(string); msg == "" {
		t.Fatalf("error %s has no message", r.body)
	}
	code, _ := e["code"].(string)
	return code
}

func (s *server) do(t *testing.T, method, path string, body any, header ...string) response {
	t.Helper()
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
		ctype = "text/plain; charset=utf-8"
	case []byte:
		rd = bytes.NewReader(b)
		ctype = "application/json"
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
		ctype = "application/json"
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: res.StatusCode, header: res.Header, body: data}
}

func expectStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

func TestProbes(t *testing.T) {
	s := newServer(t, nil, nil)
	expectStatus(t, s.do(t, "GET", "/healthz", nil), 200)
	expectStatus(t, s.do(t, "GET", "/readyz", nil), 200)
}

func TestDocLifecycle(t *testing.T) {
	s := newServer(t, nil, nil)

	r := s.do(t, "POST", "/api/docs", map[string]any{"id": "notes", "title": "Notes", "content": "héllo 😀"})
	expectStatus(t, r, 201)
	doc := r.json(t)
	if doc["id"] != "notes" || doc["title"] != "Notes" || doc["content"] != "héllo 😀" || doc["version"] != 0.0 {
		t.Fatalf("created %v", doc)
	}
	if loc := r.header.Get("Location"); loc != "/api/docs/notes" {
		t.Errorf("Location %q", loc)
	}
	if _, err := time.Parse(time.RFC3339Nano, doc["created"].(string)); err != nil {
		t.Errorf("created: %v", err)
	}

	r = s.do(t, "POST", "/api/docs", map[string]any{"id": "notes"})
	expectStatus(t, r, 409)
	if c := r.errCode(t); c != "conflict" {
		t.Errorf("code %q", c)
	}

	// Random id when none is given; empty body allowed.
	r = s.do(t, "POST", "/api/docs", nil)
	expectStatus(t, r, 201)
	if id, _ := r.json(t)["id"].(string); id == "" {
		t.Fatalf("no id in %s", r.body)
	}

	// Ops: insert "!" at the end (code point 7), then delete the emoji.
	r = s.do(t, "POST", "/api/docs/notes/ops", map[string]any{"version": 0, "op": []any{7, "!"}, "client": "c1", "seq": 1})
	expectStatus(t, r, 200)
	if got := string(r.body); got != `{"version":1,"op":[7,"!"]}` {
		t.Fatalf("post op: %s", got)
	}
	// Concurrent op on version 0 is transformed: delete the emoji.
	r = s.do(t, "POST", "/api/docs/notes/ops", map[string]any{"version": 0, "op": []any{6, map[string]any{"d": 1}}})
	expectStatus(t, r, 200)
	if got := string(r.body); got != `{"version":2,"op":[6,{"d":1}]}` {
		t.Fatalf("post op: %s", got)
	}
	// Duplicate (client, seq): acked with the original version.
	r = s.do(t, "POST", "/api/docs/notes/ops", map[string]any{"version": 0, "op": []any{7, "!"}, "client": "c1", "seq": 1})
	expectStatus(t, r, 200)
	if v := r.json(t)["version"]; v != 1.0 {
		t.Fatalf("duplicate acked as %v", v)
	}

	r = s.do(t, "GET", "/api/docs/notes", nil)
	expectStatus(t, r, 200)
	doc = r.json(t)
	if doc["content"] != "héllo !" || doc["version"] != 2.0 || doc["size"] != float64(len("héllo !")) {
		t.Fatalf("get: %v", doc)
	}
	r = s.do(t, "GET", "/api/docs/notes?version=1", nil)
	expectStatus(t, r, 200)
	if doc = r.json(t); doc["content"] != "héllo 😀!" || doc["version"] != 1.0 {
		t.Fatalf("get at version 1: %v", doc)
	}

	r = s.do(t, "GET", "/api/docs/notes/content", nil)
	expectStatus(t, r, 200)
	if string(r.body) != "héllo !" || r.header.Get("ETag") != `"2"` || r.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("content %q etag %q type %q", r.body, r.header.Get("ETag"), r.header.Get("Content-Type"))
	}
	expectStatus(t, s.do(t, "GET", "/api/docs/notes/content", nil, "If-None-Match", `"2"`), 304)

	// PUT content with If-Match: both quote styles.
	r = s.do(t, "PUT", "/api/docs/notes/content", "hello world", "If-Match", "2")
	expectStatus(t, r, 200)
	if v := r.json(t)["version"]; v != 3.0 {
		t.Fatalf("put: %s", r.body)
	}
	r = s.do(t, "PUT", "/api/docs/notes/content", "hello", "If-Match", `"2"`)
	expectStatus(t, r, 412)
	if c := r.errCode(t); c != "precondition_failed" {
		t.Errorf("code %q", c)
	}
	r = s.do(t, "PUT", "/api/docs/notes/content", "hello", "If-Match", `"3"`)
	expectStatus(t, r, 200)
	if got := s.do(t, "GET", "/api/docs/notes/content", nil); string(got.body) != "hello" || got.header.Get("ETag") != `"4"` {
		t.Fatalf("after put: %q %q", got.body, got.header.Get("ETag"))
	}

	r = s.do(t, "GET", "/api/docs/notes/ops", nil)
	expectStatus(t, r, 200)
	var ops struct {
		Ops []struct {
			Version uint64          `json:"version"`
			Op      json.RawMessage `json:"op"`
			Client  string          `json:"client"`
			Seq     uint64          `json:"seq"`
			Time    time.Time       `json:"time"`
		} `json:"ops"`
	}
	if err := json.Unmarshal(r.body, &ops); err != nil {
		t.Fatal(err)
	}
	if len(ops.Ops) != 4 {
		t.Fatalf("%d ops: %s", len(ops.Ops), r.body)
	}
	for i, o := range ops.Ops {
		if o.Version != uint64(i+1) || o.Time.IsZero() {
			t.Errorf("op %d: %+v", i, o)
		}
	}
	if ops.Ops[0].Client != "c1" || ops.Ops[0].Seq != 1 || string(ops.Ops[0].Op) != `[7,"!"]` {
		t.Errorf("op 1: %+v", ops.Ops[0])
	}
	r = s.do(t, "GET", "/api/docs/notes/ops?from=1&to=3&limit=1", nil)
	expectStatus(t, r, 200)
	if err := json.Unmarshal(r.body, &ops); err != nil {
		t.Fatal(err)
	}
	if len(ops.Ops) != 1 || ops.Ops[0].Version != 2 {
		t.Fatalf("from=1&to=3&limit=1: %s", r.body)
	}
	r = s.do(t, "GET", "/api/docs/notes/ops?from=2&to=2", nil)
	expectStatus(t, r, 200)
	if string(r.body) != `{"ops":[]}` {
		t.Fatalf("empty range: %s", r.body)
	}

	r = s.do(t, "PATCH", "/api/docs/notes", map[string]any{"title": "Renamed"})
	expectStatus(t, r, 200)
	if doc = r.json(t); doc["title"] != "Renamed" || doc["id"] != "notes" {
		t.Fatalf("patch: %v", doc)
	}

	expectStatus(t, s.do(t, "DELETE", "/api/docs/notes", nil), 204)
	r = s.do(t, "GET", "/api/docs/notes", nil)
	expectStatus(t, r, 404)
	if c := r.errCode(t); c != "not_found" {
		t.Errorf("code %q", c)
	}
}

func TestList(t *testing.T) {
	s := newServer(t, nil, nil)
	for i := 0; i < 5; i++ {
		expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": fmt.Sprintf("d%d", i), "content": strings.Repeat("x", i)}), 201)
	}
	var ids []string
	cursor := ""
	for page := 0; page < 10; page++ {
		r := s.do(t, "GET", "/api/docs?limit=2&cursor="+cursor, nil)
		expectStatus(t, r, 200)
		var body struct {
			Docs []collab.DocInfo `json:"docs"`
			Next string           `json:"next_cursor"`
		}
		if err := json.Unmarshal(r.body, &body); err != nil {
			t.Fatal(err)
		}
		if len(body.Docs) > 2 {
			t.Fatalf("page of %d", len(body.Docs))
		}
		for _, d := range body.Docs {
			ids = append(ids, d.ID)
			if want := int64(len(d.ID) - 1); d.ID[0] == 'd' && d.Size != int64(d.ID[1]-'0') {
				t.Errorf("%s size %d (want %d)", d.ID, d.Size, want)
			}
		}
		if body.Next == "" {
			break
		}
		cursor = body.Next
	}
	if got := strings.Join(ids, ","); got != "d0,d1,d2,d3,d4" {
		t.Fatalf("listed %s", got)
	}
	r := s.do(t, "GET", "/api/docs", nil)
	expectStatus(t, r, 200)
	if !strings.HasPrefix(string(r.body), `{"docs":[{`) {
		t.Fatalf("list: %s", r.body)
	}
}

func TestErrors(t *testing.T) {
	s := newServer(t, &api.Options{MaxBodyBytes: 1 << 10}, &collab.Options{MaxDocBytes: 100})
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d", "content": "abc"}), 201)

	cases := []struct {
		name, method, path string
		body               any
		header             []string
		status             int
		code               string
	}{
		{"list bad limit", "GET", "/api/docs?limit=0", nil, nil, 400, "bad_request"},
		{"list limit not a number", "GET", "/api/docs?limit=abc", nil, nil, 400, "bad_request"},
		{"create not json", "POST", "/api/docs", []byte(`{"id":`), nil, 400, "bad_request"},
		{"create not an object", "POST", "/api/docs", []byte(`[1]`), nil, 400, "bad_request"},
		{"create id wrong type", "POST", "/api/docs", []byte(`{"id":5}`), nil, 400, "bad_request"},
		{"create bad id", "POST", "/api/docs", map[string]any{"id": "a/b"}, nil, 400, "bad_request"},
		{"create title wrong type", "POST", "/api/docs", []byte(`{"title":[]}`), nil, 400, "bad_request"},
		{"create too large content", "POST", "/api/docs", map[string]any{"content": strings.Repeat("x", 200)}, nil, 413, "too_large"},
		{"body over limit", "POST", "/api/docs", map[string]any{"content": strings.Repeat("x", 2000)}, nil, 413, "too_large"},
		{"get missing", "GET", "/api/docs/nope", nil, nil, 404, "not_found"},
		{"get bad id", "GET", "/api/docs/a%20b", nil, nil, 400, "bad_request"},
		{"get bad version", "GET", "/api/docs/d?version=-1", nil, nil, 400, "bad_request"},
		{"get version ahead", "GET", "/api/docs/d?version=9", nil, nil, 400, "version_ahead"},
		{"patch no title", "PATCH", "/api/docs/d", map[string]any{}, nil, 400, "bad_request"},
		{"patch missing", "PATCH", "/api/docs/nope", map[string]any{"title": "x"}, nil, 404, "not_found"},
		{"delete missing", "DELETE", "/api/docs/nope", nil, nil, 404, "not_found"},
		{"content missing", "GET", "/api/docs/nope/content", nil, nil, 404, "not_found"},
		{"put bad if-match", "PUT", "/api/docs/d/content", "x", []string{"If-Match", "abc"}, 400, "bad_request"},
		{"put invalid utf-8", "PUT", "/api/docs/d/content", "\xff", nil, 400, "bad_request"},
		{"put too large", "PUT", "/api/docs/d/content", strings.Repeat("y", 101), nil, 413, "too_large"},
		{"op missing version", "POST", "/api/docs/d/ops", map[string]any{"op": []any{"x"}}, nil, 400, "bad_request"},
		{"op negative version", "POST", "/api/docs/d/ops", map[string]any{"version": -1, "op": []any{"x"}}, nil, 400, "bad_request"},
		{"op fractional version", "POST", "/api/docs/d/ops", map[string]any{"version": 0.5, "op": []any{"x"}}, nil, 400, "bad_request"},
		{"op missing op", "POST", "/api/docs/d/ops", map[string]any{"version": 0}, nil, 400, "bad_request"},
		{"op not an array", "POST", "/api/docs/d/ops", map[string]any{"version": 0, "op": "x"}, nil, 400, "invalid_op"},
		{"op null", "POST", "/api/docs/d/ops", []byte(`{"version":0,"op":null}`), nil, 400, "invalid_op"},
		{"op with a lone surrogate", "POST", "/api/docs/d/ops", []byte(`{"version":0,"op":["a\ud800b"]}`), nil, 400, "bad_request"},
		{"op with a lone low surrogate", "POST", "/api/docs/d/ops", []byte(`{"version":0,"op":["\udc00"]}`), nil, 400, "bad_request"},
		{"op with invalid UTF-8", "POST", "/api/docs/d/ops", []byte("{\"version\":0,\"op\":[\"\xff\"]}"), nil, 400, "bad_request"},
		{"title with a lone surrogate", "PATCH", "/api/docs/d", []byte(`{"title":"\ud83d"}`), nil, 400, "bad_request"},
		{"op trailing skip", "POST", "/api/docs/d/ops", map[string]any{"version": 0, "op": []any{1}}, nil, 400, "invalid_op"},
		{"op past the end", "POST", "/api/docs/d/ops", map[string]any{"version": 0, "op": []any{9, "x"}}, nil, 400, "invalid_op"},
		{"op bad delete text", "POST", "/api/docs/d/ops", map[string]any{"version": 0, "op": []any{map[string]any{"d": "zz"}}}, nil, 400, "invalid_op"},
		{"op version ahead", "POST", "/api/docs/d/ops", map[string]any{"version": 5, "op": []any{"x"}}, nil, 400, "version_ahead"},
		{"op client wrong type", "POST", "/api/docs/d/ops", map[string]any{"version": 0, "op": []any{"x"}, "client": 1, "seq": 1}, nil, 400, "bad_request"},
		{"op seq zero", "POST", "/api/docs/d/ops", map[string]any{"version": 0, "op": []any{"x"}, "client": "c", "seq": 0}, nil, 400, "bad_request"},
		{"op missing doc", "POST", "/api/docs/nope/ops", map[string]any{"version": 0, "op": []any{"x"}}, nil, 404, "not_found"},
		{"ops bad from", "GET", "/api/docs/d/ops?from=x", nil, nil, 400, "bad_request"},
		{"ops to below from", "GET", "/api/docs/d/ops?from=3&to=1", nil, nil, 400, "bad_request"},
		{"ops to ahead", "GET", "/api/docs/d/ops?to=7", nil, nil, 400, "version_ahead"},
		{"ops bad limit", "GET", "/api/docs/d/ops?limit=100000", nil, nil, 400, "bad_request"},
		{"unknown api route", "GET", "/api/nothing", nil, nil, 404, "not_found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, tc.method, tc.path, tc.body, tc.header...)
			expectStatus(t, r, tc.status)
			if c := r.errCode(t); c != tc.code {
				t.Errorf("code %q, want %q (%s)", c, tc.code, r.body)
			}
		})
	}

	// A surrogate pair is fine.
	expectStatus(t, s.do(t, "POST", "/api/docs/d/ops", []byte(`{"version":0,"op":["\ud83d\ude00"]}`)), 200)
}

// TestRESTRateLimit: REST ops are limited per caller (the remote address in
// open mode), whatever client ids they carry, with or without one.
func TestRESTRateLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client func(i int) map[string]any
	}{
		{"one client id", func(i int) map[string]any { return map[string]any{"client": "fast", "seq": i} }},
		{"a fresh client id per op", func(i int) map[string]any { return map[string]any{"client": fmt.Sprint("c", i), "seq": 1} }},
		{"no client id", func(int) map[string]any { return map[string]any{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, nil, &collab.Options{OpsPerSecond: 1})
			expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d"}), 201)
			var last response
			accepted := 0
			for i := 1; i <= 10; i++ {
				body := tc.client(i)
				body["version"], body["op"] = accepted, []any{"r"}
				if last = s.do(t, "POST", "/api/docs/d/ops", body); last.status != 200 {
					break
				}
				accepted++
			}
			expectStatus(t, last, 429)
			if c := last.errCode(t); c != "rate_limited" {
				t.Errorf("code %q", c)
			}
			if accepted > 2 { // the burst is twice the rate
				t.Errorf("%d ops accepted at 1/s", accepted)
			}
		})
	}
}

func TestAuthREST(t *testing.T) {
	secret := []byte(strings.Repeat("k", 32))
	authn, err := auth.New(&auth.Options{Mode: auth.Token, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	var mu sync.Mutex
	s := newServer(t, &api.Options{Auth: authn, OnError: func(c string) { mu.Lock(); codes = append(codes, c); mu.Unlock() }}, nil)
	mint := func(c auth.Claims) string {
		tok, err := auth.Mint(secret, c, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	admin := mint(auth.Claims{Subject: "root", Admin: true})
	editor := mint(auth.Claims{Subject: "ed", Docs: map[string]auth.Role{"team-*": auth.RoleEditor}})
	viewer := mint(auth.Claims{Subject: "vi", Docs: map[string]auth.Role{"team-a": auth.RoleViewer}})

	r := s.do(t, "GET", "/api/docs", nil)
	expectStatus(t, r, 401)
	if c := r.errCode(t); c != "unauthorized" {
		t.Errorf("code %q", c)
	}
	expectStatus(t, s.do(t, "GET", "/api/docs", nil, "Authorization", "Bearer garbage"), 401)
	expectStatus(t, s.do(t, "GET", "/api/docs", nil, "Authorization", admin), 200)
	expectStatus(t, s.do(t, "GET", "/api/docs", nil, "Authorization", editor), 403)

	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "team-a"}, "Authorization", editor), 201)
	r = s.do(t, "POST", "/api/docs", map[string]any{"id": "other"}, "Authorization", editor)
	expectStatus(t, r, 403)
	if c := r.errCode(t); c != "forbidden" {
		t.Errorf("code %q", c)
	}
	expectStatus(t, s.do(t, "POST", "/api/docs/team-a/ops", map[string]any{"version": 0, "op": []any{"x"}}, "Authorization", editor), 200)
	expectStatus(t, s.do(t, "GET", "/api/docs/team-a/content", nil, "Authorization", viewer), 200)
	expectStatus(t, s.do(t, "PUT", "/api/docs/team-a/content", "y", "Authorization", viewer), 403)
	expectStatus(t, s.do(t, "POST", "/api/docs/team-a/ops", map[string]any{"version": 1, "op": []any{"x"}}, "Authorization", viewer), 403)
	expectStatus(t, s.do(t, "DELETE", "/api/docs/team-a", nil, "Authorization", editor), 403)
	expectStatus(t, s.do(t, "DELETE", "/api/docs/team-a", nil, "Authorization", admin), 204)

	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(codes, "forbidden") {
		t.Errorf("OnError saw %v", codes)
	}
}

func TestInternalErrorIsGeneric(t *testing.T) {
	s := newServer(t, nil, nil)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d"}), 201)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.hub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	r := s.do(t, "POST", "/api/docs/d/ops", map[string]any{"version": 0, "op": []any{"x"}})
	expectStatus(t, r, 500)
	if c := r.errCode(t); c != "internal" {
		t.Errorf("code %q", c)
	}
	if strings.Contains(string(r.body), "hub") || strings.Contains(string(r.body), "storage") {
		t.Errorf("internal details leaked: %s", r.body)
	}
}
