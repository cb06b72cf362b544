package lambdahttp

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// FuzzEvent: any event JSON either becomes a request the handler answers or
// is refused with an error; the adapter itself never panics.
func FuzzEvent(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"version":"2.0","rawPath":"/x","requestContext":{"http":{"method":"POST"}},"isBase64Encoded":true,"body":"!!"}`))
	f.Add([]byte(`{"httpMethod":"GET","path":"/%zz","multiValueQueryStringParameters":{"a":[]}}`))
	h := Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	f.Fuzz(func(t *testing.T, event []byte) {
		if !json.Valid(event) {
			return
		}
		_, _ = h(context.Background(), event)
	})
}
