package main_test

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

	"github.com/pvetenant/backend/infra/functest"
	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/sweep"
	"github.com/pvetenant/backend/infra/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

// The command, built and run as a user would run it, with DATABASE_URL
// pointing at a migrated database: it serves the functions over real HTTP
// and stops cleanly on SIGINT.
func TestLocalServerWithDatabaseURL(t *testing.T) {
	db := testdb.Fresh(t)
	functest.Seed(t, db)
	bin := filepath.Join(t.TempDir(), "local")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	port, err := pgcluster.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(),
		"ADDR="+addr,
		"DATABASE_URL="+db.URL,
		"SUPABASE_JWT_SECRET="+functest.JWTSecret,
		"CREDENTIALS_KEY="+base64.StdEncoding.EncodeToString(key),
	)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() //nolint:errcheck

	base := "http://" + addr + "/functions/v1/proxmox-servers"
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := client.Get(base)
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	call := func(method, url, token, body string) (int, map[string]any, http.Header) {
		req, _ := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return res.StatusCode, m, res.Header
	}

	if code, _, h := call(http.MethodOptions, base, "", ""); code != 204 || h.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("preflight: %d", code)
	}
	if code, m, _ := call(http.MethodGet, base+"?tenantId="+functest.TenantA, "", ""); code != 401 || m["code"] != "unauthorized" {
		t.Fatalf("no token: %d %v", code, m)
	}
	admin := functest.Token(t, functest.AdminA)
	code, m, _ := call(http.MethodPost, base, admin, `{"tenantId":"`+functest.TenantA+`","name":"lab","host":"pve.acme.test","tokenId":"root@pam!ci","tokenSecret":"local-secret-1"}`)
	if code != 201 {
		t.Fatalf("create: %d %v", code, m)
	}
	code, m, _ = call(http.MethodGet, base+"?tenantId="+functest.TenantA, functest.Token(t, functest.ViewerA), "")
	if code != 200 || len(m["servers"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, m)
	}
	if code, _, _ := call(http.MethodGet, "http://"+addr+"/functions/v1/nope", admin, ""); code != 404 {
		t.Fatalf("unknown function: %d", code)
	}

	_ = cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("did not stop on SIGINT")
	}
	sweep.Register("local-secret-1", base64.StdEncoding.EncodeToString(key))
	sweep.Record("local-server-logs", logs.Bytes())
	if strings.Contains(logs.String(), "local-secret-1") {
		t.Fatal("a secret reached the log")
	}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("log line is not JSON: %q", line)
		}
	}
}
