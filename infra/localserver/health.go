package localserver

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/pvetenant/backend/functions/catalog"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Health answers GET /health and GET /functions/v1/ with whether the
// database answers, as JSON: 200 {"status":"ok","database":"reachable"} or
// 503 {"status":"degraded","database":"unreachable"}. It sends no error text
// (it could name the host). Readiness probes and people both read it.
func Health(pool *pgxpool.Pool, functions []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, db, code := "ok", "reachable", http.StatusOK
		if pool == nil {
			db = "not configured"
		} else {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			if err := pool.Ping(ctx); err != nil {
				status, db, code = "degraded", "unreachable", http.StatusServiceUnavailable
			}
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "database": db, "functions": functions})
	})
}

func functionNames() []string {
	out := make([]string, 0, len(catalog.Functions))
	for _, f := range catalog.Functions {
		out = append(out, f.Name)
	}
	return out
}
