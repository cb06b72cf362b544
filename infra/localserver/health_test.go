package localserver

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/infra/pgcluster"
)

// With the database unreachable, /health answers 503 and says so, without
// an error text (it would name the host).
func TestHealthDatabaseUnreachable(t *testing.T) {
	port, err := pgcluster.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(context.Background(), fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?connect_timeout=2", port))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rec := httptest.NewRecorder()
	Health(pool, functionNames()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusServiceUnavailable || m["database"] != "unreachable" || m["status"] != "degraded" || len(m) != 3 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}
