package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/stack"
	"github.com/pvetenant/backend/infra/sweep"
)

// stackProc is the built command running the whole stack, as start.sh execs it.
type stackProc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan error
}

func (p *stackProc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

type lockedWriter struct{ p *stackProc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.out.Write(b)
}

func runStack(t *testing.T, bin string, env ...string) *stackProc {
	t.Helper()
	p := &stackProc{cmd: exec.Command(bin), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Env = append(p.cmd.Env, "DATABASE_URL=")
	p.cmd.Stdout, p.cmd.Stderr = lockedWriter{p}, lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	return p
}

// waitReady waits for the "ready in" line, or for the process to end.
func (p *stackProc) waitReady(t *testing.T) {
	t.Helper()
	deadline := time.After(3 * time.Minute)
	for !strings.Contains(p.output(), "ready in ") {
		select {
		case err := <-p.done:
			t.Fatalf("stack exited before ready: %v\n%s", err, p.output())
		case <-deadline:
			_ = p.cmd.Process.Kill()
			t.Fatalf("stack not ready\n%s", p.output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop sends sig and requires a clean exit (status 0).
func (p *stackProc) stop(t *testing.T, sig os.Signal) {
	t.Helper()
	_ = p.cmd.Process.Signal(sig)
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("after %v the stack exited with %v\n%s", sig, err, p.output())
		}
	case <-time.After(90 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Fatalf("stack did not stop on %v\n%s", sig, p.output())
	}
}

func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok && !strings.HasPrefix(k, "#") {
			env[k] = strings.Trim(v, "'")
		}
	}
	return env
}

func portOpen(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// The stack as start.sh runs it (the built binary, exec'd): it stops on
// SIGTERM and on SIGINT with status 0 leaving no process or port behind
// (PostgreSQL and simulators included); a second start on the same folder
// has the same simulator addresses and fingerprints and the guest a user
// started is still running; a taken port or folder is one line naming the
// variable;
// /health reports the database; the page is at /; the token command mints
// a token the stack accepts.
func TestStackProcessStopsCleanAndKeepsState(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{base, filepath.Dir(base)} {
		_ = os.Chmod(d, 0o755) // PostgreSQL runs as the postgres user under root
	}
	bin := filepath.Join(base, "local")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	tokenBin := filepath.Join(base, "token")
	if out, err := exec.Command("go", "build", "-o", tokenBin, "../cmd/token").CombinedOutput(); err != nil {
		t.Fatalf("build token: %v\n%s", err, out)
	}
	dir := filepath.Join(base, "stack")
	fnPort, _ := pgcluster.FreePort()
	dbPort, _ := pgcluster.FreePort()
	addr := fmt.Sprintf("127.0.0.1:%d", fnPort)
	dbAddr := fmt.Sprintf("127.0.0.1:%d", dbPort)
	env := []string{"STACK_DIR=" + dir, "ADDR=" + addr, "DB_PORT=" + strconv.Itoa(dbPort)}
	client := &http.Client{Timeout: 10 * time.Second}
	var outputs []string
	defer func() {
		jwtSecret, credKey, _ := stack.Keys(dir)
		sweep.Register(jwtSecret, credKey)
		for i, o := range outputs {
			sweep.Record(fmt.Sprintf("stack-process-%d", i), []byte(o))
		}
	}()

	p := runStack(t, bin, env...)
	defer func() { _ = p.cmd.Process.Kill() }()
	p.waitReady(t)
	for _, want := range []string{"creating PostgreSQL cluster", "applying migration 1/", "starting Proxmox VE simulators", "ready in "} {
		if !strings.Contains(p.output(), want) {
			t.Errorf("no progress line %q:\n%s", want, p.output())
		}
	}
	first := readEnv(t, filepath.Join(dir, stack.EnvFile))
	for _, k := range []string{"BASE_URL", "FUNCTIONS_URL", "ANON_KEY", "ACME_TENANT_ID", "GLOBEX_TENANT_ID", "TOKEN_ALICE", "TOKEN_MONA",
		"TOKEN_VICTOR", "TOKEN_BOB", "TOKEN_ROOT", "PVE_CLUSTER_URL", "PVE_CLUSTER_FINGERPRINT", "PVE_CLUSTER_TOKEN_ID",
		"PVE_CLUSTER_TOKEN_SECRET", "PVE_EDGE_USER", "PVE_EDGE_PASSWORD", "GLOBEX_PVE_URL"} {
		if first[k] == "" {
			t.Errorf("stack.env lacks %s", k)
		}
	}

	get := func(url string) (int, string) {
		res, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	post := func(fn, token, body string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/functions/v1/"+fn, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(res.Body).Decode(&m)
		return res.StatusCode, m
	}
	for _, path := range []string{"/health", "/functions/v1/"} {
		if code, body := get("http://" + addr + path); code != 200 || !strings.Contains(body, `"database":"reachable"`) {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}
	if code, body := get("http://" + addr + "/"); code != 200 || !strings.Contains(body, "functions.invoke") && !strings.Contains(body, "app.js") {
		t.Fatalf("GET /: %d %.200s", code, body)
	}

	// A second stack on the same ports, or the same folder: one line naming
	// the variable to change.
	otherPort, _ := pgcluster.FreePort()
	for _, c := range []struct {
		env      []string
		variable string
	}{
		{env, "ADDR"},
		{[]string{"STACK_DIR=" + filepath.Join(base, "other"), "ADDR=127.0.0.1:0", "DB_PORT=" + strconv.Itoa(dbPort)}, "DB_PORT"},
		{[]string{"STACK_DIR=" + dir, "ADDR=127.0.0.1:0", "DB_PORT=" + strconv.Itoa(otherPort)}, "STACK_DIR"},
	} {
		second := exec.Command(bin)
		second.Env = append(append(os.Environ(), c.env...), "DATABASE_URL=")
		out, err := second.CombinedOutput()
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if err == nil || len(lines) != 1 || !strings.Contains(lines[0], "set "+c.variable+" ") {
			t.Fatalf("second stack (%s busy): %v\n%s", c.variable, err, out)
		}
	}

	// A guest started by the manager, and a token minted by the command.
	tokCmd := exec.Command(tokenBin, "mona@acme.test")
	tokCmd.Env = append(os.Environ(), "STACK_DIR="+dir)
	tokOut, err := tokCmd.Output()
	if err != nil {
		t.Fatalf("token command: %v", err)
	}
	mona := strings.TrimSpace(string(tokOut))
	start := fmt.Sprintf(`{"action":"start","tenantId":"%s","serverId":"%s","node":"pve2","vmid":104,"type":"qemu"}`,
		first["ACME_TENANT_ID"], first["PVE_CLUSTER_SERVER_ID"])
	if code, m := post("list-vms", mona, start); code != 202 {
		t.Fatalf("start as mona with a minted token: %d %v", code, m)
	}
	pgPID, _ := os.ReadFile(filepath.Join(dir, "pgdata", "postmaster.pid"))
	p.stop(t, syscall.SIGTERM)
	outputs = append(outputs, p.output())
	if _, err := os.Stat(filepath.Join(dir, "pgdata", "postmaster.pid")); err == nil {
		t.Fatal("PostgreSQL still running after SIGTERM")
	}
	if pid, _ := strconv.Atoi(strings.SplitN(string(pgPID), "\n", 2)[0]); pid > 0 && running(pid) {
		t.Fatalf("postgres process %d still running", pid)
	}
	for _, a := range []string{addr, dbAddr, strings.TrimPrefix(first["PVE_CLUSTER_URL"], "https://"), strings.TrimPrefix(first["PVE_EDGE_URL"], "https://")} {
		if portOpen(a) {
			t.Fatalf("%s still open after SIGTERM", a)
		}
	}

	// Again on the same folder: same simulators, same certificates, the
	// started VM still running; then SIGINT.
	p2 := runStack(t, bin, env...)
	defer func() { _ = p2.cmd.Process.Kill() }()
	p2.waitReady(t)
	second := readEnv(t, filepath.Join(dir, stack.EnvFile))
	for _, k := range []string{"PVE_CLUSTER_URL", "PVE_CLUSTER_FINGERPRINT", "PVE_EDGE_URL", "PVE_EDGE_FINGERPRINT", "GLOBEX_PVE_URL", "GLOBEX_PVE_FINGERPRINT"} {
		if first[k] != second[k] {
			t.Errorf("%s changed across a restart: %s -> %s", k, first[k], second[k])
		}
	}
	code, m := post("list-vms", second["TOKEN_VICTOR"], fmt.Sprintf(`{"tenantId":"%s","serverId":"%s"}`, second["ACME_TENANT_ID"], second["PVE_CLUSTER_SERVER_ID"]))
	found := false
	for _, v := range m["vms"].([]any) {
		if vm := v.(map[string]any); vm["vmid"] == float64(104) {
			found = true
			if vm["status"] != "running" {
				t.Errorf("VM 104 after restart: %v", vm["status"])
			}
		}
	}
	if code != 200 || !found {
		t.Fatalf("list-vms after restart: %d %v", code, m)
	}
	p2.stop(t, syscall.SIGINT)
	outputs = append(outputs, p2.output())
	for _, a := range []string{addr, dbAddr, strings.TrimPrefix(second["PVE_CLUSTER_URL"], "https://")} {
		if portOpen(a) {
			t.Fatalf("%s still open after SIGINT", a)
		}
	}

}

// running reports whether pid is a live process; a zombie waiting for its
// reaper (PID 1 in some containers never reaps) holds nothing and counts as
// gone. It allows the postmaster a moment after removing its pid file.
func running(pid int) bool {
	for i := 0; i < 50; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return false
		}
		if _, rest, ok := strings.Cut(string(b), ") "); ok && strings.HasPrefix(rest, "Z") {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}
