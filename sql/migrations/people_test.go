package migrations_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/sql/migrations"
)

// snapshot is everything a migration applied again must leave as it was:
// every policy, every grant (tables, sequences, functions, schemas, default
// privileges), RLS switches, function bodies and triggers.
func snapshot(t *testing.T, db *testdb.DB) map[string]string {
	t.Helper()
	queries := map[string]string{
		"policies": `select schemaname || '.' || tablename || ' ' || policyname,
			concat_ws(' | ', permissive, roles::text, cmd, qual, with_check)
			from pg_policies`,
		"relations": `select n.nspname || '.' || c.relname,
			concat_ws(' | ', c.relkind, coalesce(c.relacl::text, '-'), c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner))
			from pg_class c join pg_namespace n on n.oid = c.relnamespace
			where n.nspname in ('public', 'private', 'auth') and c.relkind in ('r', 'v', 'S', 'p')`,
		"functions": `select p.oid::regprocedure::text,
			concat_ws(' | ', coalesce(p.proacl::text, '-'), p.prosecdef, pg_get_userbyid(p.proowner), md5(pg_get_functiondef(p.oid)))
			from pg_proc p join pg_namespace n on n.oid = p.pronamespace
			where n.nspname in ('public', 'private', 'auth') and p.prokind = 'f'`,
		"schemas": `select nspname, coalesce(nspacl::text, '-') from pg_namespace where nspname in ('public', 'private', 'auth')`,
		"default acl": `select coalesce(n.nspname, '*') || ' ' || pg_get_userbyid(d.defaclrole) || ' ' || d.defaclobjtype::text, d.defaclacl::text
			from pg_default_acl d left join pg_namespace n on n.oid = d.defaclnamespace`,
		"triggers": `select tgrelid::regclass::text || ' ' || tgname, pg_get_triggerdef(oid) || ' ' || tgenabled::text
			from pg_trigger where not tgisinternal`,
	}
	out := map[string]string{}
	for kind, q := range queries {
		rows, err := db.Pool.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err != nil {
				t.Fatal(err)
			}
			out[kind+": "+k] = v
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func diff(before, after map[string]string) []string {
	var d []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			d = append(d, "gone: "+k)
		} else if w != v {
			d = append(d, fmt.Sprintf("changed: %s\n    was %s\n    now %s", k, v, w))
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			d = append(d, "new: "+k+" = "+after[k])
		}
	}
	return d
}

// Each migration, applied again alone after the whole sequence (with psql,
// as postgres), changes no policy, grant, function or trigger, and brings no
// legacy policy back. The one exception is an object a later migration
// redefines (0011 rewrites policies of 0002 and 0004 and helpers of 0003 and
// 0005, which cannot change): applied again, the earlier file brings back
// exactly its own version of that object, nothing else, and applying the
// later migration again restores everything as it was.
func TestEachMigrationReappliedAlone(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, true)
	// A server a manager added: its user_id is the manager, no tenant admin.
	mustExec(t, db, `insert into public.proxmox_servers (user_id, tenant_id, name, host) values ($1, $2, 'by-manager', 'm.acme.test')`, managerA, tenantA)
	data := func() string {
		return scalar[string](t, db, `select concat_ws(' / ',
			(select string_agg(id || '@' || tenant_id, ',' order by id) from public.proxmox_servers),
			(select string_agg(id::text, ',' order by id) from public.tenants),
			(select string_agg(user_id || ':' || tenant_id || ':' || role, ',' order by id) from public.user_tenant_assignments),
			(select string_agg(id || ':' || coalesce(email, ''), ',' order by id) from public.profiles))`)
	}
	rows := data()
	before := snapshot(t, db)
	if len(before) < 50 {
		t.Fatalf("snapshot too small to mean anything: %d entries", len(before))
	}
	all := migrations.All()
	stages := stageSnapshots(t)
	if d := diff(stages[len(all)-1], before); len(d) > 0 {
		t.Fatalf("the migrated template differs from the migrations applied one by one:\n  %s", strings.Join(d, "\n  "))
	}
	for i, m := range all {
		psqlApply(t, db, m.Name)
		after := snapshot(t, db)
		redefiners := map[int]bool{}
		var d []string
		for _, k := range changedKeys(before, after) {
			later := redefinedAfter(stages, i, k)
			if len(later) == 0 || !sameEntry(after, stages[i], k) {
				d = append(d, fmt.Sprintf("%s\n    was %s\n    now %s", k, entry(before, k), entry(after, k)))
			}
			for _, j := range later {
				redefiners[j] = true
			}
		}
		if len(d) > 0 {
			t.Errorf("re-applying %s alone changed:\n  %s", m.Name, strings.Join(d, "\n  "))
		}
		for j := range all {
			if redefiners[j] {
				psqlApply(t, db, all[j].Name)
			}
		}
		if d := diff(before, snapshot(t, db)); len(d) > 0 {
			t.Errorf("re-applying %s alone, then the migrations that redefine its objects, changed:\n  %s", m.Name, strings.Join(d, "\n  "))
			before = snapshot(t, db) // report each migration's own changes
		}
		if got := data(); got != rows {
			t.Errorf("re-applying %s alone changed rows:\n  was %s\n  now %s", m.Name, rows, got)
			rows = got
		}
		if n := scalar[int64](t, db, `select count(*) from pg_policies where tablename = 'proxmox_servers' and policyname like 'Users can % their own servers'`); n != 0 {
			t.Fatalf("re-applying %s brought back %d legacy user-owned server policies", m.Name, n)
		}
	}
	// What the legacy policies allowed: a user inserting a server into a
	// tenant they are no member of. Still refused.
	if o := as(t, db, nobody, `insert into public.proxmox_servers (user_id, tenant_id, name, host) values ($1, $2, 'x', 'x.test')`, nobody, tenantB); o.err == nil {
		t.Fatal("a stranger inserted a server into another tenant")
	}
}

