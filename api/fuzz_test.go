package api

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// FuzzDecodeSubmission checks that payload decoding never panics, and that
// what it accepts is well-formed: a valid doc id, an op that round-trips
// through JSON, seq only with a client.
func FuzzDecodeSubmission(f *testing.F) {
	for _, s := range []string{
		`{"doc":"a","version":0,"op":["x"],"client":"c","seq":1}`,
		`{"doc":"a","version":3.0,"op":[2,{"d":1}]}`,
		`{"doc":"a","version":-1,"op":[]}`,
		`{"doc":"a","version":1e2,"op":[1,{"d":"😀"}],"client":"c","seq":2}`,
		`{"doc":"../x","version":0,"op":["x"]}`,
		`{"doc":"a","version":"0","op":"x"}`,
		`{"doc":"a","version":0,"op":[1]}`,
		`{"doc":"a","version":0,"selection":[{"anchor":1,"head":2}]}`,
		`{"doc":"a","version":0,"selection":[{"anchor":-1,"head":2}]}`,
		`[]`, `null`, `{`, ``, `{"doc":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := decodeObject(data, "payload")
		if err != nil {
			return
		}
		if _, err := obj.docID("doc"); err == nil {
			if err := collab.ValidateDocID(mustString(t, obj["doc"])); err != nil {
				t.Fatalf("docID accepted an invalid id: %v", err)
			}
		}
		sel, err := obj.selection()
		if err == nil {
			for _, r := range sel {
				if r.Anchor < 0 || r.Head < 0 {
					t.Fatalf("negative selection accepted: %v", sel)
				}
			}
		}
		sub, err := obj.submission()
		if err != nil {
			return
		}
		if sub.Seq > 0 && sub.Client == "" || sub.Client != "" && sub.Seq == 0 {
			t.Fatalf("inconsistent client/seq accepted: %+v", sub)
		}
		if err := sub.Op.Validate(); err != nil {
			t.Fatalf("invalid op accepted: %v", err)
		}
		b, err := json.Marshal(sub.Op)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ot.Parse(b)
		if err != nil {
			t.Fatalf("op %s does not parse back: %v", b, err)
		}
		if b2, _ := json.Marshal(back); string(b2) != string(b) {
			t.Fatalf("op %s round-trips to %s", b, b2)
		}
	})
}

func mustString(t *testing.T, raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("doc is not a string: %s", raw)
	}
	return s
}

// FuzzParseIfMatch checks that If-Match parsing never panics and accepts
// exactly the versions it prints back.
func FuzzParseIfMatch(f *testing.F) {
	for _, s := range []string{`5`, `"5"`, `W/"5"`, `*`, ``, `"`, `""`, `-1`, `"18446744073709551616"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		v, err := parseIfMatch(h)
		if err != nil || v == nil {
			return
		}
		back, err := parseIfMatch(etag(*v))
		if err != nil || back == nil || *back != *v {
			t.Fatalf("%q → %d does not round-trip through %s", h, *v, etag(*v))
		}
	})
}

func TestParseUintJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"0", 0, true}, {"42", 42, true}, {"3.0", 3, true}, {"1e3", 1000, true},
		{"-1", 0, false}, {"0.5", 0, false}, {`"1"`, 0, false}, {"null", 0, false},
		{"true", 0, false}, {"1e300", 0, false}, {"18446744073709551615", 18446744073709551615, true},
	} {
		got, err := parseUintJSON(json.RawMessage(tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseUintJSON(%s) = %d, %v; want %d, ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// BenchmarkDecodeSubmission measures decoding and validating one doc:op
// payload (what every op pays before reaching the sequencer).
func BenchmarkDecodeSubmission(b *testing.B) {
	data := []byte(`{"doc":"notes","version":1234,"op":[120,"hello 😀",{"d":3}],"client":"c-42","seq":99}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		obj, err := decodeObject(data, "payload")
		if err != nil {
			b.Fatal(err)
		}
		if _, err := obj.docID("doc"); err != nil {
			b.Fatal(err)
		}
		if _, err := obj.submission(); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzPlainString checks that the fast path for string fields gives exactly
// what encoding/json gives whenever it accepts a value.
func FuzzPlainString(f *testing.F) {
	for _, s := range []string{`"abc"`, `""`, `"a\"b"`, `"\u00e9"`, `"é😀"`, "\"\xff\"", "\"a\x01\"", `"a\\"`, `12`, `"`, `null`, ` "a"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, ok := plainString(raw)
		if !ok {
			return
		}
		var want string
		if err := json.Unmarshal(raw, &want); err != nil {
			t.Fatalf("plainString accepted %q, encoding/json refuses it: %v", raw, err)
		}
		if s != want {
			t.Fatalf("plainString(%q) = %q, encoding/json gives %q", raw, s, want)
		}
	})
}

func TestPlainStringFallsBack(t *testing.T) {
	for _, raw := range []string{`"a\"b"`, `"\u00e9"`, "\"\xff\"", "\"a\x01\"", `12`, `"`, `null`, ` "a"`} {
		if s, ok := plainString(json.RawMessage(raw)); ok {
			t.Errorf("plainString(%q) = %q, want the encoding/json fallback", raw, s)
		}
	}
	for raw, want := range map[string]string{`"abc"`: "abc", `""`: "", `"é😀"`: "é😀"} {
		if s, ok := plainString(json.RawMessage(raw)); !ok || s != want {
			t.Errorf("plainString(%q) = %q, %v; want %q", raw, s, ok, want)
		}
	}
}

// FuzzAppendOpEvent checks that the hand-written doc:op payload is valid JSON
// with the same value encoding/json gives for opEventJSON.
func FuzzAppendOpEvent(f *testing.F) {
	f.Add("doc-1", "client", uint64(7), `[3,"ab",{"d":2}]`)
	f.Add("a", "", uint64(0), `["x"]`)
	f.Add("d", "c\"<>&\\\n\u2028é\xff", uint64(1<<63), `[1,{"d":"😀"}]`)
	f.Fuzz(func(t *testing.T, doc, client string, version uint64, opJSON string) {
		o, err := ot.Parse([]byte(opJSON))
		if err != nil {
			o = ot.Op{ot.Ins("x")}
		}
		ev := opEventJSON{Doc: doc, Version: version, Op: o, Client: client}
		got := appendOpEvent(nil, ev)
		want, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("appendOpEvent gave invalid JSON %s: %v", got, err)
		}
		if err := json.Unmarshal(want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("appendOpEvent gave %s, encoding/json %s", got, want)
		}
	})
}

func TestOpAckJSON(t *testing.T) {
	var got struct {
		OK      bool   `json:"ok"`
		Version uint64 `json:"version"`
	}
	if err := json.Unmarshal(opAckJSON(1<<53+1), &got); err != nil || !got.OK || got.Version != 1<<53+1 {
		t.Fatalf("opAckJSON: %+v %v", got, err)
	}
}

// FuzzScanObject checks that the fast path of decodeObject, whenever it
// answers, gives exactly the members encoding/json gives.
func FuzzScanObject(f *testing.F) {
	for _, s := range []string{
		`{}`, ` { } `, `{"a":1}`, `{"doc":"x","version":3,"op":[1,"a\"}",{"d":2}],"client":"c","seq":1}`,
		`{"a":1,"a":2}`, `{"a\u0062":1}`, `{"é":1}`, `{"a":{"b":[1,{"c":"]}"}]},"d":null}`,
		`{"a":1,}`, `{"a" : "x" , "b" : true }`, `{"a":1}x`, `{"a":"\\"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		data = bytes.TrimSpace(data)
		if len(data) == 0 || data[0] != '{' {
			return
		}
		got, ok := scanObject(data)
		if !ok {
			return
		}
		var want object
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("scanObject accepted %q, encoding/json refuses it: %v", data, err)
		}
		if len(got) != len(want) {
			t.Fatalf("scanObject(%q) = %q, encoding/json gives %q", data, got, want)
		}
		for k, v := range want {
			if !bytes.Equal(got[k], v) {
				t.Fatalf("scanObject(%q)[%q] = %q, encoding/json gives %q", data, k, got[k], v)
			}
		}
	})
}

// FuzzCheckText: what checkText accepts decodes without encoding/json
// replacing anything by U+FFFD, and what it refuses in valid UTF-8 JSON
// has a \u escape.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{`"a"`, `"\ud800"`, `"\udc00x"`, `"\ud83d\ude00"`, `"\ud83d\u0041"`, `"\\ud800"`,
		"\"\xff\"", `["\ufffd"]`, `{"a":"\uD800\uDFFF"}`, `"\ud800\\"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if !json.Valid(data) {
			return
		}
		err := checkText(data)
		if err != nil {
			if utf8.Valid(data) && !bytes.Contains(bytes.ToLower(data), []byte(`\u`)) {
				t.Fatalf("refused %q: %v", data, err)
			}
			return
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(v)
		if bytes.Contains(b, []byte("\ufffd")) && !bytes.Contains(data, []byte("\ufffd")) && !bytes.Contains(bytes.ToLower(data), []byte(`\ufffd`)) {
			t.Fatalf("accepted %q, which decodes to %s", data, b)
		}
	})
}
