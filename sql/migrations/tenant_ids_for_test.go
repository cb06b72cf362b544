package migrations_test

import (
	"strings"
	"testing"

	"github.com/pvetenant/backend/infra/testdb"
)

// private.tenant_ids_for answers, for the caller, the tenants where they
// hold one of the roles asked (any role when none is named); a system admin
// gets every tenant, a stranger or a deleted user none.
func TestTenantIDsFor(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	const tenantC = "cccccccc-0000-4000-8000-000000000003" // no members at all
	mustExec(t, db, `insert into public.tenants (id, name) values ($1, 'Empty')`, tenantC)
	// One person, two roles in two tenants.
	mustExec(t, db, `insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, 'viewer')`, managerA, tenantB)
	// A soft-deleted user (Supabase Auth's SoftDeleteUser): 0006 takes
	// their memberships along.
	mustExec(t, db, `update auth.users set deleted_at = now(), email = md5(id::text) where id = $1`, viewerB)

	ids := func(user, roles string) string {
		t.Helper()
		q := `select string_agg(x::text, ',' order by x) from private.tenant_ids_for() x`
		args := []any{}
		if roles != "" {
			q = `select string_agg(x::text, ',' order by x) from private.tenant_ids_for($1::public.tenant_role[]) x`
			args = append(args, roles)
		}
		return strings.Join(textAs(t, db, user, q, args...), "")
	}
	all := tenantA + "," + tenantB + "," + tenantC
	for _, c := range []struct {
		who, user                 string
		any, admin, adminMgr, vwr string
	}{
		{"tenant admin", adminA, tenantA, tenantA, tenantA, "<null>"},
		{"manager of A, viewer of B", managerA, tenantA + "," + tenantB, "<null>", tenantA, tenantB},
		{"viewer", viewerA, tenantA, "<null>", "<null>", tenantA},
		{"admin of B", adminB, tenantB, tenantB, tenantB, "<null>"},
		{"system admin", sysAdmin, all, all, all, all},
		{"no role anywhere", nobody, "<null>", "<null>", "<null>", "<null>"},
		{"soft-deleted viewer", viewerB, "<null>", "<null>", "<null>", "<null>"},
		{"a user id nobody has", "00000000-0000-4000-8000-0000000000ee", "<null>", "<null>", "<null>", "<null>"},
	} {
		for roles, want := range map[string]string{"": c.any, "{admin}": c.admin, "{admin,manager}": c.adminMgr, "{viewer}": c.vwr} {
			if got := ids(c.user, roles); got != want {
				t.Errorf("%s, roles %q: %s, want %s", c.who, roles, got, want)
			}
		}
	}
	// A hard-deleted user goes the same way (memberships cascade).
	mustExec(t, db, `delete from auth.users where id = $1`, viewerA)
	if got := ids(viewerA, ""); got != "<null>" {
		t.Errorf("hard-deleted viewer: %s", got)
	}
	// Client roles without a user get nothing: anon may not call it at all.
	if o := as(t, db, anon, `select private.tenant_ids_for()`); o.code != "42501" {
		t.Errorf("anon: %+v, want 42501", o)
	}
}

// With the system admin folded into the helper, the policies still tell a
// system admin's writes apart as before: they reach every tenant, create
// tenants and read back what they created, add themselves to a tenant, and
// read the audit trail of a tenant that is gone.
func TestSystemAdminThroughTheHelper(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	const tenantD = "dddddddd-0000-4000-8000-000000000004"
	runCases(t, db, []rlsCase{
		{"system admin creates a tenant and reads it back", sysAdmin,
			`insert into public.tenants (id, name) values ($1, 'New') returning id`, []any{tenantD}, 1, ""},
		{"system admin adds themselves", sysAdmin,
			`insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, 'admin')`, []any{sysAdmin, tenantB}, 1, ""},
		{"tenant admin adds themselves elsewhere", adminA,
			`insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, 'admin')`, []any{adminA, tenantB}, 0, "42501"},
		{"system admin adds a server and reads it back", sysAdmin,
			`insert into public.proxmox_servers (tenant_id, name, host) values ($1, 'x', 'x.test') returning id`, []any{tenantB}, 1, ""},
		{"system admin moves a membership", sysAdmin,
			`update public.user_tenant_assignments set tenant_id = $2 where user_id = $1`, []any{viewerA, tenantB}, 1, ""},
		{"system admin's credentials helper", sysAdmin,
			`select * from private.server_credentials(array[$1, $2]::uuid[])`, []any{serverA, serverB}, 2, ""},
		{"no server of a tenant that does not exist", sysAdmin,
			`insert into public.proxmox_servers (tenant_id, name, host) values ($1, 'x', 'x.test')`, []any{tenantD}, 0, "42501"},
	})
	// The trail outlives its tenant; system admins still read it.
	mustExec(t, db, `delete from public.proxmox_servers where tenant_id = $1`, tenantB)
	mustExec(t, db, `delete from public.tenants where id = $1`, tenantB)
	runCases(t, db, []rlsCase{
		{"system admin reads a deleted tenant's trail", sysAdmin,
			`select 1 from public.audit_log where tenant_id = $1 limit 1`, []any{tenantB}, 1, ""},
		{"its former admin does not", adminB,
			`select 1 from public.audit_log where tenant_id = $1 limit 1`, []any{tenantB}, 0, ""},
	})
}
