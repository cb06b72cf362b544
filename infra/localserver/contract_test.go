package localserver_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/pvetenant/backend/functions/catalog"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/openapi"
	"github.com/pvetenant/backend/shared/setup"
)

// The OpenAPI document lists exactly the actions each function serves, and
// a request without an action means what the document says it means.
func TestOpenAPIListsEveryAction(t *testing.T) {
	cfg, err := setup.FromEnv(func(k string) string {
		return map[string]string{"SUPABASE_JWT_SECRET": functest.JWTSecret}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := setup.Load(context.Background(), cfg, setup.Needs{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	supports := regexp.MustCompile(`supports (.*)\.$`)
	for _, f := range catalog.Functions {
		h := f.New(d)
		call := func(method, body string) (int, string) {
			req := httptest.NewRequest(method, "/functions/v1/"+f.Name, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+functest.Token(t, functest.AdminA))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var e struct{ Error string }
			_ = json.Unmarshal(rec.Body.Bytes(), &e)
			return rec.Code, e.Error
		}
		_, msg := call(http.MethodPost, `{"action":"no-such-action"}`)
		m := supports.FindStringSubmatch(msg)
		if m == nil {
			t.Fatalf("%s: %q does not list the actions", f.Name, msg)
		}
		served := strings.Split(m[1], ", ")
		var documented []string
		for _, op := range openapi.Operations() {
			if op.Function == f.Name {
				documented = append(documented, op.Action)
			}
		}
		sort.Strings(served)
		sort.Strings(documented)
		if strings.Join(served, ",") != strings.Join(documented, ",") {
			t.Errorf("%s serves %v, the document lists %v", f.Name, served, documented)
		}
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			status, _ := call(method, "")
			_, mapped := openapi.ByMethod[f.Name][method]
			if (status == http.StatusMethodNotAllowed) == mapped {
				t.Errorf("%s %s without an action: %d, but the document maps it: %v", f.Name, method, status, mapped)
			}
		}
	}
}
