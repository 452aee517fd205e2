package auth

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret  = []byte("0123456789abcdef0123456789abcdef")
	otherSecret = []byte("fedcba9876543210fedcba9876543210")
	testNow     = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
)

func newTestAuth(t testing.TB, leeway time.Duration) *Authenticator {
	t.Helper()
	a, err := New(&Options{Mode: Token, Secret: testSecret, Leeway: leeway, Clock: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// sign builds a token with arbitrary claims and method, bypassing Mint.
func sign(t testing.TB, m jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub":  "u1",
		"name": "Ada",
		"iat":  testNow.Add(-time.Minute).Unix(),
		"exp":  testNow.Add(time.Hour).Unix(),
		"docs": map[string]any{"*": "viewer"},
	}
}

func with(c jwt.MapClaims, key string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for k, x := range c {
		out[k] = x
	}
	if v == nil {
		delete(out, key)
	} else {
		out[key] = v
	}
	return out
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestAuthenticate(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, jwt.SigningMethodHS256, testSecret, validClaims())
	parts := strings.Split(good, ".")
	// alg confusion: header says RS256, signature is an HMAC with the secret.
	rsHeader := b64(`{"alg":"RS256","typ":"JWT"}`)
	confused := rsHeader + "." + parts[1] + "." + func() string {
		sig, err := jwt.SigningMethodHS256.Sign(rsHeader+"."+parts[1], testSecret)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(sig)
	}()

	tests := []struct {
		name   string
		leeway time.Duration
		token  string
		want   error // nil means success
	}{
		{"valid", 0, good, nil},
		{"missing", 0, "", ErrMissingToken},
		{"bad signature", 0, sign(t, jwt.SigningMethodHS256, otherSecret, validClaims()), ErrBadSignature},
		{"tampered payload", 0, parts[0] + "." + b64(`{"sub":"root","admin":true,"exp":9999999999}`) + "." + parts[2], ErrBadSignature},
		{"alg none", 0, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, validClaims()), ErrAlgorithm},
		{"alg none hand-made", 0, b64(`{"alg":"none"}`) + "." + parts[1] + ".", ErrAlgorithm},
		{"alg RS256 real key", 0, sign(t, jwt.SigningMethodRS256, rsaKey, validClaims()), ErrAlgorithm},
		{"alg RS256 header with HMAC signature", 0, confused, ErrAlgorithm},
		{"alg HS512 same secret", 0, sign(t, jwt.SigningMethodHS512, testSecret, validClaims()), ErrAlgorithm},
		{"alg unknown", 0, b64(`{"alg":"XX1"}`) + "." + parts[1] + "." + parts[2], ErrAlgorithm},
		{"expired", 0, sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "exp", testNow.Add(-time.Second).Unix())), ErrExpired},
		{"expired within leeway", 10 * time.Second, sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "exp", testNow.Add(-5*time.Second).Unix())), nil},
		{"expired beyond leeway", 10 * time.Second, sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "exp", testNow.Add(-time.Minute).Unix())), ErrExpired},
		{"not before in future", 0, sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "nbf", testNow.Add(time.Minute).Unix())), ErrNotYetValid},
		{"issued in future", 0, sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "iat", testNow.Add(time.Minute).Unix())), ErrNotYetValid},
		{"missing exp", 0, sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "exp", nil)), ErrMalformed},
		{"missing sub", 0, sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "sub", nil)), ErrMalformed},
		{"unknown role", 0, sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "docs", map[string]any{"a": "god"})), ErrMalformed},
		{"bad pattern", 0, sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "docs", map[string]any{"a*b": "viewer"})), ErrMalformed},
		{"docs not an object", 0, sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "docs", "all")), ErrMalformed},
		{"admin not a bool", 0, sign(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "admin", "yes")), ErrMalformed},
		{"garbage", 0, "not a jwt", ErrMalformed},
		{"two segments", 0, parts[0] + "." + parts[1], ErrMalformed},
		{"bad base64 payload", 0, parts[0] + ".!!!." + parts[2], ErrMalformed},
		{"payload not json", 0, parts[0] + "." + b64("nope") + "." + parts[2], ErrMalformed},
		{"too long", 0, good + strings.Repeat("A", MaxTokenLen), ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, err := newTestAuth(t, tc.leeway).Authenticate(tc.token)
			if tc.want == nil {
				if err != nil || id == nil {
					t.Fatalf("Authenticate = %v, %v; want an identity", id, err)
				}
				if id.UserID != "u1" || id.Name != "Ada" || id.Role("x") != RoleViewer {
					t.Fatalf("identity = %+v", id)
				}
				return
			}
			if id != nil {
				t.Fatalf("Authenticate returned identity %+v with error %v", id, err)
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Authenticate error = %v; want %v wrapping ErrUnauthorized", err, tc.want)
			}
			if errors.Is(err, ErrForbidden) {
				t.Fatalf("unauthorized error %v also matches ErrForbidden", err)
			}
		})
	}
}

