package migrate

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/sql/migrations"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

func connect(t *testing.T, db *testdb.DB) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), db.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

type row struct {
	Version, Name string
	Statements    []string
}

func history(t *testing.T, conn *pgx.Conn) []row {
	t.Helper()
	rows, err := conn.Query(context.Background(), `select version, name, statements from supabase_migrations.schema_migrations order by version`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func names(fs []File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.File)
	}
	return out
}

func allNames() []string {
	var out []string
	for _, m := range migrations.All() {
		out = append(out, m.Name)
	}
	return out
}

// wantHistory is what the Supabase CLI records for the embedded files.
func wantHistory(t *testing.T) []row {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	var out []row
	for _, f := range files {
		out = append(out, row{f.Version, f.Name, f.Statements})
	}
	return out
}

func TestFreshDatabase(t *testing.T) {
	db := testdb.Empty(t)
	out := &bytes.Buffer{}
	done, err := Run(context.Background(), db.URL, Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(names(done), allNames()) {
		t.Fatalf("applied %v, want %v", names(done), allNames())
	}
	for _, n := range allNames() {
		if !strings.Contains(out.String(), "applied migration "+n+"\n") {
			t.Fatalf("output %q does not report %s", out, n)
		}
	}
	conn := connect(t, db)
	got := history(t, conn)
	if !reflect.DeepEqual(got, wantHistory(t)) {
		t.Fatalf("history\n got %+v\nwant %+v", got, wantHistory(t))
	}
	if got[0].Version != "0001" || got[0].Name != "legacy_schema" || len(got[0].Statements) < 10 {
		t.Fatalf("first row %+v: want version 0001, name legacy_schema and its statements, as the CLI records them", got[0])
	}
	var ok bool
	if err := conn.QueryRow(context.Background(), `select to_regclass('private.proxmox_server_credentials') is not null
		and to_regclass('public.audit_log') is not null`).Scan(&ok); err != nil || !ok {
		t.Fatalf("schema not there: %v %v", ok, err)
	}
	// Again: nothing to do.
	out.Reset()
	if done, err := Run(context.Background(), db.URL, Options{Out: out}); err != nil || len(done) != 0 || out.Len() != 0 {
		t.Fatalf("second run applied %v (%v): %s", names(done), err, out)
	}
}

// oldStack migrates the way infra/stack did before this package: psql -v
// ON_ERROR_STOP=1 per file, rows (version, name = file name, applied_at).
func oldStack(t *testing.T, db *testdb.DB, n int) {
	t.Helper()
	conn := connect(t, db)
	if _, err := conn.Exec(context.Background(), `create schema if not exists supabase_migrations;
		create table if not exists supabase_migrations.schema_migrations (version text primary key, name text, applied_at timestamptz not null default now())`); err != nil {
		t.Fatal(err)
	}
	psql, err := pgcluster.Tool("psql")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, m := range migrations.All()[:n] {
		file := filepath.Join(dir, m.Name)
		_ = os.WriteFile(file, []byte(m.SQL), 0o644)
		if b, err := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", db.URL, "-f", file).CombinedOutput(); err != nil {
			t.Fatalf("psql %s: %v\n%s", m.Name, err, b)
		}
		version, _, _ := strings.Cut(m.Name, "_")
		if _, err := conn.Exec(context.Background(), `insert into supabase_migrations.schema_migrations (version, name) values ($1, $2)`, version, m.Name); err != nil {
			t.Fatal(err)
		}
	}
}

