package ot

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"testing"
)

// vector is one line of testdata/text-unicode.jsonl, recorded by running
// ot-text-unicode 4.0.0 (see /work/shared/ot-vectors/README.md).
type vector struct {
	Kind   string          `json:"kind"`
	Doc    string          `json:"doc"`
	Op     json.RawMessage `json:"op"`
	Other  json.RawMessage `json:"other"`
	A      json.RawMessage `json:"a"`
	B      json.RawMessage `json:"b"`
	Side   string          `json:"side"`
	Pos    int             `json:"pos"`
	Sel    json.RawMessage `json:"sel"`
	Result json.RawMessage `json:"result"`
	Error  string          `json:"error"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	f, err := os.Open("testdata/text-unicode.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var v vector
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %d: %v", len(vs)+1, err)
		}
		vs = append(vs, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 3000 {
		t.Fatalf("only %d vectors", len(vs))
	}
	return vs
}

func mustParse(t *testing.T, raw []byte) Op {
	t.Helper()
	op, err := Parse(raw)
	if err != nil {
		t.Fatalf("Parse(%s): %v", raw, err)
	}
	// Inputs are canonical JSON.stringify output: they must round-trip.
	if got := op.String(); got != string(raw) {
		t.Fatalf("round trip of %s gave %s", raw, got)
	}
	return op
}

func wantOp(t *testing.T, got Op, err error, want []byte) {
	t.Helper()
	if err != nil {
		t.Fatalf("error %v, want %s", err, want)
	}
	if g := got.String(); g != string(want) {
		t.Fatalf("got %s, want %s", g, want)
	}
}

func wantText(t *testing.T, raw []byte) string {
	t.Helper()
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestVectors(t *testing.T) {
	vs := loadVectors(t)
	counts := map[string]int{}
	for i, v := range vs {
		counts[v.Kind]++
		t.Run(strconv.Itoa(i+1)+"_"+v.Kind, func(t *testing.T) {
			switch v.Kind {
			case "apply":
				op := mustParse(t, v.Op)
				got, err := Apply(v.Doc, op)
				if err != nil {
					t.Fatalf("Apply(%q, %s): %v", v.Doc, v.Op, err)
				}
				if want := wantText(t, v.Result); got != want {
					t.Fatalf("Apply(%q, %s) = %q, want %q", v.Doc, v.Op, got, want)
				}
			case "invalid":
				op, err := Parse(v.Op)
				if err == nil {
					_, err = Apply(v.Doc, op)
				}
				if err == nil {
					t.Fatalf("Apply(%q, %s) accepted; library says %q", v.Doc, v.Op, v.Error)
				}
				if _, ok := err.(*Error); !ok {
					t.Fatalf("error %v is %T, want *Error", err, err)
				}
			case "transform":
				side := Left
				switch v.Side {
				case "left":
				case "right":
					side = Right
				default:
					t.Fatalf("side %q", v.Side)
				}
				got, err := Transform(mustParse(t, v.Op), mustParse(t, v.Other), side)
				wantOp(t, got, err, v.Result)
			case "compose":
				got, err := Compose(mustParse(t, v.A), mustParse(t, v.B))
				wantOp(t, got, err, v.Result)
			case "normalize":
				wantOp(t, Normalize(mustParse(t, v.Op)), nil, v.Result)
			case "invert":
				got, err := Invert(mustParse(t, v.Op))
				wantOp(t, got, err, v.Result)
			case "converge":
				a, b := mustParse(t, v.A), mustParse(t, v.B)
				want := wantText(t, v.Result)
				bt, err := Transform(b, a, Left)
				if err != nil {
					t.Fatal(err)
				}
				at, err := Transform(a, b, Right)
				if err != nil {
					t.Fatal(err)
				}
				d := NewDoc(v.Doc)
				for _, path := range [][2]Op{{a, bt}, {b, at}} {
					d1, err := d.Apply(path[0])
					if err != nil {
						t.Fatal(err)
					}
					d2, err := d1.Apply(path[1])
					if err != nil {
						t.Fatalf("Apply(%q, %s): %v", d1, path[1], err)
					}
					if d2.String() != want {
						t.Fatalf("got %q, want %q", d2, want)
					}
				}
			case "transformPosition":
				want, err := strconv.Atoi(string(v.Result))
				if err != nil {
					t.Fatal(err)
				}
				if got := TransformPosition(v.Pos, mustParse(t, v.Op)); got != want {
					t.Fatalf("TransformPosition(%d, %s) = %d, want %d", v.Pos, v.Op, got, want)
				}
			case "transformSelection":
				op := mustParse(t, v.Op)
				var got []byte
				if bytes.HasPrefix(v.Sel, []byte("[")) {
					var s [2]int
					if err := json.Unmarshal(v.Sel, &s); err != nil {
						t.Fatal(err)
					}
					r := TransformSelection(Selection{Anchor: s[0], Head: s[1]}, op)
					got, _ = json.Marshal([2]int{r.Anchor, r.Head})
				} else {
					n, err := strconv.Atoi(string(v.Sel))
					if err != nil {
						t.Fatal(err)
					}
					r := TransformSelection(Selection{Anchor: n, Head: n}, op)
					if r.Anchor != r.Head {
						t.Fatalf("cursor split: %+v", r)
					}
					got = strconv.AppendInt(nil, int64(r.Anchor), 10)
				}
				if string(got) != string(v.Result) {
					t.Fatalf("TransformSelection(%s, %s) = %s, want %s", v.Sel, v.Op, got, v.Result)
				}
			default:
				t.Fatalf("unknown kind %q", v.Kind)
			}
		})
	}
	t.Logf("vector kinds: %v", counts)
}
