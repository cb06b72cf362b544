// Package client runs real clients against the local stack: supabase-js in
// Node (functions.invoke, FunctionsHttpError) and headless Chromium loading a
// page from another origin (CORS). The Node side lives in test/*.mjs; this Go
// test brings the stack up, hands it over in STACK_JSON, and runs `node --test`.
package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/pvetenant/backend/functions/catalog"

	"github.com/pvetenant/backend/infra/localserver"
	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/stack"
	"github.com/pvetenant/backend/infra/sweep"
	"github.com/pvetenant/backend/shared/setup"
)

func TestRealClients(t *testing.T) {
	if _, err := os.Stat("node_modules/@supabase/supabase-js"); err != nil {
		t.Fatal("node_modules missing: run `npm ci --prefix infra/client` (the test command does)")
	}
	base := t.TempDir()
	for _, d := range []string{base, filepath.Dir(base)} {
		_ = os.Chmod(d, 0o755) // PostgreSQL runs as the postgres user under root
	}
	dir := filepath.Join(base, "local")
	fnPort, _ := pgcluster.FreePort()
	dbPort, _ := pgcluster.FreePort()
	ready := make(chan *stack.Stack, 1)
	out := &bytes.Buffer{}
	logs := &bytes.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- stack.Run(ctx, stack.Options{Dir: dir, Addr: fmt.Sprintf("127.0.0.1:%d", fnPort), DBPort: dbPort, Out: out, Ready: ready, Logger: logger})
	}()
	defer func() { cancel(); <-done }()
	var st *stack.Stack
	select {
	case st = <-ready:
	case err := <-done:
		t.Fatalf("stack: %v\n%s", err, out)
	case <-time.After(3 * time.Minute):
		t.Fatal("stack did not start")
	}

	// The same functions with ALLOWED_ORIGINS that exclude the test page.
	jwtSecret, credKey, err := stack.Keys(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := setup.FromEnv(func(k string) string {
		return map[string]string{"DATABASE_URL": st.DBURL, "SUPABASE_JWT_SECRET": jwtSecret, "CREDENTIALS_KEY": credKey,
			"PROXMOX_ALLOW_CIDRS": "127.0.0.0/8", "ALLOWED_ORIGINS": "https://app.example.com"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	deps, err := setup.Load(ctx, cfg, catalog.Merge(), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer deps.Close()
	rPort, _ := pgcluster.FreePort()
	started := make(chan struct{})
	go func() {
		_ = localserver.ServeNotify(ctx, fmt.Sprintf("127.0.0.1:%d", rPort), localserver.Handler(deps), logger, started)
	}()
	<-started

	info, _ := json.Marshal(map[string]any{
		"url": st.URL, "restrictedUrl": fmt.Sprintf("http://127.0.0.1:%d", rPort), "anon": st.Anon,
		"tokens": st.Tokens, "tenants": st.TenantIDs, "servers": st.ServerIDs,
	})
	node := exec.Command("node", "--test", "--test-reporter=spec", "test/")
	node.Env = append(os.Environ(), "STACK_JSON="+string(info))
	res, err := node.CombinedOutput()
	t.Logf("node --test:\n%s", res)
	sweep.Register(jwtSecret, credKey)
	sweep.Record("node-clients", res)
	defer func() { sweep.Record("client-stack-logs", logs.Bytes()) }()
	if err != nil {
		t.Fatalf("node tests failed: %v", err)
	}
}
