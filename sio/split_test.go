package sio

import (
	"bytes"
	"encoding/json"
	"testing"
)

// splitCases are arrays whose splitting must match json.Unmarshal.
var splitCases = []string{
	`[]`, ` [ ] `, "\t[\n]\r\n", `["a"]`, `[ "a" , 1 ,true,null , {"x":[1,{"y":"]"}]} , [] ]`,
	`["\"]\\",",",  "\u005d"]`, `[1e5,-0.5,  [ [ ] ]	]`, `[{"a" : "b" , "c" : [ 1 , 2 ] }]`,
	`["é\u00e9", "\ud83d\ude00"]`, "[\"\xff\xfe\"]",
}

func checkSplit(t *testing.T, data []byte) {
	if !json.Valid(data) || firstByte(data) != '[' {
		return
	}
	var want []json.RawMessage
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatalf("Unmarshal(%q): %v", data, err)
	}
	got := splitArray(data)
	if got == nil || len(got) != len(want) {
		t.Fatalf("splitArray(%q) = %q, want %q", data, got, want)
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("splitArray(%q)[%d] = %q, want %q", data, i, got[i], want[i])
		}
		if len(got[i]) > 0 && got[i][0] == '"' {
			var ws string
			werr := json.Unmarshal(got[i], &ws)
			gs, gerr := stringValue(got[i])
			if gs != ws || (gerr == nil) != (werr == nil) {
				t.Fatalf("stringValue(%q) = %q, %v; want %q, %v", got[i], gs, gerr, ws, werr)
			}
		}
	}
}

func TestSplitArray(t *testing.T) {
	for _, c := range splitCases {
		checkSplit(t, []byte(c))
	}
	got := splitArray([]byte(` [ "a" , {"b": [1, 2]} ] `))
	if len(got) != 2 || string(got[0]) != `"a"` || string(got[1]) != `{"b": [1, 2]}` || cap(got[0]) != len(got[0]) {
		t.Fatalf("splitArray = %q", got)
	}
}

// FuzzSplitArray checks that splitArray and stringValue give exactly what
// json.Unmarshal gives for every valid JSON array.
func FuzzSplitArray(f *testing.F) {
	for _, c := range splitCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkSplit(t, data) })
}
