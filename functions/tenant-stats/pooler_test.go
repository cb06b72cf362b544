package tenantstats_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pgbouncer"
	"github.com/pvetenant/backend/infra/pvesim"
)

// The one-statement hot path through pgbouncer in transaction mode, two
// server connections shared by members of both tenants and strangers: each
// caller gets exactly their own answer, and the snapshot store works there.
func TestHotPathThroughPgbouncerTransactionMode(t *testing.T) {
	e := newEnv(t, time.Minute, 1500*time.Millisecond)
	u, err := url.Parse(e.DB.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	b, err := pgbouncer.Start(context.Background(), u.Hostname(), port, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	cfg := e.Config
	cfg.DatabaseURL = b.URL(e.DB.Name)
	cfg.StatsCacheTTL = 200 * time.Millisecond
	w := world{e: e}
	w.lab = pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	w.labID = e.AddServer(functest.TenantA, "lab", w.lab, functest.ServerOpts{})
	w.e.Config = cfg // the instances below connect through the pooler
	handlers := []http.Handler{w.instance(t), w.instance(t)}
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			user, want := functest.ViewerA, 200
			switch c % 4 {
			case 1:
				user, want = functest.AdminB, 404
			case 2:
				user, want = functest.Nobody, 404
			}
			for i := 0; i < 30; i++ {
				status, body := callStatus(t, handlers[(c+i)%2], user)
				if status != want {
					t.Errorf("%s: %d, want %d: %s", user, status, want, body)
					return
				}
				if want == 200 && !strings.Contains(body, `"online":1,`) {
					t.Errorf("%s: %s", user, body)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	if n := w.lab.Requests("/cluster/resources"); n < 1 {
		t.Fatalf("lab asked %d times", n)
	}
}

func callStatus(t *testing.T, h http.Handler, user string) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/functions/v1/"+fn, strings.NewReader(`{"tenantId":"`+functest.TenantA+`"}`))
	req.Header.Set("Authorization", "Bearer "+functest.Token(t, user))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	recordAnswer(t, rec.Body.Bytes())
	return rec.Code, rec.Body.String()
}
