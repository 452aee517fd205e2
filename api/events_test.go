package api_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/auth"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct {
	id, event, data string
}

// sseStream reads a text/event-stream response.
type sseStream struct {
	res *http.Response
	rd  *bufio.Reader
}

func openEvents(t *testing.T, url string, header ...string) *sseStream {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
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
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		res.Body.Close()
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &sseStream{res: res, rd: bufio.NewReader(res.Body)}
	t.Cleanup(func() { res.Body.Close() })
	return s
}

// next returns the next event (comments and the retry line skipped); ok is
// false at the end of the stream.
func (s *sseStream) next(t *testing.T) (ev sseEvent, ok bool) {
	t.Helper()
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			return ev, false
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.event != "" {
				return ev, true
			}
		case strings.HasPrefix(line, ":"), strings.HasPrefix(line, "retry:"):
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		default:
			t.Fatalf("unexpected line %q", line)
		}
	}
}

// nextOp returns the next event, which must be an op, and its version.
func (s *sseStream) nextOp(t *testing.T) (uint64, map[string]any) {
	t.Helper()
	ev, ok := s.next(t)
	if !ok || ev.event != "op" {
		t.Fatalf("got %+v (open %v), want an op event", ev, ok)
	}
	var data map[string]any
	if err := json.Unmarshal([]byte(ev.data), &data); err != nil {
		t.Fatal(err)
	}
	v, err := strconv.ParseUint(ev.id, 10, 64)
	if err != nil || uint64(data["version"].(float64)) != v {
		t.Fatalf("event id %q, data %s", ev.id, ev.data)
	}
	if _, ok := data["time"].(string); !ok {
		t.Fatalf("no time in %s", ev.data)
	}
	return v, data
}

func (s *server) appendText(t *testing.T, doc string, version uint64, text string) uint64 {
	t.Helper()
	r := s.do(t, "POST", "/api/docs/"+doc+"/ops", map[string]any{"version": version, "op": []any{text}})
	expectStatus(t, r, 200)
	return uint64(r.json(t)["version"].(float64))
}

func TestEventsFromHeadAndResume(t *testing.T) {
	s := newServer(t, nil, nil)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d"}), 201)
	for v := uint64(0); v < 3; v++ {
		s.appendText(t, "d", v, "x")
	}
	live := openEvents(t, s.url+"/api/docs/d/events")
	s.appendText(t, "d", 3, "y")
	if v, data := live.nextOp(t); v != 4 || fmt.Sprint(data["op"]) != "[y]" {
		t.Fatalf("from head: first event %d %v, want version 4", v, data)
	}

	// Resume from 1 while ops keep coming: 2, 3, ... exactly once each.
	resumed := openEvents(t, s.url+"/api/docs/d/events", "Last-Event-ID", "1")
	byQuery := openEvents(t, s.url+"/api/docs/d/events?from=1")
	const last = 40
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for v := uint64(4); v < last; v++ {
			r := s.do(t, "POST", "/api/docs/d/ops", map[string]any{"version": v, "op": []any{"z"}})
			if r.status != 200 {
				t.Errorf("post: %d %s", r.status, r.body)
				return
			}
		}
	}()
	for _, st := range []*sseStream{resumed, byQuery} {
		for want := uint64(2); want <= last; want++ {
			if v, _ := st.nextOp(t); v != want {
				t.Fatalf("resumed stream: version %d, want %d", v, want)
			}
		}
	}
	for want := uint64(5); want <= last; want++ {
		if v, _ := live.nextOp(t); v != want {
			t.Fatalf("live stream: version %d, want %d", v, want)
		}
	}
	wg.Wait()
}

func TestEventsErrors(t *testing.T) {
	s := newServer(t, nil, nil)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d"}), 201)
	s.appendText(t, "d", 0, "x")
	for _, tc := range []struct {
		name, path string
		header     []string
		status     int
		code       string
	}{
		{"beyond head", "/api/docs/d/events", []string{"Last-Event-ID", "2"}, 400, "version_ahead"},
		{"from beyond head", "/api/docs/d/events?from=9", nil, 400, "version_ahead"},
		{"not a version", "/api/docs/d/events", []string{"Last-Event-ID", "x"}, 400, "bad_request"},
		{"negative from", "/api/docs/d/events?from=-1", nil, 400, "bad_request"},
		{"missing doc", "/api/docs/nope/events", nil, 404, "not_found"},
		{"bad id", "/api/docs/a%20b/events", nil, 400, "bad_request"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.do(t, "GET", tc.path, nil, tc.header...)
			expectStatus(t, r, tc.status)
			if c := r.errCode(t); c != tc.code {
				t.Fatalf("code %q, want %q", c, tc.code)
			}
		})
	}
}

func TestEventsDeleted(t *testing.T) {
	s := newServer(t, nil, nil)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d"}), 201)
	st := openEvents(t, s.url+"/api/docs/d/events?from=0")
	s.appendText(t, "d", 0, "x")
	if v, _ := st.nextOp(t); v != 1 {
		t.Fatalf("version %d", v)
	}
	expectStatus(t, s.do(t, "DELETE", "/api/docs/d", nil), 204)
	ev, ok := st.next(t)
	if !ok || ev.event != "deleted" || ev.data != `{"doc":"d"}` {
		t.Fatalf("got %+v, want deleted {doc}", ev)
	}
	if ev, ok := st.next(t); ok {
		t.Fatalf("stream went on after deleted: %+v", ev)
	}
}

