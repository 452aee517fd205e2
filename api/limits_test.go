package api_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/cowrite/cowrite/api"
	"github.com/cowrite/cowrite/collab"
)

// TestLimitsRoute: GET /api/limits reports the limits in force, with the
// defaults filled in.
func TestLimitsRoute(t *testing.T) {
	s := newServer(t, &api.Options{MaxBodyBytes: 5000}, &collab.Options{MaxOpBytes: 100, MaxTitleBytes: 7})
	r := s.do(t, "GET", "/api/limits", nil)
	expectStatus(t, r, 200)
	var got map[string]float64
	if err := json.Unmarshal(r.body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{
		"maxOpBytes": 100, "maxDocBytes": collab.DefaultMaxDocBytes, "maxTitleLength": 7,
		"maxClientIdLength": collab.DefaultMaxClientIDBytes, "maxSelectionRanges": collab.DefaultMaxSelectionRanges,
		"maxPayloadBytes": api.DefaultMaxPayloadBytes, "maxBodyBytes": 5000, "maxDocIdLength": collab.MaxDocIDBytes,
		"opsPerSecond": collab.DefaultOpsPerSecond, "maxCollaborators": collab.DefaultMaxCollaborators,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %g, want %g (all: %s)", k, got[k], v, r.body)
		}
	}
	if len(got) != len(want) {
		t.Errorf("keys %s, want %v", r.body, want)
	}
}

// TestLimitBoundaries: for each limit, a value at the limit is accepted and
// one past it is refused with the limit's code, at the edge the limit is
// checked (REST and Socket.IO alike).
func TestLimitBoundaries(t *testing.T) {
	const (
		opLimit    = 100
		docLimit   = 200
		titleLimit = 20
		clientLim  = 16
		selLimit   = 5
		bodyLimit  = 300
	)
	s := newServer(t, &api.Options{MaxBodyBytes: bodyLimit}, &collab.Options{MaxOpBytes: opLimit, MaxDocBytes: docLimit,
		MaxTitleBytes: titleLimit, MaxClientIDBytes: clientLim, MaxSelectionRanges: selLimit, OpsPerSecond: -1})
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d"}), 201)
	version := 0
	post := func(body map[string]any) response {
		body["version"] = version
		r := s.do(t, "POST", "/api/docs/d/ops", body)
		if r.status == 200 {
			version++
		}
		return r
	}
	check := func(name string, r response, code string) {
		t.Helper()
		if code == "" {
			if r.status != 200 && r.status != 201 {
				t.Errorf("%s: status %d %s, want accepted", name, r.status, r.body)
			}
			return
		}
		if r.status < 400 || r.errCode(t) != code {
			t.Errorf("%s: status %d %s, want %s", name, r.status, r.body, code)
		}
	}

	// maxOpBytes: an insert of n characters is about n+5 bytes (["…"]).
	check("op at limit", post(map[string]any{"op": []any{strings.Repeat("a", opLimit-5)}}), "")
	check("op over limit", post(map[string]any{"op": []any{strings.Repeat("a", opLimit-4)}}), "too_large")

	// maxDocBytes: the content of a new document, then an op that grows it.
	check("doc at limit", s.do(t, "POST", "/api/docs", map[string]any{"id": "big", "content": strings.Repeat("b", docLimit)}), "")
	check("doc over limit", s.do(t, "POST", "/api/docs", map[string]any{"content": strings.Repeat("b", docLimit+1)}), "too_large")
	check("op over doc limit", s.do(t, "POST", "/api/docs/big/ops", map[string]any{"version": 0, "op": []any{"b"}}), "too_large")

	// maxTitleLength, on create and rename.
	check("title at limit", s.do(t, "PATCH", "/api/docs/d", map[string]any{"title": strings.Repeat("t", titleLimit)}), "")
	check("title over limit", s.do(t, "PATCH", "/api/docs/d", map[string]any{"title": strings.Repeat("t", titleLimit+1)}), "bad_request")
	check("create title over limit", s.do(t, "POST", "/api/docs", map[string]any{"title": strings.Repeat("é", titleLimit/2+1)}), "bad_request")

	// maxClientIdLength, over REST and doc:join.
	check("client at limit", post(map[string]any{"op": []any{"c"}, "client": strings.Repeat("c", clientLim), "seq": 1}), "")
	check("client over limit", post(map[string]any{"op": []any{"c"}, "client": strings.Repeat("c", clientLim+1), "seq": 1}), "bad_request")
	sock := dial(t, s, "")
	if got := sock.call("doc:join", fmt.Sprintf(`{"doc":"d","client":%q}`, strings.Repeat("j", clientLim+1))); errCodeOf(got) != "bad_request" {
		t.Errorf("join with a long client id: %v", got)
	}
	if got := sock.call("doc:join", fmt.Sprintf(`{"doc":"d","client":%q}`, strings.Repeat("j", clientLim))); got["ok"] != true {
		t.Fatalf("join: %v", got)
	}
	v := int(sock.call("doc:join", `{"doc":"d","client":"jj"}`)["version"].(float64))

	// maxSelectionRanges over doc:presence.
	sel := func(n int) string {
		r := make([]string, n)
		for i := range r {
			r[i] = `{"anchor":0,"head":1}`
		}
		return fmt.Sprintf(`{"doc":"d","version":%d,"selection":[%s]}`, v, strings.Join(r, ","))
	}
	if got := sock.call("doc:presence", sel(selLimit)); got["ok"] != true {
		t.Errorf("presence at limit: %v", got)
	}
	if got := sock.call("doc:presence", sel(selLimit+1)); errCodeOf(got) != "bad_request" {
		t.Errorf("presence over limit: %v", got)
	}

	// maxBodyBytes: a JSON body of exactly n bytes is read, n+1 is not.
	pad := func(n int) []byte {
		b := []byte(`{"title":"x","pad":""}`)
		return append(b[:len(b)-2], append([]byte(strings.Repeat(" ", n-len(b))), '"', '}')...)
	}
	check("body at limit", s.do(t, "PATCH", "/api/docs/d", pad(bodyLimit)), "")
	check("body over limit", s.do(t, "PATCH", "/api/docs/d", pad(bodyLimit+1)), "too_large")
}

