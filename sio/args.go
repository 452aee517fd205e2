package sio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/cowrite/cowrite/internal/jsonstr"
)

// Args are the arguments of a received event or ack, kept exactly as the client sent them:
// one raw JSON value per argument (never re-encoded, so key order and number spelling are
// preserved) plus the binary attachments that placeholders `{"_placeholder":true,"num":N}`
// in those values refer to.
//
// Passing an Args value as an argument of Emit, an AckFunc or a broadcast splices its
// arguments in place, with their attachments: echoing received arguments is byte-exact.
// The zero value holds no arguments. Args are immutable and safe to share.
type Args struct {
	raw  []json.RawMessage
	bufs [][]byte
}

// ArgsOf encodes Go values as Args, as Emit would ([]byte values become attachments).
// It is meant for tests of event handlers.
func ArgsOf(values ...any) (Args, error) {
	var e argEncoder
	raw, err := e.encodeAll(values)
	if err != nil {
		return Args{}, err
	}
	return Args{raw: raw, bufs: e.bufs}, nil
}

// Len returns the number of arguments.
func (a Args) Len() int { return len(a.raw) }

// Raw returns argument i as raw JSON (placeholders included), or nil when out of range.
// The returned slice must not be modified.
func (a Args) Raw(i int) json.RawMessage {
	if i < 0 || i >= len(a.raw) {
		return nil
	}
	return a.raw[i]
}

// Attachments returns the binary attachments (nil when none). They must not be modified.
func (a Args) Attachments() [][]byte { return a.bufs }

// Slice returns the arguments from index from on. Attachments are kept whole, so the
// placeholders of the kept arguments still resolve.
func (a Args) Slice(from int) Args {
	if from < 0 {
		from = 0
	}
	if from > len(a.raw) {
		from = len(a.raw)
	}
	return Args{raw: a.raw[from:], bufs: a.bufs}
}

