package migrations_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/pvetenant/backend/infra/testdb"
)

// A case is one statement run as one user. want is the number of rows the
// user gets back or changes; code, when set, is the SQLSTATE it must fail
// with instead (42501: refused by a policy or a missing grant; PT409: last admin).
type rlsCase struct {
	who  string
	user string
	sql  string
	args []any
	want int64
	code string
}

func runCases(t *testing.T, db *testdb.DB, cases []rlsCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s/%s", c.who, c.sql), func(t *testing.T) {
			got := as(t, db, c.user, c.sql, c.args...)
			if c.code != "" {
				if got.code != c.code {
					t.Fatalf("want SQLSTATE %s, got rows=%d err=%v", c.code, got.rows, got.err)
				}
				return
			}
			if got.err != nil {
				t.Fatalf("want %d rows, got error %v", c.want, got.err)
			}
			if got.rows != c.want {
				t.Fatalf("want %d rows, got %d", c.want, got.rows)
			}
		})
	}
}

func TestRLSProxmoxServers(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	const ins = `insert into public.proxmox_servers (tenant_id, name, host) values ($1, 'new', 'pve-new.test')`
	runCases(t, db, []rlsCase{
		// Reading: members see their tenant's servers only.
		{"anon", anon, `select * from public.proxmox_servers`, nil, 0, ""},
		{"no role", nobody, `select * from public.proxmox_servers`, nil, 0, ""},
		{"viewer", viewerA, `select * from public.proxmox_servers`, nil, 1, ""},
		{"manager", managerA, `select * from public.proxmox_servers`, nil, 1, ""},
		{"admin", adminA, `select * from public.proxmox_servers`, nil, 1, ""},
		{"admin of B", adminB, `select * from public.proxmox_servers where tenant_id = $1`, []any{tenantA}, 0, ""},
		{"system admin", sysAdmin, `select * from public.proxmox_servers`, nil, 2, ""},
		// An admin of tenant A cannot see, update or delete a server of B by its id.
		{"admin of A sees B's server", adminA, `select * from public.proxmox_servers where id = $1`, []any{serverB}, 0, ""},
		{"admin of A updates B's server", adminA, `update public.proxmox_servers set name = 'x' where id = $1`, []any{serverB}, 0, ""},
		{"admin of A deletes B's server", adminA, `delete from public.proxmox_servers where id = $1`, []any{serverB}, 0, ""},
		// Adding a server needs manager or admin in the target tenant.
		{"anon adds", anon, ins, []any{tenantA}, 0, "42501"},
		{"no role adds", nobody, ins, []any{tenantA}, 0, "42501"},
		{"viewer adds", viewerA, ins, []any{tenantA}, 0, "42501"},
		{"manager adds", managerA, ins, []any{tenantA}, 1, ""},
		{"admin adds", adminA, ins, []any{tenantA}, 1, ""},
		{"admin of B adds to A", adminB, ins, []any{tenantA}, 0, "42501"},
		{"system admin adds", sysAdmin, ins, []any{tenantA}, 1, ""},
		// Editing.
		{"viewer edits", viewerA, `update public.proxmox_servers set name = 'x' where id = $1`, []any{serverA}, 0, ""},
		{"manager edits", managerA, `update public.proxmox_servers set name = 'x' where id = $1`, []any{serverA}, 1, ""},
		{"admin edits", adminA, `update public.proxmox_servers set name = 'x' where id = $1`, []any{serverA}, 1, ""},
		{"system admin edits", sysAdmin, `update public.proxmox_servers set name = 'x' where id = $1`, []any{serverB}, 1, ""},
		// Nobody moves a server into a tenant they cannot manage.
		{"manager moves server to B", managerA, `update public.proxmox_servers set tenant_id = $2 where id = $1`, []any{serverA, tenantB}, 0, "42501"},
		{"admin moves server to B", adminA, `update public.proxmox_servers set tenant_id = $2 where id = $1`, []any{serverA, tenantB}, 0, "42501"},
		{"system admin moves server to B", sysAdmin, `update public.proxmox_servers set tenant_id = $2 where id = $1`, []any{serverA, tenantB}, 1, ""},
		// Deleting needs tenant admin.
		{"viewer deletes", viewerA, `delete from public.proxmox_servers where id = $1`, []any{serverA}, 0, ""},
		{"manager deletes", managerA, `delete from public.proxmox_servers where id = $1`, []any{serverA}, 0, ""},
		{"admin deletes", adminA, `delete from public.proxmox_servers where id = $1`, []any{serverA}, 1, ""},
		{"system admin deletes", sysAdmin, `delete from public.proxmox_servers where id = $1`, []any{serverB}, 1, ""},
	})
}

