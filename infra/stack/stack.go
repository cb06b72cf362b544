// Package stack brings up the whole local stack with real parts: its own
// PostgreSQL in a data folder of the project (created on first run, reused
// after), the Supabase stand-in and the migrations, demo data, simulated
// Proxmox servers over TLS, and every function on one HTTP address.
package stack

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/pvetenant/backend/functions/catalog"

	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/infra/localserver"
	dbmigrate "github.com/pvetenant/backend/infra/migrate"
	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/supabase"
	"github.com/pvetenant/backend/shared/secrets"
	"github.com/pvetenant/backend/shared/setup"
)

// Options configure Run.
type Options struct {
	Dir    string        // data folder, default ".local"
	Addr   string        // functions address, default 127.0.0.1:54321
	DBPort int           // PostgreSQL port, default 54322 (Supabase CLI's)
	Out    io.Writer     // where the banner goes, default stdout
	Logger *slog.Logger  // function logs, default JSON on stderr
	Ready  chan<- *Stack // receives the stack once it serves (tests)
}

// Stack is a running stack.
type Stack struct {
	URL       string            // http://addr/functions/v1/
	DBURL     string            // superuser URL of the database
	Tokens    map[string]string // demo user email -> access token
	Users     []DemoUser
	TenantIDs map[string]string // name -> id
	ServerIDs map[string]string // name -> id
	Examples  []string          // ready-to-paste curl commands
	Anon      string            // an anon-style key for the apikey header
	EnvFile   string            // the shell file the examples need sourced
}

// Run brings the stack up, prints how to use it, serves until ctx ends, and
// stops everything it started.
func Run(ctx context.Context, o Options) error {
	if o.Dir == "" {
		o.Dir = ".local"
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:54321"
	}
	if o.DBPort == 0 {
		o.DBPort = 54322
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Logger == nil {
		o.Logger = setup.NewLogger(os.Stderr, slog.LevelInfo)
	}
	began := time.Now()
	// Both ports first, so a second stack fails in one line naming the
	// variable to change, before touching anything.
	if err := checkFree(o.Addr, "ADDR", "functions"); err != nil {
		return err
	}
	if err := checkFree(fmt.Sprintf("127.0.0.1:%d", o.DBPort), "DB_PORT", "PostgreSQL"); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return err
	}
	keys, err := loadKeys(filepath.Join(o.Dir, "keys.json"))
	if err != nil {
		return err
	}

	// PostgreSQL.
	cluster, err := pgcluster.New(filepath.Join(o.Dir, "pgdata"))
	if err != nil {
		return err
	}
	if err := checkDirFree(o.Dir, cluster.Dir); err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// As on Supabase, the superuser is supabase_admin and migrations are
	// applied as postgres, which the stand-in makes a non-superuser with
	// BYPASSRLS. A folder made before this keeps postgres as its superuser.
	cluster.Superuser = "supabase_admin"
	if !cluster.Initialized() {
		fmt.Fprintf(o.Out, "creating PostgreSQL cluster in %s (initdb)\n", cluster.Dir)
		if err := cluster.Init(startCtx); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.Out, "starting PostgreSQL on 127.0.0.1:%d\n", o.DBPort)
	if err := cluster.Start(startCtx, o.DBPort); err != nil {
		return fmt.Errorf("starting PostgreSQL on port %d (is another stack running?): %w", o.DBPort, err)
	}
	defer cluster.Stop() //nolint:errcheck
	if c, err := pgx.Connect(startCtx, cluster.URL("postgres")); err != nil {
		cluster.Superuser = "postgres"
	} else {
		c.Close(startCtx)
	}
	dbURL := cluster.URL("postgres")
	fmt.Fprintf(o.Out, "checking migrations\n")
	if err := migrate(startCtx, cluster, dbURL, o.Out); err != nil {
		return err
	}

	// Simulated Proxmox servers: ACME's 3-node cluster and standalone node,
	// and one for Globex.
	// Ports, certificates and guest statuses persist in o.Dir/pvesim.
	fmt.Fprintf(o.Out, "starting Proxmox VE simulators\n")
	sims, err := startSims(o.Dir, o.Out)
	defer func() {
		for _, s := range sims {
			s.Close()
		}
	}()
	if err != nil {
		return err
	}

	kr, err := secrets.ParseKeyring(keys.CredentialsKey, "")
	if err != nil {
		return err
	}
	st := &Stack{URL: "http://" + o.Addr + "/functions/v1/", DBURL: dbURL}
	if err := seed(startCtx, dbURL, kr, sims, st); err != nil {
		return fmt.Errorf("demo data: %w", err)
	}

	cfg, err := setup.FromEnv(func(k string) string {
		return map[string]string{
			"DATABASE_URL":        dbURL,
			"SUPABASE_JWT_SECRET": keys.JWTSecret,
			"CREDENTIALS_KEY":     keys.CredentialsKey,
			"PROXMOX_ALLOW_CIDRS": "127.0.0.0/8",
		}[k]
	})
	if err != nil {
		return err
	}
	deps, err := setup.Load(ctx, cfg, catalog.Merge(), o.Logger)
	if err != nil {
		return err
	}
	defer deps.Close()

	st.Tokens = map[string]string{}
	for _, u := range st.Users {
		tok, err := token(keys.JWTSecret, u, 24*time.Hour)
		if err != nil {
			return err
		}
		st.Tokens[u.Email] = tok
	}
	st.Anon, _ = jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "supabase", "ref": "local", "role": "anon",
		"iat": time.Now().Unix(), "exp": time.Now().Add(10 * 365 * 24 * time.Hour).Unix()}).SignedString([]byte(keys.JWTSecret))
	st.Examples = examples(st)
	if err := writeEnv(o.Dir, st, sims); err != nil {
		return err
	}
	st.EnvFile = filepath.Join(o.Dir, EnvFile)

	serveErr := make(chan error, 1)
	srvCtx, stopServe := context.WithCancel(ctx)
	defer stopServe()
	started := make(chan struct{})
	go func() {
		serveErr <- localserver.ServeNotify(srvCtx, o.Addr, rootHandler(localserver.Handler(deps), st, keys.JWTSecret), o.Logger, started)
	}()
	select {
	case err := <-serveErr:
		return fmt.Errorf("serving functions on %s: %w", o.Addr, err)
	case <-started:
	}
	saved := make(chan struct{})
	go func() {
		defer close(saved)
		keepSimsSaved(srvCtx, o.Dir, sims, func(err error) { o.Logger.Warn("saving simulator state", "error", err.Error()) })
	}()
	banner(o.Out, st, sims)
	fmt.Fprintf(o.Out, "ready in %.1f s: open http://%s/ (PID %d)\n", time.Since(began).Seconds(), o.Addr, os.Getpid())
	if o.Ready != nil {
		o.Ready <- st
	}
	err = <-serveErr
	stopServe()
	<-saved
	fmt.Fprintln(o.Out, "stopping: functions, Proxmox simulators, PostgreSQL")
	return err
}

