package migrations_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pvetenant/backend/infra/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

// Fixed ids make failures readable.
const (
	tenantA = "aaaaaaaa-0000-4000-8000-000000000001"
	tenantB = "bbbbbbbb-0000-4000-8000-000000000002"
	serverA = "aaaaaaaa-5e77-4000-8000-000000000001"
	serverB = "bbbbbbbb-5e77-4000-8000-000000000002"

	sysAdmin = "00000000-0000-4000-8000-00000000000a"
	adminA   = "00000000-0000-4000-8000-0000000000a1"
	adminA2  = "00000000-0000-4000-8000-0000000000a2"
	managerA = "00000000-0000-4000-8000-0000000000a3"
	viewerA  = "00000000-0000-4000-8000-0000000000a4"
	adminB   = "00000000-0000-4000-8000-0000000000b1"
	viewerB  = "00000000-0000-4000-8000-0000000000b2"
	nobody   = "00000000-0000-4000-8000-0000000000ff"
	anon     = "" // the anon key: no user
)

// seed builds two tenants with members of every role and one server each,
// with credentials, as the superuser.
func seed(t *testing.T, db *testdb.DB, extraAdminA bool) {
	t.Helper()
	ctx := context.Background()
	users := map[string]string{
		sysAdmin: "root@example.com", adminA: "alice@acme.test", adminA2: "alan@acme.test",
		managerA: "mona@acme.test", viewerA: "victor@acme.test", adminB: "bob@globex.test",
		viewerB: "vera@globex.test", nobody: "nobody@example.com",
	}
	for id, email := range users {
		mustExec(t, db, `insert into auth.users (id, email, raw_user_meta_data) values ($1, $2::text, jsonb_build_object('full_name', $2::text))`, id, email)
	}
	mustExec(t, db, `insert into public.user_roles (user_id, role) values ($1, 'admin')`, sysAdmin)
	mustExec(t, db, `insert into public.tenants (id, name) values ($1, 'ACME Corp'), ($2, 'Globex')`, tenantA, tenantB)
	members := [][3]string{
		{adminA, tenantA, "admin"}, {managerA, tenantA, "manager"}, {viewerA, tenantA, "viewer"},
		{adminB, tenantB, "admin"}, {viewerB, tenantB, "viewer"},
	}
	if extraAdminA {
		members = append(members, [3]string{adminA2, tenantA, "admin"})
	}
	for _, m := range members {
		mustExec(t, db, `insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, $3)`, m[0], m[1], m[2])
	}
	mustExec(t, db, `insert into public.proxmox_servers (id, user_id, tenant_id, name, host, auth_type)
		values ($1, $2, $3, 'pve-a', 'pve-a.acme.test', 'token'), ($4, $5, $6, 'pve-b', 'pve-b.globex.test', 'token')`,
		serverA, adminA, tenantA, serverB, adminB, tenantB)
	mustExec(t, db, `insert into private.proxmox_server_credentials (server_id, auth_type, key_id, sealed)
		values ($1, 'token', 'k1', '\xdeadbeef'), ($2, 'token', 'k1', '\xfeedface')`, serverA, serverB)
	_ = ctx
}

func mustExec(t testing.TB, db *testdb.DB, sql string, args ...any) {
	t.Helper()
	if _, err := db.Pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// outcome of one statement run as someone.
type outcome struct {
	rows int64  // rows returned (select) or affected (insert/update/delete)
	code string // SQLSTATE when it failed
	err  error
}

// as runs sql as user (anon when user is ""), like PostgREST would, inside a
// transaction that is always rolled back.
func as(t testing.TB, db *testdb.DB, user string, sql string, args ...any) outcome {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	role, claims := "anon", map[string]any{"role": "anon"}
	if user != "" {
		role = "authenticated"
		claims = map[string]any{"sub": user, "role": "authenticated", "aud": "authenticated"}
	}
	cj, _ := json.Marshal(claims)
	if _, err := tx.Exec(ctx, `select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, role, string(cj)); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return fail(err)
	}
	var n int64
	for rows.Next() {
		n++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if tag := rows.CommandTag(); !tag.Select() {
		n = tag.RowsAffected()
	}
	return outcome{rows: n}
}

func fail(err error) outcome {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return outcome{code: pe.Code, err: err}
	}
	return outcome{code: "?", err: err}
}

func scalar[T any](t testing.TB, db *testdb.DB, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := db.Pool.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%q: %v", sql, err)
	}
	return v
}

var _ = pgx.ErrNoRows
