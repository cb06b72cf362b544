package migrations_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/infra/testdb"
)

// hitAs calls private.rate_limit_hit as user (role authenticated) and commits.
func hitAs(t testing.TB, db *testdb.DB, user, kind string, tenant *string, limit, windowSecs int) (allowed bool, retryMS int64) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		cj, _ := json.Marshal(map[string]any{"sub": user, "role": "authenticated"})
		if _, err := tx.Exec(ctx, `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, string(cj)); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `select allowed, retry_after_ms from private.rate_limit_hit($1, $2::uuid, $3, $4)`,
			kind, tenant, limit, windowSecs).Scan(&allowed, &retryMS)
	})
	if err != nil {
		t.Fatalf("rate_limit_hit as %s: %v", user, err)
	}
	return allowed, retryMS
}

// No client role reads or writes the limiter's table or calls its sweep;
// anon cannot spend a budget; nobody spends a tenant's budget but its members.
func TestRLSRateLimiter(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	hitAs(t, db, managerA, "probe", nil, 5, 60) // a row exists to be hidden
	const direct = `select * from private.rate_limit_windows`
	tA := tenantA
	runCases(t, db, []rlsCase{
		{"anon reads limiter", anon, direct, nil, 0, "42501"},
		{"viewer reads limiter", viewerA, direct, nil, 0, "42501"},
		{"manager reads limiter", managerA, direct, nil, 0, "42501"},
		{"admin reads limiter", adminA, direct, nil, 0, "42501"},
		{"system admin reads limiter", sysAdmin, direct, nil, 0, "42501"},
		{"manager resets limiter", managerA, `delete from private.rate_limit_windows`, nil, 0, "42501"},
		{"manager raises limiter", managerA, `update private.rate_limit_windows set hits = 0`, nil, 0, "42501"},
		{"manager writes limiter", managerA, `insert into private.rate_limit_windows (kind, scope, subject, window_start, expires_at) values ('probe', 'user', $1, now(), now())`, []any{managerA}, 0, "42501"},
		{"manager sweeps", managerA, `select private.rate_limit_cleanup()`, nil, 0, "42501"},
		{"anon hits", anon, `select * from private.rate_limit_hit('probe', null, 5, 60)`, nil, 0, "42501"},
		{"admin of B spends A's budget", adminB, `select * from private.rate_limit_hit('probe', $1::uuid, 5, 60)`, []any{tA}, 0, "42501"},
		{"viewer of A spends A's budget", viewerA, `select * from private.rate_limit_hit('probe', $1::uuid, 5, 60)`, []any{tA}, 1, ""},
		{"silly limit", managerA, `select * from private.rate_limit_hit('probe', null, 0, 60)`, nil, 0, "22023"},
	})
	// service_role (which bypasses RLS in Supabase) has no grant either.
	if o := asRole(t, db, "service_role", "", direct); o.code != "42501" {
		t.Fatalf("service_role reads the limiter: %+v", o)
	}
	off := scalar[bool](t, db, `select not (relrowsecurity and relforcerowsecurity) from pg_class where oid = 'private.rate_limit_windows'::regclass`)
	if off {
		t.Fatal("row level security is not forced on private.rate_limit_windows")
	}
	grants := scalar[int64](t, db, `select count(*) from information_schema.role_table_grants
		where table_schema = 'private' and table_name = 'rate_limit_windows' and grantee in ('anon', 'authenticated', 'service_role', 'PUBLIC')`)
	if grants != 0 {
		t.Fatalf("%d grants on the limiter table to client roles", grants)
	}
}

// The (N+1)th hit in the window is refused with a retry-after, per bucket:
// another user, another kind and the tenant scope each have their own count.
func TestRateLimitCounts(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	tA := tenantA
	for i := 0; i < 3; i++ {
		if ok, _ := hitAs(t, db, managerA, "probe", nil, 3, 3600); !ok {
			t.Fatalf("hit %d refused", i+1)
		}
	}
	ok, retry := hitAs(t, db, managerA, "probe", nil, 3, 3600)
	if ok || retry <= 0 || retry > 2*3600*1000 {
		t.Fatalf("4th hit: allowed=%v retry=%dms", ok, retry)
	}
	// A refused hit is not counted, and neither spends anyone else's budget.
	if n := scalar[int64](t, db, `select sum(hits) from private.rate_limit_windows where subject = $1`, managerA); n != 3 {
		t.Fatalf("%d hits stored, want 3", n)
	}
	if ok, _ := hitAs(t, db, adminA, "probe", nil, 3, 3600); !ok {
		t.Fatal("another user limited by manager's hits")
	}
	if ok, _ := hitAs(t, db, managerA, "power", nil, 3, 3600); !ok {
		t.Fatal("another kind limited by probe hits")
	}
	if ok, _ := hitAs(t, db, managerA, "probe", &tA, 3, 3600); !ok {
		t.Fatal("the tenant bucket limited by the user's hits")
	}
	// A hit in a transaction that rolls back is not counted.
	ctx := context.Background()
	tx, err := db.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cj, _ := json.Marshal(map[string]any{"sub": viewerA, "role": "authenticated"})
	if _, err := tx.Exec(ctx, `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, string(cj)); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `select * from private.rate_limit_hit('probe', null, 1, 3600)`); err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback(ctx)
	if ok, _ := hitAs(t, db, viewerA, "probe", nil, 1, 3600); !ok {
		t.Fatal("a rolled-back hit was counted")
	}
}

// Concurrent hits from many connections (as from many Lambda instances) on
// one bucket: exactly the limit gets through.
func TestRateLimitConcurrent(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, _ := hitAs(t, db, managerA, "probe", nil, 5, 3600); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 5 {
		t.Fatalf("%d of 12 concurrent hits allowed, want 5", allowed)
	}
}

