package probing_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pvetenant/backend/functions/catalog"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/localserver"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/sweep"
	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/shared/ratelimit"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

type obj = functest.Obj

// Typed into requests by the tests; never allowed in an answer, log or audit row.
const adHocSecret = "5b0e3c1f-probe-secret-7d9a-2e4b6c8d0f1a"

// The loopback world of the acceptance tests: 127.0.0.0/8 allowed (as for
// any local simulator), 127.0.0.2/32 denied by the operator.
func newEnv(t *testing.T, limits string) *functest.Env {
	t.Helper()
	sweep.Register(adHocSecret)
	l, err := ratelimit.Parse(limits)
	if err != nil {
		t.Fatal(err)
	}
	return functest.New(t, functest.Options{Needs: catalog.Merge(), Configure: func(c *functest.Config) {
		c.ProxmoxDenyCIDRs = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
		c.RateLimits = l
	}}, localserver.Handler)
}

// acceptCounter listens on addr and counts the connections it accepts.
func acceptCounter(t *testing.T, addr string) (port int, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, accepted
}

func deniedSim(t *testing.T) *pvesim.Sim {
	cfg := pvesim.MustPreset("cluster3")
	cfg.Addr = "127.0.0.2:0"
	return pvesim.NewTestSim(t, cfg)
}

