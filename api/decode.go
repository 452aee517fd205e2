package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"

	"github.com/cowrite/cowrite/collab"
	"github.com/cowrite/cowrite/collab/ot"
)

// Limits on decoded fields that collab does not own. Client ids, titles,
// selections, ops and documents are limited by collab.Options (one owner
// per limit; GET /api/limits reports them).
const (
	maxPosition  = 1 << 31 // a selection position, in code points
	maxCursorLen = 1024    // bytes of a list cursor
)

// object is a decoded JSON object whose values are kept raw, so that each
// field can be checked for its type with a clear message.
type object map[string]json.RawMessage

// decodeObject decodes data as one JSON object. what names the payload in
// error messages ("payload", "body").
func decodeObject(data []byte, what string) (object, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, badRequest(what + " is missing: expected a JSON object")
	}
	if data[0] != '{' {
		return nil, badRequest(what + " must be a JSON object")
	}
	obj, ok := scanObject(data)
	if !ok {
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, badRequest(what + " is not valid JSON: " + err.Error())
		}
	}
	if err := checkText(data); err != nil {
		return nil, badRequest(what + " " + err.Error())
	}
	return obj, nil
}

// checkText refuses what encoding/json would silently turn into U+FFFD:
// bytes that are not UTF-8, and \u escapes of lone surrogates (a high
// surrogate not followed by an escaped low one, or a low one alone). A
// JavaScript client that sent such a string would otherwise hold text
// that differs from the server's. data is valid JSON, so every backslash
// is inside a string and starts an escape.
func checkText(data []byte) error {
	if !utf8.Valid(data) {
		return errors.New("is not valid UTF-8")
	}
	for i := 0; i < len(data); i++ {
		if data[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if i >= len(data) || data[i] != 'u' {
			continue
		}
		r := hex4(data, i+1)
		i += 4
		switch {
		case r >= 0xD800 && r < 0xDC00:
			if i+6 < len(data) && data[i+1] == '\\' && data[i+2] == 'u' {
				if lo := hex4(data, i+3); lo >= 0xDC00 && lo < 0xE000 {
					i += 6
					continue
				}
			}
			return errors.New("holds a lone UTF-16 surrogate (\\u escape)")
		case r >= 0xDC00 && r < 0xE000:
			return errors.New("holds a lone UTF-16 surrogate (\\u escape)")
		}
	}
	return nil
}

// hex4 returns the value of the 4 hex digits at data[i:], -1 if they are not.
func hex4(data []byte, i int) int {
	if i+4 > len(data) {
		return -1
	}
	v, err := strconv.ParseUint(string(data[i:i+4]), 16, 32)
	if err != nil {
		return -1
	}
	return int(v)
}

// scanObject is the fast path of decodeObject: data (trimmed, starting with
// '{') is checked with json.Valid, copied once, and split into its members
// in one pass, values kept raw as slices of the copy. It gives up (ok=false,
// the caller then uses json.Unmarshal, which also words the errors) on
// invalid JSON and on keys with escapes or non-ASCII bytes, so that it
// returns exactly what json.Unmarshal would.
func scanObject(data []byte) (obj object, ok bool) {
	if !json.Valid(data) {
		return nil, false
	}
	data = bytes.Clone(data) // the values outlive the caller's buffer
	obj = make(object, 8)
	i := skipSpace(data, 1)
	if i < len(data) && data[i] == '}' {
		return obj, true
	}
	for i < len(data) {
		if data[i] != '"' {
			return nil, false
		}
		ks := i + 1
		ke := ks
		for ke < len(data) && data[ke] != '"' {
			if c := data[ke]; c == '\\' || c >= utf8.RuneSelf {
				return nil, false
			}
			ke++
		}
		i = skipSpace(data, ke+1)
		if i >= len(data) || data[i] != ':' {
			return nil, false
		}
		vs := skipSpace(data, i+1)
		ve := skipValue(data, vs)
		if ve <= vs || ve > len(data) {
			return nil, false
		}
		obj[string(data[ks:ke])] = json.RawMessage(data[vs:ve:ve])
		i = skipSpace(data, ve)
		if i >= len(data) {
			return nil, false
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return obj, true
		default:
			return nil, false
		}
	}
	return nil, false
}

func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the end of the (valid) JSON value starting at i.
func skipValue(data []byte, i int) int {
	if i >= len(data) {
		return i
	}
	switch data[i] {
	case '"':
		return skipString(data, i)
	case '{', '[':
		depth := 0
		for i < len(data) {
			switch data[i] {
			case '"':
				i = skipString(data, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	}
	for i < len(data) {
		switch data[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// skipString returns the index after the string literal starting at i.
func skipString(data []byte, i int) int {
	for i++; i < len(data); i++ {
		switch data[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}

// present reports whether the field is there and not null.
func (o object) present(name string) bool {
	raw, ok := o[name]
	return ok && !isNull(raw)
}

func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// str returns a string field; absent or null gives "" and ok=false.
func (o object) str(name string, maxLen int) (s string, ok bool, err error) {
	if !o.present(name) {
		return "", false, nil
	}
	if s, ok = plainString(o[name]); !ok {
		if err := json.Unmarshal(o[name], &s); err != nil {
			return "", false, badRequest(fmt.Sprintf("%q must be a string", name))
		}
	}
	if maxLen > 0 && len(s) > maxLen {
		return "", false, badRequest(fmt.Sprintf("%q is too long (%d bytes, at most %d)", name, len(s), maxLen))
	}
	return s, true, nil
}

// plainString returns the value of a JSON string literal without escapes
// and with valid UTF-8 (the common case: ids, client ids) without a second
// pass of encoding/json; ok=false for anything else, which the caller then
// decodes with json.Unmarshal (escapes, wrong types), so the result is the
// same either way. decodeObject already refused invalid UTF-8 and lone
// surrogates.
func plainString(raw json.RawMessage) (s string, ok bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	in := raw[1 : len(raw)-1]
	ascii := true
	for _, c := range in {
		switch {
		case c == '"' || c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	if !ascii && !utf8.Valid(in) {
		return "", false
	}
	return string(in), true
}

// uint returns a non-negative integer field; absent or null gives ok=false.
func (o object) uint(name string) (v uint64, ok bool, err error) {
	if !o.present(name) {
		return 0, false, nil
	}
	v, err = parseUintJSON(o[name])
	if err != nil {
		return 0, false, badRequest(fmt.Sprintf("%q must be a non-negative integer", name))
	}
	return v, true, nil
}

// parseUintJSON parses a JSON number that is a non-negative integer. JSON
// numbers written with a zero fraction or an exponent ("3.0", "1e3") are
// accepted when they denote an integer, as JavaScript does not tell them apart.
func parseUintJSON(raw json.RawMessage) (uint64, error) {
	s := string(bytes.TrimSpace(raw))
	if v, err := strconv.ParseUint(s, 10, 64); err == nil {
		return v, nil
	}
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return 0, fmt.Errorf("not a number")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f != float64(uint64(f)) || f > 1<<53 {
		return 0, fmt.Errorf("not a non-negative integer")
	}
	return uint64(f), nil
}

// docID returns the validated "doc" (or other named) id field.
func (o object) docID(name string) (string, error) {
	if !o.present(name) {
		return "", badRequest(fmt.Sprintf("%q is required", name))
	}
	id, _, err := o.str(name, 0)
	if err != nil {
		return "", err
	}
	if err := collab.ValidateDocID(id); err != nil {
		return "", err // a *collab.Error, bad_request
	}
	return id, nil
}

// op returns the required "op" field parsed with ot.Parse; a missing key is
// bad_request, anything that is not a valid op (null included) invalid_op.
func (o object) op() (ot.Op, error) {
	if _, ok := o["op"]; !ok {
		return nil, badRequest(`"op" is required`)
	}
	if isNull(o["op"]) {
		return nil, invalidOp("op must be an array of components, not null")
	}
	op, err := ot.Parse(o["op"])
	if err != nil {
		return nil, invalidOp(err.Error())
	}
	return op, nil
}

// selection returns the "selection" field: null or absent gives nil, else an
// array of {anchor, head} with non-negative integers.
func (o object) selection() ([]ot.Selection, error) {
	if !o.present("selection") {
		return nil, nil
	}
	var ranges []json.RawMessage
	if err := json.Unmarshal(o["selection"], &ranges); err != nil {
		return nil, badRequest(`"selection" must be null or an array of {anchor, head}`)
	}
	sel := make([]ot.Selection, 0, len(ranges))
	for i, raw := range ranges {
		r, err := decodeObject(raw, fmt.Sprintf("selection[%d]", i))
		if err != nil {
			return nil, err
		}
		anchor, okA, errA := r.uint("anchor")
		head, okH, errH := r.uint("head")
		if errA != nil || errH != nil || !okA || !okH || anchor > maxPosition || head > maxPosition {
			return nil, badRequest(fmt.Sprintf("selection[%d] must be {anchor, head} with non-negative integer positions", i))
		}
		sel = append(sel, ot.Selection{Anchor: int(anchor), Head: int(head)})
	}
	return sel, nil
}

// submission decodes the fields shared by doc:op and POST ops:
// { version, op, client?, seq? }.
func (o object) submission() (collab.Submission, error) {
	var sub collab.Submission
	v, ok, err := o.uint("version")
	if err != nil {
		return sub, err
	}
	if !ok {
		return sub, badRequest(`"version" is required`)
	}
	op, err := o.op()
	if err != nil {
		return sub, err
	}
	client, _, err := o.str("client", 0)
	if err != nil {
		return sub, err
	}
	seq, hasSeq, err := o.uint("seq")
	if err != nil {
		return sub, err
	}
	if client != "" && !hasSeq {
		return sub, badRequest(`"seq" is required with "client"`)
	}
	if hasSeq && seq == 0 {
		return sub, badRequest(`"seq" starts at 1`)
	}
	if client == "" && hasSeq {
		return sub, badRequest(`"seq" needs a "client"`)
	}
	return collab.Submission{Version: v, Op: op, Client: client, Seq: seq}, nil
}