func TestRLSCredentials(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	const direct = `select * from private.proxmox_server_credentials`
	const viaHelper = `select * from private.server_credentials(array[$1, $2]::uuid[])`
	runCases(t, db, []rlsCase{
		// No client role reads the credentials table, whatever its tenant role.
		{"anon reads credentials", anon, direct, nil, 0, "42501"},
		{"viewer reads credentials", viewerA, direct, nil, 0, "42501"},
		{"manager reads credentials", managerA, direct, nil, 0, "42501"},
		{"admin reads credentials", adminA, direct, nil, 0, "42501"},
		{"system admin reads credentials", sysAdmin, direct, nil, 0, "42501"},
		{"viewer writes credentials", viewerA, `update private.proxmox_server_credentials set sealed = '\x00'`, nil, 0, "42501"},
		// The functions' helper returns sealed blobs of visible servers only.
		{"anon via helper", anon, viaHelper, []any{serverA, serverB}, 0, "42501"},
		{"no role via helper", nobody, viaHelper, []any{serverA, serverB}, 0, ""},
		{"viewer via helper", viewerA, viaHelper, []any{serverA, serverB}, 1, ""},
		{"admin of B via helper", adminB, viaHelper, []any{serverA, serverB}, 1, ""},
		{"system admin via helper", sysAdmin, viaHelper, []any{serverA, serverB}, 2, ""},
		// Setting credentials needs manager or admin of the server's tenant.
		{"viewer sets credentials", viewerA, `select private.set_server_credentials($1, 'token', 'k1', '\x01')`, []any{serverA}, 0, "42501"},
		{"admin of B sets A's credentials", adminB, `select private.set_server_credentials($1, 'token', 'k1', '\x01')`, []any{serverA}, 0, "42501"},
		{"manager sets credentials", managerA, `select private.set_server_credentials($1, 'token', 'k1', '\x01')`, []any{serverA}, 1, ""},
		// has_credentials is visible where the server is.
		{"viewer sees has_credentials", viewerA, `select 1 from public.proxmox_servers s where public.has_credentials(s)`, nil, 1, ""},
	})

	// The table every member reads holds no secret column.
	n := scalar[int64](t, db, `select count(*) from information_schema.columns
		where table_schema = 'public' and table_name = 'proxmox_servers'
		  and column_name in ('password', 'api_token_secret', 'api_token_id', 'username')`)
	if n != 0 {
		t.Fatalf("proxmox_servers still has %d secret columns", n)
	}
}

func TestRLSTenants(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	mustExec(t, db, `insert into public.tenants (id, name) values ('cccccccc-0000-4000-8000-000000000003', 'Empty')`)
	runCases(t, db, []rlsCase{
		{"anon lists", anon, `select * from public.tenants`, nil, 0, ""},
		{"no role lists", nobody, `select * from public.tenants`, nil, 0, ""},
		{"viewer lists", viewerA, `select * from public.tenants`, nil, 1, ""},
		{"admin of A reads B by id", adminA, `select * from public.tenants where id = $1`, []any{tenantB}, 0, ""},
		{"system admin lists", sysAdmin, `select * from public.tenants`, nil, 3, ""},
		{"admin creates tenant", adminA, `insert into public.tenants (name) values ('x')`, nil, 0, "42501"},
		{"system admin creates tenant", sysAdmin, `insert into public.tenants (name) values ('x')`, nil, 1, ""},
		{"viewer renames", viewerA, `update public.tenants set name = 'x' where id = $1`, []any{tenantA}, 0, ""},
		{"manager renames", managerA, `update public.tenants set name = 'x' where id = $1`, []any{tenantA}, 0, ""},
		{"admin renames", adminA, `update public.tenants set name = 'x' where id = $1`, []any{tenantA}, 1, ""},
		{"admin of B renames A", adminB, `update public.tenants set name = 'x' where id = $1`, []any{tenantA}, 0, ""},
		{"system admin renames", sysAdmin, `update public.tenants set name = 'x' where id = $1`, []any{tenantA}, 1, ""},
		{"admin deletes own tenant", adminA, `delete from public.tenants where id = $1`, []any{tenantA}, 0, ""},
		{"system admin deletes empty tenant", sysAdmin, `delete from public.tenants where name = 'Empty'`, nil, 1, ""},
		// A tenant with servers is not deleted by cascade.
		{"system admin deletes tenant with servers", sysAdmin, `delete from public.tenants where id = $1`, []any{tenantA}, 0, "23503"},
	})
}