// TestEventsAfterRestart: a stream resumed on a restarted server replays the
// missing ops from the op log, then goes live.
func TestEventsAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cowrite.db")
	s, stop := startServer(t, path, nil, nil)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d", "content": "start"}), 201)
	for v := uint64(0); v < 5; v++ {
		s.appendText(t, "d", v, strconv.FormatUint(v, 10))
	}
	stop()
	s, stop = startServer(t, path, nil, nil)
	defer stop()
	st := openEvents(t, s.url+"/api/docs/d/events", "Last-Event-ID", "2")
	for want := uint64(3); want <= 5; want++ {
		v, data := st.nextOp(t)
		if v != want || fmt.Sprint(data["op"]) != fmt.Sprintf("[%d]", want-1) {
			t.Fatalf("replayed %d %v, want version %d", v, data["op"], want)
		}
	}
	s.appendText(t, "d", 5, "live")
	if v, _ := st.nextOp(t); v != 6 {
		t.Fatalf("live version %d, want 6", v)
	}
}

// TestPatchContentMerges: edits of an old copy merge with what happened
// since instead of overwriting it, including many at once.
func TestPatchContentMerges(t *testing.T) {
	s := newServer(t, nil, nil)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d", "content": "alpha beta gamma"}), 201)
	// Someone else appends while the agent edits its copy of version 0.
	s.appendText(t, "d", 0, ">> ")
	r := s.do(t, "PATCH", "/api/docs/d/content", map[string]any{"version": 0, "content": "alpha BETA gamma"})
	expectStatus(t, r, 200)
	if got := s.do(t, "GET", "/api/docs/d/content", nil); string(got.body) != ">> alpha BETA gamma" {
		t.Fatalf("content %q, want both edits", got.body)
	}
	// Concurrent agents, all from version 2, each changing its own word.
	words := []string{"alpha", "BETA", "gamma"}
	var wg sync.WaitGroup
	for i := range words {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := append([]string(nil), words...)
			w[i] = strings.ToUpper(w[i]) + "!"
			r := s.do(t, "PATCH", "/api/docs/d/content", map[string]any{"version": 2, "content": ">> " + strings.Join(w, " ")})
			if r.status != 200 {
				t.Errorf("patch %d: %d %s", i, r.status, r.body)
			}
		}()
	}
	wg.Wait()
	if got := s.do(t, "GET", "/api/docs/d/content", nil); string(got.body) != ">> ALPHA! BETA! GAMMA!" {
		t.Fatalf("content %q, want every agent's edit", got.body)
	}
	// Unchanged content commits nothing.
	r = s.do(t, "PATCH", "/api/docs/d/content", map[string]any{"version": 0, "content": "alpha beta gamma"})
	expectStatus(t, r, 200)
	if m := r.json(t); m["version"].(float64) != 5 || fmt.Sprint(m["op"]) != "[]" {
		t.Fatalf("no-op patch answered %s", r.body)
	}
	for _, tc := range []struct {
		body any
		code string
	}{
		{map[string]any{"content": "x"}, "bad_request"},
		{map[string]any{"version": 0}, "bad_request"},
		{map[string]any{"version": 99, "content": "x"}, "version_ahead"},
		{map[string]any{"version": 0, "content": 5}, "bad_request"},
		{map[string]any{"version": 0, "content": "x", "client": "c"}, "bad_request"},
	} {
		r := s.do(t, "PATCH", "/api/docs/d/content", tc.body)
		if c := r.errCode(t); c != tc.code {
			t.Fatalf("PATCH %v: %s, want %s", tc.body, r.body, tc.code)
		}
	}
}

// TestEventsAuth: the feed is a read (viewer); PATCH content is a write;
// the description and its page are public.
func TestEventsAuth(t *testing.T) {
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
	editor := mint(auth.Claims{Subject: "ed", Docs: map[string]auth.Role{"a": auth.RoleEditor}})
	viewer := mint(auth.Claims{Subject: "vi", Docs: map[string]auth.Role{"a": auth.RoleViewer}})
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "a"}, "Authorization", editor), 201)

	expectStatus(t, s.do(t, "GET", "/api/docs/a/events", nil), 401)
	expectStatus(t, s.do(t, "GET", "/api/docs/a/events?from=5", nil, "Authorization", mint(auth.Claims{Subject: "x", Docs: map[string]auth.Role{"b": auth.RoleViewer}})), 403)
	st := openEvents(t, s.url+"/api/docs/a/events?from=0", "Authorization", viewer)
	expectStatus(t, s.do(t, "PATCH", "/api/docs/a/content", map[string]any{"version": 0, "content": "v"}, "Authorization", viewer), 403)
	expectStatus(t, s.do(t, "PATCH", "/api/docs/a/content", map[string]any{"version": 0, "content": "e"}, "Authorization", editor), 200)
	if v, data := st.nextOp(t); v != 1 || fmt.Sprint(data["op"]) != "[e]" {
		t.Fatalf("viewer's stream: %d %v", v, data)
	}
	expectStatus(t, s.do(t, "GET", "/api/openapi.json", nil), 200)
	expectStatus(t, s.do(t, "GET", "/api/reference", nil), 200)
}
