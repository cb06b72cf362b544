// Package pgcluster runs a private PostgreSQL cluster from Debian's binaries:
// initdb into a folder, pg_ctl start on a free loopback port, stop. Tests use
// it for throwaway clusters and the local stack for its persistent one.
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ErrNoPostgres means no PostgreSQL server binaries could be found.
var ErrNoPostgres = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: install Debian's postgresql package (apt-get install -y postgresql) or set DATABASE_URL")

// Cluster is one PostgreSQL cluster in a data folder.
type Cluster struct {
	Dir  string // data folder
	Port int
	// Superuser is the bootstrap superuser initdb creates; "postgres" when
	// empty. testdb names it supabase_admin, as Supabase does, so that
	// postgres can be the non-superuser Supabase makes it.
	Superuser string
	bin       string
	cred      *syscall.Credential // postgres refuses to run as root: drop to this user
}

// FindBin returns the folder holding initdb and pg_ctl: PG_BIN if set, then
// PATH, then the newest /usr/lib/postgresql/<version>/bin (Debian keeps them
// off PATH).
func FindBin() (string, error) {
	if d := os.Getenv("PG_BIN"); d != "" {
		return d, nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p), nil
		}
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	sort.Slice(matches, func(i, j int) bool { return versionOf(matches[i]) > versionOf(matches[j]) })
	for _, m := range matches {
		return filepath.Dir(m), nil
	}
	return "", ErrNoPostgres
}

func versionOf(path string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(path))))
	return v
}

// New prepares a cluster in dir (created if missing). Nothing runs yet.
func New(dir string) (*Cluster, error) {
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: abs, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, and PostgreSQL will not: need the 'postgres' system user (Debian's postgresql package creates it): %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(abs, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return nil, err
		}
		// The postgres user must be able to walk down to the folder.
		for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
			if st, err := os.Stat(d); err == nil && st.Mode().Perm()&0o001 == 0 {
				return nil, fmt.Errorf("the postgres user cannot reach %s: folder %s is not searchable by others (chmod o+x %s)", abs, d, d)
			}
			if d == "/" {
				break
			}
		}
	}
	return c, nil
}

// Initialized reports whether the data folder already holds a cluster.
func (c *Cluster) Initialized() bool {
	_, err := os.Stat(filepath.Join(c.Dir, "PG_VERSION"))
	return err == nil
}

// Init runs initdb with trust authentication for loopback: the cluster
// listens on 127.0.0.1 only and is for local use.
func (c *Cluster) Init(ctx context.Context) error {
	return c.run(ctx, "initdb", "-D", c.Dir, "-U", c.superuser(), "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
}

// Start starts the server on port (0 picks a free one) and waits until it
// accepts connections.
func (c *Cluster) Start(ctx context.Context, port int) error {
	if port == 0 {
		p, err := FreePort()
		if err != nil {
			return err
		}
		port = p
	}
	c.Port = port
	opts := strings.Join([]string{
		"-c listen_addresses=127.0.0.1",
		"-c port=" + strconv.Itoa(port),
		"-c unix_socket_directories=" + c.Dir,
		"-c fsync=off",
		"-c synchronous_commit=off",
		"-c full_page_writes=off",
		"-c max_connections=200",
		"-c shared_buffers=128MB",
	}, " ")
	logFile := filepath.Join(c.Dir, "server.log")
	if err := c.run(ctx, "pg_ctl", "-D", c.Dir, "-l", logFile, "-o", opts, "-w", "-t", "60", "start"); err != nil {
		log, _ := os.ReadFile(logFile)
		return fmt.Errorf("%w\n%s", err, tail(string(log), 2000))
	}
	return nil
}

// Stop stops the server quickly; an already stopped server is not an error.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := os.Stat(filepath.Join(c.Dir, "postmaster.pid")); err != nil {
		return nil
	}
	return c.run(ctx, "pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "stop")
}

// URL is the superuser connection string.
func (c *Cluster) URL(database string) string {
	return c.URLAs(c.superuser(), database)
}

// URLAs is the connection string for role user (trust authentication).
func (c *Cluster) URLAs(user, database string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", user, c.Port, database)
}

func (c *Cluster) superuser() string {
	if c.Superuser == "" {
		return "postgres"
	}
	return c.Superuser
}

// Run runs one of the cluster's binaries (psql, pgbench...) as the cluster's user.
func (c *Cluster) Run(ctx context.Context, name string, args ...string) error {
	return c.run(ctx, name, args...)
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = os.TempDir()
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	// pg_ctl start leaves the server running after it exits; it must not keep
	// our pipes open or the call would never return.
	out, err := os.CreateTemp("", "pgcluster-*.log")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(out.Name())
		return fmt.Errorf("%s: %w: %s", name, err, tail(string(b), 2000))
	}
	return nil
}

// FreePort asks the kernel for a free loopback port.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// Tool returns the path of a PostgreSQL client program (psql, pgbench...):
// beside the server binaries if there, else on PATH.
func Tool(name string) (string, error) {
	if bin, err := FindBin(); err == nil {
		if p := filepath.Join(bin, name); fileExists(p) {
			return p, nil
		}
	}
	return exec.LookPath(name)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
