package fleet_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/testdb"
)

// dedicated starts a private cluster for one test (never the shared one),
// seeded, and returns it with a pool on it.
func dedicated(t *testing.T) (*pgcluster.Cluster, string, *pgxpool.Pool, *world) {
	t.Helper()
	c, url := testdb.NewCluster(t)
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return c, url, pool, newWorld(t, url, pool)
}

// statementLog counts, from the server log of a cluster logging every
// statement, the statements the functions' connections sent (their
// application_name is pvetenant-functions) since the last call.
type statementLog struct {
	path   string
	offset int64
}

func (l *statementLog) skip(t *testing.T) {
	st, err := os.Stat(l.path)
	if err != nil {
		t.Fatal(err)
	}
	l.offset = st.Size()
}

func (l *statementLog) since(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(l.path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b[l.offset:]), "\n") {
		if !strings.Contains(line, "pvetenant-functions:") {
			continue
		}
		// One "statement:" (simple protocol) or "execute <name>:" (extended)
		// line per statement; pgxpool's liveness check of a connection idle
		// over a second ("-- ping") is no work of the request.
		if i := strings.Index(line, "LOG:  "); i >= 0 {
			msg := line[i+6:]
			if (strings.HasPrefix(msg, "statement: ") || strings.HasPrefix(msg, "execute ")) && !strings.Contains(msg, "-- ping") {
				out = append(out, msg)
			}
		}
	}
	l.skip(t)
	return out
}

// The statements PostgreSQL receives per request: a fully cached
// get-live-stats is one; list-vms list, my-permissions and proxmox-servers
// list are two (one round trip). Before, they were 6 or more each.
func TestStatementsPerRequest(t *testing.T) {
	c, _, pool, w := dedicated(t)
	for _, q := range []string{
		`alter system set log_statement = 'all'`,
		`alter system set log_line_prefix = '%m [%p] %a: '`,
		`select pg_reload_conf()`,
	} {
		if _, err := pool.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
	lab := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	edge := pvesim.NewTestSim(t, pvesim.MustPreset("standalone"))
	w.addServer(t, pool, functest.TenantA, "lab", lab)
	w.addServer(t, pool, functest.TenantA, "edge", edge)
	p := w.start(t, "STATS_CACHE_TTL=1m")
	a := newAnswers(t)
	log := &statementLog{path: filepath.Join(c.Dir, "server.log")}
	time.Sleep(200 * time.Millisecond) // the reload reached every backend

	cases := []struct {
		name, fn string
		body     map[string]any
		max      int
	}{
		{"get-live-stats, cached", "tenant-stats", map[string]any{"tenantId": functest.TenantA}, 1},
		{"list-vms list", "list-vms", map[string]any{"action": "list", "tenantId": functest.TenantA}, 2},
		{"tenants my-permissions", "tenants", map[string]any{"action": "my-permissions", "tenantId": functest.TenantA}, 2},
		{"proxmox-servers list", "proxmox-servers", map[string]any{"action": "list", "tenantId": functest.TenantA}, 2},
	}
	for _, tc := range cases {
		// Warm: the first call fills the caches (and dials the database).
		if status, body, err := a.call(p, functest.ViewerA, tc.fn, tc.body); err != nil || status != 200 {
			t.Fatalf("%s: %d %v %s", tc.name, status, err, body)
		}
		log.skip(t)
		status, body, err := a.call(p, functest.ViewerA, tc.fn, tc.body)
		if err != nil || status != 200 {
			t.Fatalf("%s: %d %v %s", tc.name, status, err, body)
		}
		got := log.since(t)
		t.Logf("%s: %d statements", tc.name, len(got))
		if len(got) == 0 || len(got) > tc.max {
			t.Errorf("%s: %d statements, want 1..%d:\n%s", tc.name, len(got), tc.max, strings.Join(got, "\n"))
		}
	}
}
