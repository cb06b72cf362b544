package db_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/shared/db"
)

// visibleInOneRoundTrip is visible through ReadAsUser: set_config and the
// query pipelined before one Sync.
func visibleInOneRoundTrip(ctx context.Context, pool *pgxpool.Pool, user string) (uid string, tenants []string, err error) {
	err = db.ReadAsUser(ctx, pool, caller(user), func(rows pgx.Rows) error {
		if !rows.Next() {
			return fmt.Errorf("no row")
		}
		return rows.Scan(&uid, &tenants)
	}, `select auth.uid()::text, array(select name from public.tenants where name <> $1 order by name)`, "nothing")
	return
}

func TestReadAsUserIsTheCallerAndOnlyForTheStatement(t *testing.T) {
	d := testdb.Fresh(t)
	seed(t, d)
	ctx := context.Background()
	pool, err := db.Open(ctx, d.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	uid, tenants, err := visibleInOneRoundTrip(ctx, pool, userB)
	if err != nil || uid != userB || fmt.Sprint(tenants) != "[B]" {
		t.Fatalf("as B: uid=%s tenants=%v err=%v", uid, tenants, err)
	}
	var who, claims string
	if err := pool.QueryRow(ctx, `select current_user, coalesce(current_setting('request.jwt.claims', true), '')`).Scan(&who, &claims); err != nil || who != "postgres" || claims != "" {
		t.Fatalf("after: %s %q %v", who, claims, err)
	}
}

// Every pooled connection is cut by the server (what a crash, a failover or
// a pooler dropping idle connections does): the next request still succeeds,
// on a fresh connection, for a transaction (AsUser) and a read (ReadAsUser).
func TestRetriesOnceOnAFreshConnectionAfterTheServerCutConnections(t *testing.T) {
	d := testdb.Fresh(t)
	seed(t, d)
	ctx := context.Background()
	pool, err := db.Open(ctx, d.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	kill := func() {
		t.Helper()
		// Warm up to MaxConns connections, then cut them all.
		conns := make([]*pgxpool.Conn, 0, 4)
		for i := 0; i < 4; i++ {
			c, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Release()
		}
		var n int
		if err := d.Pool.QueryRow(ctx, `select count(pg_terminate_backend(pid)) from pg_stat_activity
			where datname = $1 and application_name = 'pvetenant-functions'`, d.Name).Scan(&n); err != nil || n == 0 {
			t.Fatalf("terminated %d: %v", n, err)
		}
	}
	for round := 0; round < 3; round++ {
		kill()
		if uid, _, err := visible(ctx, pool, userA); err != nil || uid != userA {
			t.Fatalf("AsUser after the cut: %q %v", uid, err)
		}
		kill()
		if uid, _, err := visibleInOneRoundTrip(ctx, pool, userA); err != nil || uid != userA {
			t.Fatalf("ReadAsUser after the cut: %q %v", uid, err)
		}
	}
}

// WriteAsUser (through WritesAsCaller) writes as the caller under RLS, in
// one round trip, and the write is committed while the caller's settings end
// with it.
func TestWriteAsUserIsTheCallerAndCommits(t *testing.T) {
	d := testdb.Fresh(t)
	seed(t, d)
	ctx := context.Background()
	pool, err := db.Open(ctx, d.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	rename := `update public.tenants set name = $2 where id = $1 returning auth.uid()::text`
	// B is no admin of A: RLS lets the update touch nothing.
	var uid string
	if err := (db.WritesAsCaller{Pool: pool, Caller: caller(userB)}).QueryRow(ctx, rename, tenantA, "by B").Scan(&uid); !errors.Is(err, pgx.ErrNoRows) {
		t.Fatalf("B renamed A: uid=%q err=%v", uid, err)
	}
	if err := (db.WritesAsCaller{Pool: pool, Caller: caller(userA)}).QueryRow(ctx, rename, tenantA, "A2").Scan(&uid); err != nil || uid != userA {
		t.Fatalf("A renaming A: uid=%q err=%v", uid, err)
	}
	var name string
	if err := d.Pool.QueryRow(ctx, `select name from public.tenants where id = $1`, tenantA).Scan(&name); err != nil || name != "A2" {
		t.Fatalf("name %q (%v), want the committed A2", name, err)
	}
	var who, claims string
	if err := pool.QueryRow(ctx, `select current_user, coalesce(current_setting('request.jwt.claims', true), '')`).Scan(&who, &claims); err != nil || who != "postgres" || claims != "" {
		t.Fatalf("after: %s %q %v", who, claims, err)
	}
}
