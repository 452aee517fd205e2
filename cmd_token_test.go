package main

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cowrite/cowrite/auth"
)

const tokenTestSecret = "0123456789abcdef0123456789abcdef"

func tokenTestEnv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

func TestTokenCommandMintsVerifiableToken(t *testing.T) {
	a, err := auth.New(&auth.Options{Mode: auth.Token, Secret: []byte(tokenTestSecret)})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := tokenRun([]string{"--sub", "u-1", "--name", "Ada", "--color", "#ff0000",
		"--doc", "team-*=editor", "--doc", "*=viewer", "--doc", "notes-42=owner", "--ttl", "2h"},
		tokenTestEnv(map[string]string{tokenSecretEnv: tokenTestSecret}), &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errb.String())
	}
	tok := strings.TrimSpace(out.String())
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("stdout is not a single JWT: %q", out.String())
	}
	id, err := a.Authenticate(tok)
	if err != nil {
		t.Fatalf("minted token refused: %v", err)
	}
	if id.UserID != "u-1" || id.Name != "Ada" || id.Color != "#ff0000" || id.Admin {
		t.Fatalf("identity %+v", id)
	}
	if id.Role("team-x") != auth.RoleEditor || id.Role("other") != auth.RoleViewer || id.Role("notes-42") != auth.RoleOwner {
		t.Fatalf("grants %v", id.Grants())
	}
	if d := time.Until(id.Expires); d < 119*time.Minute || d > 2*time.Hour {
		t.Fatalf("expires in %v, want about 2h", d)
	}
}

func TestTokenCommandFlagSecretAndDefaults(t *testing.T) {
	var out, errb bytes.Buffer
	if code := tokenRun([]string{"--secret", tokenTestSecret, "--admin"}, tokenTestEnv(nil), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	a, err := auth.New(&auth.Options{Mode: auth.Token, Secret: []byte(tokenTestSecret)})
	if err != nil {
		t.Fatal(err)
	}
	id, err := a.Authenticate(strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !id.Admin || !strings.HasPrefix(id.UserID, "u-") || len(id.UserID) != 10 {
		t.Fatalf("identity %+v: want admin with a random u-XXXXXXXX id", id)
	}
	if d := time.Until(id.Expires); d < 23*time.Hour || d > 24*time.Hour {
		t.Fatalf("default ttl gives expiry in %v, want 24h", d)
	}
	if errb.Len() != 0 {
		t.Fatalf("unexpected stderr %q", errb.String())
	}
}

func TestTokenCommandWrongSecretIsRefused(t *testing.T) {
	var out, errb bytes.Buffer
	if code := tokenRun([]string{"--doc", "*=editor"}, tokenTestEnv(map[string]string{tokenSecretEnv: tokenTestSecret}), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	a, err := auth.New(&auth.Options{Mode: auth.Token, Secret: []byte("another-secret-another-secret-xx")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(strings.TrimSpace(out.String())); !errors.Is(err, auth.ErrBadSignature) {
		t.Fatalf("token verified with another secret: %v", err)
	}
}

func TestTokenCommandErrors(t *testing.T) {
	env := tokenTestEnv(map[string]string{tokenSecretEnv: tokenTestSecret})
	tests := []struct {
		name string
		args []string
		env  func(string) string
		code int
		msg  string
	}{
		{"no secret", []string{"--admin"}, tokenTestEnv(nil), 2, tokenSecretEnv},
		{"short secret", []string{"--secret", "short", "--admin"}, tokenTestEnv(nil), 1, "at least 32 bytes"},
		{"bad grant", []string{"--doc", "team"}, env, 2, "PATTERN=ROLE"},
		{"bad role", []string{"--doc", "a=admin"}, env, 2, "unknown role"},
		{"inner star", []string{"--doc", "a*b=viewer"}, env, 2, "only allowed at the end"},
		{"zero ttl", []string{"--admin", "--ttl", "0s"}, env, 1, "ttl"},
		{"bad ttl", []string{"--ttl", "soon"}, env, 2, "invalid value"},
		{"extra argument", []string{"--admin", "extra"}, env, 2, "unexpected argument"},
		{"unknown flag", []string{"--root"}, env, 2, "not defined"},
		{"help", []string{"--help"}, env, 0, "Usage: cowrite token"},
		{"warns without grants", []string{}, env, 0, "grants no document"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := tokenRun(tc.args, tc.env, &out, &errb)
			if code != tc.code || !strings.Contains(errb.String(), tc.msg) {
				t.Fatalf("exit %d stderr %q; want exit %d mentioning %q", code, errb.String(), tc.code, tc.msg)
			}
			if code != 0 && out.Len() != 0 {
				t.Fatalf("failure printed to stdout: %q", out.String())
			}
		})
	}
}

func TestHealthcheckBaseURL(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{":3000", "http://127.0.0.1:3000", false},
		{"0.0.0.0:8080", "http://127.0.0.1:8080", false},
		{"[::]:3000", "http://[::1]:3000", false},
		{"example.internal:3000", "http://example.internal:3000", false},
		{"http://127.0.0.1:9/", "http://127.0.0.1:9", false},
		{"3000", "", true},
		{"host:", "", true},
	}
	for _, tc := range tests {
		got, err := healthcheckBaseURL(tc.in)
		if got != tc.want || (err != nil) != tc.err {
			t.Errorf("healthcheckBaseURL(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func TestHealthcheckCommand(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	var out, errb bytes.Buffer
	if code := healthcheckRun(nil, tokenTestEnv(map[string]string{"COWRITE_ADDR": addr}), &out, &errb); code != 0 {
		t.Fatalf("healthy server: exit %d, %s", code, errb.String())
	}
	status = http.StatusServiceUnavailable
	if code := healthcheckRun([]string{"--addr", addr}, tokenTestEnv(nil), &out, &errb); code != 1 {
		t.Fatalf("503: exit %d, want 1", code)
	}
	srv.Close()
	errb.Reset()
	if code := healthcheckRun([]string{"--addr", addr, "--timeout", "2s"}, tokenTestEnv(nil), &out, &errb); code != 1 || errb.Len() == 0 {
		t.Fatalf("server down: exit %d, stderr %q; want 1 with a message", code, errb.String())
	}
	if code := healthcheckRun([]string{"--addr", "nonsense"}, tokenTestEnv(nil), &out, &errb); code != 2 {
		t.Fatalf("bad addr: exit %d, want 2", code)
	}
}
