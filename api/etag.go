package api

import (
	"strconv"
	"strings"
)

// noneMatch reports whether an If-None-Match header value matches the
// entity tag of version (RFC 9110 section 13.1.2: weak comparison, so
// W/"5" matches "5"): "*", or a comma-separated list holding the tag
// (unquoted 5 is taken too, as in If-Match). An empty or malformed header
// matches nothing (the content is sent).
func noneMatch(h string, version uint64) bool {
	h = strings.TrimSpace(h)
	if h == "" {
		return false
	}
	if h == "*" {
		return true
	}
	want := strconv.FormatUint(version, 10)
	for _, tag := range strings.Split(h, ",") {
		tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
		if len(tag) >= 2 && tag[0] == '"' && tag[len(tag)-1] == '"' {
			tag = tag[1 : len(tag)-1]
		}
		if tag == want {
			return true
		}
	}
	return false
}
