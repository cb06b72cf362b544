// Package testdb gives tests a real PostgreSQL database configured like a
// Supabase project: the stand-in (roles, auth schema, default grants) and
// every migration. Call Run from TestMain; call Fresh in each test for a
// database of its own, copied from a migrated template in milliseconds.
//
// With DATABASE_URL set it works in that server (which must let it create
// databases); otherwise it starts a throwaway cluster with initdb/pg_ctl in a
// temp folder on a free port. It never skips: without a PostgreSQL the test
// binary fails with a message saying how to get one.
package testdb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/supabase"
	"github.com/pvetenant/backend/sql/migrations"
)

var (
	serverURL string // superuser URL of the maintenance database
	template  string // migrated template database
	counter   atomic.Int64
	once      sync.Once
	cluster   *pgcluster.Cluster
)

// Run sets the server up, runs the package's tests and tears everything down.
func Run(m *testing.M) int {
	if err := setup(); err != nil {
		fmt.Fprintf(os.Stderr, "\ntestdb: cannot get a PostgreSQL for these tests: %v\n\n", err)
		return 1
	}
	code := m.Run()
	teardown()
	return code
}

func setup() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if u := os.Getenv("DATABASE_URL"); u != "" {
		serverURL = u
	} else {
		reapOrphans(os.TempDir())
		dir, err := os.MkdirTemp("", "testdb-*")
		if err != nil {
			return err
		}
		c, err := pgcluster.New(dir)
		if err != nil {
			return err
		}
		// Supabase's superuser is supabase_admin; postgres is not one.
		c.Superuser = "supabase_admin"
		if err := c.Init(ctx); err != nil {
			return err
		}
		// Who owns this cluster (written after initdb, which wants an empty
		// folder): a test binary killed before its teardown (go test's
		// -timeout, a crash, an os.Exit in a test) leaves it running, and
		// the next Run stops it (reapOrphans).
		if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return err
		}
		if err := c.Start(ctx, 0); err != nil {
			return err
		}
		cluster = c
		serverURL = c.URL("postgres") // supabase_admin, database postgres
	}
	template = fmt.Sprintf("testdb_tmpl_%d_%d", os.Getpid(), time.Now().UnixNano()%1e6)
	if err := createDatabase(ctx, template, ""); err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, urlFor(template))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if err := ApplyStandIn(ctx, conn); err != nil {
		return err
	}
	for _, m := range migrations.All() {
		if err := ApplyMigration(ctx, conn, m); err != nil {
			return err
		}
	}
	return nil
}

// MigrationRole is the role migrations are applied as: on Supabase,
// postgres, which is no superuser but has BYPASSRLS (supabase/postgres
// migrations/db/migrations/10000000000000_demote-postgres.sql).
const MigrationRole = "postgres"

// ApplyMigration applies m as MigrationRole on a superuser connection, the
// way `supabase db push` or psql as postgres does: objects it creates are
// owned by postgres, and anything needing a superuser fails here as it
// would on Supabase. (Where the server's superuser is itself called postgres,
// e.g. a DATABASE_URL naming it, this cannot demote it.) The file runs in one
// transaction, as infra/migrate runs it in production: a file that fails
// leaves nothing of itself, and the role ends with the transaction.
func ApplyMigration(ctx context.Context, conn *pgx.Conn, m migrations.Migration) error {
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "set local role "+MigrationRole); err != nil {
			return err
		}
		// No arguments: the simple protocol, which runs every statement of the file.
		_, err := tx.Exec(ctx, m.SQL)
		return err
	})
	if err != nil {
		return fmt.Errorf("migration %s (nothing of it was applied): %w", m.Name, err)
	}
	return nil
}

const ownerFile = "testdb.owner"

// reapOrphans stops and removes the clusters under tmp whose owning test
// process is gone. A cluster still being created (no owner file yet) or
// owned by a live process is left alone.
func reapOrphans(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, "testdb-*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || alive(pid) {
			continue
		}
		if c, err := pgcluster.New(dir); err == nil {
			_ = c.Stop()
		}
		_ = os.RemoveAll(dir)
	}
}

// alive reports whether process pid exists (signal 0 checks without
// signalling; EPERM means it exists under another user).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func teardown() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if cluster != nil {
		_ = cluster.Stop()
		_ = os.RemoveAll(cluster.Dir)
		return
	}
	// A shared server: drop what this process created.
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `select datname from pg_database where datname like $1`,
		fmt.Sprintf("testdb_%%_%d_%%", os.Getpid()))
	if err != nil {
		return
	}
	names, _ := pgx.CollectRows(rows, pgx.RowTo[string])
	for _, n := range names {
		_, _ = conn.Exec(ctx, "drop database if exists "+pgx.Identifier{n}.Sanitize()+" with (force)")
	}
}

