package jsonstr

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppend(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", `""`},
		{"abc", `"abc"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\b\f\n\r\t\x00\x01\x1f", `"\b\f\n\r\t\u0000\u0001\u001f"`},
		{"\x7f<>&é😀", "\"\x7f<>&é😀\""},
		{"\u2028\u2029", "\"\u2028\u2029\""},
		{"a\xffb\xc3", "\"a\uFFFDb\uFFFD\""},
		{"\uFFFD", "\"\uFFFD\""},
	} {
		if got := string(Append([]byte("x"), tc.in)); got != "x"+tc.want {
			t.Errorf("Append(%q) = %s, want %s", tc.in, got[1:], tc.want)
		}
	}
}

// encodingJSON is encoding/json's encoding of s with HTML escaping off,
// with the two differences of the package doc undone: the escapes
// \u2028, \u2029 and \ufffd written raw.
func encodingJSON(t *testing.T, s string) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	in := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	var out []byte
	for i := 0; i < len(in); i++ {
		if in[i] != '\\' {
			out = append(out, in[i])
			continue
		}
		esc := string(in[i : i+2])
		if esc == `\u` {
			esc = string(in[i : i+6])
		}
		switch esc {
		case `\u2028`:
			out = append(out, "\u2028"...)
		case `\u2029`:
			out = append(out, "\u2029"...)
		case `\ufffd`:
			out = append(out, "\uFFFD"...)
		default:
			out = append(out, esc...)
		}
		i += len(esc) - 1
	}
	return out
}

// FuzzAppend: the output is encoding/json's (the documented differences
// aside), and decoding it gives s back when s is valid UTF-8, and
// otherwise what encoding/json's decoder makes of s (invalid bytes become
// U+FFFD).
func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "\b\f\n\r\t\x00\x1f\x7f", "<>&", "\u2028\u2029", "a\xffb", "\xed\xa0\x80", "é😀", `\ufffd`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Append(nil, s)
		if want := encodingJSON(t, s); !bytes.Equal(got, want) {
			t.Fatalf("Append(%q) = %s, encoding/json: %s", s, got, want)
		}
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("Append(%q) = %s does not decode: %v", s, got, err)
		}
		want := s
		if !utf8.ValidString(s) {
			want = perByteFFFD(s)
		}
		if back != want {
			t.Fatalf("Append(%q) decodes to %q, want %q", s, back, want)
		}
	})
}

// perByteFFFD replaces each byte of invalid UTF-8 with U+FFFD, as
// encoding/json does.
func perByteFFFD(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString("\uFFFD")
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

func BenchmarkAppend(b *testing.B) {
	for _, bc := range []struct{ name, s string }{
		{"id", "doc-4f3a9c2e"},
		{"text", strings.Repeat("The quick brown fox jumps over the lazy dog. ", 4)},
		{"escapes", strings.Repeat("line \"one\"\n\ttab\\ é😀 ", 8)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			buf := make([]byte, 0, 1024)
			b.SetBytes(int64(len(bc.s)))
			b.ReportAllocs()
			for b.Loop() {
				buf = Append(buf[:0], bc.s)
			}
		})
	}
}

// BenchmarkEncodingJSON is the same work by encoding/json, for comparison.
func BenchmarkEncodingJSON(b *testing.B) {
	s := strings.Repeat("line \"one\"\n\ttab\\ é😀 ", 8)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		_ = enc.Encode(s)
	}
}