func adHoc(host string, port int, extra obj) obj {
	p := obj{"action": "test", "tenantId": functest.TenantA, "host": host, "port": port,
		"tokenId": pvesim.PresetTokenID, "tokenSecret": adHocSecret}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

func noSecretIn(t *testing.T, what, s string) {
	t.Helper()
	for _, secret := range []string{adHocSecret, pvesim.PresetTokenSecret, pvesim.PresetPassword} {
		if strings.Contains(s, secret) {
			t.Fatalf("%s holds a secret: %s", what, s)
		}
	}
}

// test, create, update, stats, listing and power actions never open a
// connection to a denied address: the simulator's call log and a plain
// listener's accept count stay at zero. test/create/update answer 400
// forbidden_address with a sentence that names no rule.
func TestDeniedAddressIsNeverDialled(t *testing.T) {
	e := newEnv(t, "")
	sim := deniedSim(t)
	rawPort, accepted := acceptCounter(t, "127.0.0.2:0")
	allowed := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3")) // on 127.0.0.1
	const fn = "proxmox-servers"

	refused := func(res functest.Response) {
		t.Helper()
		functest.Expect(t, res, http.StatusBadRequest)
		msg, _ := res.Body["error"].(string)
		if res.Code() != "forbidden_address" {
			t.Fatalf("code %q: %s", res.Code(), res.Raw)
		}
		for _, leak := range []string{"127.0.0.2", "/32", "deny", "denied", "loopback", "PROXMOX", "port"} {
			if strings.Contains(msg, leak) {
				t.Fatalf("the refusal says which rule matched (%q): %s", leak, msg)
			}
		}
	}
	// test: pinned (would log in), and unverified (would only peek at the certificate).
	refused(e.Call(functest.ManagerA, http.MethodPost, fn, adHoc("127.0.0.2", sim.Port(), obj{"tlsFingerprint": sim.Fingerprint()})))
	refused(e.Call(functest.ManagerA, http.MethodPost, fn, adHoc("127.0.0.2", rawPort, obj{"verifyTls": false})))
	refused(e.Call(functest.AdminA, http.MethodPost, fn, adHoc("::ffff:127.0.0.2", rawPort, obj{"verifyTls": false})))
	// create
	before := functest.Expect(t, e.Call(functest.ManagerA, http.MethodGet, fn+"?tenantId="+functest.TenantA, nil), 200)
	create := adHoc("127.0.0.2", sim.Port(), obj{"name": "sneaky", "tlsFingerprint": sim.Fingerprint()})
	delete(create, "action")
	refused(e.Call(functest.ManagerA, http.MethodPost, fn, create))
	after := functest.Expect(t, e.Call(functest.ManagerA, http.MethodGet, fn+"?tenantId="+functest.TenantA, nil), 200)
	if len(after.Body["servers"].([]any)) != len(before.Body["servers"].([]any)) {
		t.Fatalf("a server was stored at a denied address: %s", after.Raw)
	}
	// update: moving a saved server to a denied address.
	id := e.AddServer(functest.TenantA, "lab", allowed, functest.ServerOpts{})
	refused(e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": id, "host": "127.0.0.2", "port": sim.Port(),
		"tokenId": pvesim.PresetTokenID, "tokenSecret": adHocSecret, "tlsFingerprint": sim.Fingerprint()}))
	var host string
	if err := e.DB.Pool.QueryRow(context.Background(), `select host from public.proxmox_servers where id = $1`, id).Scan(&host); err != nil || host != "127.0.0.1" {
		t.Fatalf("server moved to %q (%v)", host, err)
	}

	// A server saved at that address before the operator denied it (written
	// here as the table owner): every function that would call it refuses at
	// dial time instead.
	if _, err := e.DB.Pool.Exec(context.Background(), `update public.proxmox_servers set host = '127.0.0.2', port = $2, tls_fingerprint = $3 where id = $1`,
		id, sim.Port(), sim.Fingerprint()); err != nil {
		t.Fatal(err)
	}
	res := functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "test", "serverId": id}), 200)
	if res.Body["ok"] != false {
		t.Fatalf("saved test: %s", res.Raw)
	}
	stats := functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, "tenant-stats", obj{"action": "get-live-stats", "tenantId": functest.TenantA}), 200)
	if !strings.Contains(stats.Raw, `"offline":1`) {
		t.Fatalf("stats of a denied server: %s", stats.Raw)
	}
	functest.Expect(t, e.Call(functest.ViewerA, http.MethodPost, "list-vms", obj{"action": "list", "tenantId": functest.TenantA}), 200)
	power := e.Call(functest.ManagerA, http.MethodPost, "list-vms", obj{"action": "start", "tenantId": functest.TenantA,
		"serverId": id, "node": "pve2", "vmid": 104, "type": "qemu"})
	if power.Status < 400 {
		t.Fatalf("power action on a denied server: %s", power.Raw)
	}

	if n := sim.TotalRequests(); n != 0 {
		t.Fatalf("the denied simulator got %d requests: %v", n, sim.RequestPaths())
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the denied listener accepted %d connections", n)
	}
	if n := allowed.TotalRequests(); n != 0 {
		t.Fatalf("the allowed simulator got %d requests, none expected here", n)
	}
	// Each refused probing test is in the audit trail, without a secret.
	rows := auditRows(t, e)
	if len(rows) != 3 {
		t.Fatalf("%d audit rows for 3 probing tests: %v", len(rows), rows)
	}
	for _, r := range rows {
		if !strings.Contains(r, `"outcome": "forbidden_address"`) || !strings.Contains(r, "127.0.0.2") {
			t.Fatalf("audit row %s", r)
		}
	}
	noSecretIn(t, "the log", e.Logs.String())
}

// auditRows returns the server.tested rows of tenant A, as text.
func auditRows(t *testing.T, e *functest.Env) []string {
	t.Helper()
	rows, err := e.DB.Pool.Query(context.Background(), `select actor_id::text || ' ' || target_id || ' ' || after::text
		from public.audit_log where tenant_id = $1 and action = 'server.tested' order by id`, functest.TenantA)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		noSecretIn(t, "an audit row", s)
		out = append(out, s)
	}
	return out
}