// ApplyStandIn applies the Supabase stand-in. Roles are cluster-wide, so
// concurrent test binaries on one server take turns.
func ApplyStandIn(ctx context.Context, conn *pgx.Conn) error {
	if _, err := conn.Exec(ctx, "select pg_advisory_lock(7428190)"); err != nil {
		return err
	}
	defer conn.Exec(context.Background(), "select pg_advisory_unlock(7428190)") //nolint:errcheck
	if _, err := conn.Exec(ctx, supabase.StandIn); err != nil {
		return fmt.Errorf("supabase stand-in: %w", err)
	}
	return nil
}

// DB is a database of one test.
type DB struct {
	Name string
	URL  string // superuser URL (Supabase's supabase_admin: the platform, fixtures)
	// AppURL logs in as postgres, the non-superuser role the functions use
	// on Supabase. With DATABASE_URL it is that URL's user (whose password
	// for postgres this package cannot know).
	AppURL string
	Pool   *pgxpool.Pool
}

// Fresh returns a new database with the stand-in and every migration applied.
func Fresh(t testing.TB) *DB {
	t.Helper()
	return newDB(t, template)
}

// Empty returns a new database with only the stand-in applied, for tests that
// apply migrations themselves.
func Empty(t testing.TB) *DB {
	t.Helper()
	db := newDB(t, "")
	conn, err := db.Pool.Acquire(context.Background())
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	defer conn.Release()
	if err := ApplyStandIn(context.Background(), conn.Conn()); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	return db
}

func newDB(t testing.TB, from string) *DB {
	t.Helper()
	if serverURL == "" {
		t.Fatalf("testdb: no database server: call testdb.Run from TestMain")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := fmt.Sprintf("testdb_t%d_%d_%d", counter.Add(1), os.Getpid(), time.Now().UnixNano()%1e6)
	if err := createDatabase(ctx, name, from); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	pool, err := pgxpool.New(ctx, urlFor(name))
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	db := &DB{Name: name, URL: urlFor(name), AppURL: urlFor(name), Pool: pool}
	if cluster != nil {
		db.AppURL = cluster.URLAs(MigrationRole, name)
	}
	t.Cleanup(func() {
		pool.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if conn, err := pgx.Connect(ctx, serverURL); err == nil {
			_, _ = conn.Exec(ctx, "drop database if exists "+pgx.Identifier{name}.Sanitize()+" with (force)")
			conn.Close(ctx)
		}
	})
	return db
}

// Cluster is the throwaway cluster, or nil when DATABASE_URL was used.
func Cluster() *pgcluster.Cluster { return cluster }

func createDatabase(ctx context.Context, name, from string) error {
	conn, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	sql := "create database " + pgx.Identifier{name}.Sanitize()
	if from != "" {
		sql += " template " + pgx.Identifier{from}.Sanitize()
	}
	// Copying a template fails while anyone else is connected to it; retry briefly.
	for i := 0; ; i++ {
		_, err = conn.Exec(ctx, sql)
		if err == nil || i == 50 || !strings.Contains(err.Error(), "is being accessed by other users") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	// A database's own ACL is not copied from its template; the stand-in's
	// grant to postgres (Supabase: GRANT ALL ON DATABASE postgres TO postgres)
	// is repeated here, once the stand-in has made the role.
	_, err = conn.Exec(ctx, `do $$ begin
		if exists (select 1 from pg_roles where rolname = '`+MigrationRole+`') then
			execute format('grant all on database %I to `+MigrationRole+`', `+quoteLiteral(name)+`);
		end if; end $$`)
	return err
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func urlFor(database string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		return serverURL
	}
	u.Path = "/" + database
	return u.String()
}

// NewCluster starts a private cluster for one test, with the stand-in and
// every migration applied to its postgres database, for tests that stop and
// restart the server. It is stopped and removed when the test ends.
func NewCluster(t testing.TB) (*pgcluster.Cluster, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "testdb-own-*")
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgcluster.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx, 0); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(); _ = os.RemoveAll(dir) })
	conn, err := pgx.Connect(ctx, c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := ApplyStandIn(ctx, conn); err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations.All() {
		if err := ApplyMigration(ctx, conn, m); err != nil {
			t.Fatal(err)
		}
	}
	return c, c.URL("postgres")
}