// A database the previous local stack migrated: nothing it applied is
// applied again, the rest is, and its rows end up as the CLI writes them.
func TestDatabaseMigratedByThePreviousStack(t *testing.T) {
	db := testdb.Empty(t)
	all := allNames()
	oldStack(t, db, len(all)-2)
	conn := connect(t, db)
	// A trigger counting DDL shows what runs: re-applying a file would
	// replace its functions and policies again.
	if _, err := conn.Exec(context.Background(), `create table public.ddl_seen (tag text, n int default 1);
		create function public.count_ddl() returns event_trigger language plpgsql as $$
		begin insert into public.ddl_seen (tag) select command_tag from pg_event_trigger_ddl_commands(); end $$;
		create event trigger count_ddl on ddl_command_end execute function public.count_ddl();`); err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	done, err := Run(context.Background(), db.URL, Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	if want := all[len(all)-2:]; !reflect.DeepEqual(names(done), want) {
		t.Fatalf("applied %v, want only %v:\n%s", names(done), want, out)
	}
	if got := history(t, conn); !reflect.DeepEqual(got, wantHistory(t)) {
		t.Fatalf("history\n got %+v\nwant %+v", got, wantHistory(t))
	}
	// A run with nothing pending runs no DDL beyond ensuring the history
	// table (as the CLI does on every run).
	const ddl = `select count(*) from public.ddl_seen where tag not in ('CREATE SCHEMA', 'CREATE TABLE', 'ALTER TABLE')`
	var before, after int
	_ = conn.QueryRow(context.Background(), ddl).Scan(&before)
	if done, err := Run(context.Background(), db.URL, Options{Out: out}); err != nil || len(done) != 0 {
		t.Fatalf("third run applied %v (%v)", names(done), err)
	}
	_ = conn.QueryRow(context.Background(), ddl).Scan(&after)
	if before == 0 || after != before {
		t.Fatalf("DDL commands: %d after applying two files, %d after a run with nothing pending", before, after)
	}
}

func TestDryRunListsPendingAndChangesNothing(t *testing.T) {
	// No history table at all: everything is pending, and the dry run does
	// not even create the table.
	db := testdb.Empty(t)
	out := &bytes.Buffer{}
	done, err := Run(context.Background(), db.URL, Options{DryRun: true, Out: out})
	if err != nil || !reflect.DeepEqual(names(done), allNames()) {
		t.Fatalf("dry run: %v %v", names(done), err)
	}
	conn := connect(t, db)
	var exists bool
	_ = conn.QueryRow(context.Background(), `select to_regclass('supabase_migrations.schema_migrations') is not null or to_regclass('public.proxmox_servers') is not null`).Scan(&exists)
	if exists {
		t.Fatal("the dry run changed the database")
	}

	// Three applied: the other two are listed, in order, and stay pending.
	db2 := testdb.Empty(t)
	oldStack(t, db2, 3)
	out.Reset()
	done, err = Run(context.Background(), db2.URL, Options{DryRun: true, Out: out})
	all := allNames()
	if err != nil || !reflect.DeepEqual(names(done), all[3:]) {
		t.Fatalf("dry run listed %v (%v), want %v", names(done), err, all[3:])
	}
	want := ""
	for _, n := range all[3:] {
		want += "pending migration " + n + "\n"
	}
	if out.String() != want {
		t.Fatalf("output %q, want %q", out, want)
	}
	var n int
	_ = connect(t, db2).QueryRow(context.Background(), `select count(*) from supabase_migrations.schema_migrations`).Scan(&n)
	if n != 3 {
		t.Fatalf("%d rows after a dry run, want 3", n)
	}
}

// A file that fails leaves neither its changes nor a history row, and the
// files after it are not tried.
func TestFailedFileRollsBack(t *testing.T) {
	db := testdb.Empty(t)
	conn := connect(t, db)
	files := []File{
		{File: "0001_a.sql", Version: "0001", Name: "a", SQL: "create table public.a (x int);", Statements: []string{"create table public.a (x int)"}},
		{File: "0002_b.sql", Version: "0002", Name: "b", SQL: "create table public.b (x int); select 1/0;", Statements: []string{"create table public.b (x int)", "select 1/0"}},
		{File: "0003_c.sql", Version: "0003", Name: "c", SQL: "create table public.c (x int);", Statements: []string{"create table public.c (x int)"}},
	}
	done, err := apply(context.Background(), conn, files, Options{})
	if err == nil || !strings.Contains(err.Error(), "0002_b.sql") || len(done) != 1 {
		t.Fatalf("applied %v, err %v", names(done), err)
	}
	var b, c bool
	_ = conn.QueryRow(context.Background(), `select to_regclass('public.b') is not null, to_regclass('public.c') is not null`).Scan(&b, &c)
	if b || c {
		t.Fatalf("table b %v, c %v after the failure", b, c)
	}
	if h := history(t, conn); len(h) != 1 || h[0].Version != "0001" {
		t.Fatalf("history %+v", h)
	}
}

func TestRefusesTheTransactionPooler(t *testing.T) {
	for _, u := range []string{
		"postgres://postgres.ref:pw@aws-0-eu-central-1.pooler.supabase.com:6543/postgres?sslmode=require",
		"host=aws-0-eu-central-1.pooler.supabase.com port=6543 user=postgres dbname=postgres",
	} {
		_, err := Run(context.Background(), u, Options{})
		if !errors.Is(err, ErrPooler) || !strings.Contains(err.Error(), "direct connection") {
			t.Fatalf("%s: %v", u, err)
		}
	}
	for _, u := range []string{"postgres://postgres:pw@db.ref.supabase.co:5432/postgres", "postgres://x@aws-0-eu-central-1.pooler.supabase.com:5432/postgres"} {
		if err := CheckURL(u); err != nil {
			t.Fatalf("%s refused: %v", u, err)
		}
	}
}

func TestSplitLikeTheCLI(t *testing.T) {
	sql := `-- header
create table t (a text default 'x;y', "b;c" int);
create function f() returns int language plpgsql as $fn$
begin
  perform 1; -- inside
  return 1;
end $fn$;
/* block ; /* nested ; */ still */ select $$a;b$$, E'it''s;';
create function g() returns int begin atomic select 1; select 2; end;
insert into t values ('a'), ('b');;
-- trailing`
	want := []string{
		"-- header\ncreate table t (a text default 'x;y', \"b;c\" int)",
		"create function f() returns int language plpgsql as $fn$\nbegin\n  perform 1; -- inside\n  return 1;\nend $fn$",
		"/* block ; /* nested ; */ still */ select $$a;b$$, E'it''s;'",
		"create function g() returns int begin atomic select 1; select 2; end",
		"insert into t values ('a'), ('b')",
		"-- trailing",
	}
	if got := Split(sql); !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
}

// failingFiles is a folder of three migrations; the second does what 0002
// does (drops a policy, creates its replacement and more) and fails half-way.
func failingFiles(t *testing.T) []migrations.Migration {
	t.Helper()
	dir := t.TempDir()
	for name, sql := range map[string]string{
		"0001_base.sql": `create table public.guarded (id int primary key);
			alter table public.guarded enable row level security;
			create policy "old" on public.guarded for select to authenticated using (true);`,
		"0002_half.sql": `drop policy "old" on public.guarded;
			create policy "new" on public.guarded for select to authenticated using (id > 0);
			create function public.half() returns int language sql as $$ select 1 $$;
			create table public.half (x int);
			select 1 / 0;
			create table public.never (x int);`,
		"0003_after.sql": `create table public.after (x int);`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := migrations.From(os.DirFS(dir))
	if err != nil || len(ms) != 3 {
		t.Fatalf("%d migrations, %v", len(ms), err)
	}
	return ms
}

// nothingOfTheFailedFile: the first file's policy is still there and nothing
// the second or third file made exists.
func nothingOfTheFailedFile(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	var got string
	if err := conn.QueryRow(context.Background(), `select concat_ws(' ',
		(select string_agg(policyname, ',' order by policyname) from pg_policies where tablename = 'guarded'),
		to_regprocedure('public.half()') is not null, to_regclass('public.half') is not null,
		to_regclass('public.never') is not null, to_regclass('public.after') is not null)`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "old f f f f" {
		t.Fatalf("after the failure: policies, function, tables = %q, want only policy old", got)
	}
}

// Whichever runner applies a migration, production's (this package) or the
// tests' (testdb, which builds every test database), a file that fails leaves
// nothing of itself: no table stays under RLS with half its policies.
func TestFailingFileLeavesNothingInEitherRunner(t *testing.T) {
	ms := failingFiles(t)
	t.Run("infra/migrate", func(t *testing.T) {
		files, err := filesOf(ms)
		if err != nil {
			t.Fatal(err)
		}
		conn := connect(t, testdb.Empty(t))
		done, err := apply(context.Background(), conn, files, Options{})
		if err == nil || !strings.Contains(err.Error(), "0002_half.sql (nothing of it was applied)") || len(done) != 1 {
			t.Fatalf("applied %v, err %v", names(done), err)
		}
		nothingOfTheFailedFile(t, conn)
		if h := history(t, conn); len(h) != 1 || h[0].Version != "0001" {
			t.Fatalf("history %+v", h)
		}
	})
	t.Run("infra/testdb", func(t *testing.T) {
		conn := connect(t, testdb.Empty(t))
		ctx := context.Background()
		if err := testdb.ApplyMigration(ctx, conn, ms[0]); err != nil {
			t.Fatal(err)
		}
		err := testdb.ApplyMigration(ctx, conn, ms[1])
		if err == nil || !strings.Contains(err.Error(), "0002_half.sql (nothing of it was applied)") {
			t.Fatalf("err %v", err)
		}
		nothingOfTheFailedFile(t, conn)
		// The connection is usable and back in its own role.
		var same bool
		if err := conn.QueryRow(ctx, `select current_user = session_user`).Scan(&same); err != nil || !same {
			t.Fatalf("role after the failure: same=%v err=%v", same, err)
		}
	})
}

// Each runner wraps a file in one transaction, so no file may end it early
// (BEGIN/COMMIT of its own) or hold a statement PostgreSQL refuses inside a
// transaction block.
func TestNoFileControlsItsTransaction(t *testing.T) {
	files, err := Files()
	if err != nil {
		t.Fatal(err)
	}
	comment := regexp.MustCompile(`(?s)^(\s*(--[^\n]*\n|/\*.*?\*/))*\s*`)
	refused := regexp.MustCompile(`(?i)^(begin|start\s+transaction|commit|end|rollback|abort|savepoint|release|prepare\s+transaction|` +
		`vacuum|cluster\s*$|create\s+database|drop\s+database|alter\s+system|create\s+tablespace|` +
		`(create|drop)\s+(unique\s+)?index\s+concurrently|reindex\s+.*concurrently|refresh\s+materialized\s+view\s+concurrently|` +
		`alter\s+type\s+\S+\s+add\s+value)\b`)
	for _, f := range files {
		for _, s := range f.Statements {
			if stmt := comment.ReplaceAllString(s, ""); refused.MatchString(stmt) {
				t.Errorf("%s: %q cannot run in the file's one transaction", f.File, firstLine(stmt))
			}
		}
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
