package auth

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
)

func TestMiddleware(t *testing.T) {
	a, err := New(&Options{Mode: Token, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	viewer, err := Mint(testSecret, Claims{Subject: "v", Docs: map[string]Role{"d": RoleViewer}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	api := app.Group("/api", a.Middleware())
	api.Get("/docs/:id", func(c *fiber.Ctx) error {
		if err := IdentityOf(c).Authorize(Read, c.Params("id")); err != nil {
			code, status, _ := Status(err)
			return c.Status(status).JSON(fiber.Map{"error": fiber.Map{"code": code, "message": err.Error()}})
		}
		return c.SendString("hello " + IdentityOf(c).UserID)
	})
	app.Get("/healthz", func(c *fiber.Ctx) error {
		if IdentityOf(c) != nil {
			t.Error("identity outside the middleware's routes")
		}
		return c.SendString("ok")
	})

	tests := []struct {
		name, path, header string
		status             int
		code, body         string
	}{
		{"no token", "/api/docs/d", "", 401, "unauthorized", ""},
		{"garbage token", "/api/docs/d", "Bearer nope", 401, "unauthorized", ""},
		{"wrong scheme", "/api/docs/d", "Basic " + viewer, 401, "unauthorized", ""},
		{"allowed", "/api/docs/d", "Bearer " + viewer, 200, "", "hello v"},
		{"other document", "/api/docs/e", "Bearer " + viewer, 403, "forbidden", ""},
		{"unprotected route", "/healthz", "", 200, "", "ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			resp, err := app.Test(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tc.status)
			}
			if tc.code == "" {
				if string(body) != tc.body {
					t.Fatalf("body %q, want %q", body, tc.body)
				}
				return
			}
			var e struct {
				Error struct{ Code, Message string }
			}
			if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != tc.code || e.Error.Message == "" {
				t.Fatalf("body %s: want error code %q with a message (%v)", body, tc.code, err)
			}
			if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
		})
	}
}

func TestMiddlewareOpen(t *testing.T) {
	a, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New()
	app.Use(a.Middleware())
	app.Delete("/x", func(c *fiber.Ctx) error {
		return IdentityOf(c).Authorize(Delete, "x")
	})
	resp, err := app.Test(httptest.NewRequest(http.MethodDelete, "/x", nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("open mode status %d, want 200", resp.StatusCode)
	}
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   string
		status int
		ok     bool
	}{
		{ErrExpired, "unauthorized", 401, true},
		{ErrMissingToken, "unauthorized", 401, true},
		{(&Identity{}).Authorize(Write, "d"), "forbidden", 403, true},
		{errors.New("other"), "", 0, false},
		{nil, "", 0, false},
	} {
		code, status, ok := Status(tc.err)
		if code != tc.code || status != tc.status || ok != tc.ok {
			t.Errorf("Status(%v) = %q %d %v", tc.err, code, status, ok)
		}
	}
}
