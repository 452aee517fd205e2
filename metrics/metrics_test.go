package metrics

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"
)

// fasthttp starts one process-wide goroutine that refreshes its Date header
// forever; it is not ours to stop.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/valyala/fasthttp.updateServerDate.func1"))
}

// scrape fetches h and parses the text exposition.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape status %d: %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(rec.Body)
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	return fams
}

// find returns the metric of family name whose labels include want.
func find(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	f, ok := fams[name]
	if !ok {
		t.Fatalf("series %s missing from scrape", name)
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no %s series with labels %v", name, want)
	return nil
}

func gauge(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	return find(t, fams, name, labels).GetGauge().GetValue()
}

func counter(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	return find(t, fams, name, labels).GetCounter().GetValue()
}

func histogram(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels map[string]string) (count uint64, sum float64) {
	t.Helper()
	h := find(t, fams, name, labels).GetHistogram()
	return h.GetSampleCount(), h.GetSampleSum()
}

func TestSeriesMove(t *testing.T) {
	m := New()
	before := scrape(t, m.Handler())
	if v := gauge(t, before, "cowrite_sessions", map[string]string{"transport": "websocket"}); v != 0 {
		t.Fatalf("fresh sessions gauge = %v", v)
	}
	if v := counter(t, before, "cowrite_errors_total", map[string]string{"code": "invalid_op"}); v != 0 {
		t.Fatalf("fresh errors counter = %v", v)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := before[name]; !ok {
			t.Errorf("runtime/process series %s missing", name)
		}
	}

	m.SessionOpened(TransportPolling)
	m.SessionOpened(TransportPolling)
	m.SessionOpened(TransportPolling)
	m.SessionUpgraded(TransportPolling, TransportWebSocket)
	m.SessionClosed(TransportPolling)
	m.SessionOpened("carrier-pigeon")
	m.SocketConnected()
	m.SocketConnected()
	m.SocketDisconnected()
	m.AddRooms(1)
	m.AddRooms(1)
	m.AddLoadedDocs(3)
	m.AddLoadedDocs(-1)
	m.ObserveCommit(5, 2*time.Millisecond)
	m.ObserveCommit(1, 4*time.Millisecond)
	m.ObserveCommit(-1, time.Second) // ignored
	m.ObserveTransform(0)
	m.ObserveTransform(7)
	m.ObserveBroadcast(3)
	m.SlowConsumerDisconnected()
	m.Error("invalid_op")
	m.Error("invalid_op")
	m.Error("forbidden")
	m.Error("made-up code")

	fams := scrape(t, m.Handler())
	gauges := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cowrite_sessions", map[string]string{"transport": "polling"}, 1},
		{"cowrite_sessions", map[string]string{"transport": "websocket"}, 1},
		{"cowrite_sessions", map[string]string{"transport": "other"}, 1},
		{"cowrite_sockets", nil, 1},
		{"cowrite_rooms", nil, 2},
		{"cowrite_documents_loaded", nil, 2},
	}
	for _, g := range gauges {
		if v := gauge(t, fams, g.name, g.labels); v != g.want {
			t.Errorf("%s%v = %v, want %v", g.name, g.labels, v, g.want)
		}
	}
	counters := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cowrite_ops_committed_total", nil, 6},
		{"cowrite_slow_consumer_disconnects_total", nil, 1},
		{"cowrite_errors_total", map[string]string{"code": "invalid_op"}, 2},
		{"cowrite_errors_total", map[string]string{"code": "forbidden"}, 1},
		{"cowrite_errors_total", map[string]string{"code": "other"}, 1},
		{"cowrite_errors_total", map[string]string{"code": "not_found"}, 0},
	}
	for _, c := range counters {
		if v := counter(t, fams, c.name, c.labels); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	hists := []struct {
		name  string
		count uint64
		sum   float64
	}{
		{"cowrite_commit_batch_ops", 2, 6},
		{"cowrite_commit_duration_seconds", 2, 0.006},
		{"cowrite_transform_depth", 2, 7},
		{"cowrite_broadcast_fanout", 1, 3},
	}
	for _, h := range hists {
		n, s := histogram(t, fams, h.name, nil)
		if n != h.count || s < h.sum-1e-9 || s > h.sum+1e-9 {
			t.Errorf("%s count=%d sum=%v, want %d, %v", h.name, n, s, h.count, h.sum)
		}
	}
}

