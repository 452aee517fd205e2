package api

import (
	"net"
	"strconv"
	"testing"
)

// FuzzNoneMatch: any If-None-Match value is handled without panicking, and
// a list holding the quoted version always matches.
func FuzzNoneMatch(f *testing.F) {
	for _, s := range []string{`"1"`, `W/"1", "2"`, `*`, ``, `"`, `W/`, `,,`, `"1`} {
		f.Add(s, uint64(1))
	}
	f.Fuzz(func(t *testing.T, h string, v uint64) {
		_ = noneMatch(h, v)
		if !noneMatch(h+`, "`+strconv.FormatUint(v, 10)+`"`, v) {
			t.Fatalf("%q plus the version's tag does not match %d", h, v)
		}
	})
}

// FuzzGuardHost: any Host and Origin values are checked without
// panicking; an IP address is always an allowed host.
func FuzzGuardHost(f *testing.F) {
	g, err := NewGuard(&GuardOptions{AllowedHosts: []string{"docs.example.com", ".team.example"}, CORSOrigins: []string{"https://app.example"}})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"localhost:3000", "[::1]:80", "evil.example", "", "[", "a:b:c", "DOCS.example.com."} {
		f.Add(s, "https://app.example")
	}
	f.Fuzz(func(t *testing.T, host, origin string) {
		_ = g.hostAllowed(host)
		_ = g.originAllowed(origin, host)
		_, _ = NormalizeOrigin(origin)
		if ip := net.ParseIP(host); ip != nil && !g.hostAllowed(host) {
			t.Fatalf("IP address %q refused", host)
		}
	})
}
