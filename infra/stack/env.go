package stack

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/pvetenant/backend/infra/pvesim"
)

// EnvFile is the name of the shell file the stack writes into its folder.
const EnvFile = "stack.env"

// envName turns "alice@acme.test" into "ALICE" and "pve-cluster" into
// "PVE_CLUSTER": names a shell accepts.
func envName(s string) string {
	s, _, _ = strings.Cut(s, "@")
	return strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(s))
}

// shellQuote quotes v for sh (single quotes; the token id has a "!").
func shellQuote(v string) string { return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'" }

// writeEnv writes dir/stack.env: everything the printed commands use, so a
// shell that sources it can paste them. It holds local-only secrets (demo
// tokens, simulator credentials), hence mode 0600.
func writeEnv(dir string, st *Stack, sims map[string]*pvesim.Sim) error {
	var b strings.Builder
	line := func(k, v string) { fmt.Fprintf(&b, "%s=%s\n", k, shellQuote(v)) }
	b.WriteString("# Written by the local stack on every start. Use: . .local/stack.env\n")
	base := strings.TrimSuffix(st.URL, "/functions/v1/")
	line("BASE_URL", base)
	line("FUNCTIONS_URL", base+"/functions/v1")
	line("ANON_KEY", st.Anon)
	line("STACK_DATABASE_URL", st.DBURL)
	for _, t := range demoTenants {
		line(envName(t.slug)+"_TENANT_ID", t.id)
	}
	names := make([]string, 0, len(sims))
	for n := range sims {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		line(envName(n)+"_SERVER_ID", st.ServerIDs[n])
	}
	b.WriteString("# Access tokens, valid 24 h from this start; a fresh one: go run ./infra/cmd/token <email>\n")
	for _, u := range st.Users {
		line("TOKEN_"+envName(u.Email), st.Tokens[u.Email])
	}
	b.WriteString("# Proxmox VE simulators: address, certificate fingerprint, credentials\n")
	for _, d := range demoServers {
		s := sims[d.name]
		if s == nil {
			continue
		}
		p := envName(d.name)
		line(p+"_URL", s.URL())
		line(p+"_HOST", "127.0.0.1")
		line(p+"_PORT", fmt.Sprint(s.Port()))
		line(p+"_FINGERPRINT", s.Fingerprint())
		line(p+"_TOKEN_ID", pvesim.PresetTokenID)
		line(p+"_TOKEN_SECRET", pvesim.PresetTokenSecret)
		line(p+"_USER", pvesim.PresetUser)
		line(p+"_PASSWORD", pvesim.PresetPassword)
	}
	return os.WriteFile(filepath.Join(dir, EnvFile), []byte(b.String()), 0o600)
}

// Token mints a fresh access token (valid ttl) for a demo user with the
// stack's JWT secret in dir: what `go run ./infra/cmd/token` prints.
func Token(dir, email string, ttl time.Duration) (string, error) {
	jwtSecret, _, err := Keys(dir)
	if err != nil {
		return "", err
	}
	for _, u := range demoUsers {
		if strings.EqualFold(u.Email, email) {
			return token(jwtSecret, u, ttl)
		}
	}
	var known []string
	for _, u := range demoUsers {
		known = append(known, u.Email)
	}
	return "", fmt.Errorf("%s is no demo user (have %s)", email, strings.Join(known, ", "))
}

// DemoUsers lists the seeded accounts.
func DemoUsers() []DemoUser { return append([]DemoUser(nil), demoUsers...) }

// PortBusyError says which variable moves the stack off a taken port.
type PortBusyError struct {
	Addr, Variable, What string
}

func (e *PortBusyError) Error() string {
	return fmt.Sprintf("%s is already in use (another stack running?); set %s to use another port, e.g. %s=%s",
		e.Addr, e.Variable, e.Variable, e.example())
}

func (e *PortBusyError) example() string {
	if e.Variable == "DB_PORT" {
		return "54332"
	}
	return "127.0.0.1:54331"
}

// checkFree fails with a PortBusyError when addr cannot be listened on.
func checkFree(addr, variable, what string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		var op *net.OpError
		if errors.As(err, &op) {
			return &PortBusyError{Addr: addr, Variable: variable, What: what}
		}
		return err
	}
	return ln.Close()
}

// DirBusyError: another running stack owns the data folder.
type DirBusyError struct {
	Dir string
	PID int
}

func (e *DirBusyError) Error() string {
	return fmt.Sprintf("%s is used by another running stack (its PostgreSQL is pid %d); stop that one, or set STACK_DIR to another folder", e.Dir, e.PID)
}

// checkDirFree refuses a data folder whose PostgreSQL is still running
// (started by another stack), before pg_ctl would fail with its whole log.
func checkDirFree(dir, pgdata string) error {
	b, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
	if err != nil {
		return nil
	}
	first, _, _ := strings.Cut(string(b), "\n")
	var pid int
	if _, err := fmt.Sscan(first, &pid); err != nil || pid <= 0 {
		return nil
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil // gone: a stale pid file, which pg_ctl handles
	}
	if _, rest, ok := strings.Cut(string(stat), ") "); ok && strings.HasPrefix(rest, "Z") {
		return nil
	}
	return &DirBusyError{Dir: dir, PID: pid}
}
