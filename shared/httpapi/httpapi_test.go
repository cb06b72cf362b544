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
