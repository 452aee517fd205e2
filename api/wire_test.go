package api

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// TestWireShapes pins the JSON of every payload and body built from
// collab's results (SPEC.md sections 3 and 4): a renamed field on either
// side fails here or does not build.
func TestWireShapes(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	op := ot.Op{ot.Retain(2), ot.Ins("x")}
	user := collab.User{ID: "u", Name: "Ann", Color: "#fff"}
	pres := collab.PresenceEvent{Doc: "d", Client: "c", User: user, Version: 3, Selection: []ot.Selection{{Anchor: 1, Head: 2}}}
	content := "hi"
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"op event", opEventWire(collab.OpEvent{Doc: "d", Version: 4, Op: op, Client: "c"}, "shown"),
			`{"doc":"d","version":4,"op":[2,"x"],"client":"shown"}`},
		{"presence", presenceWire(pres, "p"),
			`{"doc":"d","client":"p","user":{"id":"u","name":"Ann","color":"#fff"},"version":3,"selection":[{"anchor":1,"head":2}]}`},
		{"presence left", presenceWire(collab.PresenceEvent{Doc: "d", Client: "c", User: user, Version: 3}, "p"),
			`{"doc":"d","client":"p","user":{"id":"u","name":"Ann","color":"#fff"},"version":3,"selection":null}`},
		{"join with content", joinAck{OK: true, Doc: "d", Version: 1, Content: &content, Presence: []presenceJSON{}},
			`{"ok":true,"doc":"d","version":1,"content":"hi","presence":[]}`},
		{"join with ops", joinAck{OK: true, Doc: "d", Version: 1, Ops: &[]opEventJSON{}, Presence: []presenceJSON{}},
			`{"ok":true,"doc":"d","version":1,"ops":[],"presence":[]}`},
		{"ok", okAck{OK: true}, `{"ok":true}`},
		{"op ack", opAckJSON(7), `{"ok":true,"version":7}`},
		{"doc", docWire(collab.DocInfo{ID: "d", Title: "T", Version: 2, Size: 5, Created: at, Updated: at}, &content),
			`{"id":"d","title":"T","version":2,"size":5,"created":"2026-01-02T03:04:05Z","updated":"2026-01-02T03:04:05Z","content":"hi"}`},
		{"doc without content", docWire(collab.DocInfo{ID: "d", Created: at, Updated: at}, nil),
			`{"id":"d","title":"","version":0,"size":0,"created":"2026-01-02T03:04:05Z","updated":"2026-01-02T03:04:05Z"}`},
		{"list", listJSON{Docs: []docJSON{}, Next: "n"}, `{"docs":[],"next_cursor":"n"}`},
		{"op record", opRecordWire(collab.OpRecord{Version: 3, Op: op, Client: "c", Seq: 9, Time: at}),
			`{"version":3,"op":[2,"x"],"client":"c","seq":9,"time":"2026-01-02T03:04:05Z","author":null}`},
		{"op record with author", opRecordWire(collab.OpRecord{Version: 3, Op: op, Client: "c", Seq: 9, Time: at, Author: collab.Author{ID: "u1", Name: "Ada"}}),
			`{"version":3,"op":[2,"x"],"client":"c","seq":9,"time":"2026-01-02T03:04:05Z","author":{"id":"u1","name":"Ada"}}`},
		{"limits", limitsWire(collab.Options{MaxOpBytes: 1, MaxDocBytes: 2, MaxTitleBytes: 5, MaxClientIDBytes: 6, MaxSelectionRanges: 7, OpsPerSecond: 2.5, MaxCollaborators: 9},
			Options{MaxBodyBytes: 3, MaxPayloadBytes: 4}),
			`{"maxOpBytes":1,"maxDocBytes":2,"maxTitleLength":5,"maxClientIdLength":6,"maxSelectionRanges":7,"maxPayloadBytes":4,"maxBodyBytes":3,"maxDocIdLength":128,"opsPerSecond":2.5,"maxCollaborators":9}`},
		{"committed", committedJSON{Version: 3, Op: op}, `{"version":3,"op":[2,"x"]}`},
		{"error", failAck{Error: wireError{Code: collab.CodeForbidden, Message: "m"}},
			`{"ok":false,"error":{"code":"forbidden","message":"m"}}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: %s (%v), want %s", tc.name, b, err, tc.want)
		}
	}
	// The broadcast writer gives the same bytes as the wire type.
	ev := opEventWire(collab.OpEvent{Doc: "d", Version: 4, Op: op, Client: "c"}, "shown")
	want, _ := json.Marshal(ev)
	if got := appendOpEvent(nil, ev); string(got) != string(want) {
		t.Errorf("appendOpEvent %s, want %s", got, want)
	}
}

// TestCollabTypesHaveNoJSONTags: collab's results are not wire types; a
// json tag there would suggest that renaming the field is a protocol change.
func TestCollabTypesHaveNoJSONTags(t *testing.T) {
	for _, v := range []any{collab.OpEvent{}, collab.PresenceEvent{}, collab.JoinResult{}, collab.User{},
		collab.Submission{}, collab.Committed{}, collab.OpRecord{}, collab.DocInfo{}} {
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			if tag, ok := rt.Field(i).Tag.Lookup("json"); ok {
				t.Errorf("%s.%s has json tag %q", rt.Name(), rt.Field(i).Name, tag)
			}
		}
	}
}
