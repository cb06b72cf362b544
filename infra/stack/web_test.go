package stack

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The page, its files and the demo session are served beside the
// functions; the demo tokens only to this machine.
func TestRootHandler(t *testing.T) {
	fn := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	st := &Stack{URL: "http://127.0.0.1:54321/functions/v1/", Users: demoUsers, Anon: "anon"}
	h := rootHandler(fn, st, "secret-for-test-only-0123456789abcdef")
	get := func(path, remote string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := get("/", "127.0.0.1:5000"); w.Code != 200 || !strings.Contains(w.Body.String(), `src="app.js"`) {
		t.Fatalf("/: %d", w.Code)
	}
	if w := get("/vendor/supabase-js-2.109.0.umd.js", "127.0.0.1:5000"); w.Code != 200 || !strings.Contains(w.Body.String(), "createClient") {
		t.Fatalf("supabase-js: %d", w.Code)
	}
	for _, p := range []string{"/health", "/functions/v1/tenants"} {
		if w := get(p, "127.0.0.1:5000"); w.Code != http.StatusTeapot {
			t.Fatalf("%s not handed to the functions: %d", p, w.Code)
		}
	}
	if w := get("/local/session.json", "127.0.0.1:5000"); w.Code != 200 || strings.Count(w.Body.String(), `"token"`) != len(demoUsers) {
		t.Fatalf("session: %d %s", w.Code, w.Body)
	}
	if w := get("/local/session.json", "192.0.2.7:5000"); w.Code != http.StatusForbidden || strings.Contains(w.Body.String(), "token") {
		t.Fatalf("session from another machine: %d %s", w.Code, w.Body)
	}
}
