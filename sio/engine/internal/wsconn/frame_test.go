package wsconn

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/cowrite/cowrite/sio/engine/internal/wsconn/wstest"
)

var clientFrame = wstest.ClientFrame

// wsEvent is one call of a frameFunc, as a string for comparison.
func wsEvents(r *frameReader, chunks ...[]byte) ([]string, *FrameError) {
	var got []string
	fn := func(op byte, p []byte) bool {
		got = append(got, fmt.Sprintf("%d:%s", op, p))
		return true
	}
	for _, c := range chunks {
		ok, err := r.feed(bytes.Clone(c), fn)
		if err != nil {
			return got, err
		}
		if !ok {
			break
		}
	}
	return got, nil
}

func TestWSReader(t *testing.T) {
	const fin = 0x80
	big := strings.Repeat("x", 70000)
	concat := func(fs ...[]byte) []byte { return bytes.Join(fs, nil) }
	for _, tc := range []struct {
		name string
		in   []byte
		want []string
		code int // expected failure close code, 0 for none
	}{
		{"text", clientFrame(fin|OpText, []byte("4hello")), []string{"1:4hello"}, 0},
		{"binary", clientFrame(fin|OpBinary, []byte{1, 2, 3}), []string{"2:\x01\x02\x03"}, 0},
		{"empty", clientFrame(fin|OpText, nil), []string{"1:"}, 0},
		{"16-bit length", clientFrame(fin|OpText, []byte(strings.Repeat("a", 300))), []string{"1:" + strings.Repeat("a", 300)}, 0},
		{"64-bit length", clientFrame(fin|OpBinary, []byte(big)), []string{"2:" + big}, 0},
		{"two frames", concat(clientFrame(fin|OpText, []byte("a")), clientFrame(fin|OpText, []byte("b"))), []string{"1:a", "1:b"}, 0},
		{"fragmented with a ping inside", concat(
			clientFrame(OpText, []byte("4he")),
			clientFrame(fin|OpPing, []byte("p")),
			clientFrame(OpContinuation, []byte("l")),
			clientFrame(fin|OpContinuation, []byte("lo"))), []string{"9:p", "1:4hello"}, 0},
		{"utf-8 cut by fragments", concat(
			clientFrame(OpText, []byte("\xc3")),
			clientFrame(fin|OpContinuation, []byte("\xa9"))), []string{"1:é"}, 0},
		{"pong", clientFrame(fin|OpPong, []byte("x")), []string{"10:x"}, 0},
		{"close with code", clientFrame(fin|OpClose, []byte{0x03, 0xe8, 'b', 'y', 'e'}), []string{"8:\x03\xe8bye"}, 0},
		{"close without code", clientFrame(fin|OpClose, nil), []string{"8:"}, 0},
		{"invalid utf-8", clientFrame(fin|OpText, []byte{0xff}), nil, CloseInvalidData},
		{"invalid utf-8 in a close reason", clientFrame(fin|OpClose, []byte{0x03, 0xe8, 0xff}), nil, CloseInvalidData},
		{"one-byte close body", clientFrame(fin|OpClose, []byte{3}), nil, CloseProtocolError},
		{"close code 1005", clientFrame(fin|OpClose, []byte{0x03, 0xed}), nil, CloseProtocolError},
		{"too big", clientFrame(fin|OpText, []byte(strings.Repeat("a", 101))), nil, CloseTooBig},
		{"too big once reassembled", concat(
			clientFrame(OpText, []byte(strings.Repeat("a", 60))),
			clientFrame(fin|OpContinuation, []byte(strings.Repeat("a", 41)))), nil, CloseTooBig},
		{"rsv bit", clientFrame(fin|0x40|OpText, []byte("a")), nil, CloseProtocolError},
		{"unknown opcode", clientFrame(fin|0x3, []byte("a")), nil, CloseProtocolError},
		{"unmasked", []byte{fin | OpText, 1, 'a'}, nil, CloseProtocolError},
		{"fragmented control", clientFrame(OpPing, nil), nil, CloseProtocolError},
		{"long control", clientFrame(fin|OpPing, make([]byte, 126)), nil, CloseProtocolError},
		{"continuation first", clientFrame(fin|OpContinuation, []byte("a")), nil, CloseProtocolError},
		{"data inside a fragmented message", concat(
			clientFrame(OpText, []byte("a")),
			clientFrame(fin|OpText, []byte("b"))), nil, CloseProtocolError},
		{"length with the top bit", []byte{fin | OpBinary, 0x80 | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, nil, CloseProtocolError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			maxPayload := int64(1 << 20)
			if strings.HasPrefix(tc.name, "too big") {
				maxPayload = 100
			}
			// Whole, then cut at every byte (cuts in every header field
			// and payload position).
			splits := [][][]byte{{tc.in}}
			if len(tc.in) < 400 {
				for i := 1; i < len(tc.in); i++ {
					splits = append(splits, [][]byte{tc.in[:i], tc.in[i:]})
				}
				var bytewise [][]byte
				for i := range tc.in {
					bytewise = append(bytewise, tc.in[i:i+1])
				}
				splits = append(splits, bytewise)
			} else {
				splits = append(splits, [][]byte{tc.in[:5], tc.in[5:9000], tc.in[9000:]})
			}
			for _, chunks := range splits {
				r := &frameReader{maxPayload: maxPayload}
				got, err := wsEvents(r, chunks...)
				code := 0
				if err != nil {
					code = err.Code
				}
				if code != tc.code {
					t.Fatalf("cut %d: close code %d (%v), want %d", len(chunks[0]), code, err, tc.code)
				}
				if tc.code == 0 && !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("cut %d: got %q, want %q", len(chunks[0]), got, tc.want)
				}
			}
		})
	}
}

