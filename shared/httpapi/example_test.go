package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/httpapi"
)

// A function is a name, its actions, and the action each method means when
// the request names none. Errors carry a kind that maps to one status.
func ExampleServer_Handler() {
	s := &httpapi.Server{Verifier: anyone{}, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	h := s.Handler(httpapi.Function{
		Name: "greetings",
		Actions: map[string]httpapi.Action{
			"hello": func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
				name, err := r.Params.RequiredString("name", 40)
				if err != nil {
					return nil, err // 400 with a sentence naming the field
				}
				return httpapi.OK(map[string]string{"greeting": "Hello, " + name}), nil
			},
			"forbidden": func(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
				return nil, apperr.New(apperr.Forbidden, "Only an admin may do that.")
			},
		},
		ByMethod: map[string]string{http.MethodPost: "hello"},
	})
	for _, body := range []string{`{"name":"Alice"}`, `{}`, `{"action":"forbidden"}`} {
		req := httptest.NewRequest(http.MethodPost, "/functions/v1/greetings", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer token")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	// Output:
	// 200 {"greeting":"Hello, Alice"}
	// 400 {"code":"invalid_request","error":"name is required."}
	// 403 {"code":"forbidden","error":"Only an admin may do that."}
}
