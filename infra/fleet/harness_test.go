// Package fleet_test runs the functions as real OS processes (the local
// server binary, each process with its own memory, as Lambda instances are)
// on one database and one set of simulators: the fleet-wide snapshot store,
// the statement count of the hot paths, and database crashes under traffic.
package fleet_test

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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/sweep"
	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/shared/secrets"
)

// bin is the local server, built once for the package.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fleet-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "local")
	// FLEET_BIN runs the tests and benchmarks against another build (e.g.
	// the previous design, for the README's before/after figures).
	if b := os.Getenv("FLEET_BIN"); b != "" {
		bin = b
	} else if out, err := exec.Command("go", "build", "-o", bin, "github.com/pvetenant/backend/infra/local").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := testdb.Run(m)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// world is one database with the demo users, a credentials key, and servers.
type world struct {
	url string
	key string // CREDENTIALS_KEY
	kr  *secrets.Keyring
}

func newWorld(t testing.TB, url string, pool *pgxpool.Pool) *world {
	t.Helper()
	functest.Seed(t, &testdb.DB{URL: url, Pool: pool})
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	w := &world{url: url, key: base64.StdEncoding.EncodeToString(k)}
	var err error
	if w.kr, err = secrets.ParseKeyring(w.key, ""); err != nil {
		t.Fatal(err)
	}
	sweep.Register(w.key, functest.JWTSecret, pvesim.PresetTokenSecret)
	return w
}

// addServer registers sim in tenant, pinned, with sealed token credentials,
// as functest.Env.AddServer does.
func (w *world) addServer(t testing.TB, pool *pgxpool.Pool, tenant, name string, sim *pvesim.Sim) string {
	t.Helper()
	ctx := context.Background()
	var id string
	if err := pool.QueryRow(ctx, `insert into public.proxmox_servers (tenant_id, name, host, port, verify_ssl, tls_fingerprint, auth_type, credentials_version)
		values ($1, $2, '127.0.0.1', $3, false, $4, 'token', 1) returning id::text`, tenant, name, sim.Port(), sim.Fingerprint()).Scan(&id); err != nil {
		t.Fatal(err)
	}
	c := secrets.Credentials{TokenID: pvesim.PresetTokenID, TokenSecret: pvesim.PresetTokenSecret}
	keyID, sealed, err := w.kr.SealCredentials(id, c)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `insert into private.proxmox_server_credentials (server_id, auth_type, key_id, sealed) values ($1, 'token', $2, $3)`, id, keyID, sealed); err != nil {
		t.Fatal(err)
	}
	return id
}

// proc is one running functions process.
type proc struct {
	base string // http://127.0.0.1:port/functions/v1/
	cmd  *exec.Cmd
	logs *functest.SyncBuffer
}

// start runs the local server on w's database with extra settings and waits
// until it answers. It is stopped when the test ends.
func (w *world) start(t testing.TB, extra ...string) *proc {
	t.Helper()
	port, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"ADDR="+addr,
		"DATABASE_URL="+w.url,
		"SUPABASE_JWT_SECRET="+functest.JWTSecret,
		"CREDENTIALS_KEY="+w.key,
		"PROXMOX_ALLOW_CIDRS=127.0.0.0/8",
		"PROXMOX_TIMEOUT=2s",
		"LOG_LEVEL=warn",
	)
	cmd.Env = append(cmd.Env, extra...)
	p := &proc{base: "http://" + addr + "/functions/v1/", cmd: cmd, logs: &functest.SyncBuffer{}}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		sweep.Record(t.Name()+"-process-logs", []byte(p.logs.String()))
	})
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := client.Get(p.base + "proxmox-servers")
		if err == nil {
			res.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("functions process did not come up: %v\n%s", err, p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// answers makes calls as the demo users and records every answer body for
// the secrets sweep.
type answers struct {
	buf    functest.SyncBuffer
	tokens map[string]string
}

func newAnswers(t testing.TB) *answers {
	a := &answers{tokens: map[string]string{}}
	for _, u := range []string{functest.SysAdmin, functest.AdminA, functest.ManagerA, functest.ViewerA, functest.AdminB, functest.Nobody} {
		a.tokens[u] = functest.Token(t, u)
	}
	t.Cleanup(func() { sweep.Record(t.Name()+"-answers", []byte(a.buf.String())) })
	return a
}

var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// call POSTs body to fn on p as user and returns the status and body.
func (a *answers) call(p *proc, user, fn string, body map[string]any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, p.base+fn, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+a.tokens[user])
	req.Header.Set("Content-Type", "application/json")
	res, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	out, err := io.ReadAll(res.Body)
	_, _ = a.buf.Write(append(out, '\n'))
	return res.StatusCode, out, err
}

func has(b []byte, s string) bool { return strings.Contains(string(b), s) }