func TestOpenMode(t *testing.T) {
	for _, opts := range []*Options{nil, {Mode: Open}} {
		a, err := New(opts)
		if err != nil {
			t.Fatal(err)
		}
		if a.Mode() != Open {
			t.Fatalf("mode = %v", a.Mode())
		}
		for _, tok := range []string{"", "garbage", sign(t, jwt.SigningMethodHS256, otherSecret, validClaims())} {
			id, err := a.Authenticate(tok)
			if err != nil {
				t.Fatalf("open Authenticate(%q) error %v", tok, err)
			}
			for _, act := range []Action{Read, Write, Create, Delete, List, Admin} {
				if !id.Can(act, "any-doc") {
					t.Errorf("open identity cannot %v", act)
				}
			}
			if id.Role("x") != RoleOwner || id.UserID != "" {
				t.Errorf("open identity = %+v", id)
			}
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want error
	}{
		{"token ok", Options{Mode: Token, Secret: testSecret}, nil},
		{"no secret", Options{Mode: Token}, ErrWeakSecret},
		{"short secret", Options{Mode: Token, Secret: testSecret[:31]}, ErrWeakSecret},
		{"negative leeway", Options{Mode: Token, Secret: testSecret, Leeway: -time.Second}, errors.New("any")},
		{"unknown mode", Options{Mode: Mode(7), Secret: testSecret}, errors.New("any")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := New(&tc.opts)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("New: %v", err)
			case tc.want != nil && err == nil:
				t.Fatalf("New succeeded (%v), want error", a.Mode())
			case tc.want == ErrWeakSecret && !errors.Is(err, ErrWeakSecret):
				t.Fatalf("New error %v, want ErrWeakSecret", err)
			}
		})
	}
}

func TestSecretIsCopied(t *testing.T) {
	secret := append([]byte(nil), testSecret...)
	a, err := New(&Options{Mode: Token, Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Mint(testSecret, Claims{Subject: "u"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	secret[0] ^= 0xff
	if _, err := a.Authenticate(tok); err != nil {
		t.Fatalf("mutating the caller's secret changed the authenticator: %v", err)
	}
}

func TestMintRoundTrip(t *testing.T) {
	a, err := New(&Options{Mode: Token, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	c := Claims{Subject: "u-7", Name: "Grace", Color: "#00ff00", Admin: true,
		Docs: map[string]Role{"*": RoleViewer, "team-*": RoleEditor, "n": RoleOwner, "s": RoleNone}}
	tok, err := Mint(testSecret, c, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Authenticate(tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != c.Subject || id.Name != c.Name || id.Color != c.Color || !id.Admin {
		t.Fatalf("identity %+v from claims %+v", id, c)
	}
	if d := time.Until(id.Expires); d < 59*time.Minute || d > time.Hour {
		t.Fatalf("expires in %v, want about 1h", d)
	}
	got := id.Grants()
	if len(got) != len(c.Docs) {
		t.Fatalf("grants %v, want %v", got, c.Docs)
	}
	for k, r := range c.Docs {
		if got[k] != r {
			t.Fatalf("grants %v, want %v", got, c.Docs)
		}
	}
}

func TestMintRejects(t *testing.T) {
	tests := []struct {
		name   string
		secret []byte
		c      Claims
		ttl    time.Duration
		want   error
	}{
		{"weak secret", testSecret[:10], Claims{Subject: "u"}, time.Hour, ErrWeakSecret},
		{"no subject", testSecret, Claims{}, time.Hour, ErrInvalidClaims},
		{"zero ttl", testSecret, Claims{Subject: "u"}, 0, ErrInvalidClaims},
		{"negative ttl", testSecret, Claims{Subject: "u"}, -time.Hour, ErrInvalidClaims},
		{"empty pattern", testSecret, Claims{Subject: "u", Docs: map[string]Role{"": RoleViewer}}, time.Hour, ErrInvalidClaims},
		{"inner star", testSecret, Claims{Subject: "u", Docs: map[string]Role{"*a": RoleViewer}}, time.Hour, ErrInvalidClaims},
		{"bad role", testSecret, Claims{Subject: "u", Docs: map[string]Role{"a": Role(9)}}, time.Hour, ErrInvalidClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := Mint(tc.secret, tc.c, tc.ttl)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Mint = %q, %v; want %v", tok, err, tc.want)
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		tok    string
		ok     bool
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", true},
		{"bearer abc", "abc", true},
		{"BEARER   abc  ", "abc", true},
		{"Bearer ", "", false},
		{"Bearer", "", false},
		{"", "", false},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Bearerabc", "", false},
	}
	for _, tc := range tests {
		tok, ok := BearerToken(tc.header)
		if tok != tc.tok || ok != tc.ok {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tc.header, tok, ok, tc.tok, tc.ok)
		}
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in   string
		want Mode
		err  bool
	}{
		{"open", Open, false}, {"", Open, false}, {"Token", Token, false}, {"jwt", Token, false}, {"oauth", Open, true},
	}
	for _, tc := range tests {
		m, err := ParseMode(tc.in)
		if m != tc.want || (err != nil) != tc.err {
			t.Errorf("ParseMode(%q) = %v, %v", tc.in, m, err)
		}
	}
	if Open.String() != "open" || Token.String() != "token" {
		t.Errorf("mode names %q %q", Open, Token)
	}
}