func TestRLSMemberships(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	const add = `insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, $3)`
	const setRole = `update public.user_tenant_assignments set role = $3 where user_id = $1 and tenant_id = $2`
	const remove = `delete from public.user_tenant_assignments where user_id = $1 and tenant_id = $2`
	runCases(t, db, []rlsCase{
		{"anon lists", anon, `select * from public.user_tenant_assignments`, nil, 0, ""},
		{"no role lists", nobody, `select * from public.user_tenant_assignments`, nil, 0, ""},
		{"viewer sees co-members", viewerA, `select * from public.user_tenant_assignments`, nil, 3, ""},
		{"admin of B sees A's members", adminB, `select * from public.user_tenant_assignments where tenant_id = $1`, []any{tenantA}, 0, ""},
		{"system admin lists", sysAdmin, `select * from public.user_tenant_assignments`, nil, 5, ""},
		// Adding members: tenant admins only.
		{"viewer adds", viewerA, add, []any{nobody, tenantA, "viewer"}, 0, "42501"},
		{"manager adds", managerA, add, []any{nobody, tenantA, "viewer"}, 0, "42501"},
		{"admin adds", adminA, add, []any{nobody, tenantA, "viewer"}, 1, ""},
		{"admin of B adds to A", adminB, add, []any{nobody, tenantA, "viewer"}, 0, "42501"},
		{"system admin adds", sysAdmin, add, []any{nobody, tenantA, "admin"}, 1, ""},
		// Nobody grants themselves a role.
		{"viewer makes themselves admin", viewerA, setRole, []any{viewerA, tenantA, "admin"}, 0, ""},
		{"manager makes themselves admin", managerA, setRole, []any{managerA, tenantA, "admin"}, 0, ""},
		{"no role joins as admin", nobody, add, []any{nobody, tenantA, "admin"}, 0, "42501"},
		{"admin of A joins B", adminA, add, []any{adminA, tenantB, "admin"}, 0, "42501"},
		// Changing roles and removing: tenant admins; anyone may leave.
		{"manager demotes viewer", managerA, setRole, []any{viewerA, tenantA, "manager"}, 0, ""},
		{"admin promotes viewer", adminA, setRole, []any{viewerA, tenantA, "manager"}, 1, ""},
		{"admin of B changes A's member", adminB, setRole, []any{viewerA, tenantA, "admin"}, 0, ""},
		{"manager removes viewer", managerA, remove, []any{viewerA, tenantA}, 0, ""},
		{"admin removes viewer", adminA, remove, []any{viewerA, tenantA}, 1, ""},
		{"viewer leaves", viewerA, remove, []any{viewerA, tenantA}, 1, ""},
		{"admin of B removes A's member", adminB, remove, []any{viewerA, tenantA}, 0, ""},
		// The last admin cannot be removed or demoted, not even by a system admin.
		{"last admin demotes self", adminA, setRole, []any{adminA, tenantA, "viewer"}, 0, "PT409"},
		{"last admin leaves", adminA, remove, []any{adminA, tenantA}, 0, "PT409"},
		{"system admin removes last admin", sysAdmin, remove, []any{adminA, tenantA}, 0, "PT409"},
		{"system admin demotes last admin", sysAdmin, setRole, []any{adminA, tenantA, "manager"}, 0, "PT409"},
	})
}

func TestLastAdminWithTwoAdmins(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, true)
	ctx := context.Background()
	// With a second admin, one may step down; then the other is the last.
	if o := as(t, db, adminA, `update public.user_tenant_assignments set role = 'viewer' where user_id = $1 and tenant_id = $2`, adminA, tenantA); o.err != nil || o.rows != 1 {
		t.Fatalf("first admin stepping down with a second admin present: %+v", o)
	}
	mustExec(t, db, `update public.user_tenant_assignments set role = 'viewer' where user_id = $1 and tenant_id = $2`, adminA, tenantA)
	if _, err := db.Pool.Exec(ctx, `delete from public.user_tenant_assignments where user_id = $1 and tenant_id = $2`, adminA2, tenantA); err == nil {
		t.Fatal("removing the remaining admin succeeded even as the table owner")
	}
	// Deleting the tenant takes its memberships along, last admin included.
	mustExec(t, db, `delete from public.proxmox_servers where tenant_id = $1`, tenantA)
	if o := as(t, db, sysAdmin, `delete from public.tenants where id = $1`, tenantA); o.err != nil || o.rows != 1 {
		t.Fatalf("system admin deleting an empty tenant: %+v", o)
	}
}

