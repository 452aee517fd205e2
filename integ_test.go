package main

import (
	"io"
	"strings"
	"testing"
)

func TestWebhookURLRefused(t *testing.T) {
	noEnv := func(string) string { return "" }
	for _, u := range []string{"ftp://example.com/hook", "example.com/hook", "http://", "file:///etc/passwd"} {
		_, err := parseConfig([]string{"--webhook-url", u}, noEnv, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--webhook-url") {
			t.Errorf("--webhook-url %q: err = %v, want a refusal naming the flag", u, err)
		}
	}
	c, err := parseConfig(nil, func(k string) string {
		if k == "COWRITE_WEBHOOK_URL" {
			return "https://hooks.example.com/cowrite"
		}
		return ""
	}, io.Discard)
	if err != nil || c.WebhookURL != "https://hooks.example.com/cowrite" {
		t.Fatalf("env COWRITE_WEBHOOK_URL: %v %+v", err, c)
	}
}
