package migrations_test

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pvetenant/backend/infra/pgcluster"
	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/sql/migrations"
)

// psqlApply applies one migration file by hand, as an operator would: psql
// -v ON_ERROR_STOP=1 --single-transaction, the file in one transaction like
// every runner applies it (infra/migrate, infra/testdb).
func psqlApply(t *testing.T, db *testdb.DB, name string) {
	t.Helper()
	psql, err := pgcluster.Tool("psql")
	if err != nil {
		t.Fatal(err)
	}
	// As postgres, which Supabase makes a non-superuser with BYPASSRLS.
	out, err := exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-d", db.URL,
		"-c", "set role "+testdb.MigrationRole, "-f", filepath.Join(".", name)).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %s: %v\n%s", name, err, out)
	}
}

func TestFirstMigrationIsIdempotent(t *testing.T) {
	db := testdb.Empty(t)
	psqlApply(t, db, "0001_legacy_schema.sql")
	mustExec(t, db, `insert into auth.users (id, email) values ($1, 'keep@example.com')`, adminA)
	mustExec(t, db, `insert into public.proxmox_servers (user_id, name, host, api_token_id, api_token_secret)
		values ($1, 'keep', 'pve.example.com', 'root@pam!x', 's3cret')`, adminA)
	// A database that already has every object (production) takes it again unchanged.
	psqlApply(t, db, "0001_legacy_schema.sql")
	psqlApply(t, db, "0001_legacy_schema.sql")
	if n := scalar[int64](t, db, `select count(*) from public.proxmox_servers`); n != 1 {
		t.Fatalf("servers after re-applying 0001: %d", n)
	}
	if n := scalar[int64](t, db, `select count(*) from pg_policies where tablename = 'proxmox_servers'`); n != 4 {
		t.Fatalf("legacy server policies after re-applying 0001: %d, want 4", n)
	}
}

