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

// helloRequest is the request of the "hello" action: Parse is the one place
// it is checked.
type helloRequest struct {
	Name string `json:"name"`
}

func (q *helloRequest) Parse(p httpapi.Params) (err error) {
	q.Name, err = p.RequiredString("name", 40)
	return err
}

type greeting struct {
	Greeting string `json:"greeting"`
}

// A function is a name, its typed operations (parse → call → encode), and
// the action each method means when the request names none. Errors carry a
// kind that maps to one status.
func ExampleServer_Handler() {
	s := &httpapi.Server{Verifier: anyone{}, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	h := s.Handler(httpapi.Function{
		Name: "greetings",
		Operations: []httpapi.Operation{
			httpapi.Get("hello", "Greet someone", func(ctx context.Context, r *httpapi.Request, q helloRequest) (greeting, error) {
				return greeting{"Hello, " + q.Name}, nil // a missing name never gets here: 400 naming the field
			}),
			httpapi.Get("forbidden", "Refuse", func(ctx context.Context, r *httpapi.Request, _ httpapi.NoParams) (greeting, error) {
				return greeting{}, apperr.New(apperr.Forbidden, "Only an admin may do that.")
			}),
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
