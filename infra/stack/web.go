package stack

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/pvetenant/backend/infra/dashboard"
)

// rootHandler puts the dashboard page at / beside the functions (and
// /health) served by fn. /local/session.json hands the page what a signed-in
// app would have: the project URL, the anon key, and a fresh access token per
// demo user for the user switcher. Local stack only: it exists nowhere else.
func rootHandler(fn http.Handler, st *Stack, jwtSecret string) http.Handler {
	page := dashboard.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/health" || strings.HasPrefix(r.URL.Path, "/functions/"):
			fn.ServeHTTP(w, r)
		case r.URL.Path == "/local/session.json":
			// Demo tokens go to this machine only, even with ADDR=0.0.0.0.
			if host, _, err := net.SplitHostPort(r.RemoteAddr); err != nil || !net.ParseIP(host).IsLoopback() {
				http.Error(w, "the demo session is served to this machine only", http.StatusForbidden)
				return
			}
			type user struct {
				Email string `json:"email"`
				Name  string `json:"name"`
				Role  string `json:"role"`
				Token string `json:"token"`
			}
			users := make([]user, 0, len(st.Users))
			for _, u := range st.Users {
				tok, err := token(jwtSecret, u, 24*time.Hour)
				if err != nil {
					http.Error(w, "token", http.StatusInternalServerError)
					return
				}
				users = append(users, user{u.Email, u.Name, u.Role, tok})
			}
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(map[string]any{
				"supabaseUrl": strings.TrimSuffix(st.URL, "/functions/v1/"),
				"anonKey":     st.Anon,
				"users":       users,
			})
		default:
			page.ServeHTTP(w, r)
		}
	})
}