// In one process: the (N+1)th probe of a user is 429 with Retry-After, the
// tenant's budget caps its users together, create shares the budget, a
// saved server's test has its own, and each allowed probing test leaves one
// audit row the tenant's admins read through list-audit.
func TestProbeLimits(t *testing.T) {
	e := newEnv(t, "probe_per_user=3/1h, probe_per_tenant=5/1h, saved_test_per_user=2/1h")
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("standalone"))
	const fn = "proxmox-servers"
	probe := func(user string) functest.Response {
		return e.Call(user, http.MethodPost, fn, adHoc("127.0.0.1", sim.Port(), obj{"tlsFingerprint": sim.Fingerprint(), "tokenSecret": pvesim.PresetTokenSecret}))
	}
	limited := func(res functest.Response) {
		t.Helper()
		functest.Expect(t, res, http.StatusTooManyRequests)
		if res.Code() != "rate_limited" {
			t.Fatalf("code %q", res.Code())
		}
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || s < 1 || s > 7200 {
			t.Fatalf("Retry-After %q", res.Header.Get("Retry-After"))
		}
	}
	for i := 0; i < 3; i++ {
		if res := functest.Expect(t, probe(functest.ManagerA), 200); res.Body["ok"] != true {
			t.Fatalf("probe %d: %s", i+1, res.Raw)
		}
	}
	limited(probe(functest.ManagerA))
	// create counts against the same budget.
	limited(e.Call(functest.ManagerA, http.MethodPost, fn, obj{"tenantId": functest.TenantA, "name": "x", "host": "10.1.2.3",
		"tokenId": pvesim.PresetTokenID, "tokenSecret": adHocSecret}))
	// Another user of the tenant: two more, then the tenant's five are spent.
	functest.Expect(t, probe(functest.AdminA), 200)
	functest.Expect(t, probe(functest.AdminA), 200)
	limited(probe(functest.AdminA))
	// The other tenant is untouched.
	functest.Expect(t, e.Call(functest.AdminB, http.MethodPost, fn, adHoc("127.0.0.1", sim.Port(), obj{"tenantId": functest.TenantB, "tlsFingerprint": sim.Fingerprint()})), 200)

	// A saved server's test has its own budget, and editing anything but
	// the address is not a probe.
	id := e.AddServer(functest.TenantA, "edge", sim, functest.ServerOpts{})
	functest.Expect(t, e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": id, "name": "edge-2"}), 200)
	limited(e.Call(functest.ManagerA, http.MethodPatch, fn, obj{"serverId": id, "host": "10.1.2.3",
		"tokenId": pvesim.PresetTokenID, "tokenSecret": adHocSecret}))
	functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "test", "serverId": id}), 200)
	functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "test", "serverId": id}), 200)
	limited(e.Call(functest.ManagerA, http.MethodPost, fn, obj{"action": "test", "serverId": id}))

	// Five probing tests went through, five rows; limited ones are not probes.
	rows := auditRows(t, e)
	if len(rows) != 5 {
		t.Fatalf("%d audit rows, want 5: %v", len(rows), rows)
	}
	for _, r := range rows {
		if !strings.Contains(r, `"outcome": "online"`) || !strings.Contains(r, `"port": `+strconv.Itoa(sim.Port())) || !strings.Contains(r, `"auth_type": "token"`) {
			t.Fatalf("audit row %s", r)
		}
	}
	// The tenant's admin reads them through list-audit; a manager does not.
	res := functest.Expect(t, e.Call(functest.AdminA, http.MethodPost, "tenants", obj{"action": "list-audit", "tenantId": functest.TenantA}), 200)
	if n := strings.Count(res.Raw, `"server.tested"`); n != 5 {
		t.Fatalf("list-audit shows %d tests: %s", n, res.Raw)
	}
	functest.Expect(t, e.Call(functest.ManagerA, http.MethodPost, "tenants", obj{"action": "list-audit", "tenantId": functest.TenantA}), 403)
	// And logged, once per probing test.
	if n := strings.Count(e.Logs.String(), "connection test of an unsaved server"); n != 6 { // 5 in A, 1 in B
		t.Fatalf("%d log lines for 6 probing tests", n)
	}
	noSecretIn(t, "the log", e.Logs.String())
}
