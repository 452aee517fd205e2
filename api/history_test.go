package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// doBytes sends body with the given Content-Type.
func (s *server) doBytes(t *testing.T, method, path string, body []byte, ctype string) response {
	t.Helper()
	return s.do(t, method, path, string(body), "Content-Type", ctype)
}

// edit commits op on doc at version over REST and returns the new version.
func (s *server) edit(t *testing.T, doc string, version uint64, op string, client string, seq int) uint64 {
	t.Helper()
	r := s.do(t, "POST", "/api/docs/"+doc+"/ops", []byte(fmt.Sprintf(`{"version":%d,"op":%s,"client":%q,"seq":%d}`, version, op, client, seq)))
	expectStatus(t, r, 200)
	return uint64(r.json(t)["version"].(float64))
}

// contentAt is GET /api/docs/{id}?version=v's content.
func (s *server) contentAt(t *testing.T, doc string, v uint64) string {
	t.Helper()
	r := s.do(t, "GET", fmt.Sprintf("/api/docs/%s?version=%d", doc, v), nil)
	expectStatus(t, r, 200)
	return r.json(t)["content"].(string)
}

func TestDiff(t *testing.T) {
	s := newServer(t, nil, nil)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "d", "content": "one\ntwo\nthree\n"}), 201)
	s.edit(t, "d", 0, `[4,"2½\n"]`, "c", 1)      // one\n2½\ntwo\nthree\n
	s.edit(t, "d", 1, `[7,{"d":4}]`, "c", 2)     // one\n2½\nthree\n
	s.edit(t, "d", 2, `[13,"four 😀\n"]`, "c", 3) // … four 😀\n
	for _, tc := range []struct {
		query    string
		from, to uint64
	}{{"from=0&to=3", 0, 3}, {"from=1&to=3", 1, 3}, {"from=1", 1, 3}, {"to=2", 0, 2}, {"from=2&to=2", 2, 2}, {"from=0&to=1", 0, 1}} {
		path, to := "/api/docs/d/diff?"+tc.query, tc.to
		r := s.do(t, "GET", path, nil)
		expectStatus(t, r, 200)
		var got struct {
			From, To uint64
			Op       json.RawMessage
		}
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		op, err := ot.Parse(got.Op)
		if err != nil {
			t.Fatalf("%s: op %s: %v", path, got.Op, err)
		}
		if len(ot.Normalize(op)) != len(op) {
			t.Errorf("%s: op %s is not normalized", path, got.Op)
		}
		before, after := s.contentAt(t, "d", tc.from), s.contentAt(t, "d", to)
		if res, err := ot.Apply(before, op); err != nil || res != after || got.From != tc.from || got.To != to {
			t.Errorf("%s = {%d %d %s}: applied to %q gives %q, %v; want %q", path, got.From, got.To, got.Op, before, res, err, after)
		}
	}
	// Unified line diff.
	r := s.do(t, "GET", "/api/docs/d/diff?from=0&to=3", nil, "Accept", "text/x-diff")
	expectStatus(t, r, 200)
	want := "--- d@0\n+++ d@3\n@@ -1,3 +1,4 @@\n one\n-two\n+2½\n three\n+four 😀\n"
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/x-diff") || string(r.body) != want {
		t.Errorf("unified diff (%s):\n%s\nwant:\n%s", r.header.Get("Content-Type"), r.body, want)
	}
	// Errors.
	for path, code := range map[string]string{
		"/api/docs/d/diff?from=2&to=1": "bad_request",
		"/api/docs/d/diff?from=0&to=4": "not_found",
		"/api/docs/d/diff?from=x":      "bad_request",
		"/api/docs/nope/diff":          "not_found",
	} {
		if got := s.do(t, "GET", path, nil).errCode(t); got != code {
			t.Errorf("%s: %s, want %s", path, got, code)
		}
	}
}

