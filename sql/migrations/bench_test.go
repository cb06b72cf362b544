package migrations_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/infra/testdb"
)

// bigTenants fills a database with 10,000 tenants, one admin each, and
// 100,000 servers (ten a tenant), and returns one member and their tenant.
func bigTenants(tb testing.TB) (db *testdb.DB, member, tenant string) {
	tb.Helper()
	db = testdb.Fresh(tb)
	mustExec(tb, db, `insert into auth.users (id, email)
		select ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'user' || i || '@big.test'
		from generate_series(1, 10000) i`)
	mustExec(tb, db, `insert into public.tenants (id, name)
		select ('11111111-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'Tenant ' || i
		from generate_series(1, 10000) i`)
	mustExec(tb, db, `insert into public.user_tenant_assignments (user_id, tenant_id, role)
		select ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid,
		       ('11111111-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'admin'
		from generate_series(1, 10000) i`)
	mustExec(tb, db, `insert into public.proxmox_servers (tenant_id, name, host, created_at)
		select ('11111111-0000-4000-8000-' || lpad(to_hex(1 + i % 10000), 12, '0'))::uuid,
		       'pve-' || i, 'pve-' || i || '.big.test', now() - i * interval '1 second'
		from generate_series(0, 99999) i`)
	mustExec(tb, db, `analyze`)
	return db, "00000000-0000-4000-8000-" + "000000001388", "11111111-0000-4000-8000-" + "000000001388" // user and tenant 5000
}

const listServers = `select id, tenant_id, name, host, port, verify_ssl, is_active, created_at
	from public.proxmox_servers where tenant_id = $1 order by created_at desc`

// BenchmarkListServersRLS lists one member's ten servers among 100,000, as
// that member under RLS (what the functions do) and as the table owner
// without RLS. Both run the same transaction shape (begin, set_config, query,
// commit), so the difference is the policies' cost. The README reports both
// and their ratio (scripts/bench-rls.sh).
func BenchmarkListServersRLS(b *testing.B) {
	db, member, tenant := bigTenants(b)
	ctx := context.Background()
	// A system admin reaches every tenant through the same policies.
	const sysAdmin = "00000000-0000-4000-8000-00000000aaaa"
	mustExec(b, db, `insert into auth.users (id, email) values ($1, 'root@big.test')`, sysAdmin)
	mustExec(b, db, `insert into public.user_roles (user_id, role) values ($1, 'admin')`, sysAdmin)
	claims, _ := json.Marshal(map[string]string{"sub": member, "role": "authenticated"})
	run := func(b *testing.B, role string) {
		for i := 0; i < b.N; i++ {
			n := 0
			err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `select set_config('role', $1, true), set_config('request.jwt.claims', $2, true)`, role, string(claims)); err != nil {
					return err
				}
				rows, err := tx.Query(ctx, listServers, tenant)
				if err != nil {
					return err
				}
				for rows.Next() {
					n++
				}
				return rows.Err()
			})
			if err != nil || n != 10 {
				b.Fatalf("got %d servers, err %v", n, err)
			}
		}
	}
	b.Run("owner", func(b *testing.B) { run(b, "postgres") })
	b.Run("rls", func(b *testing.B) { run(b, "authenticated") })
	b.Run("rls-system-admin", func(b *testing.B) {
		claims, _ = json.Marshal(map[string]string{"sub": sysAdmin, "role": "authenticated"})
		run(b, "authenticated")
	})
}

// The RLS query finds a tenant's servers through the index, not a scan of
// 100,000 rows, and the policy helpers run once per statement.
func TestListServersUsesIndexUnderRLS(t *testing.T) {
	db, member, tenant := bigTenants(t)
	ctx := context.Background()
	claims, _ := json.Marshal(map[string]string{"sub": member, "role": "authenticated"})
	var plan []string
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, string(claims)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "explain (analyze, costs off) "+listServers, tenant)
		if err != nil {
			return err
		}
		plan, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(plan, "\n")
	if !strings.Contains(text, "idx_proxmox_servers_tenant") || strings.Contains(text, "Seq Scan on proxmox_servers") {
		t.Fatalf("RLS listing does not use the tenant index:\n%s", text)
	}
	if !strings.Contains(text, "rows=10 ") {
		t.Fatalf("RLS listing did not return the member's 10 servers:\n%s", text)
	}
	t.Logf("plan:\n%s", text)
}
