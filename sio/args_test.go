package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

func TestArgsOfPlaceholders(t *testing.T) {
	a, err := ArgsOf([]byte{1}, map[string]any{"z": []byte{2}, "a": []any{[]byte{3}, "x"}}, "s", nil, json.RawMessage(`{"k":[1, 2]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"_placeholder":true,"num":0}`,
		`{"a":[{"_placeholder":true,"num":1},"x"],"z":{"_placeholder":true,"num":2}}`,
		`"s"`, `null`, `{"k":[1, 2]}`,
	}
	for i, w := range want {
		if string(a.Raw(i)) != w {
			t.Errorf("arg %d = %s, want %s", i, a.Raw(i), w)
		}
	}
	if got := a.Attachments(); !reflect.DeepEqual(got, [][]byte{{1}, {3}, {2}}) {
		t.Fatalf("attachments %v (depth-first, sorted keys)", got)
	}
	v, err := a.Value(1)
	if err != nil {
		t.Fatal(err)
	}
	m := v.(map[string]any)
	if !bytes.Equal(m["z"].([]byte), []byte{2}) || !bytes.Equal(m["a"].([]any)[0].([]byte), []byte{3}) {
		t.Fatalf("Value = %#v", v)
	}
	var s struct {
		A []json.RawMessage
		Z []byte
	}
	if err := a.Decode(1, &s); err != nil || !bytes.Equal(s.Z, []byte{2}) {
		t.Fatalf("Decode = %+v, %v", s, err)
	}
	if err := a.Decode(9, &s); !errors.Is(err, ErrArgIndex) {
		t.Fatalf("out of range: %v", err)
	}
	if a.Raw(-1) != nil || a.Slice(10).Len() != 0 || a.Slice(2).Len() != 3 {
		t.Fatal("bounds")
	}
}

func TestArgsNoHTMLEscape(t *testing.T) {
	a, err := ArgsOf("<a&b>", struct {
		X string `json:"x"`
	}{"é<"})
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Raw(0)) != `"<a&b>"` || string(a.Raw(1)) != `{"x":"é<"}` {
		t.Fatalf("%s %s", a.Raw(0), a.Raw(1))
	}
}

func TestArgsSpliceRenumbers(t *testing.T) {
	recv, err := ArgsOf(map[string]any{"k": 1.5, "b": []byte("y")}, []byte("z"))
	if err != nil {
		t.Fatal(err)
	}
	// spliced first: passes through unchanged
	p, err := newEventPacket("/", "e", []any{recv, "tail"})
	if err != nil {
		t.Fatal(err)
	}
	text, atts := p.Encode()
	if string(text) != `52-["e",{"b":{"_placeholder":true,"num":0},"k":1.5},{"_placeholder":true,"num":1},"tail"]` || len(atts) != 2 {
		t.Fatalf("%s %d", text, len(atts))
	}
	// after another buffer: placeholders renumbered, buffers in order
	p, err = newEventPacket("/x", "e", []any{[]byte("first"), recv})
	if err != nil {
		t.Fatal(err)
	}
	text, atts = p.Encode()
	want := `53-/x,["e",{"_placeholder":true,"num":0},{"b":{"_placeholder":true,"num":1},"k":1.5},{"_placeholder":true,"num":2}]`
	if string(text) != want || !reflect.DeepEqual(atts, [][]byte{[]byte("first"), []byte("y"), []byte("z")}) {
		t.Fatalf("%s %q", text, atts)
	}
}

// FuzzAppendString checks the fast JSON string encoder against encoding/json.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "\x00\x01\x1f\n\r\t\b\f", "é😀\u2028<>&", "\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := appendJSON(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q encoded as invalid JSON %q: %v", s, b, err)
		}
		std, _ := json.Marshal(s)
		var want string
		_ = json.Unmarshal(std, &want)
		if back != want {
			t.Fatalf("%q round-trips to %q, encoding/json gives %q", s, back, want)
		}
	})
}
