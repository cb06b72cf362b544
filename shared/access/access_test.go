package access_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/db"
)

func TestMain(m *testing.M) { os.Exit(testdb.Run(m)) }

const (
	admin   = "00000000-0000-4000-8000-0000000000a1"
	viewer  = "00000000-0000-4000-8000-0000000000b1"
	sysadm  = "00000000-0000-4000-8000-0000000000c1"
	gone    = "00000000-0000-4000-8000-0000000000d1"
	tenantA = "aaaaaaaa-0000-4000-8000-000000000001"
	tenantB = "bbbbbbbb-0000-4000-8000-000000000002"
)

func caller(user string) db.Caller {
	c, _ := json.Marshal(map[string]string{"sub": user, "role": "authenticated", "aud": "authenticated"})
	return db.Caller{UserID: user, Claims: c}
}

// In and Check answer what the functions promise: 404 for a tenant the caller
// cannot see (whether or not it exists), 403 with the role table's sentence
// or the action's own, 401 for a deleted account, and fn runs only when the
// caller holds the requirement, as that caller (RLS applies inside).
func TestInAndCheck(t *testing.T) {
	d := testdb.Fresh(t)
	ctx := context.Background()
	for _, q := range []string{
		`insert into auth.users (id, email) values ('` + admin + `', 'a@x.test'), ('` + viewer + `', 'v@x.test'), ('` + sysadm + `', 's@x.test'), ('` + gone + `', 'g@x.test')`,
		`insert into public.tenants (id, name) values ('` + tenantA + `', 'A'), ('` + tenantB + `', 'B')`,
		`insert into public.user_tenant_assignments (user_id, tenant_id, role) values ('` + admin + `', '` + tenantA + `', 'admin'), ('` + viewer + `', '` + tenantA + `', 'viewer'), ('` + gone + `', '` + tenantA + `', 'admin')`,
		`insert into public.user_roles (user_id, role) values ('` + sysadm + `', 'admin')`,
		`update auth.users set deleted_at = now() where id = '` + gone + `'`,
	} {
		if _, err := d.Pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	// The functions' login (non-superuser postgres, as on Supabase).
	pool, err := db.Open(ctx, d.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	errRename := apperr.New(apperr.Forbidden, "Only an admin of this tenant can rename it.")
	cases := []struct {
		name   string
		user   string
		tenant string
		need   access.Requirement
		status int
		err    error // when set, the exact error
	}{
		{"admin manages members", admin, tenantA, access.ManageMembers, 200, nil},
		{"viewer views", viewer, tenantA, access.View, 200, nil},
		{"viewer may not control guests", viewer, tenantA, access.ControlGuests, 403, nil},
		{"own refusal", viewer, tenantA, access.ManageMembers.Or(errRename), 403, errRename},
		{"not a member", admin, tenantB, access.View, 404, access.ErrTenantNotFound},
		{"no such tenant", admin, "cccccccc-0000-4000-8000-000000000003", access.View, 404, access.ErrTenantNotFound},
		{"system admin without a role", sysadm, tenantB, access.DeleteServers, 200, nil},
		{"system admin only", admin, tenantA, access.SystemAdminOnly(errRename), 403, errRename},
		{"deleted account", gone, tenantA, access.View, 401, access.ErrUserDeleted},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ran, sawTenants := false, 0
			err := access.In(ctx, pool, caller(c.user), c.tenant, c.need, func(tx pgx.Tx, a access.Access) error {
				ran = true
				// fn runs as the caller: RLS shows a member only their tenants.
				return tx.QueryRow(ctx, `select count(*) from public.tenants`).Scan(&sawTenants)
			})
			_, checkErr := access.Check(ctx, pool, caller(c.user), c.tenant, c.need)
			for what, e := range map[string]error{"In": err, "Check": checkErr} {
				status, _, _ := apperr.Public(e)
				if e == nil {
					status = 200
				}
				if status != c.status || (c.err != nil && !errors.Is(e, c.err)) {
					t.Errorf("%s: %d %v, want %d %v", what, status, e, c.status, c.err)
				}
			}
			if ran != (c.status == 200) {
				t.Errorf("fn ran: %v, want %v", ran, c.status == 200)
			}
			if ran && c.user == admin && sawTenants != 1 {
				t.Errorf("fn saw %d tenants as a member of one: not run as the caller", sawTenants)
			}
		})
	}
}