func TestExportFormats(t *testing.T) {
	s := newServer(t, nil, nil)
	text := "# Notes\n\n<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[x](javascript:alert(3)) *done*\n"
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "n", "title": "My <notes>", "content": text}), 201)
	for format, ctype := range map[string]string{"txt": "text/plain", "md": "text/markdown"} {
		r := s.do(t, "GET", "/api/docs/n/export?format="+format, nil)
		expectStatus(t, r, 200)
		if string(r.body) != text || !strings.HasPrefix(r.header.Get("Content-Type"), ctype) ||
			r.header.Get("Content-Disposition") != "attachment; filename=n."+format {
			t.Errorf("%s: %s %q %q", format, r.header.Get("Content-Type"), r.header.Get("Content-Disposition"), r.body)
		}
	}
	r := s.do(t, "GET", "/api/docs/n/export?format=html", nil)
	expectStatus(t, r, 200)
	page := string(r.body)
	if !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(page, "<h1") ||
		!strings.Contains(page, "<em>done</em>") || !strings.Contains(page, "<title>My &lt;notes&gt;</title>") {
		t.Errorf("html export does not render the Markdown:\n%s", page)
	}
	for _, bad := range []string{"<script", "onerror", "javascript:"} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("html export holds %q:\n%s", bad, page)
		}
	}
	if got := s.do(t, "GET", "/api/docs/n/export?format=pdf", nil).errCode(t); got != "bad_request" {
		t.Errorf("format=pdf: %s", got)
	}
}

// TestHistoryRoundTrip exports a document's history as JSON Lines and
// imports it under another id: same versions, ops, clients, seqs, times and
// content at every version; the imported dedupe table answers a resend with
// the original version.
func TestHistoryRoundTrip(t *testing.T) {
	s := newServer(t, nil, &collab.Options{SnapshotEveryOps: 3, OpsPerSecond: -1})
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "src", "title": "Source", "content": "héllo"}), 201)
	v := uint64(0)
	for i := 1; i <= 10; i++ {
		v = s.edit(t, "src", v, fmt.Sprintf(`[%d,"%d😀"]`, 5+2*(i-1), i%10), fmt.Sprintf("c%d", i%3), (i+2)/3)
	}
	exp := s.do(t, "GET", "/api/docs/src/export?format=jsonl", nil)
	expectStatus(t, exp, 200)
	if ct := exp.header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("Content-Type %q", ct)
	}
	if n := bytes.Count(exp.body, []byte{'\n'}); n != 11 {
		t.Fatalf("%d lines, want 11:\n%s", n, exp.body)
	}
	imp := s.do(t, "POST", "/api/docs/import?id=copy", nil, "Content-Type", "application/x-ndjson")
	expectStatus(t, imp, 400) // empty body
	imp = s.doBytes(t, "POST", "/api/docs/import?id=copy", exp.body, "application/x-ndjson")
	expectStatus(t, imp, 201)
	if m := imp.json(t); m["version"].(float64) != 10 || m["title"] != "Source" {
		t.Fatalf("import answered %s", imp.body)
	}
	for ver := uint64(0); ver <= 10; ver++ {
		if a, b := s.contentAt(t, "src", ver), s.contentAt(t, "copy", ver); a != b {
			t.Errorf("version %d: %q vs %q", ver, a, b)
		}
	}
	a := s.do(t, "GET", "/api/docs/src/ops", nil)
	b := s.do(t, "GET", "/api/docs/copy/ops", nil)
	if !bytes.Equal(a.body, b.body) {
		t.Errorf("ops differ:\n%s\n%s", a.body, b.body)
	}
	// The dedupe table came along: c1's seq 1 was version 1.
	r := s.do(t, "POST", "/api/docs/copy/ops", []byte(`{"version":0,"op":["again"],"client":"c1","seq":1}`))
	expectStatus(t, r, 200)
	if got := r.json(t)["version"].(float64); got != 1 {
		t.Errorf("resend of (c1, 1) acked as %v, want 1", got)
	}
	// Importing the same id again is a conflict.
	expectStatus(t, s.doBytes(t, "POST", "/api/docs/import?id=copy", exp.body, "application/x-ndjson"), 409)
}

