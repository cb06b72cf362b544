// Package store is the tenants function's SQL: tenants, their members and
// their audit trail. Every statement runs as the caller (access.In, db.AsUser),
// so RLS is the guard; access only turns what RLS would silently filter into
// a clear 404 or 403. Where a question must look past the caller's RLS
// (finding a person by email), SECURITY DEFINER functions in `private`
// answer it and check their caller.
package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/db"
)

// Store reads and writes tenants as the caller.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Tenant is a row of public.tenants as the app sees it, with the caller's
// role in it (null for a system admin who is no member).
type Tenant struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Slug        *string   `json:"slug"`
	Description *string   `json:"description"`
	IsActive    bool      `json:"is_active"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Role        *string   `json:"role"`
}

// Details are a tenant's editable columns as a request gave them: nil is
// "not given"; an empty slug or description clears it.
type Details struct {
	Name, Slug, Description *string
}

// $1 is the caller.
const tenantColumns = `t.id::text, t.name, t.slug, t.description, t.is_active, t.created_at, t.updated_at,
	(select a.role::text from public.user_tenant_assignments a where a.tenant_id = t.id and a.user_id = $1)`

func scanTenant(row pgx.CollectableRow) (Tenant, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.Name, &t.Slug, &t.Description, &t.IsActive, &t.CreatedAt, &t.UpdatedAt, &t.Role)
	return t, err
}

func fetchTenant(ctx context.Context, tx pgx.Tx, caller, id string) (Tenant, error) {
	return one(ctx, tx, scanTenant, access.ErrTenantNotFound, `select `+tenantColumns+` from public.tenants t where t.id = $2`, caller, id)
}

// one reads the single row sql finds; none is notFound.
func one[T any](ctx context.Context, tx pgx.Tx, scan pgx.RowToFunc[T], notFound error, sql string, args ...any) (T, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := pgx.CollectExactlyOneRow(rows, scan)
	if errors.Is(err, pgx.ErrNoRows) {
		return v, notFound
	}
	return v, err
}

// Tenants lists the caller's tenants by name, in one round trip: RLS
// decides which rows (a member's tenants, every tenant for a system admin).
func (s *Store) Tenants(ctx context.Context, c db.Caller) ([]Tenant, error) {
	return db.ListAsUser(ctx, s.pool, c, scanTenant, `select `+tenantColumns+` from public.tenants t order by lower(t.name), t.id`, c.UserID)
}

// Tenant is one tenant the caller may see.
func (s *Store) Tenant(ctx context.Context, c db.Caller, tenantID string) (t Tenant, err error) {
	err = access.In(ctx, s.pool, c, tenantID, access.View, func(tx pgx.Tx, _ access.Access) error {
		t, err = fetchTenant(ctx, tx, c.UserID, tenantID)
		return err
	})
	return t, err
}

// NewTenant is a tenant to create with its first admin. An empty slug or
// description is none.
type NewTenant struct {
	Name, Slug, Description, AdminID string
}

// Create makes a tenant (system admins only) with its first admin, in one
// transaction: an unknown admin leaves no tenant behind.
func (s *Store) Create(ctx context.Context, c db.Caller, n NewTenant) (t Tenant, err error) {
	err = db.AsUser(ctx, s.pool, c, func(tx pgx.Tx) error {
		// No tenant to load a standing in: the system admin role is asked directly.
		var sysAdmin bool
		if err := tx.QueryRow(ctx, `select public.has_role($1, 'admin')`, c.UserID).Scan(&sysAdmin); err != nil {
			return err
		}
		if !sysAdmin {
			return errCreateNeedsSysAdm
		}
		var id string
		err := tx.QueryRow(ctx, `insert into public.tenants (name, slug, description, created_by)
			values ($1, nullif($2, ''), nullif($3, ''), $4) returning id::text`,
			n.Name, n.Slug, n.Description, c.UserID).Scan(&id)
		if db.SQLState(err) == db.UniqueViolation {
			return errSlugTaken
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, 'admin')`, n.AdminID, id)
		if db.SQLState(err) == db.ForeignKeyViolation {
			return errNoSuchAdmin
		}
		if err != nil {
			return err
		}
		t, err = fetchTenant(ctx, tx, c.UserID, id)
		return err
	})
	return t, err
}

// Update writes the given details (tenant admins and system admins only).
// An empty slug or description clears it; the caller never gives an empty
// name.
func (s *Store) Update(ctx context.Context, c db.Caller, tenantID string, d Details) (t Tenant, err error) {
	set, args := []string{}, []any{tenantID}
	add := func(col string, v *string) {
		if v != nil {
			args = append(args, *v)
			set = append(set, col+" = nullif($"+strconv.Itoa(len(args))+", '')")
		}
	}
	add("name", d.Name)
	add("slug", d.Slug)
	add("description", d.Description)
	err = access.In(ctx, s.pool, c, tenantID, access.ManageMembers.Or(errCannotRename), func(tx pgx.Tx, _ access.Access) error {
		tag, err := tx.Exec(ctx, `update public.tenants set `+strings.Join(set, ", ")+` where id = $1`, args...)
		if db.SQLState(err) == db.UniqueViolation {
			return errSlugTaken
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return errCannotRename // RLS let the caller see the tenant, not change it
		}
		t, err = fetchTenant(ctx, tx, c.UserID, tenantID)
		return err
	})
	return t, err
}

// Delete removes a tenant without servers (system admins only). Never a
// cascade: servers (and their sealed credentials) are deleted or moved
// deliberately first; the foreign key (on delete restrict) holds the line
// against a server added meanwhile.
func (s *Store) Delete(ctx context.Context, c db.Caller, tenantID string) error {
	return access.In(ctx, s.pool, c, tenantID, access.SystemAdminOnly(errDeleteNeedsSysAdm), func(tx pgx.Tx, _ access.Access) error {
		var n int
		if err := tx.QueryRow(ctx, `select count(*) from public.proxmox_servers where tenant_id = $1`, tenantID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errHasServers(n)
		}
		tag, err := tx.Exec(ctx, `delete from public.tenants where id = $1`, tenantID)
		if db.SQLState(err) == db.ForeignKeyViolation {
			return errHasServers(0)
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return access.ErrTenantNotFound
		}
		return nil
	})
}

// Standing is the caller's standing in tenantID, in one round trip of two
// statements (access.Check). A tenant the caller cannot see is not found,
// with SystemAdmin still set: it describes the caller, not the tenant.
func (s *Store) Standing(ctx context.Context, c db.Caller, tenantID string) (access.Access, error) {
	return access.Check(ctx, s.pool, c, tenantID, access.View)
}
