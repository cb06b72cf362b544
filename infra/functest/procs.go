package functest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/infra/sweep"
	"github.com/pvetenant/backend/shared/secrets"
)

// BuildLocal builds the local server (infra/local) into dir, for tests that
// run the functions as real OS processes, as Lambda runs instances.
func BuildLocal(dir string) (string, error) {
	bin := filepath.Join(dir, "local")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/pvetenant/backend/infra/local").CombinedOutput(); err != nil {
		return "", fmt.Errorf("build infra/local: %v\n%s", err, out)
	}
	return bin, nil
}

// Proc is one running functions process.
type Proc struct {
	Base string // http://127.0.0.1:port/functions/v1/
	Cmd  *exec.Cmd
	Logs *SyncBuffer
}

// StartLocal runs bin with env (ADDR is chosen here) and waits until it
// answers. When the test ends it is stopped (SIGINT, killed after 10 s) and
// its output goes to the secrets sweep.
func StartLocal(t testing.TB, bin string, env ...string) *Proc {
	t.Helper()
	port, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p := &Proc{Base: "http://" + addr + "/functions/v1/", Cmd: exec.Command(bin), Logs: &SyncBuffer{}}
	p.Cmd.Env = append(append(os.Environ(), env...), "ADDR="+addr)
	p.Cmd.Stdout, p.Cmd.Stderr = p.Logs, p.Logs
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { _ = p.Cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.Cmd.Process.Kill()
			<-done
		}
		sweep.Record(t.Name()+"-process-logs", []byte(p.Logs.String()))
	})
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := client.Get(p.Base + "proxmox-servers")
		if err == nil {
			res.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("functions process did not come up: %v\n%s", err, p.Logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// RegisterServer registers sim as a server of tenant on pool, pinned to its
// certificate, with token credentials sealed under kr, as the table owner;
// Env.AddServer is the same for an Env.
func RegisterServer(t testing.TB, pool *pgxpool.Pool, kr *secrets.Keyring, tenant, name string, sim *pvesim.Sim) string {
	t.Helper()
	ctx := context.Background()
	var id string
	if err := pool.QueryRow(ctx, `insert into public.proxmox_servers (tenant_id, name, host, port, verify_ssl, tls_fingerprint, auth_type, credentials_version)
		values ($1, $2, '127.0.0.1', $3, false, $4, 'token', 1) returning id::text`, tenant, name, sim.Port(), sim.Fingerprint()).Scan(&id); err != nil {
		t.Fatal(err)
	}
	keyID, sealed, err := kr.SealCredentials(id, secrets.Credentials{TokenID: pvesim.PresetTokenID, TokenSecret: pvesim.PresetTokenSecret})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `insert into private.proxmox_server_credentials (server_id, auth_type, key_id, sealed) values ($1, 'token', $2, $3)`, id, keyID, sealed); err != nil {
		t.Fatal(err)
	}
	return id
}