func TestLegacyRowsSurviveTenantScoping(t *testing.T) {
	db := testdb.Empty(t)
	all := migrations.All()
	psqlApply(t, db, all[0].Name)

	const (
		owner1   = "10000000-0000-4000-8000-000000000001" // admin of T1
		owner2   = "10000000-0000-4000-8000-000000000002" // no tenant at all
		owner3   = "10000000-0000-4000-8000-000000000003" // only a viewer of T1
		owner4   = "10000000-0000-4000-8000-000000000004" // admin of T2, server labelled T1
		bystand  = "10000000-0000-4000-8000-000000000005" // member without servers
		t1       = "20000000-0000-4000-8000-000000000001"
		t2       = "20000000-0000-4000-8000-000000000002"
		kept     = "30000000-0000-4000-8000-000000000001"
		orphan1  = "30000000-0000-4000-8000-000000000002"
		orphan2a = "30000000-0000-4000-8000-000000000003"
		orphan2b = "30000000-0000-4000-8000-000000000004"
		orphan3  = "30000000-0000-4000-8000-000000000005"
		stray4   = "30000000-0000-4000-8000-000000000006"
	)
	for _, u := range []string{owner1, owner2, owner3, owner4, bystand} {
		mustExec(t, db, `insert into auth.users (id, email, raw_user_meta_data) values ($1::uuid, $1::text || '@legacy.test', '{"full_name":"Legacy"}')`, u)
	}
	mustExec(t, db, `insert into public.tenants (id, name) values ($1, 'T1'), ($2, 'T2')`, t1, t2)
	mustExec(t, db, `insert into public.user_tenant_assignments (user_id, tenant_id, role) values
		($1, $5, 'admin'), ($2, $5, 'viewer'), ($3, $6, 'admin'), ($4, $5, 'manager')`, owner1, owner3, owner4, bystand, t1, t2)
	mustExec(t, db, `insert into public.proxmox_servers (id, user_id, tenant_id, name, host, api_token_id, api_token_secret, username, password) values
		($1, $7, $11, 'kept', 'h1', 'root@pam!a', 'token-secret-1', null, null),
		($2, $7, null, 'orphan1', 'h2', null, null, 'root@pam', 'pw-2'),
		($3, $8, null, 'orphan2a', 'h3', null, null, null, null),
		($4, $8, null, 'orphan2b', 'h4', 'u@pve!b', 'token-secret-4', null, null),
		($5, $9, null, 'orphan3', 'h5', null, null, null, null),
		($6, $10, $11, 'stray4', 'h6', null, null, null, null)`,
		kept, orphan1, orphan2a, orphan2b, orphan3, stray4, owner1, owner2, owner3, owner4, t1)
	before := counts(t, db)

	for _, m := range all[1:] {
		psqlApply(t, db, m.Name)
	}

	after := counts(t, db)
	for _, tbl := range []string{"auth.users", "public.profiles", "public.proxmox_servers"} {
		if before[tbl] != after[tbl] {
			t.Errorf("%s: %d rows before, %d after", tbl, before[tbl], after[tbl])
		}
	}
	// Old memberships are all kept; new ones are only the personal tenants' admins.
	if after["public.user_tenant_assignments"] != before["public.user_tenant_assignments"]+2 {
		t.Errorf("memberships: %d before, %d after; want exactly 2 new (owner2, owner3)", before["public.user_tenant_assignments"], after["public.user_tenant_assignments"])
	}
	if n := scalar[int64](t, db, `select count(*) from public.proxmox_servers s
		where not exists (select 1 from public.user_tenant_assignments a
		                  where a.user_id = s.user_id and a.tenant_id = s.tenant_id and a.role = 'admin')`); n != 0 {
		t.Fatalf("%d servers in a tenant their former owner does not administer", n)
	}
	where := func(id string) string {
		return scalar[string](t, db, `select tenant_id::text from public.proxmox_servers where id = $1`, id)
	}
	if where(kept) != t1 || where(orphan1) != t1 {
		t.Errorf("owner1's servers should be in T1: kept=%s orphan1=%s", where(kept), where(orphan1))
	}
	if where(orphan2a) != where(orphan2b) || where(orphan2a) == t1 || where(orphan2a) == t2 {
		t.Errorf("owner2's servers should share one new personal tenant: %s %s", where(orphan2a), where(orphan2b))
	}
	if where(orphan3) == t1 {
		t.Errorf("a viewer's orphan must not land in the tenant they only view")
	}
	if where(stray4) != t2 {
		t.Errorf("a server labelled with a tenant its owner does not administer goes to the owner's admin tenant: got %s", where(stray4))
	}
	if name := scalar[string](t, db, `select name from public.tenants where id = $1`, where(orphan2a)); name != "Legacy's servers" {
		t.Errorf("personal tenant name %q", name)
	}
	// The T1 viewer and manager do not gain sight of servers they could not see before.
	if n := scalar[int64](t, db, `select count(*) from public.proxmox_servers where tenant_id = $1`, t1); n != 2 {
		t.Errorf("T1 has %d servers, want owner1's two", n)
	}
	// Secrets moved out of the readable table, intact.
	if n := scalar[int64](t, db, `select count(*) from private.proxmox_server_credentials where legacy_plaintext is not null`); n != 3 {
		t.Errorf("moved credentials: %d, want 3", n)
	}
	if s := scalar[string](t, db, `select legacy_plaintext ->> 'tokenSecret' from private.proxmox_server_credentials where server_id = $1`, orphan2b); s != "token-secret-4" {
		t.Errorf("token secret not moved intact: %q", s)
	}
	if s := scalar[string](t, db, `select legacy_plaintext ->> 'password' from private.proxmox_server_credentials where server_id = $1`, orphan1); s != "pw-2" {
		t.Errorf("password not moved intact: %q", s)
	}
	if n := scalar[int64](t, db, `select count(*) from public.proxmox_servers where auth_type is not null`); n != 3 {
		t.Errorf("auth_type set on %d servers, want 3", n)
	}
	// And the result is what a fresh install gets: re-running every
	// migration changes nothing.
	for _, m := range all {
		if m.Name == all[0].Name {
			continue
		}
		psqlApply(t, db, m.Name)
	}
	if again := counts(t, db); again["public.tenants"] != after["public.tenants"] {
		t.Errorf("re-applying created tenants: %d -> %d", after["public.tenants"], again["public.tenants"])
	}
}

func counts(t *testing.T, db *testdb.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, tbl := range []string{"auth.users", "public.profiles", "public.tenants", "public.user_tenant_assignments", "public.proxmox_servers"} {
		out[tbl] = scalar[int64](t, db, "select count(*) from "+tbl)
	}
	return out
}
