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
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/sweep"
	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/shared/secrets"
)

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type proc struct {
	url  string
	cmd  *exec.Cmd
	logs *lockedBuffer
}

// startLocal runs the local server binary as its own process on db.
func startLocal(t *testing.T, bin string, env []string) *proc {
	t.Helper()
	port, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := &proc{url: "http://" + addr + "/functions/v1/", logs: &lockedBuffer{}}
	p.cmd = exec.Command(bin)
	p.cmd.Env = append(append(os.Environ(), env...), "ADDR="+addr)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := http.Get(p.url + "proxmox-servers")
		if err == nil {
			res.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("local server did not come up: %v\n%s", err, p.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
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
	req, _ := http.NewRequest(http.MethodPost, p.url+fn, bytes.NewReader(b))
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
	bin := filepath.Join(t.TempDir(), "local")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/pvetenant/backend/infra/local").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	keyB64 := base64.StdEncoding.EncodeToString(key)
	sweep.Register(adHocSecret, keyB64, functest.JWTSecret)

	// A server of tenant A on an allowed simulator, for power actions.
	sim := pvesim.NewTestSim(t, pvesim.MustPreset("cluster3"))
	denied := deniedSim(t)
	ctx := context.Background()
	var id string
	if err := db.Pool.QueryRow(ctx, `insert into public.proxmox_servers (tenant_id, name, host, port, verify_ssl, tls_fingerprint, auth_type, credentials_version)
		values ($1, 'lab', '127.0.0.1', $2, false, $3, 'token', 1) returning id::text`, functest.TenantA, sim.Port(), sim.Fingerprint()).Scan(&id); err != nil {
		t.Fatal(err)
	}
	kr, err := secrets.ParseKeyring(keyB64, "")
	if err != nil {
		t.Fatal(err)
	}
	c := secrets.Credentials{TokenID: pvesim.PresetTokenID, TokenSecret: pvesim.PresetTokenSecret}
	keyID, sealed, err := kr.SealCredentials(id, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `insert into private.proxmox_server_credentials (server_id, auth_type, key_id, sealed) values ($1, 'token', $2, $3)`, id, keyID, sealed); err != nil {
		t.Fatal(err)
	}

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
	rows, err := db.Pool.Query(ctx, `select after::text from public.audit_log where tenant_id = $1 and action = 'server.tested' order by id`, functest.TenantA)
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
		sweep.Record(fmt.Sprintf("%s-process-%d", t.Name(), i), []byte(p.logs.String()))
		noSecretIn(t, "a process log", p.logs.String())
	}
}