// Waiting as long as the refusal says is enough: Retry-After is honest.
func TestRateLimitRetryAfterIsHonest(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	hitAs(t, db, managerA, "probe", nil, 2, 1)
	hitAs(t, db, managerA, "probe", nil, 2, 1)
	ok, retry := hitAs(t, db, managerA, "probe", nil, 2, 1)
	if ok {
		// The two hits straddled a one-second window edge enough to let a
		// third through: start again, now early in a window.
		hitAs(t, db, managerA, "probe", nil, 2, 1)
		ok, retry = hitAs(t, db, managerA, "probe", nil, 2, 1)
	}
	if ok || retry <= 0 || retry > 2000 {
		t.Fatalf("refusal: allowed=%v retry=%dms", ok, retry)
	}
	time.Sleep(time.Duration(retry) * time.Millisecond)
	if ok, r := hitAs(t, db, managerA, "probe", nil, 2, 1); !ok {
		t.Fatalf("refused again after waiting the %dms asked (now %dms)", retry, r)
	}
}

// The table stays bounded: a hit drops its bucket's stale windows, and the
// sweep removes everyone's expired ones.
func TestRateLimitCleanup(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	mustExec(t, db, `insert into private.rate_limit_windows (kind, scope, subject, window_start, hits, expires_at)
		select 'probe', 'user', gen_random_uuid(), now() - interval '2 hours', 1, now() - interval '1 hour' from generate_series(1, 50)`)
	mustExec(t, db, `insert into private.rate_limit_windows (kind, scope, subject, window_start, hits, expires_at)
		values ('probe', 'user', $1, now() - interval '3 hours', 7, now() - interval '1 hour')`, managerA)
	hitAs(t, db, managerA, "probe", nil, 5, 60)
	if n := scalar[int64](t, db, `select count(*) from private.rate_limit_windows where subject = $1`, managerA); n != 1 {
		t.Fatalf("manager has %d windows after a hit, want 1 (the stale one dropped)", n)
	}
	if n := scalar[int32](t, db, `select private.rate_limit_cleanup()`); n != 50 {
		t.Fatalf("sweep removed %d, want 50", n)
	}
	if n := scalar[int64](t, db, `select count(*) from private.rate_limit_windows`); n != 1 {
		t.Fatalf("%d windows left, want 1", n)
	}
}

// A connection test of an unsaved server is recorded for the tenant's admins
// by managers and admins only, and the row holds no credential.
func TestConnectionTestAudit(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	const rec = `select private.record_connection_test($1::uuid, '10.0.0.5', 8006, 'token', 'offline')`
	tA := tenantA
	if o := commitAs(t, db, viewerA, rec, tA); o.code != "42501" {
		t.Fatalf("viewer records: %+v", o)
	}
	if o := commitAs(t, db, adminB, rec, tA); o.code != "42501" {
		t.Fatalf("admin of B records in A: %+v", o)
	}
	if o := commitAs(t, db, managerA, `select private.record_connection_test($1::uuid, '10.0.0.5', 8006, 'token', 'Offline; drop')`, tA); o.code != "22023" {
		t.Fatalf("free-text outcome: %+v", o)
	}
	mustAs(t, db, managerA, rec, tA)
	const read = `select * from public.audit_log where action = 'server.tested'`
	runCases(t, db, []rlsCase{
		{"admin of A reads tests", adminA, read, nil, 1, ""},
		{"manager of A reads tests", managerA, read, nil, 0, ""},
		{"admin of B reads tests", adminB, read, nil, 0, ""},
	})
	after := scalar[string](t, db, `select after::text from public.audit_log where action = 'server.tested'`)
	var m map[string]any
	_ = json.Unmarshal([]byte(after), &m)
	if m["host"] != "10.0.0.5" || m["port"] != float64(8006) || m["outcome"] != "offline" || m["auth_type"] != "token" || len(m) != 4 {
		t.Fatalf("recorded %s", after)
	}
	if actor := scalar[string](t, db, `select actor_id::text from public.audit_log where action = 'server.tested'`); !strings.EqualFold(actor, managerA) {
		t.Fatalf("actor %s", actor)
	}
}

// 0008 applies again over itself, in one transaction as psql -1 would, and
// keeps the counts it holds.
func TestProbeLimitsMigrationIsIdempotent(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	hitAs(t, db, managerA, "probe", nil, 5, 3600)
	psqlApply(t, db, "0008_probe_limits.sql")
	psqlApply(t, db, "0008_probe_limits.sql")
	if n := scalar[int64](t, db, `select coalesce(sum(hits), 0) from private.rate_limit_windows`); n != 1 {
		t.Fatalf("%d hits after re-applying, want 1", n)
	}
	if ok, _ := hitAs(t, db, managerA, "probe", nil, 5, 3600); !ok {
		t.Fatal("limiter broken after re-applying")
	}
}

// What a limit adds to a request: one committed transaction as the caller
// with a hit, against the same transaction without it.
func BenchmarkRateLimitHit(b *testing.B) {
	db := testdb.Fresh(b) // a user's own bucket needs no membership
	ctx := context.Background()
	cj, _ := json.Marshal(map[string]any{"sub": managerA, "role": "authenticated"})
	run := func(b *testing.B, withHit bool) {
		for i := 0; i < b.N; i++ {
			err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, `select set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, string(cj)); err != nil {
					return err
				}
				if !withHit {
					return nil
				}
				var ok bool
				var ms int64
				return tx.QueryRow(ctx, `select allowed, retry_after_ms from private.rate_limit_hit('probe', null, 1000000, 3600)`).Scan(&ok, &ms)
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("without", func(b *testing.B) { run(b, false) })
	b.Run("with-hit", func(b *testing.B) { run(b, true) })
}
