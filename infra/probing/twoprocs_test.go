package probing_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/sweep"
	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/shared/secrets"
)

// proc is one running functions process.
type proc struct{ *functest.Proc }

// startLocal runs the local server binary as its own process on db.
func startLocal(t *testing.T, bin string, env []string) *proc {
	return &proc{functest.StartLocal(t, bin, env...)}
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func (p *proc) call(t *testing.T, user, fn string, params obj) answer {
	t.Helper()
	b, _ := json.Marshal(params)
	req, _ := http.NewRequest(http.MethodPost, p.Base+fn, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+functest.Token(t, user))
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	sweep.Record(t.Name()+"-answers", raw)
	a := answer{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func expectStatus(t *testing.T, what string, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: %d, want %d: %s", what, a.status, status, a.raw)
	}
	if status == http.StatusTooManyRequests {
		if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 || a.body["code"] != "rate_limited" {
			t.Fatalf("%s: Retry-After %q, body %s", what, a.header.Get("Retry-After"), a.raw)
		}
	}
}

// The limits hold across two function processes on one database, as across
// Lambda instances: the (N+1)th probing test and the (N+1)th power action
// are 429 with Retry-After whichever process gets them; the deny list holds
// in both; each probing test leaves one audit row without a secret.
func TestLimitsAcrossTwoProcesses(t *testing.T) {
	db := testdb.Fresh(t)
	functest.Seed(t, db)
	bin, err := functest.BuildLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyB64 := base64.StdEncoding.EncodeToString(key)
	sweep.Register(adHocSecret, keyB64, functest.JWTSecret)

	// A server of tenant A on an allowed simulator, for power actions.
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	denied := deniedSim(t)
	kr, err := secrets.ParseKeyring(keyB64, "")
	if err != nil {
		t.Fatal(err)
	}
	id := functest.RegisterServer(t, db.Pool, kr, functest.TenantA, "lab", sim)

	env := []string{"DATABASE_URL=" + db.URL, "SUPABASE_JWT_SECRET=" + functest.JWTSecret, "CREDENTIALS_KEY=" + keyB64,
		"PROXMOX_ALLOW_CIDRS=127.0.0.0/8", "PROXMOX_DENY_CIDRS=127.0.0.2/32", "PROXMOX_TIMEOUT=3s",
		"RATE_LIMITS=probe_per_user=3/1h,power_per_user=3/1h"}
	a, b := startLocal(t, bin, env), startLocal(t, bin, env)

	probe := adHoc("127.0.0.1", sim.Port(), obj{"tlsFingerprint": sim.Fingerprint()})
	for i, p := range []*proc{a, b, a} {
		res := p.call(t, functest.ManagerA, "proxmox-servers", probe)
		expectStatus(t, fmt.Sprintf("probe %d", i+1), res, http.StatusOK)
	}
	expectStatus(t, "4th probe (process B)", b.call(t, functest.ManagerA, "proxmox-servers", probe), http.StatusTooManyRequests)
	expectStatus(t, "5th probe (process A)", a.call(t, functest.ManagerA, "proxmox-servers", probe), http.StatusTooManyRequests)

	// The deny list in both processes.
	deniedProbe := adHoc("127.0.0.2", denied.Port(), obj{"tlsFingerprint": denied.Fingerprint()})
	for _, p := range []*proc{a, b} {
		res := p.call(t, functest.AdminA, "proxmox-servers", deniedProbe)
		expectStatus(t, "denied probe", res, http.StatusBadRequest)
		if res.body["code"] != "forbidden_address" {
			t.Fatalf("denied probe: %s", res.raw)
		}
	}
	if n := denied.TotalRequests(); n != 0 {
		t.Fatalf("the denied simulator got %d requests", n)
	}

	// Power actions: three per user, whichever process.
	power := func(p *proc, act string) answer {
		return p.call(t, functest.ManagerA, "list-vms", obj{"action": act, "tenantId": functest.TenantA,
			"serverId": id, "node": "pve2", "vmid": 104, "type": "qemu"})
	}
	for i, step := range []struct {
		p   *proc
		act string
	}{{a, "start"}, {b, "stop"}, {a, "start"}} {
		expectStatus(t, fmt.Sprintf("power action %d", i+1), power(step.p, step.act), http.StatusAccepted)
	}
	before := sim.TotalRequests()
	expectStatus(t, "4th power action (process B)", power(b, "stop"), http.StatusTooManyRequests)
	if n := sim.TotalRequests(); n != before {
		t.Fatalf("a limited power action reached Proxmox (%d requests)", n-before)
	}
	// Another user still may.
	res := b.call(t, functest.AdminA, "list-vms", obj{"action": "stop", "tenantId": functest.TenantA,
		"serverId": id, "node": "pve2", "vmid": 104, "type": "qemu"})
	expectStatus(t, "another user's power action", res, http.StatusAccepted)

	// Three allowed probing tests (with a made-up secret: auth_error) and two
	// refused ones: five rows.
	rows, err := db.Pool.Query(context.Background(), `select after::text from public.audit_log where tenant_id = $1 and action = 'server.tested' order by id`, functest.TenantA)
	if err != nil {
		t.Fatal(err)
	}
	var audit []string
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		noSecretIn(t, "an audit row", s)
		audit = append(audit, s)
	}
	rows.Close()
	if len(audit) != 5 || strings.Count(strings.Join(audit, "\n"), `"outcome": "auth_error"`) != 3 ||
		strings.Count(strings.Join(audit, "\n"), `"outcome": "forbidden_address"`) != 2 {
		t.Fatalf("audit rows: %v", audit)
	}
	for i, p := range []*proc{a, b} {
		sweep.Record(fmt.Sprintf("%s-process-%d", t.Name(), i), []byte(p.Logs.String()))
		noSecretIn(t, "a process log", p.Logs.String())
	}
}
