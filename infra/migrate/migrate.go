// Package migrate applies the embedded sql/migrations to a database and
// records each in supabase_migrations.schema_migrations exactly as the
// Supabase CLI does, so `supabase migration list` agrees with it. The
// production command (infra/cmd/migrate) and the local stack share it.
//
// What the CLI does (supabase/cli, apps/cli-go/pkg/migration):
//   - history.go CreateMigrationTable: schema supabase_migrations, table
//     schema_migrations (version text not null primary key), then columns
//     statements text[] and name text added if missing;
//   - file.go NewMigrationFromFile: a file name matching ^([0-9]+)_(.*)\.sql$
//     gives version (the digits) and name (the rest, without .sql);
//     statements are the file split by parser.SplitAndTrim (Split here);
//   - file.go ExecBatch / history.go INSERT_MIGRATION_VERSION: the statements
//     and the insert (version, name, statements) run as one implicit
//     transaction, so a failed file leaves neither changes nor a record.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/sql/migrations"
)

// File is one migration as the CLI sees it.
type File struct {
	File       string // 0001_legacy_schema.sql
	Version    string // 0001
	Name       string // legacy_schema
	SQL        string
	Statements []string
}

// The CLI's file name pattern (file.go, migrateFilePattern).
var filePattern = regexp.MustCompile(`^([0-9]+)_(.*)\.sql$`)

// Files returns the embedded migrations in order.
func Files() ([]File, error) { return filesOf(migrations.All()) }

func filesOf(ms []migrations.Migration) ([]File, error) {
	var out []File
	for _, m := range ms {
		p := filePattern.FindStringSubmatch(m.Name)
		if p == nil {
			return nil, fmt.Errorf("%s: a migration file is named <digits>_<name>.sql", m.Name)
		}
		out = append(out, File{File: m.Name, Version: p[1], Name: p[2], SQL: m.SQL, Statements: Split(m.SQL)})
	}
	return out, nil
}

// PoolerPort is Supabase's transaction pooler (Supavisor) port.
const PoolerPort = 6543

// ErrPooler refuses the transaction pooler.
var ErrPooler = errors.New("this is the transaction pooler (port 6543), which cannot run migrations safely " +
	"(it may hand each statement to a different server connection). Use the direct connection " +
	"(db.<ref>.supabase.co:5432) or the session pooler (port 5432) from Dashboard → Connect")

// CheckURL refuses a URL that points at the transaction pooler.
func CheckURL(url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("database URL: %w", err)
	}
	if cfg.Port == PoolerPort {
		return ErrPooler
	}
	for _, f := range cfg.Fallbacks {
		if f.Port == PoolerPort {
			return ErrPooler
		}
	}
	return nil
}

// Options configure Apply.
type Options struct {
	DryRun bool      // list pending files, change nothing
	Out    io.Writer // one line per file: "applied migration X" or "pending migration X"
}

// The CLI's statements (history.go), run before reading the history.
var createHistory = []string{
	"SET lock_timeout = '4s'",
	"CREATE SCHEMA IF NOT EXISTS supabase_migrations",
	"CREATE TABLE IF NOT EXISTS supabase_migrations.schema_migrations (version text NOT NULL PRIMARY KEY)",
	"ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS statements text[]",
	"ALTER TABLE supabase_migrations.schema_migrations ADD COLUMN IF NOT EXISTS name text",
}

// lockKey serialises concurrent runs (two deploys at once) on one database.
const lockKey = 0x70766574 // "pvet"

// Run connects to url (refusing the pooler) and applies what is pending.
func Run(ctx context.Context, url string, o Options) ([]File, error) {
	if err := CheckURL(url); err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	return Apply(ctx, conn, o)
}

// Apply applies every pending migration on conn, each file and its history
// row in one transaction, and returns the files applied (or, with DryRun,
// pending).
func Apply(ctx context.Context, conn *pgx.Conn, o Options) ([]File, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	files, err := Files()
	if err != nil {
		return nil, err
	}
	return apply(ctx, conn, files, o)
}

func apply(ctx context.Context, conn *pgx.Conn, files []File, o Options) ([]File, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if !o.DryRun {
		if _, err := conn.Exec(ctx, "select pg_advisory_lock($1)", lockKey); err != nil {
			return nil, err
		}
		defer conn.Exec(context.Background(), "select pg_advisory_unlock($1)", lockKey) //nolint:errcheck
		tx, err := conn.Begin(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range createHistory {
			if _, err := tx.Exec(ctx, s); err != nil {
				_ = tx.Rollback(ctx)
				return nil, fmt.Errorf("migration history table: %w", err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			return nil, err
		}
	}
	applied, err := appliedVersions(ctx, conn)
	if err != nil {
		return nil, err
	}
	var done []File
	for i, f := range files {
		if name, ok := applied[f.Version]; ok {
			if !o.DryRun && name == f.File {
				// Recorded by the local stack before it used this package
				// (name with ".sql", no statements): record it as the CLI would.
				if _, err := conn.Exec(ctx, `update supabase_migrations.schema_migrations set name = $2, statements = $3
					where version = $1 and statements is null`, f.Version, f.Name, f.Statements); err != nil {
					return done, err
				}
			}
			continue
		}
		if o.DryRun {
			fmt.Fprintf(o.Out, "pending migration %s\n", f.File)
			done = append(done, f)
			continue
		}
		fmt.Fprintf(o.Out, "applying migration %d/%d %s\n", i+1, len(files), f.File)
		if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, f.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)`,
				f.Version, f.Name, f.Statements)
			return err
		}); err != nil {
			return done, fmt.Errorf("migration %s (nothing of it was applied): %w", f.File, err)
		}
		fmt.Fprintf(o.Out, "applied migration %s\n", f.File)
		done = append(done, f)
	}
	return done, nil
}

// appliedVersions reads the history (empty when the table does not exist
// yet, which only a dry run sees): version -> recorded name.
func appliedVersions(ctx context.Context, conn *pgx.Conn) (map[string]string, error) {
	out := map[string]string{}
	var exists bool
	if err := conn.QueryRow(ctx, `select to_regclass('supabase_migrations.schema_migrations') is not null`).Scan(&exists); err != nil || !exists {
		return out, err
	}
	var hasName bool
	if err := conn.QueryRow(ctx, `select exists (select 1 from information_schema.columns
		where table_schema = 'supabase_migrations' and table_name = 'schema_migrations' and column_name = 'name')`).Scan(&hasName); err != nil {
		return nil, err
	}
	q := `select version, '' from supabase_migrations.schema_migrations`
	if hasName {
		q = `select version, coalesce(name, '') from supabase_migrations.schema_migrations`
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var v, n string
		if err := rows.Scan(&v, &n); err != nil {
			return nil, err
		}
		out[v] = n
	}
	return out, rows.Err()
}
