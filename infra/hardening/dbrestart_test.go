package hardening_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	proxmoxservers "github.com/pvetenant/backend/functions/proxmox-servers"
	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

// PostgreSQL stops under traffic: every answer is 200 or a clear 503 (never
// a 500), and once it is back the same running functions recover by
// themselves.
func TestDatabaseStopsAndComesBackUnderTraffic(t *testing.T) {
	cluster, url := testdb.NewCluster(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	functest.Seed(t, &testdb.DB{URL: url, Pool: pool})
	pool.Close()
	e := functest.New(t, functest.Options{Needs: proxmoxservers.Needs, Configure: func(c *functest.Config) {
		c.DatabaseURL = url + "&connect_timeout=2"
	}}, proxmoxservers.New)
	srv := httptest.NewServer(e.Handler)
	defer srv.Close()
	req := func() (int, string) {
		r, _ := http.NewRequest(http.MethodGet, srv.URL+"/functions/v1/proxmox-servers?tenantId="+functest.TenantA, nil)
		r.Header.Set("Authorization", "Bearer "+functest.Token(t, functest.ViewerA))
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		var body [512]byte
		n, _ := res.Body.Read(body[:])
		return res.StatusCode, string(body[:n])
	}
	if s, b := req(); s != 200 {
		t.Fatalf("before: %d %s", s, b)
	}

	var phase atomic.Int32 // 0 up, 1 down, 2 back up
	var mu sync.Mutex
	seen := map[string]int{}
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				s, b := req()
				key := fmt.Sprintf("phase%d/%d", phase.Load(), s)
				mu.Lock()
				seen[key]++
				if s != 200 && s != 503 {
					t.Errorf("status %d during phase %d: %s", s, phase.Load(), b)
				}
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	phase.Store(1)
	// While down: the answer is 503 database_unavailable.
	for i := 0; ; i++ {
		s, b := req()
		if s == 503 {
			if want := `"code":"database_unavailable"`; !strings.Contains(b, want) {
				t.Fatalf("503 body %s", b)
			}
			break
		}
		if i > 50 {
			t.Fatalf("no 503 while the database is down: %d %s", s, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	startCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := cluster.Start(startCtx, cluster.Port); err != nil {
		t.Fatal(err)
	}
	phase.Store(2)
	// Back: the same handler, no restart, answers 200 again.
	for i := 0; ; i++ {
		if s, _ := req(); s == 200 {
			break
		}
		if i > 100 {
			t.Fatal("no recovery after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	stop()
	wg.Wait()
	t.Logf("answers by phase/status: %v", seen)
	if seen["phase2/200"] == 0 {
		t.Fatalf("no successful answer after recovery: %v", seen)
	}
}