// stageSnapshots applies the migrations one by one to an empty database and
// returns the snapshot after each.
func stageSnapshots(t *testing.T) []map[string]string {
	t.Helper()
	db := testdb.Empty(t)
	conn, err := db.Pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	var out []map[string]string
	for _, m := range migrations.All() {
		if err := testdb.ApplyMigration(context.Background(), conn.Conn(), m); err != nil {
			t.Fatal(err)
		}
		out = append(out, snapshot(t, db))
	}
	return out
}

// changedKeys lists the entries that differ between two snapshots, gone and
// new ones included.
func changedKeys(a, b map[string]string) []string {
	var out []string
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// redefinedAfter lists the migrations after the i-th that changed entry k.
func redefinedAfter(stages []map[string]string, i int, k string) []int {
	var out []int
	for j := i + 1; j < len(stages); j++ {
		if !sameEntry(stages[j-1], stages[j], k) {
			out = append(out, j)
		}
	}
	return out
}

func sameEntry(a, b map[string]string, k string) bool {
	v, okA := a[k]
	w, okB := b[k]
	return okA == okB && v == w
}

func entry(m map[string]string, k string) string {
	if v, ok := m[k]; ok {
		return v
	}
	return "(none)"
}

// The stand-in is shaped like Supabase where it matters here.
func TestStandInIsSupabaseShaped(t *testing.T) {
	db := testdb.Fresh(t)
	// postgres applies migrations: no superuser, BYPASSRLS, owns what they made.
	if s := scalar[string](t, db, `select rolsuper::text || ' ' || rolbypassrls::text from pg_roles where rolname = 'postgres'`); s != "false true" {
		t.Fatalf("postgres superuser/bypassrls: %s", s)
	}
	if s := scalar[string](t, db, `select pg_get_userbyid(relowner) from pg_class where oid = 'public.profiles'::regclass`); s != "postgres" {
		t.Fatalf("public.profiles owned by %s", s)
	}
	// auth.users: owned by the auth admin, RLS on, email varchar(255) unique
	// only among non-SSO users.
	if s := scalar[string](t, db, `select pg_get_userbyid(relowner) || ' ' || relrowsecurity::text from pg_class where oid = 'auth.users'::regclass`); s != "supabase_auth_admin true" {
		t.Fatalf("auth.users owner and RLS: %s", s)
	}
	if s := scalar[string](t, db, `select format_type(atttypid, atttypmod) from pg_attribute where attrelid = 'auth.users'::regclass and attname = 'email'`); s != "character varying(255)" {
		t.Fatalf("auth.users.email is %s", s)
	}
	mustExec(t, db, `insert into auth.users (email, is_sso_user) values ('same@example.org', true), ('same@example.org', true), ('same@example.org', false)`)
	if _, err := db.Pool.Exec(context.Background(), `insert into auth.users (email) values ('same@example.org')`); err == nil {
		t.Fatal("two email users share an address")
	}
	// Auth's own writes go through as supabase_auth_admin, whose triggers run
	// with postgres' rights.
	ctx := context.Background()
	if err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `set local role supabase_auth_admin`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `insert into auth.users (email, raw_user_meta_data) values ('gotrue@example.org', null)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := scalar[int64](t, db, `select count(*) from public.profiles where email = 'gotrue@example.org'`); n != 1 {
		t.Fatal("no profile for a user Auth inserted")
	}
	// An authenticated user reads no auth.users row (RLS, no policy, no grant).
	if o := as(t, db, nobody, `select count(*) from auth.users`); o.err == nil {
		t.Fatal("authenticated can read auth.users")
	}
}

// 0006 over a database whose profiles did not follow auth.users: missing
// profiles are made, drifted emails fixed, soft-deleted users' memberships
// go except a last admin's (kept with a warning; the migration never fails).
func TestProfilesBackfill(t *testing.T) {
	db := testdb.Empty(t)
	all := migrations.All()
	i := 0
	for i < len(all) && !strings.HasPrefix(all[i].Name, "0006_") {
		psqlApply(t, db, all[i].Name)
		i++
	}
	if i == len(all) {
		t.Fatal("no 0006 migration")
	}
	last := all[i]
	const (
		early   = "10000000-0000-4000-8000-0000000000e1" // signed up before the trigger
		drifted = "10000000-0000-4000-8000-0000000000e2" // changed email in Auth
		goneV   = "10000000-0000-4000-8000-0000000000e3" // soft deleted, a viewer
		goneA   = "10000000-0000-4000-8000-0000000000e4" // soft deleted, T's only admin
		adminT  = "10000000-0000-4000-8000-0000000000e5" // admin of U
		tT      = "20000000-0000-4000-8000-0000000000e1"
		tU      = "20000000-0000-4000-8000-0000000000e2"
	)
	ctx := context.Background()
	if err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		for _, q := range []string{
			`insert into auth.users (id, email) values ('` + drifted + `', 'old@example.org'), ('` + goneV + `', 'v@example.org'),
				('` + goneA + `', 'a@example.org'), ('` + adminT + `', 'admin@example.org')`,
			`set local session_replication_role = replica`, // no trigger from here on, as before 0006
			`insert into auth.users (id, email, raw_user_meta_data) values ('` + early + `', 'Early@Example.org', '{"full_name":"Early"}')`,
			`update auth.users set email = 'new@example.org' where id = '` + drifted + `'`,
			`update auth.users set deleted_at = now(), email = md5(id::text) where id in ('` + goneV + `', '` + goneA + `')`,
			`set local session_replication_role = origin`,
			`insert into public.tenants (id, name) values ('` + tT + `', 'T'), ('` + tU + `', 'U')`,
			`insert into public.user_tenant_assignments (user_id, tenant_id, role) values
				('` + goneA + `', '` + tT + `', 'admin'), ('` + goneV + `', '` + tT + `', 'viewer'), ('` + goneA + `', '` + tU + `', 'viewer'),
				('` + adminT + `', '` + tU + `', 'admin')`,
		} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	psqlApply(t, db, last.Name)
	for _, m := range all[i+1:] {
		psqlApply(t, db, m.Name)
	}

	if s := scalar[string](t, db, `select email || ' ' || full_name from public.profiles where id = $1`, early); s != "Early@Example.org Early" {
		t.Fatalf("backfilled profile: %q", s)
	}
	if s := scalar[string](t, db, `select email from public.profiles where id = $1`, drifted); s != "new@example.org" {
		t.Fatalf("drifted email: %q", s)
	}
	if n := scalar[int64](t, db, `select count(*) from public.profiles where id in ($1, $2)`, goneV, goneA); n != 0 {
		t.Fatalf("%d profiles of soft-deleted users", n)
	}
	got := scalar[string](t, db, `select coalesce(string_agg(user_id::text || ' ' || tenant_id::text || ' ' || role::text, ', ' order by user_id), '')
		from public.user_tenant_assignments where user_id in ($1, $2)`, goneV, goneA)
	if want := goneA + " " + tT + " admin"; got != want {
		t.Fatalf("memberships of soft-deleted users: %q, want only the last admin's %q", got, want)
	}
	// Found case-insensitively by the helper assign-user uses.
	if o := as(t, db, adminT, `select 1 where private.resolve_user_by_email($1, ' early@example.ORG') = $2`, tU, early); o.err != nil || o.rows != 1 {
		t.Fatalf("resolve by email, another case: %+v", o)
	}
	if o := as(t, db, adminT, `select 1 where private.resolve_user_by_email($1, 'a@example.org') is null`, tU); o.err != nil || o.rows != 1 {
		t.Fatalf("a soft-deleted user was found: %+v", o)
	}
}