func TestImportText(t *testing.T) {
	s := newServer(t, nil, &collab.Options{MaxDocBytes: 64})
	r := s.doBytes(t, "POST", "/api/docs/import?id=md&title=Read%20me", []byte("# Title\n"), "text/markdown")
	expectStatus(t, r, 201)
	if got := s.contentAt(t, "md", 0); got != "# Title\n" {
		t.Errorf("content %q", got)
	}
	if m := s.do(t, "GET", "/api/docs/md", nil).json(t); m["title"] != "Read me" {
		t.Errorf("title %v", m["title"])
	}
	r = s.doBytes(t, "POST", "/api/docs/import", []byte("plain"), "text/plain; charset=utf-8")
	expectStatus(t, r, 201)
	if id := r.json(t)["id"].(string); len(id) != 16 {
		t.Errorf("random id %q", id)
	}
	expectStatus(t, s.doBytes(t, "POST", "/api/docs/import", bytes.Repeat([]byte("x"), 65), "text/plain"), 413)
	expectStatus(t, s.doBytes(t, "POST", "/api/docs/import", []byte{0xff}, "text/plain"), 400)
	expectStatus(t, s.doBytes(t, "POST", "/api/docs/import", []byte("x"), "application/pdf"), 400)
	expectStatus(t, s.doBytes(t, "POST", "/api/docs/import?id=a/b", []byte("x"), "text/plain"), 400)
}

func TestImportHistoryErrors(t *testing.T) {
	s := newServer(t, nil, nil)
	header := `{"type":"document","format":1,"id":"h","title":"","created":"2026-01-02T03:04:05Z","updated":"2026-01-02T03:04:05Z","head":2,"base":0,"content":"ab"}`
	op1 := `{"type":"op","version":1,"op":[2,"c"],"client":"x","seq":1,"time":"2026-01-02T03:04:06Z"}`
	op2 := `{"type":"op","version":2,"op":[{"d":1}],"time":"2026-01-02T03:04:07Z"}`
	for name, tc := range map[string]struct {
		body, code, inMessage string
	}{
		"bad header":    {`{"type":"doc"}` + "\n" + op1, "bad_request", "line 1"},
		"not json":      {header + "\n" + op1 + "\n{oops\n", "bad_request", "line 3"},
		"version gap":   {header + "\n" + op2, "bad_request", "line 2"},
		"bad op":        {header + "\n" + strings.Replace(op1, `[2,"c"]`, `[0]`, 1) + "\n" + op2, "invalid_op", "line 2"},
		"past the end":  {header + "\n" + strings.Replace(op1, `[2,"c"]`, `[5,"c"]`, 1) + "\n" + op2, "invalid_op", "version 1"},
		"truncated":     {header + "\n" + op1 + "\n", "bad_request", "incomplete"},
		"empty history": {"\n\n", "bad_request", "empty"},
	} {
		r := s.doBytes(t, "POST", "/api/docs/import", []byte(tc.body), "application/x-ndjson")
		if got := r.errCode(t); got != tc.code || !strings.Contains(string(r.body), tc.inMessage) {
			t.Errorf("%s: %s %s; want %s naming %q", name, got, r.body, tc.code, tc.inMessage)
		}
	}
	// Nothing of the refused imports was created.
	expectStatus(t, s.do(t, "GET", "/api/docs/h", nil), 404)
	r := s.doBytes(t, "POST", "/api/docs/import", []byte(header+"\n"+op1+"\n"+op2+"\n"), "application/x-ndjson")
	expectStatus(t, r, 201)
	if got := s.contentAt(t, "h", 2); got != "bc" {
		t.Errorf("imported content %q, want bc", got)
	}
}

