package api

import (
	"testing"
	"time"

	"github.com/cowrite/cowrite/auth"
)

// FuzzShareBody: the share POST body's parsers never panic, accept only a
// viewer or editor role, and only a TTL within [1m, MaxShareTTL].
func FuzzShareBody(f *testing.F) {
	for _, s := range []string{
		`{"role":"editor","ttl":"24h"}`, `{"role":"viewer","ttl":3600}`, `{"role":"owner"}`,
		`{"role":"viewer","ttl":1e300}`, `{"role":"viewer","ttl":-1}`, `{"role":"viewer","ttl":"-5m"}`,
		`{"role":"viewer","ttl":"9999999999h"}`, `{"role":"viewer","ttl":null}`, `{"role":3,"ttl":[]}`,
		`{"ttl":"59.9s"}`, `{}`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	a := &API{opts: Options{MaxShareTTL: 48 * time.Hour}}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := decodeObject(data, "request body")
		if err != nil {
			return
		}
		if r, err := shareRole(obj); err == nil && r != auth.RoleViewer && r != auth.RoleEditor {
			t.Fatalf("role %v accepted", r)
		}
		if ttl, err := a.shareTTL(obj); err == nil && (ttl < minShareTTL || ttl > a.opts.MaxShareTTL) {
			t.Fatalf("ttl %v accepted", ttl)
		}
	})
}
