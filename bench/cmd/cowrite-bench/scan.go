package main

import "bytes"

// Fast paths for the messages the collab workload receives most (remote ops
// and op acks), so that decoding does not make the load tool the
// bottleneck. Each returns ok=false when the message is not in the expected
// shape, and callers then fall back to encoding/json.

// fieldInt returns the integer after key (for example `"version":`).
func fieldInt(b []byte, key string) (int64, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return 0, false
	}
	return parseInt(b[i+len(key):])
}

// fieldArray returns the JSON array that follows key (for example
// `"op":`), brackets included.
func fieldArray(b []byte, key string) ([]byte, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil, false
	}
	b = b[i+len(key):]
	if len(b) == 0 || b[0] != '[' {
		return nil, false
	}
	depth, inStr := 0, false
	for j := 0; j < len(b); j++ {
		c := b[j]
		if inStr {
			switch c {
			case '\\':
				j++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '[', '{':
			depth++
		case ']', '}':
			depth--
			if depth == 0 {
				return b[:j+1], true
			}
		}
	}
	return nil, false
}

// fieldString returns the raw (unescaped only if it has no escapes) JSON
// string after key (for example `"src":`).
func fieldString(b []byte, key string) ([]byte, bool) {
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return nil, false
	}
	b = b[i+len(key):]
	if len(b) == 0 || b[0] != '"' {
		return nil, false
	}
	end := bytes.IndexByte(b[1:], '"')
	if end < 0 || bytes.IndexByte(b[1:end+1], '\\') >= 0 {
		return nil, false
	}
	return b[1 : end+1], true
}

var okAckPrefix = []byte(`[{"ok":true,"version":`)

// fastOpAck parses Cowrite's `[{"ok":true,"version":N}]`.
func fastOpAck(b []byte) (uint64, bool) {
	if !bytes.HasPrefix(b, okAckPrefix) {
		return 0, false
	}
	v, ok := parseInt(b[len(okAckPrefix):])
	return uint64(v), ok && v >= 0
}
