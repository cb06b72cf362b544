// Package access answers "what may this caller do in this tenant", as the
// caller, so the functions can give a clear 404 or 403 before RLS would
// silently filter a row away. RLS stays the real guard; this is for the errors.
package access

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/db"
)

// Permission is one line of the contract's role table.
type Permission int

const (
	View          Permission = iota // see the tenant, its servers, VMs, stats, members
	ManageServers                   // add/edit a server, test a connection
	ControlGuests                   // start/stop/shutdown/reboot a guest
	DeleteServers                   // delete a server
	ManageMembers                   // add/change/remove members, rename the tenant
)

var needs = map[Permission]struct {
	roles []string
	what  string
}{
	View:          {[]string{"admin", "manager", "viewer"}, "view this tenant"},
	ManageServers: {[]string{"admin", "manager"}, "manage this tenant's servers (managers and admins only)"},
	ControlGuests: {[]string{"admin", "manager"}, "start, stop or reboot guests in this tenant (managers and admins only)"},
	DeleteServers: {[]string{"admin"}, "delete this tenant's servers (admins only)"},
	ManageMembers: {[]string{"admin"}, "manage this tenant's members (admins only)"},
}

// Access is the caller's standing in one tenant.
type Access struct {
	TenantID    string
	Role        string // admin, manager, viewer, or "" for a system admin who is no member
	SystemAdmin bool
}

// Can reports whether the caller holds p.
func (a Access) Can(p Permission) bool {
	if a.SystemAdmin {
		return true
	}
	for _, r := range needs[p].roles {
		if a.Role == r {
			return true
		}
	}
	return false
}

// Require answers 403 with a sentence when the caller lacks p.
func (a Access) Require(p Permission) error {
	if a.Can(p) {
		return nil
	}
	return apperr.Newf(apperr.Forbidden, "Your role does not allow you to %s.", needs[p].what)
}

// Querier is what Load needs: a transaction running as the caller.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// ErrTenantNotFound is the answer for a tenant that does not exist or that
// the caller has no role in: the two are indistinguishable on purpose.
var ErrTenantNotFound = apperr.New(apperr.NotFound, "Tenant not found.").WithCode("tenant_not_found")

// ErrUserDeleted is the answer to a still-valid access token whose user was
// deleted (hard, or soft: deleted_at set) since it was issued: Supabase Auth
// does not revoke issued JWTs, so they verify until exp.
var ErrUserDeleted = apperr.New(apperr.Unauthorized, "Your account no longer exists. Sign in again, or ask to be invited.").WithCode("user_deleted")

// Load reads the caller's role in tenantID. A tenant the caller cannot see
// (no role, not a system admin) is not found; a caller whose account was
// deleted is 401 user_deleted (checked in the same round trip, 0006's
// private.caller_is_active).
func Load(ctx context.Context, q Querier, userID, tenantID string) (Access, error) {
	a := Access{TenantID: tenantID}
	var role *string
	var visible, active bool
	err := q.QueryRow(ctx, `
		select exists (select 1 from public.tenants where id = $1),
		       (select role::text from public.user_tenant_assignments where tenant_id = $1 and user_id = $2),
		       public.has_role($2, 'admin'),
		       private.caller_is_active()`, tenantID, userID).Scan(&visible, &role, &a.SystemAdmin, &active)
	if err != nil {
		return a, err
	}
	if !active {
		return a, ErrUserDeleted
	}
	if !visible {
		return a, ErrTenantNotFound
	}
	if role != nil {
		a.Role = *role
	}
	if a.Role == "" && !a.SystemAdmin {
		return a, ErrTenantNotFound
	}
	return a, nil
}

// IsNotFound reports whether err means "not found or not visible".
func IsNotFound(err error) bool {
	return apperr.KindOf(err) == apperr.NotFound || errors.Is(err, pgx.ErrNoRows)
}

// Requirement is what a caller must hold in a tenant: a Permission, a
// Permission with its own refusal (Or), or SystemAdminOnly.
type Requirement interface {
	check(Access) error
}

func (p Permission) check(a Access) error { return a.Require(p) }

// Or is p, refused with denied instead of the role table's sentence.
func (p Permission) Or(denied error) Requirement {
	return rule{func(a Access) bool { return a.Can(p) }, denied}
}

// SystemAdminOnly is held only by a system admin, refused with denied.
func SystemAdminOnly(denied error) Requirement {
	return rule{func(a Access) bool { return a.SystemAdmin }, denied}
}

type rule struct {
	holds  func(Access) bool
	denied error
}

func (r rule) check(a Access) error {
	if r.holds(a) {
		return nil
	}
	return r.denied
}

// In runs fn in one transaction as the caller (db.AsUser), in tenantID, once
// the caller holds need: a tenant the caller cannot see is 404, a missing
// permission 403, a deleted account 401, before fn runs. It is the one
// place a store says "in this tenant, with this permission, as this caller".
func In(ctx context.Context, pool *pgxpool.Pool, c db.Caller, tenantID string, need Requirement, fn func(tx pgx.Tx, a Access) error) error {
	return db.AsUser(ctx, pool, c, func(tx pgx.Tx) error {
		a, err := LoadFor(ctx, tx, c.UserID, tenantID, need)
		if err != nil {
			return err
		}
		return fn(tx, a)
	})
}

// Check reads the caller's standing in tenantID in one round trip
// (db.AsCaller) and refuses as In does, for work that needs no transaction
// afterwards (a Proxmox call, a cached read).
func Check(ctx context.Context, pool *pgxpool.Pool, c db.Caller, tenantID string, need Requirement) (Access, error) {
	return LoadFor(ctx, db.AsCaller{Pool: pool, Caller: c}, c.UserID, tenantID, need)
}

// LoadFor is Load, refused as In refuses when the caller does not hold need:
// the one check In, Check and a store's second tenant (moving a server)
// share.
func LoadFor(ctx context.Context, q Querier, userID, tenantID string, need Requirement) (Access, error) {
	a, err := Load(ctx, q, userID, tenantID)
	if err != nil {
		return a, err
	}
	return a, need.check(a)
}