func TestNamedVersionsREST(t *testing.T) {
	s := newServer(t, nil, nil)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "v", "content": "a"}), 201)
	s.edit(t, "v", 0, `[1,"b"]`, "c", 1)
	s.edit(t, "v", 1, `[2,"c"]`, "c", 2)
	r := s.do(t, "POST", "/api/docs/v/versions", map[string]any{"label": "first", "version": 1}, "X-Cowrite-Name", "Ada")
	expectStatus(t, r, 201)
	if m := r.json(t); m["version"].(float64) != 1 || m["label"] != "first" || m["author"].(map[string]any)["name"] != "Ada" || m["created"] == "" {
		t.Errorf("POST versions = %s", r.body)
	}
	r = s.do(t, "POST", "/api/docs/v/versions", map[string]any{"label": "head"})
	expectStatus(t, r, 201)
	if m := r.json(t); m["version"].(float64) != 2 || m["author"].(map[string]any)["name"] != "anonymous" {
		t.Errorf("POST versions at head = %s", r.body)
	}
	r = s.do(t, "GET", "/api/docs/v/versions", nil)
	expectStatus(t, r, 200)
	var list struct{ Versions []struct{ Version uint64 } }
	if err := json.Unmarshal(r.body, &list); err != nil || len(list.Versions) != 2 || list.Versions[0].Version != 1 || list.Versions[1].Version != 2 {
		t.Errorf("GET versions = %s", r.body)
	}
	if got := s.contentAt(t, "v", 1); got != "ab" {
		t.Errorf("content at named version 1: %q", got)
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
	}{
		{"no label", "POST", "/api/docs/v/versions", map[string]any{"version": 1}, 400},
		{"empty label", "POST", "/api/docs/v/versions", map[string]any{"label": ""}, 400},
		{"above head", "POST", "/api/docs/v/versions", map[string]any{"label": "x", "version": 3}, 404},
		{"missing doc", "GET", "/api/docs/nope/versions", nil, 404},
		{"bad version", "DELETE", "/api/docs/v/versions/x", nil, 400},
		{"delete", "DELETE", "/api/docs/v/versions/1", nil, 204},
		{"delete twice", "DELETE", "/api/docs/v/versions/1", nil, 404},
		{"delete unnamed", "DELETE", "/api/docs/v/versions/0", nil, 404},
		{"label too long", "POST", "/api/docs/v/versions", map[string]any{"label": strings.Repeat("x", collab.DefaultMaxLabelBytes+1)}, 400},
		{"label at limit", "POST", "/api/docs/v/versions", map[string]any{"label": strings.Repeat("x", collab.DefaultMaxLabelBytes)}, 201},
	} {
		if r := s.do(t, tc.method, tc.path, tc.body); r.status != tc.status {
			t.Errorf("%s: %d %s, want %d", tc.name, r.status, r.body, tc.status)
		}
	}
}

// TestAuthorsRecorded: each op keeps who made it — a socket's CONNECT name,
// a REST caller's X-Cowrite-Name — and GET …/ops returns it.
func TestAuthorsRecorded(t *testing.T) {
	s := newServer(t, nil, nil)
	c := dial(t, s, `{"name":"Ada"}`)
	if ack := c.call("doc:join", `{"doc":"au"}`); ack["ok"] != true {
		t.Fatal(ack)
	}
	if ack := c.call("doc:op", `{"doc":"au","version":0,"op":["a"],"client":"c1","seq":1}`); ack["ok"] != true {
		t.Fatal(ack)
	}
	expectStatus(t, s.do(t, "POST", "/api/docs/au/ops", map[string]any{"version": 1, "op": []any{1, "b"}}, "X-Cowrite-Name", "Bot"), 200)
	var got struct {
		Ops []struct {
			Version uint64
			Author  *struct{ ID, Name string }
		}
	}
	if err := json.Unmarshal(s.do(t, "GET", "/api/docs/au/ops", nil).body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Ops) != 2 || got.Ops[0].Author == nil || got.Ops[0].Author.Name != "Ada" || got.Ops[0].Author.ID != "" ||
		got.Ops[1].Author == nil || got.Ops[1].Author.Name != "Bot" {
		t.Fatalf("ops = %+v", got.Ops)
	}
}

// TestBlame: two authors' text is attributed to each, spans cover the
// content exactly, text present at creation is version 0.
func TestBlame(t *testing.T) {
	s := newServer(t, nil, nil)
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "b", "content": "base"}), 201)
	expectStatus(t, s.do(t, "POST", "/api/docs/b/ops", map[string]any{"version": 0, "op": []any{4, " Ada"}}, "X-Cowrite-Name", "Ada"), 200)
	expectStatus(t, s.do(t, "POST", "/api/docs/b/ops", map[string]any{"version": 1, "op": []any{"Bob😀 "}}, "X-Cowrite-Name", "Bob"), 200)
	type span struct {
		Start, End int
		Author     struct{ ID, Name string }
		Version    uint64
	}
	var got struct {
		Version uint64
		Spans   []span
	}
	if err := json.Unmarshal(s.do(t, "GET", "/api/docs/b/blame", nil).body, &got); err != nil {
		t.Fatal(err)
	}
	// "Bob😀 " + "base" + " Ada": code points 0–5, 5–9, 9–13.
	want := []struct {
		start, end int
		name       string
		version    uint64
	}{{0, 5, "Bob", 2}, {5, 9, "unknown", 0}, {9, 13, "Ada", 1}}
	if got.Version != 2 || len(got.Spans) != len(want) {
		t.Fatalf("blame = %+v", got)
	}
	for i, w := range want {
		g := got.Spans[i]
		if g.Start != w.start || g.End != w.end || g.Author.Name != w.name || g.Version != w.version {
			t.Errorf("span %d = %+v, want %+v", i, g, w)
		}
	}
	var at1 struct{ Spans []span }
	if err := json.Unmarshal(s.do(t, "GET", "/api/docs/b/blame?version=1", nil).body, &at1); err != nil || len(at1.Spans) != 2 || at1.Spans[1].Author.Name != "Ada" {
		t.Errorf("blame at version 1 = %+v, %v", at1, err)
	}
	if code := s.do(t, "GET", "/api/docs/b/blame?version=3", nil).errCode(t); code != "not_found" {
		t.Errorf("blame above head: %s", code)
	}
}

