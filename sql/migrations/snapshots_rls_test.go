package migrations_test

import (
	"context"
	"strings"
	"testing"

	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/sql/migrations"
)

// 0007: the snapshot store and the stats hot path are out of every client
// role's reach: no row, no column, no call. require_tenant_view tells a
// caller only whether the tenant is theirs.
func TestRLSServerSnapshots(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	ctx := context.Background()
	// Re-appliable: the same file again changes nothing.
	for _, m := range migrations.All() {
		if strings.HasPrefix(m.Name, "0007_") {
			if _, err := db.Pool.Exec(ctx, m.SQL); err != nil {
				t.Fatalf("0007 applied twice: %v", err)
			}
		}
	}
	if _, err := db.Pool.Exec(ctx, `insert into private.server_snapshots (server_id, config_key, fetched_at, ok, resources)
		values ($1, 'k', now(), true, '[{"id":"qemu/100","type":"qemu"}]')`, serverA); err != nil {
		t.Fatal(err)
	}
	const ctxCall = `select * from private.stats_context('{"sub":"` + adminA + `"}', '` + tenantA + `'::uuid, '{}'::jsonb)`
	var cases []rlsCase
	for _, u := range []struct{ who, id string }{{"anon", anon}, {"no role", nobody}, {"viewer", viewerA}, {"admin", adminA}, {"system admin", sysAdmin}} {
		cases = append(cases,
			rlsCase{u.who + " reads snapshots", u.id, `select * from private.server_snapshots`, nil, 0, "42501"},
			rlsCase{u.who + " writes snapshots", u.id, `insert into private.server_snapshots (server_id, config_key) values ($1, 'x')`, []any{serverB}, 0, "42501"},
			rlsCase{u.who + " deletes snapshots", u.id, `delete from private.server_snapshots`, nil, 0, "42501"},
			rlsCase{u.who + " calls stats_context", u.id, ctxCall, nil, 0, "42501"},
		)
	}
	cases = append(cases,
		rlsCase{"anon require_tenant_view", anon, `select private.require_tenant_view($1)`, []any{tenantA}, 0, "42501"},
		rlsCase{"no role require_tenant_view", nobody, `select private.require_tenant_view($1)`, []any{tenantA}, 0, "PT404"},
		rlsCase{"admin of B require_tenant_view A", adminB, `select private.require_tenant_view($1)`, []any{tenantA}, 0, "PT404"},
		rlsCase{"viewer require_tenant_view", viewerA, `select private.require_tenant_view($1)`, []any{tenantA}, 1, ""},
		rlsCase{"system admin require_tenant_view", sysAdmin, `select private.require_tenant_view($1)`, []any{tenantB}, 1, ""},
		rlsCase{"viewer require_tenant_view of a missing tenant", viewerA, `select private.require_tenant_view($1)`, []any{"cccccccc-0000-4000-8000-000000000003"}, 0, "PT404"},
	)
	runCases(t, db, cases)
	for _, role := range []string{"anon", "authenticated", "service_role"} {
		for _, q := range []string{
			`select has_table_privilege($1, 'private.server_snapshots', 'select,insert,update,delete')`,
			`select has_function_privilege($1, 'private.stats_context(text, uuid, jsonb)', 'execute')`,
		} {
			if scalar[bool](t, db, q, role) {
				t.Errorf("%s: %s", role, q)
			}
		}
	}
	if !scalar[bool](t, db, `select relrowsecurity and relforcerowsecurity and relpersistence = 'u' from pg_class where oid = 'private.server_snapshots'::regclass`) {
		t.Fatal("server_snapshots must be unlogged with RLS forced")
	}
	// The functions' own role reads it whole, for its member only.
	if n := scalar[int64](t, db, `select count(*) from private.stats_context('{"sub":"`+adminB+`"}', '`+tenantA+`'::uuid, '{}'::jsonb)`); n != 0 {
		t.Fatalf("an admin of B got %d rows of A's context", n)
	}
	if n := scalar[int64](t, db, `select count(*) from private.stats_context('{"sub":"`+viewerA+`"}', '`+tenantA+`'::uuid, '{}'::jsonb) where snap_resources is not null`); n != 1 {
		t.Fatalf("viewer of A: %d snapshots", n)
	}
	// A deleted server's snapshot goes with it.
	if _, err := db.Pool.Exec(ctx, `delete from private.proxmox_server_credentials where server_id = $1`, serverA); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `delete from public.proxmox_servers where id = $1`, serverA); err != nil {
		t.Fatal(err)
	}
	if n := scalar[int64](t, db, `select count(*) from private.server_snapshots`); n != 0 {
		t.Fatalf("%d snapshots left after the server was deleted", n)
	}
}
