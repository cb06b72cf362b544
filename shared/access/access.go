// Package access answers "what may this caller do in this tenant", as the
// caller, so the functions can give a clear 404 or 403 before RLS would
// silently filter a row away. RLS stays the real guard; this is for the errors.
package access

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/shared/apperr"
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
