// Package jsonstr writes JSON strings: the one quoter of the module's
// hand-written JSON encoders (collab/ot ops, sio arguments, api events, the
// benchmark client).
//
// The output is what JavaScript's JSON.stringify writes, which is what the
// peers of this server (socket.io clients, ot-text-unicode) read and write:
// '"' and '\\' are escaped, control characters below U+0020 are written as
// \b, \f, \n, \r, \t or \u00XX, and everything else is written raw. This is
// encoding/json's escaping with HTML escaping off (Encoder.SetEscapeHTML
// (false)) except in two points, neither of which changes what a decoder
// reads: U+2028 and U+2029 are written raw (encoding/json escapes them for
// JSONP), and each byte of invalid UTF-8 is written as a raw U+FFFD
// (encoding/json writes the escape \ufffd; both decode to U+FFFD, as
// encoding/json's decoder also does with such bytes). FuzzAppend checks the
// output against encoding/json byte for byte, those two points aside.
package jsonstr

import "unicode/utf8"

const hexDigits = "0123456789abcdef"

// Append appends s to dst as a JSON string (see the package doc).
func Append(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