// TestWSReaderStop: a false from the callback stops the parse.
func TestWSReaderStop(t *testing.T) {
	r := &frameReader{maxPayload: 100}
	in := append(clientFrame(0x80|OpText, []byte("a")), clientFrame(0x80|OpText, []byte("b"))...)
	n := 0
	ok, err := r.feed(in, func(byte, []byte) bool { n++; return false })
	if ok || err != nil || n != 1 {
		t.Fatalf("feed = %v, %v after %d calls", ok, err, n)
	}
}

// TestWSReaderOwnership: a delivered message does not share the read
// buffer, which the caller reuses.
func TestWSReaderOwnership(t *testing.T) {
	r := &frameReader{maxPayload: 100}
	buf := clientFrame(0x80|OpBinary, []byte("abc"))
	var msg []byte
	r.feed(buf, func(_ byte, p []byte) bool { msg = p; return true })
	clear(buf)
	if string(msg) != "abc" {
		t.Fatalf("message changed with the read buffer: %q", msg)
	}
}

func TestWSUnmask(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for n := range 40 {
		for pos := range 4 {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i * 7)
			}
			want := bytes.Clone(b)
			for i := range want {
				want[i] ^= key[(pos+i)&3]
			}
			unmask(b, key, pos)
			if !bytes.Equal(b, want) {
				t.Fatalf("n=%d pos=%d: %v, want %v", n, pos, b, want)
			}
		}
	}
}

// FuzzReadFrames feeds arbitrary bytes, whole and cut in two: the reader
// must not panic, and the cut must not change what it reports.
func FuzzReadFrames(f *testing.F) {
	f.Add(clientFrame(0x80|OpText, []byte("4hello")), 3)
	f.Add(append(clientFrame(OpBinary, []byte{1, 2}), clientFrame(0x80|OpContinuation, []byte{3})...), 7)
	f.Add(clientFrame(0x80|OpPing, []byte("p")), 1)
	f.Add(clientFrame(0x80|OpClose, []byte{3, 0xe8}), 2)
	f.Add(clientFrame(0x80|OpText, []byte(strings.Repeat("z", 200))), 4)
	f.Add([]byte{0x81, 0xff, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4}, 5)
	f.Fuzz(func(t *testing.T, in []byte, cut int) {
		run := func(chunks ...[]byte) string {
			r := &frameReader{maxPayload: 150}
			got, err := wsEvents(r, chunks...)
			return fmt.Sprintf("%q %v", got, err)
		}
		if cut < 0 || cut > len(in) {
			cut = len(in) / 2
		}
		whole := run(in)
		if split := run(in[:cut], in[cut:]); split != whole {
			t.Fatalf("cut at %d: %s, whole: %s", cut, split, whole)
		}
	})
}

// BenchmarkWSReader parses a read holding 16 small text frames.
func BenchmarkWSReader(b *testing.B) {
	var in []byte
	for range 16 {
		in = append(in, clientFrame(0x80|OpText, []byte(`42["echo",{"n":1}]`))...)
	}
	buf := make([]byte, len(in))
	r := &frameReader{maxPayload: 1 << 20}
	fn := func(byte, []byte) bool { return true }
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		copy(buf, in)
		if _, err := r.feed(buf, fn); err != nil {
			b.Fatal(err)
		}
	}
}