// TestDiffComposesRange: on a random history, the diff of any range is the
// composition of its ops: it turns the content at from into the content at
// to, normalized, and inserts and deletes what ot.Compose of the ops does
// (text inserted and deleted in between leaves no trace).
func TestDiffComposesRange(t *testing.T) {
	s := newServer(t, nil, &collab.Options{SnapshotEveryOps: 7})
	rng := rand.New(rand.NewPCG(5, 6))
	content := "héllo\nwörld\n"
	contents := []string{content}
	var ops []collab.OpRecord
	for v := 1; v <= 300; v++ {
		n := utf8.RuneCountInString(content)
		pos := rng.IntN(n + 1)
		op := ot.Op{}
		if pos > 0 {
			op = append(op, ot.Retain(pos))
		}
		if rng.IntN(3) == 0 && pos < n {
			op = append(op, ot.Del(1+rng.IntN(min(4, n-pos))))
		} else {
			op = append(op, ot.Ins([]string{"a", "😀\n", "bc"}[rng.IntN(3)]))
		}
		var err error
		if content, err = ot.Apply(content, op); err != nil {
			t.Fatal(err)
		}
		contents = append(contents, content)
		ops = append(ops, collab.OpRecord{Version: uint64(v), Op: op, Client: "c", Seq: uint64(v), Time: time.Now()})
	}
	if _, err := s.hub.Import(context.Background(), collab.DocInfo{ID: "r"}, contents[0], ops); err != nil {
		t.Fatal(err)
	}
	for range 40 {
		from := rng.IntN(len(contents))
		to := from + rng.IntN(len(contents)-from)
		r := s.do(t, "GET", fmt.Sprintf("/api/docs/r/diff?from=%d&to=%d", from, to), nil)
		expectStatus(t, r, 200)
		var got struct{ Op json.RawMessage }
		if err := json.Unmarshal(r.body, &got); err != nil {
			t.Fatal(err)
		}
		op, err := ot.Parse(got.Op)
		if err != nil {
			t.Fatal(err)
		}
		want := ot.Op{}
		for _, rec := range ops[from:to] {
			if want, err = ot.Compose(want, rec.Op); err != nil {
				t.Fatal(err)
			}
		}
		if res, err := ot.Apply(contents[from], op); err != nil || res != contents[to] {
			t.Fatalf("diff %d..%d = %s gives %q, %v; want %q", from, to, got.Op, res, err, contents[to])
		}
		if len(ot.Normalize(op)) != len(op) {
			t.Errorf("diff %d..%d = %s is not normalized", from, to, got.Op)
		}
		// ot.Compose interleaves the inserts and deletes of neighbouring
		// runs where the diff groups them; what each inserts and deletes
		// is the same.
		gi, gd := opSizes(op)
		if wi, wd := opSizes(want); gi != wi || gd != wd {
			t.Errorf("diff %d..%d = %s inserts %d and deletes %d code points; the composition %v %d and %d", from, to, got.Op, gi, gd, want, wi, wd)
		}
	}
}

// opSizes returns the code points op inserts and deletes.
func opSizes(op ot.Op) (ins, del int) {
	for _, c := range op {
		ins += utf8.RuneCountInString(c.Insert)
		del += c.Delete
	}
	return ins, del
}
