package telemetry

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"callconnect/domain"
)

// No log line carries a secret: not an attribute named for one, not a URL's
// secret query value (as a url attribute, inside an error or the message),
// not a secret header; what is no secret is kept.
func TestLoggerRedactsSecrets(t *testing.T) {
	var buf bytes.Buffer
	logger := NewLogger(&buf, slog.LevelDebug)
	u, _ := url.Parse("https://p.example.com/calls?cliente=7&secret=s3cr3t-1")
	logger.Info("posting to https://p.example.com/calls?api_key=s3cr3t-2 failed",
		"url", "/api/cvio/lead?idligacao=c1&token=s3cr3t-3",
		"partner", u,
		"error", fmt.Errorf("wrapped: %w", errors.New(`Post "https://p.example.com/calls?access_token=s3cr3t-4": EOF`)),
		"headers", http.Header{"X-Api-Key": {"s3cr3t-5"}, "Content-Type": {"application/json"}},
		"api_key", "s3cr3t-6",
		slog.Group("request", "authorization", "Bearer s3cr3t-7", "query", "a=1&password=s3cr3t-8"),
		"token_id", "tok-1", "idempotency_key", "retry-1", "status", 401)
	out := buf.String()
	for i := 1; i <= 8; i++ {
		if s := fmt.Sprintf("s3cr3t-%d", i); strings.Contains(out, s) {
			t.Errorf("the log shows %s: %s", s, out)
		}
	}
	line := decodeLines(t, out)[0]
	want := map[string]any{
		"msg":             "posting to https://p.example.com/calls?api_key=" + domain.Redacted + " failed",
		"url":             "/api/cvio/lead?idligacao=c1&token=" + domain.Redacted,
		"partner":         "https://p.example.com/calls?cliente=7&secret=" + domain.Redacted,
		"api_key":         domain.Redacted,
		"token_id":        "tok-1",
		"idempotency_key": "retry-1",
		"status":          float64(401),
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
	if h, _ := line["headers"].(map[string]any); fmt.Sprint(h["Content-Type"]) != "[application/json]" || fmt.Sprint(h["X-Api-Key"]) != "["+domain.Redacted+"]" {
		t.Errorf("headers = %v", line["headers"])
	}
}