func TestSample(t *testing.T) {
	m := New()
	m.AddLoadedDocs(5)
	n := 42
	m.SampleLoadedDocs(func() int { return n })
	m.SampleRooms(func() int { return 7 })
	m.SampleSockets(func() int { return 9 })
	fams := scrape(t, m.Handler())
	if v := gauge(t, fams, "cowrite_documents_loaded", nil); v != 42 {
		t.Fatalf("sampled documents_loaded = %v, want 42", v)
	}
	if v := gauge(t, fams, "cowrite_rooms", nil); v != 7 {
		t.Fatalf("sampled rooms = %v, want 7", v)
	}
	if v := gauge(t, fams, "cowrite_sockets", nil); v != 9 {
		t.Fatalf("sampled sockets = %v, want 9", v)
	}
	n = 43
	if v := gauge(t, scrape(t, m.Handler()), "cowrite_documents_loaded", nil); v != 43 {
		t.Fatalf("sample not re-read at scrape: %v", v)
	}
	m.SampleLoadedDocs(nil)
	if v := gauge(t, scrape(t, m.Handler()), "cowrite_documents_loaded", nil); v != 5 {
		t.Fatalf("after SampleLoadedDocs(nil) = %v, want the count 5", v)
	}
}

func TestNilIsNoop(t *testing.T) {
	var m *Metrics
	m.SessionOpened(TransportPolling)
	m.SessionClosed(TransportPolling)
	m.SessionUpgraded(TransportPolling, TransportWebSocket)
	m.SocketConnected()
	m.SocketDisconnected()
	m.AddRooms(1)
	m.AddLoadedDocs(1)
	m.SampleSockets(func() int { return 1 })
	m.SampleRooms(func() int { return 1 })
	m.SampleLoadedDocs(func() int { return 1 })
	m.ObserveCommit(1, time.Millisecond)
	m.ObserveTransform(1)
	m.ObserveBroadcast(1)
	m.SlowConsumerDisconnected()
	m.Error("internal")
	if m.Registry() != nil {
		t.Fatal("nil Metrics has a registry")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Fatalf("nil Handler status %d, want 404", rec.Code)
	}
	app := fiber.New()
	app.Use(m.FiberMiddleware())
	app.Get("/x", func(c *fiber.Ctx) error { return c.SendString("x") })
	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/x", nil))
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("nil middleware broke the chain: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestNewIsIndependent(t *testing.T) {
	a, b := New(), New() // must not panic on duplicate registration
	a.Error("internal")
	if v := counter(t, scrape(t, b.Handler()), "cowrite_errors_total", map[string]string{"code": "internal"}); v != 0 {
		t.Fatalf("metrics leaked between instances: %v", v)
	}
}

func TestFiber(t *testing.T) {
	m := New()
	app := fiber.New()
	app.Use(m.FiberMiddleware())
	app.Get("/metrics", m.FiberHandler())
	app.Get("/api/docs/:id", func(c *fiber.Ctx) error { return c.SendString(c.Params("id")) })
	app.Delete("/api/docs/:id", func(c *fiber.Ctx) error { return c.Status(http.StatusForbidden).SendString("no") })
	app.Post("/api/docs", func(c *fiber.Ctx) error { return fiber.NewError(http.StatusConflict, "exists") })
	app.Put("/boom", func(c *fiber.Ctx) error { return errors.New("boom") })

	do := func(method, path string, want int) {
		t.Helper()
		resp, err := app.Test(httptest.NewRequest(method, path, nil))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d, want %d", method, path, resp.StatusCode, want)
		}
	}
	do(http.MethodGet, "/api/docs/a", 200)
	do(http.MethodGet, "/api/docs/b", 200)
	do(http.MethodDelete, "/api/docs/a", 403)
	do(http.MethodPost, "/api/docs", 409)
	do(http.MethodPut, "/boom", 500)
	do(http.MethodGet, "/nowhere/1", 404)
	do(http.MethodGet, "/nowhere/2", 404)

	resp, err := app.Test(httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("metrics content type %q", ct)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	reqs := []struct {
		route, method, status string
		want                  float64
	}{
		{"/api/docs/:id", "GET", "200", 2},
		{"/api/docs/:id", "DELETE", "403", 1},
		{"/api/docs", "POST", "409", 1},
		{"/boom", "PUT", "500", 1},
		{"unmatched", "GET", "404", 2},
	}
	for _, r := range reqs {
		labels := map[string]string{"route": r.route, "method": r.method, "status": r.status}
		if v := counter(t, fams, "cowrite_http_requests_total", labels); v != r.want {
			t.Errorf("http_requests_total%v = %v, want %v", labels, v, r.want)
		}
	}
	if n, _ := histogram(t, fams, "cowrite_http_request_duration_seconds", map[string]string{"route": "/api/docs/:id", "method": "GET"}); n != 2 {
		t.Errorf("duration count = %d, want 2", n)
	}
	for _, mf := range fams["cowrite_http_requests_total"].GetMetric() {
		for _, lp := range mf.GetLabel() {
			if strings.HasPrefix(lp.GetValue(), "/nowhere") || lp.GetValue() == "/api/docs/a" {
				t.Errorf("raw path %q used as a label", lp.GetValue())
			}
		}
	}
}