func TestRLSProfilesAndSystemRoles(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	runCases(t, db, []rlsCase{
		{"anon lists profiles", anon, `select * from public.profiles`, nil, 0, ""},
		{"no role sees only self", nobody, `select * from public.profiles`, nil, 1, ""},
		{"viewer sees co-members", viewerA, `select * from public.profiles`, nil, 3, ""},
		{"viewer of A sees admin of B", viewerA, `select * from public.profiles where id = $1`, []any{adminB}, 0, ""},
		{"system admin sees everyone", sysAdmin, `select * from public.profiles`, nil, 8, ""},
		{"viewer edits own profile", viewerA, `update public.profiles set full_name = 'V' where id = $1`, []any{viewerA}, 1, ""},
		{"viewer edits admin's profile", viewerA, `update public.profiles set full_name = 'V' where id = $1`, []any{adminA}, 0, ""},
		{"viewer sees own system roles", viewerA, `select * from public.user_roles`, nil, 0, ""},
		{"system admin sees system roles", sysAdmin, `select * from public.user_roles`, nil, 1, ""},
		{"viewer makes themselves system admin", viewerA, `insert into public.user_roles (user_id, role) values ($1, 'admin')`, []any{viewerA}, 0, "42501"},
		{"tenant admin makes themselves system admin", adminA, `insert into public.user_roles (user_id, role) values ($1, 'admin')`, []any{adminA}, 0, "42501"},
		{"viewer revokes system admin", viewerA, `delete from public.user_roles where user_id = $1`, []any{sysAdmin}, 0, ""},
		{"system admin grants another", sysAdmin, `insert into public.user_roles (user_id, role) values ($1, 'moderator')`, []any{viewerA}, 1, ""},
		{"system admin grants self", sysAdmin, `insert into public.user_roles (user_id, role) values ($1, 'moderator')`, []any{sysAdmin}, 0, "42501"},
	})
}

func TestPoliciesFollowTheRules(t *testing.T) {
	db := testdb.Fresh(t)
	// Every policy reads auth.uid() through a scalar subquery (evaluated once
	// per statement), and every helper is SECURITY DEFINER with an empty search_path.
	bad := scalar[int64](t, db, `select count(*) from pg_policies
		where schemaname = 'public'
		  and (coalesce(qual, '') || coalesce(with_check, '')) ~ 'auth\.uid\(\)'
		  and (coalesce(qual, '') || coalesce(with_check, '')) !~* '\(\s*select\s+auth\.uid\(\)'`)
	if bad != 0 {
		t.Fatalf("%d policies call auth.uid() per row", bad)
	}
	loose := scalar[int64](t, db, `select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
		where n.nspname in ('public', 'private') and p.prosecdef
		  and not coalesce(p.proconfig, '{}') @> array['search_path=""']`)
	if loose != 0 {
		t.Fatalf("%d SECURITY DEFINER functions without search_path = ''", loose)
	}
	// RLS is on for every public table: Supabase grants them all to the API roles.
	off := scalar[int64](t, db, `select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
		where n.nspname in ('public', 'private') and c.relkind = 'r' and not c.relrowsecurity`)
	if off != 0 {
		t.Fatalf("%d tables without row level security", off)
	}
}

// Deleting the account of a tenant's last admin would leave the tenant with
// none: refused until the tenant is handed over; other accounts go freely.
func TestDeletingTheLastAdminsAccount(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	ctx := context.Background()
	if _, err := db.Pool.Exec(ctx, `delete from auth.users where id = $1`, adminA); err == nil {
		t.Fatal("deleting the last admin's account succeeded")
	}
	if _, err := db.Pool.Exec(ctx, `delete from auth.users where id = $1`, viewerA); err != nil {
		t.Fatalf("deleting a viewer's account: %v", err)
	}
	mustExec(t, db, `update public.user_tenant_assignments set role = 'admin' where user_id = $1`, managerA)
	if _, err := db.Pool.Exec(ctx, `delete from auth.users where id = $1`, adminA); err != nil {
		t.Fatalf("deleting a former last admin's account after hand-over: %v", err)
	}
}
