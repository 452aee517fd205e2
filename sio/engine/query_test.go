package engine

import (
	"net/url"
	"reflect"
	"testing"
)

// FuzzParseQuery: parseQuery agrees with url.ParseQuery, or refuses (nil)
// where url.ParseQuery fails.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"EIO=4&transport=websocket", "a=1&a=2&b", "x=%41+b", "bad=%zz", "a;b=1", "", "&&=&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		want, err := url.ParseQuery(raw)
		got := parseQuery(raw)
		if err != nil {
			if got != nil {
				t.Fatalf("%q: parsed %v where url.ParseQuery fails (%v)", raw, got, err)
			}
			return
		}
		if !reflect.DeepEqual(map[string][]string(got), map[string][]string(want)) {
			t.Fatalf("%q: %v, want %v", raw, got, want)
		}
	})
}
