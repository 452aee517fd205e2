package client

import (
	"encoding/json"
	"testing"
)

func FuzzParsePacket(f *testing.F) {
	for _, s := range []string{"2", "1", "41", `43[{"ok":true}]`, `4312[{"ok":true,"version":3}]`,
		`42["doc:op",{"doc":"a","version":1,"op":["x"],"client":"c"}]`, `42["doc:deleted",{"doc":"a"}]`,
		`42[]`, `43x[]`, `42["a"]`, `40{"sid":"x"}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		p, err := parsePacket(msg)
		if err != nil {
			return
		}
		switch p.kind {
		case 'a':
			if len(p.args) == 0 {
				t.Fatalf("ack without arguments from %q", msg)
			}
		case 'e':
			if len(p.args) < 2 || !json.Valid(p.args[1]) {
				t.Fatalf("event without a payload from %q", msg)
			}
		}
	})
}
