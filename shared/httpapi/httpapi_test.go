package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/auth"
	"github.com/pvetenant/backend/shared/httpapi"
)

type anyone struct{}

func (anyone) Verify(context.Context, string) (*auth.Claims, error) {
	return &auth.Claims{UserID: "00000000-0000-0000-0000-000000000001"}, nil
}

// A limit reached anywhere in the functions reaches the client as 429 with
// Retry-After in whole seconds (rounded up), readable cross-origin.
func TestRetryAfterHeader(t *testing.T) {
	s := &httpapi.Server{Verifier: anyone{}}
	h := s.Handler(httpapi.Function{Name: "f", Actions: map[string]httpapi.Action{
		"go": func(context.Context, *httpapi.Request) (*httpapi.Response, error) {
			return nil, apperr.New(apperr.TooManyRequests, "Slow down.").WithRetryAfter(1500 * time.Millisecond)
		},
	}})
	req := httptest.NewRequest(http.MethodPost, "/functions/v1/f", strings.NewReader(`{"action":"go"}`))
	req.Header.Set("Authorization", "Bearer x")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429: %s", rec.Code, rec.Body)
	}
	if got := rec.Header().Get("Retry-After"); got != "2" {
		t.Fatalf("Retry-After %q, want 2", got)
	}
	if !strings.Contains(strings.ToLower(rec.Header().Get("Access-Control-Expose-Headers")), "retry-after") {
		t.Fatalf("Retry-After not exposed to browsers: %q", rec.Header().Get("Access-Control-Expose-Headers"))
	}
	var body map[string]string
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body["code"] != "rate_limited" {
		t.Fatalf("body %s (%v), want code rate_limited", rec.Body, err)
	}
}

// The action may be a path segment (/functions/v1/<name>/<action>), as the
// OpenAPI document lists it; the body may repeat it but not contradict it;
// a segment that names no action is ignored, as the contract promises.
func TestActionInPath(t *testing.T) {
	s := &httpapi.Server{Verifier: anyone{}}
	answer := func(name string) httpapi.Action {
		return func(context.Context, *httpapi.Request) (*httpapi.Response, error) {
			return httpapi.OK(map[string]string{"ran": name}), nil
		}
	}
	h := s.Handler(httpapi.Function{Name: "f", Actions: map[string]httpapi.Action{"a": answer("a"), "b": answer("b")},
		ByMethod: map[string]string{http.MethodPost: "a"}})
	cases := []struct {
		path, body string
		status     int
		want       string // ran, or the error code
	}{
		{"/functions/v1/f", ``, 200, "a"},
		{"/functions/v1/f/b", ``, 200, "b"},
		{"/functions/v1/f/b", `{"action":"b"}`, 200, "b"},
		{"/functions/v1/f/b/", ``, 200, "b"},
		{"/functions/v1/f/", `{"action":"b"}`, 200, "b"},
		{"/functions/v1/f/b", `{"action":"a"}`, 400, "action_mismatch"},
		{"/functions/v1/f/zzz", ``, 200, "a"}, // not an action: ignored, as before
		{"/functions/v1/f/zzz/b", `{"action":"b"}`, 200, "b"},
		{"/functions/v1/f/zzz", `{"action":"nope"}`, 400, "invalid_request"},
	}
	for _, c := range cases {
		req := httptest.NewRequest(http.MethodPost, c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer x")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var body map[string]string
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		got := body["ran"]
		if rec.Code != 200 {
			got = body["code"]
		}
		if rec.Code != c.status || got != c.want {
			t.Errorf("%s %s: %d %s, want %d %s", c.path, c.body, rec.Code, rec.Body, c.status, c.want)
		}
	}
}
