// Package tenants is the `tenants` function: tenants and their members.
// Handlers parse a typed request (api.go), call the store (SQL as the
// caller, package store) or Supabase Auth (invite.go), and answer a typed
// answer.
package tenants

import (
	"context"
	"net/http"

	"github.com/pvetenant/backend/functions/tenants/store"
	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/setup"
)

// Name is the function's name in URLs.
const Name = "tenants"

// Needs lists the settings the function cannot start without. The service
// role key is optional (without it an unknown email is 404 instead of an
// invitation), but this is the one function that may receive it.
var Needs = setup.Needs{Database: true, MayReceiveServiceRoleKey: true}

type handler struct {
	store   *store.Store
	inviter inviter // nil when invitations are not configured
}

// New returns the function's HTTP handler.
func New(d *setup.Deps) http.Handler {
	h := &handler{store: store.New(d.Pool), inviter: newInviter(d.Config.SupabaseURL, d.Config.ServiceRoleKey)}
	return d.Server.Handler(h.function())
}

// Describe is the function's operations with their request and answer types,
// from which infra/openapi generates the document: the same list New serves.
func Describe() httpapi.Function { return (*handler)(nil).function() }

func (h *handler) function() httpapi.Function {
	return httpapi.Function{
		Name: Name,
		Operations: []httpapi.Operation{
			httpapi.Get("list", "Tenants the caller belongs to (all, for a system admin)", h.list),
			httpapi.Get("get", "One tenant", h.get),
			httpapi.Create("create", "Create a tenant (system admin)", h.create),
			httpapi.Op("update", http.StatusOK, "Rename or describe a tenant (tenant admin)", h.update),
			httpapi.Op("delete", http.StatusOK, "Delete a tenant without servers (system admin)", h.delete),
			httpapi.Get("list-users", "Members with their profiles", h.listUsers),
			httpapi.Create("assign-user", "Add a member by id or email (invites unknown addresses)", h.assignUser),
			httpapi.Op("update-user-role", http.StatusOK, "Change a member's role", h.updateUserRole),
			httpapi.Op("remove-user", http.StatusOK, "Remove a member (or leave)", h.removeUser),
			httpapi.Get("lookup-users", "Find people by email to add", h.lookupUsers),
			httpapi.Get("my-permissions", "What the caller may do in a tenant", h.myPermissions),
			httpapi.Get("list-audit", "The tenant's audit trail, newest first (admin)", h.listAudit),
		},
		// Only reading is implied: creating or deleting a tenant must be named.
		ByMethod: map[string]string{http.MethodGet: "list", http.MethodPost: "list"},
	}
}

func (h *handler) list(ctx context.Context, r *httpapi.Request, _ httpapi.NoParams) (TenantsAnswer, error) {
	tenants, err := h.store.Tenants(ctx, r.DB())
	return TenantsAnswer{Tenants: tenants}, err
}

func (h *handler) get(ctx context.Context, r *httpapi.Request, q httpapi.TenantRef) (TenantAnswer, error) {
	t, err := h.store.Tenant(ctx, r.DB(), q.TenantID)
	return TenantAnswer{Tenant: t}, err
}

func (h *handler) create(ctx context.Context, r *httpapi.Request, q CreateTenantRequest) (TenantAnswer, error) {
	// A tenant never starts without an admin: the named user, else the caller.
	adminID := q.AdminUserID
	if adminID == "" {
		adminID = r.Caller.UserID
	}
	t, err := h.store.Create(ctx, r.DB(), store.NewTenant{Name: q.Name, Slug: q.Slug, Description: q.Description, AdminID: adminID})
	if err != nil {
		return TenantAnswer{}, err
	}
	r.SetTenant(t.ID)
	r.Log.Info("tenant created", "tenant", t.ID, "admin", adminID)
	return TenantAnswer{Tenant: t}, nil
}

func (h *handler) update(ctx context.Context, r *httpapi.Request, q UpdateTenantRequest) (TenantAnswer, error) {
	t, err := h.store.Update(ctx, r.DB(), q.TenantID, q.changes)
	return TenantAnswer{Tenant: t}, err
}

func (h *handler) delete(ctx context.Context, r *httpapi.Request, q httpapi.TenantRef) (httpapi.DeletedAnswer, error) {
	if err := h.store.Delete(ctx, r.DB(), q.TenantID); err != nil {
		return httpapi.DeletedAnswer{}, err
	}
	r.Log.Info("tenant deleted", "tenant", q.TenantID)
	return httpapi.DeletedAnswer{Deleted: true}, nil
}

// Permissions answers my-permissions.
type Permissions struct {
	TenantID         string  `json:"tenantId"`
	Role             *string `json:"role"`
	IsSystemAdmin    bool    `json:"isSystemAdmin"`
	CanView          bool    `json:"canView"`
	CanManageServers bool    `json:"canManageServers"`
	CanDeleteServers bool    `json:"canDeleteServers"`
	CanManageUsers   bool    `json:"canManageUsers"`
	CanControlVMs    bool    `json:"canControlVms"`
}

// myPermissions answers 200 for any tenant id. For a tenant the caller has no
// role in, and for one that does not exist, the answer is the same (role null,
// every right false), so it tells nobody whether a tenant exists.
// isSystemAdmin describes the caller, not the tenant.
func (h *handler) myPermissions(ctx context.Context, r *httpapi.Request, q httpapi.TenantRef) (Permissions, error) {
	p := Permissions{TenantID: q.TenantID}
	a, err := h.store.Standing(ctx, r.DB(), q.TenantID)
	p.IsSystemAdmin = a.SystemAdmin // set even when the tenant is not found
	if access.IsNotFound(err) {
		return p, nil
	}
	if err != nil {
		return Permissions{}, err
	}
	if a.Role != "" {
		p.Role = &a.Role
	}
	p.CanView = a.Can(access.View)
	p.CanManageServers = a.Can(access.ManageServers)
	p.CanDeleteServers = a.Can(access.DeleteServers)
	p.CanManageUsers = a.Can(access.ManageMembers)
	p.CanControlVMs = a.Can(access.ControlGuests)
	return p, nil
}
