package api_test

import (
	"strings"
	"testing"
)

// TestDeletedDocStaysDeleted: an old link (doc:join with auto-create on, or
// GET) to a deleted document answers not_found with reason "deleted" instead
// of bringing back an empty document; creating the id again is explicit and
// works.
func TestDeletedDocStaysDeleted(t *testing.T) {
	s := newServer(t, nil, nil)
	c := dial(t, s, "")
	if ack := c.call("doc:join", `{"doc":"gone"}`); ack["ok"] != true {
		t.Fatalf("join of a new document (auto-create): %v", ack)
	}
	expectStatus(t, s.do(t, "DELETE", "/api/docs/gone", nil), 204)
	for _, what := range []string{"join", "get"} {
		var e map[string]any
		if what == "join" {
			ack := c.call("doc:join", `{"doc":"gone"}`)
			if ack["ok"] != false {
				t.Fatalf("join of a deleted document: %v", ack)
			}
			e = ack["error"].(map[string]any)
		} else {
			r := s.do(t, "GET", "/api/docs/gone", nil)
			expectStatus(t, r, 404)
			e = r.json(t)["error"].(map[string]any)
		}
		if e["code"] != "not_found" || e["reason"] != "deleted" || !strings.Contains(e["message"].(string), "was deleted at") {
			t.Errorf("%s: error %v, want not_found with reason deleted", what, e)
		}
	}
	expectStatus(t, s.do(t, "GET", "/api/docs/never", nil), 404)
	if e := s.do(t, "GET", "/api/docs/never", nil).json(t)["error"].(map[string]any); e["reason"] != nil {
		t.Errorf("a never-created document has reason %v", e["reason"])
	}
	if got := s.do(t, "GET", "/api/docs", nil).json(t)["docs"].([]any); len(got) != 0 {
		t.Errorf("the deleted document came back in the list: %v", got)
	}
	expectStatus(t, s.do(t, "POST", "/api/docs", map[string]any{"id": "gone", "content": "anew"}), 201)
	if ack := c.call("doc:join", `{"doc":"gone"}`); ack["ok"] != true || ack["content"] != "anew" {
		t.Errorf("join after re-creating: %v", ack)
	}
}

// TestRenameReachesRoom: a rename over REST reaches every socket in the
// document's room as doc:meta, and no other room.
func TestRenameReachesRoom(t *testing.T) {
	s := newServer(t, nil, nil)
	a, b, other := dial(t, s, ""), dial(t, s, ""), dial(t, s, "")
	for _, c := range []*sioClient{a, b} {
		if ack := c.call("doc:join", `{"doc":"r"}`); ack["ok"] != true {
			t.Fatal(ack)
		}
	}
	if ack := other.call("doc:join", `{"doc":"elsewhere"}`); ack["ok"] != true {
		t.Fatal(ack)
	}
	expectStatus(t, s.do(t, "PATCH", "/api/docs/r", map[string]any{"title": "New name"}), 200)
	for _, c := range []*sioClient{a, b} {
		if m := c.waitEvent("doc:meta", nil); m["doc"] != "r" || m["title"] != "New name" || m["version"] != 0.0 || m["updated"] == "" {
			t.Errorf("doc:meta = %v", m)
		}
	}
	// other's room got nothing: a later event there arrives, doc:meta does not.
	expectStatus(t, s.do(t, "POST", "/api/docs/elsewhere/ops", map[string]any{"version": 0, "op": []any{"x"}}), 200)
	other.waitEvent("doc:op", nil)
	if n := other.count("doc:meta"); n != 0 {
		t.Errorf("another room got %d doc:meta", n)
	}
}
