package ot

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in    string
		index int
		msg   string // substring of the error
	}{
		{``, -1, "malformed JSON"},
		{`[1,`, -1, "malformed JSON"},
		{`{"d":1}`, -1, "must be a JSON array"},
		{`null`, -1, "got null"},
		{`"x"`, -1, "got a string"},
		{`[0,"x"]`, 0, "skip must be > 0"},
		{`["x",-3,"y"]`, 1, "skip must be > 0"},
		{`[1.5,"x"]`, 0, "positive integer"},
		{`[1e300,"x"]`, 0, "positive integer"},
		{`[9007199254740992,"x"]`, 0, "positive integer"},
		{`[""]`, 0, "insert must not be empty"},
		{`["a",{"d":0}]`, 1, "delete must not be empty"},
		{`[{"d":-1}]`, 0, "delete must not be empty"},
		{`[{"d":""}]`, 0, "delete must not be empty"},
		{`[{"d":2.5}]`, 0, "positive integer"},
		{`[{"d":null}]`, 0, `"d": null`},
		{`[{"d":true}]`, 0, `"d": a boolean`},
		{`[{"d":[1]}]`, 0, `"d": an array`},
		{`[{}]`, 0, `without "d"`},
		{`["a",null]`, 1, "got null"},
		{`[[1]]`, 0, "got an array"},
		{`[true]`, 0, "got a boolean"},
		{`[1,1,"x"]`, 1, "adjacent skip"},
		{`["x",3]`, 1, "trailing skip"},
		{`[3]`, 0, "trailing skip"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			op, err := Parse([]byte(tt.in))
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Parse(%s) = %v, %v; want *Error", tt.in, op, err)
			}
			if e.Index != tt.index || !strings.Contains(e.Error(), tt.msg) {
				t.Fatalf("Parse(%s) error %q (index %d), want index %d and %q", tt.in, e, e.Index, tt.index, tt.msg)
			}
			var o Op
			if err := json.Unmarshal([]byte(tt.in), &o); err == nil {
				t.Fatalf("json.Unmarshal(%s) into Op accepted it", tt.in)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct{ in, canonical string }{
		{`[]`, `[]`},
		{` [ 2 , "x" ] `, `[2,"x"]`},
		{`[1e1,"x",{"d":2.0}]`, `[10,"x",{"d":2}]`},
		{`[{"d":1,"other":true}]`, `[{"d":1}]`},
		{`["\u00e9\ud83d\ude00"]`, `["é😀"]`},
		{`["a","b",{"d":1},{"d":"x"}]`, `["a","b",{"d":1},{"d":"x"}]`},
	}
	for _, tt := range tests {
		op, err := Parse([]byte(tt.in))
		if err != nil {
			t.Fatalf("Parse(%s): %v", tt.in, err)
		}
		if got := op.String(); got != tt.canonical {
			t.Fatalf("Parse(%s) encodes as %s, want %s", tt.in, got, tt.canonical)
		}
	}
}

func TestMarshalLikeJSONStringify(t *testing.T) {
	op := Op{Retain(1), Ins("<a&b>\u2028\"\\\x01\x1f\x7f\b\f\n\r\t😀"), DelText("x\ty")}
	b, err := op.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `[1,"<a&b>` + "\u2028" + `\"\\\u0001\u001f` + "\x7f" + `\b\f\n\r\t😀",{"d":"x\ty"}]`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	// encoding/json re-escapes <, >, & and U+2028 but the value is the same.
	var back0 Op
	if b2, err := json.Marshal(op); err != nil || json.Unmarshal(b2, &back0) != nil || !equalOps(back0, op) {
		t.Fatalf("json.Marshal round trip: %s %v", b2, err)
	}
	if b, _ := json.Marshal(Op(nil)); string(b) != "[]" {
		t.Fatalf("nil op encodes as %s", b)
	}
	var back Op
	if err := json.Unmarshal([]byte("[]"), &back); err != nil || back == nil || len(back) != 0 {
		t.Fatalf("%v %v", back, err)
	}
	sel, _ := json.Marshal(Selection{Anchor: 1, Head: 2})
	if string(sel) != `{"anchor":1,"head":2}` {
		t.Fatalf("selection encodes as %s", sel)
	}
}

func TestValidate(t *testing.T) {
	tooBig := int(min(MaxCount+1, math.MaxInt))
	tests := []struct {
		op    Op
		index int
	}{
		{Op{{}}, 0},
		{Op{Ins("a"), {Skip: 1, Insert: "x"}}, 1},
		{Op{{Delete: 2, DeleteText: "abc"}}, 0},
		{Op{{DeleteText: "abc"}}, 0},
		{Op{Ins("\xff")}, 0},
		{Op{Retain(-1), Ins("x")}, 0},
		{Op{Del(-1)}, 0},
		{Op{Retain(tooBig), Ins("x")}, 0},
	}
	for _, tt := range tests {
		var e *Error
		if err := tt.op.Validate(); !errors.As(err, &e) || e.Index != tt.index {
			t.Errorf("Validate(%#v) = %v, want error at %d", tt.op, err, tt.index)
		}
		if _, err := Transform(tt.op, nil, Left); err == nil {
			t.Errorf("Transform accepted %#v", tt.op)
		}
		if _, err := Compose(nil, tt.op); err == nil {
			t.Errorf("Compose accepted %#v", tt.op)
		}
		if _, err := NewDoc("abc").Apply(tt.op); err == nil {
			t.Errorf("Apply accepted %#v", tt.op)
		}
	}
	if err := (Op{Retain(2), DelText("é😀"), Ins("x"), Del(1)}).Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestApplyStrict(t *testing.T) {
	tests := []struct {
		doc   string
		op    Op
		index int
		msg   string
	}{
		{"abc", Op{Retain(4), Ins("x")}, 0, "skip of 4 at position 0 runs past the end"},
		{"abc", Op{Del(1), Retain(3), Ins("x")}, 1, "skip of 3 at position 1"},
		{"abc", Op{Retain(1), Del(3)}, 1, "delete of 3 at position 1 runs past the end"},
		{"a😀c", Op{Retain(1), DelText("😃")}, 1, "does not match"},
		{"abc", Op{DelText("abcd")}, 0, "past the end"},
		{"", Op{Del(1)}, 0, "past the end"},
	}
	for _, tt := range tests {
		d := NewDoc(tt.doc)
		_, err := d.Apply(tt.op)
		var e *Error
		if !errors.As(err, &e) || e.Index != tt.index || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Apply(%q, %s) = %v, want index %d %q", tt.doc, tt.op, err, tt.index, tt.msg)
		}
		if d.String() != tt.doc {
			t.Errorf("doc modified")
		}
		if _, err := MakeInvertible(tt.op, d); err == nil {
			t.Errorf("MakeInvertible(%s, %q) accepted it", tt.op, tt.doc)
		}
	}
}

func TestNilAndZeroDoc(t *testing.T) {
	var d *Doc
	var z Doc
	for _, doc := range []*Doc{d, &z, NewDoc("")} {
		if doc.Len() != 0 || doc.Size() != 0 || doc.String() != "" || doc.Slice(0, 5) != "" {
			t.Fatal("empty doc not empty")
		}
		nd, err := doc.Apply(Op{Ins("hé")})
		if err != nil || nd.String() != "hé" || nd.Len() != 2 || nd.Size() != 3 {
			t.Fatalf("%v %v", nd, err)
		}
	}
}

func TestNewDocInvalidUTF8(t *testing.T) {
	d := NewDoc("a\xffb\xc3")
	if d.String() != "a\uFFFDb\uFFFD" || d.Len() != 4 {
		t.Fatalf("got %q (%d)", d.String(), d.Len())
	}
}

func TestInvertNeedsText(t *testing.T) {
	_, err := Invert(Op{Retain(1), Del(2)})
	var e *Error
	if !errors.As(err, &e) || e.Index != 1 || !strings.Contains(err.Error(), "MakeInvertible") {
		t.Fatalf("Invert: %v", err)
	}
	inv, err := MakeInvertible(Op{Retain(1), Del(2), Ins("x")}, NewDoc("a😀bc"))
	if err != nil || inv.String() != `[1,{"d":"😀b"},"x"]` {
		t.Fatalf("MakeInvertible = %s, %v", inv, err)
	}
}

func TestTransformBadSide(t *testing.T) {
	if _, err := Transform(nil, nil, Side(7)); err == nil {
		t.Fatal("bad side accepted")
	}
	if s, err := ParseSide("right"); err != nil || s != Right {
		t.Fatal("ParseSide(right)")
	}
	if _, err := ParseSide("up"); err == nil {
		t.Fatal("ParseSide(up) accepted")
	}
	if Left.String() != "left" || Right.String() != "right" {
		t.Fatal("side names")
	}
}

func TestHelpers(t *testing.T) {
	op := Op{Retain(2), Ins("é😀"), DelText("abc"), Ins("x"), Del(2)}
	if op.BaseLen() != 7 || op.InsertLen() != 3 || op.DeleteLen() != 5 || op.IsNoop() || !Op(nil).IsNoop() {
		t.Fatal("helpers")
	}
	if op.IsInvertible() {
		t.Fatal("IsInvertible")
	}
}

// TestLargeDocEdits checks a long run of one-character edits on a document of
// many leaves: the result matches the model and leaves stay reasonably full.
func TestLargeDocEdits(t *testing.T) {
	base := strings.Repeat("abcdéfgh😀\n", 5000)
	d := NewDoc(base)
	model := []rune(base)
	for i := 0; i < 1500; i++ {
		pos := (i * 7919) % (len(model) + 1)
		var op Op
		if i%3 == 2 && pos < len(model) {
			op = Op{Retain(pos), Del(1)}
			if pos == 0 {
				op = Op{Del(1)}
			}
		} else {
			op = Op{Retain(pos), Ins("Z")}
			if pos == 0 {
				op = Op{Ins("Z")}
			}
		}
		var err error
		if d, err = d.Apply(op); err != nil {
			t.Fatal(err)
		}
		model = applyModel(model, op)
	}
	if d.String() != string(model) {
		t.Fatal("rope differs from model")
	}
	if e := checkTree(d.root); e != "" {
		t.Fatal(e)
	}
	leaves := 0
	var count func(*node)
	count = func(n *node) {
		if n.left == nil {
			leaves++
			return
		}
		count(n.left)
		count(n.right)
	}
	count(d.root)
	if avg := d.Size() / leaves; avg < leafMax/3 {
		t.Fatalf("average leaf is %d bytes over %d leaves", avg, leaves)
	}
}

// TestApplyManyEdits covers the linear rebuild used for ops with many edits,
// against the []rune model.
func TestApplyManyEdits(t *testing.T) {
	base := []rune(strings.Repeat("héllo wörld 😀 ", 300))
	var op Op
	for i := 0; i+5 <= len(base); i += 5 {
		op = append(op, Retain(2), Del(1), Ins("ZZ"), Retain(1), DelText(string(base[i+4:i+5])))
	}
	op = Normalize(op)
	d, err := NewDoc(string(base)).Apply(op)
	if err != nil {
		t.Fatal(err)
	}
	if want := string(applyModel(base, op)); d.String() != want {
		t.Fatal("rope differs from the model")
	}
	if e := checkTree(d.root); e != "" {
		t.Fatal(e)
	}
	texts := 0
	for _, c := range op {
		if c.DeleteText != "" {
			texts++
		}
	}
	if texts <= manyEdits {
		t.Fatalf("only %d text deletes", texts)
	}
	bad := append(Op(nil), op...)
	bad[len(bad)-1] = DelText("X")
	if _, err := NewDoc(string(base)).Apply(bad); err == nil {
		t.Fatal("mismatching delete text accepted")
	}
}

// FuzzParse: arbitrary bytes either fail with *Error or give a valid op whose
// canonical encoding parses back to the same op and encodes identically.
// When the input is valid JSON the decoded value agrees with encoding/json.
func FuzzParse(f *testing.F) {
	for _, s := range []string{`[]`, `[1,"a",{"d":2},{"d":"é😀"}]`, `[{"d":0}]`, `"x"`, `[1.0,"\u2028<"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		op, err := Parse(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Index < -1 || e.Index >= max(1, len(data)) {
				t.Fatalf("Parse error %v (%T)", err, err)
			}
			return
		}
		if err := op.Validate(); err != nil {
			t.Fatalf("Parse returned an invalid op %#v: %v", op, err)
		}
		if slow, err := parseSlow(data); err != nil || !equalOps(slow, op) {
			t.Fatalf("general path gives %#v, %v; Parse gave %#v", slow, err, op)
		}
		enc, err := op.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		op2, err := Parse(enc)
		if err != nil {
			t.Fatalf("canonical %s does not parse: %v", enc, err)
		}
		if !equalOps(op, op2) {
			t.Fatalf("round trip %s: %#v vs %#v", enc, op, op2)
		}
		if enc2, _ := op2.MarshalJSON(); !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable: %s vs %s", enc, enc2)
		}
		// Same components as a generic decode.
		var generic []any
		if err := json.Unmarshal(data, &generic); err != nil || len(generic) != len(op) {
			t.Fatalf("encoding/json disagrees: %v, %d components vs %d", err, len(generic), len(op))
		}
		for i, g := range generic {
			switch v := g.(type) {
			case string:
				if op[i].Insert != v {
					t.Fatalf("component %d: %q vs %#v", i, v, op[i])
				}
			case float64:
				if float64(op[i].Skip) != v {
					t.Fatalf("component %d: %v vs %#v", i, v, op[i])
				}
			}
		}
	})
}
