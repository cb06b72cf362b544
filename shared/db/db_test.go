package db_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/infra/pgbouncer"
	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/db"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

const (
	userA   = "00000000-0000-4000-8000-0000000000a1"
	userB   = "00000000-0000-4000-8000-0000000000b1"
	tenantA = "aaaaaaaa-0000-4000-8000-000000000001"
	tenantB = "bbbbbbbb-0000-4000-8000-000000000002"
)

func seed(t *testing.T, d *testdb.DB) {
	t.Helper()
	for _, q := range []string{
		`insert into auth.users (id, email) values ('` + userA + `', 'a@x.test'), ('` + userB + `', 'b@x.test')`,
		`insert into public.tenants (id, name) values ('` + tenantA + `', 'A'), ('` + tenantB + `', 'B')`,
		`insert into public.user_tenant_assignments (user_id, tenant_id, role) values ('` + userA + `', '` + tenantA + `', 'admin'), ('` + userB + `', '` + tenantB + `', 'viewer')`,
	} {
		if _, err := d.Pool.Exec(context.Background(), q); err != nil {
			t.Fatal(err)
		}
	}
}

func caller(user string) db.Caller {
	c, _ := json.Marshal(map[string]string{"sub": user, "role": "authenticated", "aud": "authenticated"})
	return db.Caller{UserID: user, Claims: c}
}

// visible returns what the caller sees: their uid as Postgres knows it and
// the names of the tenants RLS lets through, with a parameter in the query.
func visible(ctx context.Context, pool *pgxpool.Pool, user string) (uid string, tenants []string, err error) {
	err = db.AsUser(ctx, pool, caller(user), func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `select auth.uid()::text`).Scan(&uid); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `select name from public.tenants where name <> $1 order by name`, "nothing")
		if err != nil {
			return err
		}
		tenants, err = pgx.CollectRows(rows, pgx.RowTo[string])
		return err
	})
	return
}

func TestAsUserIsTheCallerAndOnlyForTheTransaction(t *testing.T) {
	d := testdb.Fresh(t)
	seed(t, d)
	ctx := context.Background()
	pool, err := db.Open(ctx, d.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	uid, tenants, err := visible(ctx, pool, userA)
	if err != nil || uid != userA || fmt.Sprint(tenants) != "[A]" {
		t.Fatalf("as A: uid=%s tenants=%v err=%v", uid, tenants, err)
	}
	// After the transaction the connection is the login role again, with no claims.
	var who, claims string
	if err := pool.QueryRow(ctx, `select current_user, coalesce(current_setting('request.jwt.claims', true), '')`).Scan(&who, &claims); err != nil {
		t.Fatal(err)
	}
	if who != "postgres" || claims != "" {
		t.Fatalf("role or claims outlived the transaction: %s %q", who, claims)
	}
	// The caller's error rolls back their writes.
	boom := errors.New("boom")
	err = db.AsUser(ctx, pool, caller(userA), func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `update public.tenants set name = 'changed' where id = $1`, tenantA); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error not passed through: %v", err)
	}
	if _, tenants, _ := visible(ctx, pool, userA); fmt.Sprint(tenants) != "[A]" {
		t.Fatalf("write survived a failed transaction: %v", tenants)
	}
}

func TestTranslateErrors(t *testing.T) {
	d := testdb.Fresh(t)
	seed(t, d)
	ctx := context.Background()
	pool, err := db.Open(ctx, d.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	run := func(user, sql string, args ...any) error {
		return db.AsUser(ctx, pool, caller(user), func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, sql, args...)
			return err
		})
	}
	cases := []struct {
		name string
		err  error
		kind apperr.Kind
		code string
	}{
		{"RLS refuses an insert", run(userB, `insert into public.proxmox_servers (tenant_id, name, host) values ($1, 'x', 'h')`, tenantB), apperr.Forbidden, "forbidden"},
		{"last admin", run(userA, `delete from public.user_tenant_assignments where user_id = $1`, userA), apperr.Conflict, "last_admin"},
		{"duplicate member", run(userA, `insert into public.user_tenant_assignments (user_id, tenant_id) select $1, $2 from generate_series(1, 2)`, userB, tenantA), apperr.Conflict, "conflict"},
		{"bad enum value", run(userA, `update public.user_tenant_assignments set role = $1 where user_id = $2`, "owner", userA), apperr.Invalid, "invalid_request"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var e *apperr.Error
			if !errors.As(c.err, &e) || e.Kind != c.kind || e.Code != c.code {
				t.Fatalf("got %v, want kind %d code %s", c.err, c.kind, c.code)
			}
		})
	}
	down, _ := db.Open(ctx, "postgres://postgres@127.0.0.1:1/x?sslmode=disable&connect_timeout=1")
	defer down.Close()
	err = db.AsUser(ctx, down, caller(userA), func(pgx.Tx) error { return nil })
	if apperr.KindOf(err) != apperr.Unavailable {
		t.Fatalf("database down: %v", err)
	}
}

// Through pgbouncer in transaction mode, server connections are shared
// between clients at every commit. The same queries must work (no named
// prepared statements) and no caller may ever see another's claims.
func TestThroughPgbouncerTransactionMode(t *testing.T) {
	d := testdb.Fresh(t)
	seed(t, d)
	ctx := context.Background()
	u, err := url.Parse(d.URL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	b, err := pgbouncer.Start(ctx, u.Hostname(), port, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	pool, err := db.Open(ctx, b.URL(d.Name))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	// 16 clients, 2 server connections: every server connection serves both users in turn.
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			user, want := userA, "[A]"
			if w%2 == 1 {
				user, want = userB, "[B]"
			}
			for i := 0; i < 25; i++ {
				see := visible
				if i%2 == 1 {
					see = visibleInOneRoundTrip
				}
				uid, tenants, err := see(ctx, pool, user)
				if err != nil {
					errs <- err
					return
				}
				if uid != user || fmt.Sprint(tenants) != want {
					errs <- fmt.Errorf("worker %d saw uid %s tenants %v, want %s %s", w, uid, tenants, user, want)
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var who string
	if err := pool.QueryRow(ctx, `select current_user`).Scan(&who); err != nil || who != "postgres" {
		t.Fatalf("role leaked past a transaction through the pooler: %s %v", who, err)
	}
}

// List answers an empty, non-nil slice for no rows, so JSON says [] not null.
func TestListNeverNil(t *testing.T) {
	d := testdb.Fresh(t)
	ctx := context.Background()
	pool, err := db.Open(ctx, d.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	err = db.AsUser(ctx, pool, caller(userA), func(tx pgx.Tx) error {
		names, err := db.List(ctx, tx, pgx.RowTo[string], `select name from public.tenants`)
		if err == nil && (names == nil || len(names) != 0) {
			t.Fatalf("no rows gave %#v", names)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// ListAsUser, in one round trip, answers [] too, and only the caller's rows.
func TestListAsUserNeverNilAndAsTheCaller(t *testing.T) {
	d := testdb.Fresh(t)
	ctx := context.Background()
	pool, err := db.Open(ctx, d.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	names, err := db.ListAsUser(ctx, pool, caller(userA), pgx.RowTo[string], `select name from public.tenants`)
	if err != nil || names == nil || len(names) != 0 {
		t.Fatalf("no rows gave %#v, %v", names, err)
	}
	seed(t, d)
	names, err = db.ListAsUser(ctx, pool, caller(userA), pgx.RowTo[string], `select name from public.tenants order by name`)
	if err != nil || len(names) != 1 || names[0] != "A" {
		t.Fatalf("user A sees %v, %v; want [A]", names, err)
	}
}