// Decode unmarshals argument i into v with encoding/json. When the arguments carry
// attachments, each placeholder is first replaced by its buffer, so that a []byte
// destination receives the attachment's bytes.
func (a Args) Decode(i int, v any) error {
	if i < 0 || i >= len(a.raw) {
		return ErrArgIndex
	}
	if len(a.bufs) == 0 {
		return json.Unmarshal(a.raw[i], v)
	}
	val, err := decodeAny(a.raw[i], true)
	if err != nil {
		return err
	}
	val, err = substitute(val, len(a.bufs), func(n int) any {
		return base64.StdEncoding.EncodeToString(a.bufs[n])
	})
	if err != nil {
		return err
	}
	b, err := json.Marshal(val)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Value decodes argument i into a generic Go value (map[string]any, []any, string,
// float64, bool, nil), with each placeholder replaced by its attachment as a []byte.
func (a Args) Value(i int) (any, error) {
	if i < 0 || i >= len(a.raw) {
		return nil, ErrArgIndex
	}
	val, err := decodeAny(a.raw[i], false)
	if err != nil {
		return nil, err
	}
	if len(a.bufs) == 0 {
		return val, nil
	}
	return substitute(val, len(a.bufs), func(n int) any { return a.bufs[n] })
}

func decodeAny(raw []byte, useNumber bool) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	if useNumber {
		d.UseNumber()
	}
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// placeholderNum reports whether m is a placeholder object and returns its index, checked
// against n attachments as the reference parser does.
func placeholderNum(m map[string]any, n int) (num int, ok bool, err error) {
	if b, isBool := m["_placeholder"].(bool); !isBool || !b {
		return 0, false, nil
	}
	var f float64
	switch x := m["num"].(type) {
	case float64:
		f = x
	case json.Number:
		f, err = x.Float64()
		if err != nil {
			return 0, true, parseErr(nil, "illegal attachments")
		}
	default:
		return 0, true, parseErr(nil, "illegal attachments")
	}
	if f < 0 || f >= float64(n) || f != math.Trunc(f) {
		return 0, true, parseErr(nil, "illegal attachments")
	}
	return int(f), true, nil
}

// substitute walks v depth-first and replaces each placeholder by repl(num).
func substitute(v any, n int, repl func(int) any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		num, ok, err := placeholderNum(x, n)
		if err != nil {
			return nil, err
		}
		if ok {
			return repl(num), nil
		}
		for k, e := range x {
			r, err := substitute(e, n, repl)
			if err != nil {
				return nil, err
			}
			x[k] = r
		}
	case []any:
		for i, e := range x {
			r, err := substitute(e, n, repl)
			if err != nil {
				return nil, err
			}
			x[i] = r
		}
	}
	return v, nil
}

// checkPlaceholders verifies that every placeholder in args refers to one of n attachments.
func checkPlaceholders(args []json.RawMessage, n int) error {
	for _, raw := range args {
		v, err := decodeAny(raw, true)
		if err != nil {
			return parseErr(raw, "invalid payload")
		}
		if _, err := substitute(v, n, func(int) any { return nil }); err != nil {
			return err
		}
	}
	return nil
}

// argEncoder turns Go values into raw JSON arguments, replacing each []byte found at the
// top level or inside []any / map[string]any (keys in sorted order, depth-first) by a
// placeholder and collecting the buffers in bufs. Other values use encoding/json without
// HTML escaping, as JSON.stringify does; a []byte inside a struct is base64 as usual.
type argEncoder struct {
	bufs [][]byte
}

func (e *argEncoder) encodeAll(values []any) ([]json.RawMessage, error) {
	out := make([]json.RawMessage, 0, len(values))
	for _, v := range values {
		var err error
		out, err = e.appendArg(out, v)
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (e *argEncoder) appendArg(out []json.RawMessage, v any) ([]json.RawMessage, error) {
	var a Args
	switch x := v.(type) {
	case Args:
		a = x
	case *Args:
		if x == nil {
			return append(out, json.RawMessage("null")), nil
		}
		a = *x
	default:
		raw, err := e.encode(nil, v)
		if err != nil {
			return nil, err
		}
		return append(out, raw), nil
	}
	if len(a.bufs) == 0 || len(e.bufs) == 0 {
		// Placeholders keep their numbers: pass the raw JSON through unchanged.
		e.bufs = append(e.bufs, a.bufs...)
		return append(out, a.raw...), nil
	}
	// Other attachments come first: renumber by decoding and re-encoding.
	for i := range a.raw {
		val, err := decodeAny(a.raw[i], true)
		if err != nil {
			return nil, err
		}
		val, err = substitute(val, len(a.bufs), func(n int) any { return a.bufs[n] })
		if err != nil {
			return nil, err
		}
		raw, err := e.encode(nil, val)
		if err != nil {
			return nil, err
		}
		out = append(out, raw)
	}
	return out, nil
}

func (e *argEncoder) encode(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case json.RawMessage:
		if !json.Valid(x) {
			return nil, fmt.Errorf("sio: invalid json.RawMessage argument")
		}
		return append(b, x...), nil
	case []byte:
		b = append(b, `{"_placeholder":true,"num":`...)
		b = strconv.AppendInt(b, int64(len(e.bufs)), 10)
		e.bufs = append(e.bufs, x)
		return append(b, '}'), nil
	case string:
		return appendJSON(b, x)
	case []any:
		b = append(b, '[')
		for i, el := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = e.encode(b, el); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, k); err != nil {
				return nil, err
			}
			b = append(b, ':')
			if b, err = e.encode(b, x[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case Args, *Args:
		return nil, fmt.Errorf("sio: Args can only be passed as a top-level argument")
	default:
		return appendJSON(b, v)
	}
}

// appendJSON appends v encoded as JSON without HTML escaping (as JSON.stringify does).
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case string:
		if utf8.ValidString(x) {
			return jsonstr.Append(b, x), nil
		}
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	}
	je := jsonEncoders.Get().(*jsonEncoder)
	defer jsonEncoders.Put(je)
	je.buf.Reset()
	if err := je.enc.Encode(v); err != nil {
		return nil, fmt.Errorf("sio: encode argument: %w", err)
	}
	out := je.buf.Bytes()
	return append(b, out[:len(out)-1]...), nil
}

type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonEncoders = sync.Pool{New: func() any {
	je := &jsonEncoder{}
	je.enc = json.NewEncoder(&je.buf)
	je.enc.SetEscapeHTML(false)
	return je
}}
