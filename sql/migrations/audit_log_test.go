package migrations_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/infra/testdb"
)

// asRole runs sql as a database role (anon, authenticated, service_role) with
// user's claims (none for ""), like PostgREST, and commits when it succeeds,
// so the audit rows it causes stay for the test to read.
func asRole(t testing.TB, db *testdb.DB, role, user, sql string, args ...any) outcome {
	t.Helper()
	ctx := context.Background()
	var out outcome
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		claims := map[string]any{"role": role}
		if user != "" {
			claims = map[string]any{"sub": user, "role": role, "aud": "authenticated"}
		}
		cj, _ := json.Marshal(claims)
		if _, err := tx.Exec(ctx, `select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, role, string(cj)); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, sql, args...)
		if err != nil {
			return err
		}
		out.rows = tag.RowsAffected()
		return nil
	})
	if err != nil {
		return fail(err)
	}
	return out
}

// commitAs is asRole for a signed-in user (anon for "").
func commitAs(t testing.TB, db *testdb.DB, user, sql string, args ...any) outcome {
	t.Helper()
	role := "authenticated"
	if user == "" {
		role = "anon"
	}
	return asRole(t, db, role, user, sql, args...)
}

func mustAs(t testing.TB, db *testdb.DB, user, sql string, args ...any) {
	t.Helper()
	if o := commitAs(t, db, user, sql, args...); o.err != nil || o.rows == 0 {
		t.Fatalf("as %s: %s: rows=%d err=%v", user, sql, o.rows, o.err)
	}
}

// trail returns the audit rows after id `since`, oldest first, as
// "action actor target" lines plus the rows themselves.
type auditRow struct {
	Tenant, Action, TargetType, Target string
	Actor                              *string
	Before, After                      map[string]any
}

func trailSince(t *testing.T, db *testdb.DB, since int64) []auditRow {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `select tenant_id::text, action, target_type, coalesce(target_id, ''),
		actor_id::text, before, after from public.audit_log where id > $1 order by id`, since)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (auditRow, error) {
		var a auditRow
		err := r.Scan(&a.Tenant, &a.Action, &a.TargetType, &a.Target, &a.Actor, &a.Before, &a.After)
		return a, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func lastAuditID(t *testing.T, db *testdb.DB) int64 {
	return scalar[int64](t, db, `select coalesce(max(id), 0) from public.audit_log`)
}

func (a auditRow) String() string {
	actor := "owner"
	if a.Actor != nil {
		actor = *a.Actor
	}
	return fmt.Sprintf("%s %s by %s in %s", a.Action, a.Target, actor, a.Tenant)
}

// Writes made straight through the Data API (supabase-js), as a signed-in
// user, are recorded by the database with that user as the actor.
func TestAuditTrailRecordsDirectWrites(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	// The seed wrote as the table owner: recorded, without an actor.
	if n := scalar[int64](t, db, `select count(*) from public.audit_log where actor_id is null and action = 'member.added'`); n != 5 {
		t.Fatalf("%d owner-written member.added rows, want the seed's 5", n)
	}

	step := func(name, user, sql string, args []any, want ...string) {
		t.Helper()
		since := lastAuditID(t, db)
		mustAs(t, db, user, sql, args...)
		got := trailSince(t, db, since)
		var lines []string
		for _, r := range got {
			lines = append(lines, r.String())
		}
		if strings.Join(lines, "\n") != strings.Join(want, "\n") {
			t.Fatalf("%s: trail\n%s\nwant\n%s", name, strings.Join(lines, "\n"), strings.Join(want, "\n"))
		}
	}
	const newServer = "cccccccc-5e77-4000-8000-000000000003"
	step("admin adds a member", adminA, `insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, 'viewer')`,
		[]any{nobody, tenantA}, "member.added "+nobody+" by "+adminA+" in "+tenantA)
	step("admin changes the role", adminA, `update public.user_tenant_assignments set role = 'manager' where user_id = $1 and tenant_id = $2`,
		[]any{nobody, tenantA}, "member.role_changed "+nobody+" by "+adminA+" in "+tenantA)
	step("the member leaves", nobody, `delete from public.user_tenant_assignments where user_id = $1 and tenant_id = $2`,
		[]any{nobody, tenantA}, "member.removed "+nobody+" by "+nobody+" in "+tenantA)
	step("manager adds a server", managerA, `insert into public.proxmox_servers (id, tenant_id, name, host) values ($1, $2, 'pve-c', 'pve-c.acme.test')`,
		[]any{newServer, tenantA}, "server.created "+newServer+" by "+managerA+" in "+tenantA)
	step("manager renames it", managerA, `update public.proxmox_servers set name = 'pve-c2' where id = $1`,
		[]any{newServer}, "server.updated "+newServer+" by "+managerA+" in "+tenantA)
	step("a connection test's bookkeeping is not a change", managerA,
		`update public.proxmox_servers set connection_status = 'online', last_connected_at = now() where id = $1`, []any{newServer})
	step("manager replaces the credentials", managerA, `select private.set_server_credentials($1, 'password', 'k1', '\x01')`,
		[]any{newServer}, "server.updated "+newServer+" by "+managerA+" in "+tenantA)
	step("system admin moves it: news to both tenants", sysAdmin, `update public.proxmox_servers set tenant_id = $2 where id = $1`,
		[]any{newServer, tenantB}, "server.updated "+newServer+" by "+sysAdmin+" in "+tenantB, "server.updated "+newServer+" by "+sysAdmin+" in "+tenantA)
	step("admin of B deletes it", adminB, `delete from public.proxmox_servers where id = $1`,
		[]any{newServer}, "server.deleted "+newServer+" by "+adminB+" in "+tenantB)
	step("admin renames the tenant", adminA, `update public.tenants set name = 'ACME Inc' where id = $1`,
		[]any{tenantA}, "tenant.renamed "+tenantA+" by "+adminA+" in "+tenantA)
	step("an update that changes nothing", adminA, `update public.tenants set name = 'ACME Inc' where id = $1`, []any{tenantA})
	step("system admin creates a tenant", sysAdmin, `insert into public.tenants (id, name) values ('cccccccc-0000-4000-8000-000000000003', 'Initech')`,
		nil, "tenant.created cccccccc-0000-4000-8000-000000000003 by "+sysAdmin+" in cccccccc-0000-4000-8000-000000000003")

	// Before and after are the rows, as they were and became.
	since := lastAuditID(t, db)
	mustAs(t, db, adminA, `update public.user_tenant_assignments set role = 'manager' where user_id = $1 and tenant_id = $2`, viewerA, tenantA)
	r := trailSince(t, db, since)[0]
	if r.Before["role"] != "viewer" || r.After["role"] != "manager" || r.After["user_id"] != viewerA || r.TargetType != "member" {
		t.Fatalf("role change row: %+v", r)
	}

	// Refused or failed writes leave nothing.
	since = lastAuditID(t, db)
	if o := commitAs(t, db, viewerA, `update public.tenants set name = 'x' where id = $1`, tenantA); o.err != nil || o.rows != 0 {
		t.Fatalf("viewer rename: %+v", o)
	}
	if o := commitAs(t, db, adminA, `delete from public.user_tenant_assignments where user_id = $1 and tenant_id = $2`, adminA, tenantA); o.code != "PT409" {
		t.Fatalf("last admin leaving: %+v", o)
	}
	if o := commitAs(t, db, managerA, `insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, 'admin')`, nobody, tenantA); o.code != "42501" {
		t.Fatalf("manager adding: %+v", o)
	}
	if got := trailSince(t, db, since); len(got) != 0 {
		t.Fatalf("refused writes were recorded: %v", got)
	}
}

// Should a secret column ever sit on proxmox_servers again (a legacy
// database), the trail still never holds it.
func TestAuditTrailHoldsNoSecret(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	mustExec(t, db, `alter table public.proxmox_servers add column password text, add column api_token_secret text`)
	since := lastAuditID(t, db)
	mustAs(t, db, managerA, `insert into public.proxmox_servers (tenant_id, name, host, password, api_token_secret)
		values ($1, 'legacy', 'legacy.acme.test', 'hunter2-password', 'token-secret-xyz')`, tenantA)
	mustAs(t, db, managerA, `update public.proxmox_servers set password = 'hunter3-password' where name = 'legacy'`)
	mustAs(t, db, managerA, `update public.proxmox_servers set name = 'legacy2', password = 'hunter4-password' where name = 'legacy'`)
	if n := scalar[int64](t, db, `select count(*) from public.audit_log where id > $1`, since); n != 2 {
		t.Fatalf("%d rows, want created and renamed (a secret-only change is no news)", n)
	}
	if n := scalar[int64](t, db, `select count(*) from public.audit_log
		where coalesce(before::text, '') || coalesce(after::text, '') ~ '(hunter|token-secret|password|api_token_secret)'`); n != 0 {
		t.Fatalf("%d audit rows hold a secret", n)
	}
	// The sealed credentials never reach it either.
	if n := scalar[int64](t, db, `select count(*) from public.audit_log where coalesce(after::text, '') ~* '(deadbeef|sealed)'`); n != 0 {
		t.Fatalf("%d audit rows hold sealed credentials", n)
	}
}

func TestAuditTrailIsReadOnly(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	mustAs(t, db, adminA, `update public.tenants set name = 'ACME Inc' where id = $1`, tenantA)
	all := scalar[int64](t, db, `select count(*) from public.audit_log`)
	inA := scalar[int64](t, db, `select count(*) from public.audit_log where tenant_id = $1`, tenantA)
	inB := scalar[int64](t, db, `select count(*) from public.audit_log where tenant_id = $1`, tenantB)
	const read = `select * from public.audit_log`
	runCases(t, db, []rlsCase{
		// Reading: tenant admins their tenant's rows, system admins all.
		{"anon reads", anon, read, nil, 0, "42501"},
		{"no role reads", nobody, read, nil, 0, ""},
		{"viewer reads", viewerA, read, nil, 0, ""},
		{"manager reads", managerA, read, nil, 0, ""},
		{"admin reads", adminA, read, nil, inA, ""},
		{"admin of B reads", adminB, read, nil, inB, ""},
		{"admin of B reads A's rows by tenant", adminB, read + ` where tenant_id = $1`, []any{tenantA}, 0, ""},
		{"system admin reads", sysAdmin, read, nil, all, ""},
	})
	// Nobody edits: every API role is refused every write.
	writes := []string{
		`insert into public.audit_log (tenant_id, action, target_type) values ('` + tenantA + `', 'member.added', 'member')`,
		`update public.audit_log set action = 'nothing'`,
		`delete from public.audit_log`,
		`truncate public.audit_log`,
		`select nextval(pg_get_serial_sequence('public.audit_log', 'id'))`,
	}
	for _, w := range writes {
		for _, c := range []struct{ role, user string }{
			{"anon", ""}, {"authenticated", viewerA}, {"authenticated", adminA}, {"authenticated", sysAdmin}, {"service_role", ""},
		} {
			if o := asRole(t, db, c.role, c.user, w); o.code != "42501" {
				t.Errorf("%s %s: %s: rows=%d err=%v, want 42501", c.role, c.user, w, o.rows, o.err)
			}
		}
	}
	// Not even the table owner rewrites history.
	for _, w := range writes[1:4] {
		if _, err := db.Pool.Exec(context.Background(), w); err == nil || fail(err).code != "42501" {
			t.Errorf("owner: %s: %v", w, err)
		}
	}
	if n := scalar[int64](t, db, `select count(*) from public.audit_log`); n != all {
		t.Fatalf("audit rows %d -> %d", all, n)
	}
}

func TestGuestActionRecorder(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	const rec = `select private.record_guest_action($1, $2, 'pve1', 100, $3, $4, 'UPID:pve1:0001:qmstart:100:')`
	runCases(t, db, []rlsCase{
		{"anon", anon, rec, []any{tenantA, serverA, "qemu", "start"}, 0, "42501"},
		{"no role", nobody, rec, []any{tenantA, serverA, "qemu", "start"}, 0, "42501"},
		{"viewer", viewerA, rec, []any{tenantA, serverA, "qemu", "start"}, 0, "42501"},
		{"admin of B in A", adminB, rec, []any{tenantA, serverA, "qemu", "start"}, 0, "42501"},
		{"admin of B, A's server as B's", adminB, rec, []any{tenantB, serverA, "qemu", "start"}, 0, "42501"},
		{"manager, B's server as A's", managerA, rec, []any{tenantA, serverB, "qemu", "start"}, 0, "42501"},
		{"manager", managerA, rec, []any{tenantA, serverA, "qemu", "start"}, 1, ""},
		{"admin", adminA, rec, []any{tenantA, serverA, "lxc", "reboot"}, 1, ""},
		{"system admin", sysAdmin, rec, []any{tenantB, serverB, "qemu", "shutdown"}, 1, ""},
		{"unknown action", managerA, rec, []any{tenantA, serverA, "qemu", "destroy"}, 0, "22023"},
		{"unknown type", managerA, rec, []any{tenantA, serverA, "vm", "start"}, 0, "22023"},
	})
	// runCases rolls back; one committed, to read the row.
	since := lastAuditID(t, db)
	mustAs(t, db, managerA, rec, tenantA, serverA, "qemu", "stop")
	r := trailSince(t, db, since)
	if len(r) != 1 || r[0].String() != "guest.stop "+serverA+"/pve1/100 by "+managerA+" in "+tenantA ||
		r[0].After["upid"] != "UPID:pve1:0001:qmstart:100:" || r[0].After["vmid"] != float64(100) || r[0].Before != nil {
		t.Fatalf("guest row: %+v", r)
	}
}

// 0004 applies again over itself, as psql applies it, keeping every row.
func TestAuditMigrationIsIdempotent(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	before := scalar[int64](t, db, `select count(*) from public.audit_log`)
	psqlApply(t, db, "0004_tenant_admin_audit.sql")
	psqlApply(t, db, "0004_tenant_admin_audit.sql")
	if n := scalar[int64](t, db, `select count(*) from public.audit_log`); n != before {
		t.Fatalf("audit rows %d -> %d", before, n)
	}
	if n := scalar[int64](t, db, `select count(*) from pg_trigger where tgname = 'audit_change'`); n != 3 {
		t.Fatalf("%d audit triggers, want 3", n)
	}
	if n := scalar[int64](t, db, `select count(*) from pg_policies where tablename = 'audit_log'`); n != 1 {
		t.Fatalf("%d policies on audit_log, want the select policy only", n)
	}
	// And the trail still works.
	mustAs(t, db, adminA, `update public.tenants set name = 'ACME Inc' where id = $1`, tenantA)
	if n := scalar[int64](t, db, `select count(*) from public.audit_log`); n != before+1 {
		t.Fatalf("audit rows after a rename: %d, want %d", n, before+1)
	}
}