type keyFile struct {
	JWTSecret      string `json:"jwtSecret"`
	CredentialsKey string `json:"credentialsKey"`
}

// loadKeys reads the stack's secrets, creating them on first run, so tokens
// and sealed credentials stay valid across restarts.
func loadKeys(path string) (keyFile, error) {
	var k keyFile
	if b, err := os.ReadFile(path); err == nil {
		if err := json.Unmarshal(b, &k); err != nil {
			return k, fmt.Errorf("%s: %w", path, err)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	jwtSecret := make([]byte, 32)
	credKey := make([]byte, 32)
	_, _ = rand.Read(jwtSecret)
	_, _ = rand.Read(credKey)
	k = keyFile{JWTSecret: base64.RawURLEncoding.EncodeToString(jwtSecret), CredentialsKey: base64.StdEncoding.EncodeToString(credKey)}
	b, _ := json.MarshalIndent(k, "", "  ")
	return k, os.WriteFile(path, b, 0o600)
}

// migrate applies the stand-in and every migration not applied yet, with
// the production command's code (infra/migrate): each file in one
// transaction, recorded like the Supabase CLI does.
func migrate(ctx context.Context, c *pgcluster.Cluster, url string, out io.Writer) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, supabase.StandIn); err != nil {
		return fmt.Errorf("supabase stand-in: %w", err)
	}
	// As on Supabase, migrations are applied by postgres, no superuser
	// (where the cluster's superuser is supabase_admin; see Run).
	mconn, err := pgx.Connect(ctx, c.URLAs("postgres", "postgres"))
	if err != nil {
		return err
	}
	defer mconn.Close(ctx)
	_, err = dbmigrate.Apply(ctx, mconn, dbmigrate.Options{Out: out})
	return err
}

func token(secret string, u DemoUser, ttl time.Duration) (string, error) {
	now := time.Now()
	return jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"iss": "http://127.0.0.1:54321/auth/v1", "sub": u.ID, "aud": "authenticated", "role": "authenticated",
		"email": u.Email, "iat": now.Unix(), "exp": now.Add(ttl).Unix(), "session_id": u.ID,
		"app_metadata": map[string]any{"provider": "email"}, "user_metadata": map[string]any{"full_name": u.Name},
	}).SignedString([]byte(secret))
}

// Keys returns the stack's JWT secret and credentials key from dir.
func Keys(dir string) (jwtSecret, credentialsKey string, err error) {
	k, err := loadKeys(filepath.Join(dir, "keys.json"))
	return k.JWTSecret, k.CredentialsKey, err
}
