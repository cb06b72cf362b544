// Package fleet_test runs the functions as real OS processes (the local
// server binary, each process with its own memory, as Lambda instances are)
// on one database and one set of simulators: the fleet-wide snapshot store,
// the statement count of the hot paths, and database crashes under traffic.
package fleet_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/infra/functest"
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
	// FLEET_BIN runs the tests and benchmarks against another build (e.g.
	// the previous design, for the README's before/after figures).
	if b := os.Getenv("FLEET_BIN"); b != "" {
		bin = b
	} else if bin, err = functest.BuildLocal(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
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

// addServer registers sim in tenant, pinned, with sealed token credentials.
func (w *world) addServer(t testing.TB, pool *pgxpool.Pool, tenant, name string, sim *pvesim.Sim) string {
	return functest.RegisterServer(t, pool, w.kr, tenant, name, sim)
}

// proc is one running functions process.
type proc = functest.Proc

// start runs the local server on w's database with extra settings and waits
// until it answers. It is stopped when the test ends.
func (w *world) start(t testing.TB, extra ...string) *proc {
	t.Helper()
	env := append([]string{
		"DATABASE_URL=" + w.url,
		"SUPABASE_JWT_SECRET=" + functest.JWTSecret,
		"CREDENTIALS_KEY=" + w.key,
		"PROXMOX_ALLOW_CIDRS=127.0.0.0/8",
		"PROXMOX_TIMEOUT=2s",
		"LOG_LEVEL=warn",
	}, extra...)
	return functest.StartLocal(t, bin, env...)
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
	req, _ := http.NewRequest(http.MethodPost, p.Base+fn, bytes.NewReader(b))
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