type opsPage struct {
	Ops []struct {
		Version uint64 `json:"version"`
		Op      []any  `json:"op"`
	} `json:"ops"`
	NextFrom *uint64 `json:"next_from"`
}

func getOpsPage(t *testing.T, s *server, query string) (opsPage, int) {
	t.Helper()
	r := s.do(t, "GET", "/api/docs/d/ops?"+query, nil)
	expectStatus(t, r, 200)
	var p opsPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	return p, len(r.body)
}

// TestOpsPagedByBytes (issue 17 #2): GET /ops stops at the byte budget
// (keeping at least one op), says where to go on with next_from, and the
// pages together are the whole history.
func TestOpsPagedByBytes(t *testing.T) {
	const budget = 10 << 10
	s := newServer(t, &api.Options{OpsPageBytes: budget}, &collab.Options{OpsPerSecond: -1})
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d"}), 201)
	const n = 300
	for i := range n {
		text := strings.Repeat(string(rune('a'+i%26)), 1000)
		if i == 100 {
			text = strings.Repeat("B", 3*budget) // one op over the whole budget
		}
		expectStatus(t, s.do(t, "POST", "/api/docs/d/ops", map[string]any{"version": i, "op": []any{text}}), 200)
	}
	var versions []uint64
	from, pages := uint64(0), 0
	for {
		p, size := getOpsPage(t, s, fmt.Sprintf("from=%d&limit=10000", from))
		pages++
		if len(p.Ops) == 0 {
			t.Fatalf("empty page from %d", from)
		}
		if len(p.Ops) > 1 && size > budget {
			t.Errorf("page from %d: %d bytes with %d ops, over the budget %d", from, size, len(p.Ops), budget)
		}
		for _, o := range p.Ops {
			versions = append(versions, o.Version)
		}
		if p.NextFrom == nil {
			break
		}
		if *p.NextFrom != p.Ops[len(p.Ops)-1].Version {
			t.Fatalf("next_from %d after version %d", *p.NextFrom, p.Ops[len(p.Ops)-1].Version)
		}
		from = *p.NextFrom
		if pages > n {
			t.Fatal("no end")
		}
	}
	if len(versions) != n || pages < n/10 {
		t.Fatalf("%d ops in %d pages", len(versions), pages)
	}
	for i, v := range versions {
		if v != uint64(i+1) {
			t.Fatalf("op %d has version %d", i, v)
		}
	}
	// A count limit also says there is more; a complete page does not.
	if p, _ := getOpsPage(t, s, "from=0&limit=2"); len(p.Ops) != 2 || p.NextFrom == nil || *p.NextFrom != 2 {
		t.Errorf("limit=2: %d ops, next_from %v", len(p.Ops), p.NextFrom)
	}
	if p, _ := getOpsPage(t, s, "from=295&limit=5"); len(p.Ops) != 5 || p.NextFrom != nil {
		t.Errorf("last page: %d ops, next_from %v", len(p.Ops), p.NextFrom)
	}
	if p, _ := getOpsPage(t, s, "from=3&to=5"); len(p.Ops) != 2 || p.NextFrom != nil {
		t.Errorf("from=3&to=5: %d ops, next_from %v", len(p.Ops), p.NextFrom)
	}
	// Errors keep their status.
	expectStatus(t, s.do(t, "GET", "/api/docs/d/ops?to=999", nil), 400)
	expectStatus(t, s.do(t, "GET", "/api/docs/nope/ops", nil), 404)
}
