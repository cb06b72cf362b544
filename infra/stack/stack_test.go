package stack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/stack"
	"github.com/pvetenant/backend/infra/sweep"
)

// start runs the stack in dir on free ports and returns it once it serves.
func start(t *testing.T, dir string, fnPort, dbPort int) (*stack.Stack, *bytes.Buffer, func()) {
	t.Helper()
	ready := make(chan *stack.Stack, 1)
	out := &bytes.Buffer{}
	logs := &bytes.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- stack.Run(ctx, stack.Options{Dir: dir, Addr: fmt.Sprintf("127.0.0.1:%d", fnPort), DBPort: dbPort,
			Out: out, Ready: ready, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	}()
	select {
	case st := <-ready:
		return st, out, func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("stack stopped with %v", err)
			}
			jwtSecret, credKey, _ := stack.Keys(dir)
			sweep.Register(jwtSecret, credKey)
			sweep.Record("stack-banner", out.Bytes())
			sweep.Record("stack-logs", logs.Bytes())
		}
	case err := <-done:
		t.Fatalf("stack did not start: %v\n%s", err, out)
	case <-time.After(3 * time.Minute):
		t.Fatalf("stack did not start in time\n%s", out)
	}
	cancel()
	return nil, nil, nil
}

// The start command's stack: up from nothing, the printed examples work as
// printed, Ctrl-C (context cancel) stops PostgreSQL too, and a second start
// reuses the data folder.
func TestStackFromScratchAndAgain(t *testing.T) {
	base := t.TempDir()
	// PostgreSQL runs as the postgres user when the tests run as root.
	for _, d := range []string{base, filepath.Dir(base)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(base, "local")
	fnPort, _ := pgcluster.FreePort()
	dbPort, _ := pgcluster.FreePort()
	st, out, stop := start(t, dir, fnPort, dbPort)
	if !strings.Contains(out.String(), "applied migration 0001_legacy_schema.sql") {
		t.Fatalf("migrations not applied on first start:\n%s", out)
	}
	for _, want := range []string{"root@example.com", "alice@acme.test", "mona@acme.test", "victor@acme.test", "bob@globex.test",
		"$TOKEN_VICTOR", ". " + st.EnvFile, "pve-cluster", "pve-edge", "globex-pve"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("banner lacks %q:\n%s", want, out)
		}
	}
	// Each printed curl command, run by a shell exactly as printed, after
	// the printed line that sources stack.env.
	wants := []func(map[string]any) bool{
		func(m map[string]any) bool {
			s, _ := m["stats"].(map[string]any)
			return s != nil && s["totalVMs"] == float64(9)
		},
		func(m map[string]any) bool { s, _ := m["servers"].([]any); return len(s) == 2 },
		func(m map[string]any) bool { v, _ := m["vms"].([]any); return len(v) == 5 },
		func(m map[string]any) bool { return m["role"] == "manager" && m["canControlVms"] == true },
		func(m map[string]any) bool { u, _ := m["upid"].(string); return strings.HasPrefix(u, "UPID:pve2:") },
		func(m map[string]any) bool { return m["code"] == "forbidden" },
	}
	if len(st.Examples) != len(wants) {
		t.Fatalf("%d examples", len(st.Examples))
	}
	for i, ex := range st.Examples {
		b, err := exec.Command("sh", "-c", ". "+st.EnvFile+"\n"+ex).Output()
		if err != nil {
			t.Fatalf("example %d: %v", i+1, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil || !wants[i](m) {
			t.Fatalf("example %d answered %s", i+1, b)
		}
	}
	stop()
	if _, err := os.Stat(filepath.Join(dir, "pgdata", "postmaster.pid")); err == nil {
		t.Fatal("PostgreSQL still running after stop")
	}

	// Again, on the same folder: nothing re-created, data kept, tokens still valid.
	st2, out2, stop2 := start(t, dir, fnPort, dbPort)
	defer stop2()
	if strings.Contains(out2.String(), "creating PostgreSQL cluster") || strings.Contains(out2.String(), "applied migration") {
		t.Fatalf("second start re-created the database:\n%s", out2)
	}
	b, err := exec.Command("sh", "-c", ". "+st.EnvFile+"\n"+st.Examples[1]).Output()
	if err != nil || !strings.Contains(string(b), `"pve-cluster"`) {
		t.Fatalf("first run's example against the second run: %v %s", err, b)
	}
	_ = st2
}
