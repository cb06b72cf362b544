// Package tenants is the `tenants` function: tenants and their members. Every
// query runs as the caller (db.AsUser), so RLS is the guard; access.Load only
// turns what RLS would silently filter into a clear 404 or 403. Where a
// question must look past the caller's RLS (finding a person by email), small
// SECURITY DEFINER functions in `private` answer it and check their caller.
package tenants

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/db"
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
	d       *setup.Deps
	inviter inviter // nil when invitations are not configured
}

// New returns the function's HTTP handler.
func New(d *setup.Deps) http.Handler {
	h := &handler{d: d, inviter: newInviter(d.Config.SupabaseURL, d.Config.ServiceRoleKey)}
	return d.Server.Handler(httpapi.Function{
		Name: Name,
		Actions: map[string]httpapi.Action{
			"list":             h.list,
			"get":              h.get,
			"create":           h.create,
			"update":           h.update,
			"delete":           h.delete,
			"list-users":       h.listUsers,
			"assign-user":      h.assignUser,
			"update-user-role": h.updateUserRole,
			"remove-user":      h.removeUser,
			"lookup-users":     h.lookupUsers,
			"my-permissions":   h.myPermissions,
			"list-audit":       h.listAudit,
		},
		// Only reading is implied: creating or deleting a tenant must be named.
		ByMethod: map[string]string{http.MethodGet: "list", http.MethodPost: "list"},
	})
}

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

// $1 is the caller.
const tenantColumns = `t.id::text, t.name, t.slug, t.description, t.is_active, t.created_at, t.updated_at,
	(select a.role::text from public.user_tenant_assignments a where a.tenant_id = t.id and a.user_id = $1)`

func scanTenant(row pgx.CollectableRow) (Tenant, error) {
	var t Tenant
	err := row.Scan(&t.ID, &t.Name, &t.Slug, &t.Description, &t.IsActive, &t.CreatedAt, &t.UpdatedAt, &t.Role)
	return t, err
}

func fetchTenant(ctx context.Context, tx pgx.Tx, caller, id string) (Tenant, error) {
	rows, err := tx.Query(ctx, `select `+tenantColumns+` from public.tenants t where t.id = $2`, caller, id)
	if err != nil {
		return Tenant{}, err
	}
	t, err := pgx.CollectExactlyOneRow(rows, scanTenant)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, access.ErrTenantNotFound
	}
	return t, err
}

func bad(msg string) error { return apperr.New(apperr.Invalid, msg) }

// pgCode is the SQLSTATE of a database error, "" for anything else.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func (h *handler) list(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	var tenants []Tenant
	err := db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		// RLS decides which rows: a member's tenants, every tenant for a system admin.
		var err error
		tenants, err = db.List(ctx, tx, scanTenant, `select `+tenantColumns+` from public.tenants t order by lower(t.name), t.id`, r.Caller.UserID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return httpapi.OK(map[string]any{"tenants": tenants}), nil
}

func (h *handler) get(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	tenantID, err := r.Params.RequiredUUID("tenantId")
	if err != nil {
		return nil, err
	}
	var t Tenant
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		if _, err := access.Load(ctx, tx, r.Caller.UserID, tenantID); err != nil {
			return err
		}
		t, err = fetchTenant(ctx, tx, r.Caller.UserID, tenantID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return httpapi.OK(map[string]any{"tenant": t}), nil
}

// tenantFields are the editable columns; nil means "not given".
type tenantFields struct {
	name, slug, description *string
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func parseTenantFields(p httpapi.Params) (tenantFields, error) {
	var f tenantFields
	if p.Has("name") {
		name, ok, err := p.OptionalString("name", 100)
		if err != nil {
			return f, err
		}
		if !ok {
			return f, bad("name must not be empty.")
		}
		f.name = &name
	}
	if p.Has("slug") {
		slug, ok, err := p.OptionalString("slug", 63)
		if err != nil {
			return f, err
		}
		if ok && !slugPattern.MatchString(slug) {
			return f, bad("slug may hold only lowercase letters, digits and single hyphens between them (e.g. acme-corp).")
		}
		f.slug = &slug // "" clears it
	}
	if p.Has("description") {
		d, _, err := p.OptionalString("description", 500)
		if err != nil {
			return f, err
		}
		f.description = &d // "" clears it
	}
	return f, nil
}

var (
	errSlugTaken    = apperr.New(apperr.Conflict, "Another tenant already uses that slug. Choose another one.").WithCode("slug_taken")
	errCannotRename = apperr.New(apperr.Forbidden, "Only an admin of this tenant can rename it or change its details.")
)

func (h *handler) create(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	f, err := parseTenantFields(r.Params)
	if err != nil {
		return nil, err
	}
	if f.name == nil {
		return nil, bad("name is required.")
	}
	// A tenant never starts without an admin: the named user, else the caller.
	adminID, named, err := r.Params.OptionalUUID("adminUserId")
	if err != nil {
		return nil, err
	}
	if !named {
		adminID = r.Caller.UserID
	}
	var t Tenant
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		var sysAdmin bool
		if err := tx.QueryRow(ctx, `select public.has_role($1, 'admin')`, r.Caller.UserID).Scan(&sysAdmin); err != nil {
			return err
		}
		if !sysAdmin {
			return apperr.New(apperr.Forbidden, "Only a system admin can create a tenant.")
		}
		var id string
		err := tx.QueryRow(ctx, `insert into public.tenants (name, slug, description, created_by)
			values ($1, nullif($2, ''), nullif($3, ''), $4) returning id::text`,
			*f.name, deref(f.slug), deref(f.description), r.Caller.UserID).Scan(&id)
		if pgCode(err) == "23505" {
			return errSlugTaken
		}
		if err != nil {
			return err
		}
		r.SetTenant(id)
		_, err = tx.Exec(ctx, `insert into public.user_tenant_assignments (user_id, tenant_id, role) values ($1, $2, 'admin')`, adminID, id)
		if pgCode(err) == "23503" {
			return apperr.New(apperr.NotFound, "No user has the id given as adminUserId.").WithCode("user_not_found")
		}
		if err != nil {
			return err
		}
		t, err = fetchTenant(ctx, tx, r.Caller.UserID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	r.Log.Info("tenant created", "tenant", t.ID, "admin", adminID)
	return httpapi.Created(map[string]any{"tenant": t}), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func (h *handler) update(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	tenantID, err := r.Params.RequiredUUID("tenantId")
	if err != nil {
		return nil, err
	}
	f, err := parseTenantFields(r.Params)
	if err != nil {
		return nil, err
	}
	// An empty slug or description clears it; name is never empty (parseTenantFields).
	set, args := []string{}, []any{tenantID}
	add := func(col string, v *string) {
		if v != nil {
			args = append(args, *v)
			set = append(set, col+" = nullif($"+strconv.Itoa(len(args))+", '')")
		}
	}
	add("name", f.name)
	add("slug", f.slug)
	add("description", f.description)
	if len(set) == 0 {
		return nil, bad("Nothing to update: give name, slug or description.")
	}
	var t Tenant
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		a, err := access.Load(ctx, tx, r.Caller.UserID, tenantID)
		if err != nil {
			return err
		}
		if !a.Can(access.ManageMembers) {
			return errCannotRename
		}
		tag, err := tx.Exec(ctx, `update public.tenants set `+strings.Join(set, ", ")+` where id = $1`, args...)
		if pgCode(err) == "23505" {
			return errSlugTaken
		}
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return errCannotRename
		}
		t, err = fetchTenant(ctx, tx, r.Caller.UserID, tenantID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return httpapi.OK(map[string]any{"tenant": t}), nil
}

func errHasServers(n int) error {
	what := "servers"
	if n == 1 {
		what = "server"
	}
	msg := "This tenant still has servers. Delete them or move them to another tenant first."
	if n > 0 {
		msg = "This tenant still has " + strconv.Itoa(n) + " " + what + ". Delete them or move them to another tenant first."
	}
	return apperr.New(apperr.Conflict, msg).WithCode("tenant_has_servers")
}

func (h *handler) delete(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	tenantID, err := r.Params.RequiredUUID("tenantId")
	if err != nil {
		return nil, err
	}
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		a, err := access.Load(ctx, tx, r.Caller.UserID, tenantID)
		if err != nil {
			return err
		}
		if !a.SystemAdmin {
			return apperr.New(apperr.Forbidden, "Only a system admin can delete a tenant.")
		}
		// Never a cascade: servers (and their sealed credentials) are deleted
		// or moved deliberately first. The foreign key (on delete restrict)
		// holds the line against a server added meanwhile.
		var n int
		if err := tx.QueryRow(ctx, `select count(*) from public.proxmox_servers where tenant_id = $1`, tenantID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return errHasServers(n)
		}
		tag, err := tx.Exec(ctx, `delete from public.tenants where id = $1`, tenantID)
		if pgCode(err) == "23503" {
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
	if err != nil {
		return nil, err
	}
	r.Log.Info("tenant deleted", "tenant", tenantID)
	return httpapi.OK(map[string]any{"deleted": true}), nil
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
func (h *handler) myPermissions(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	tenantID, err := r.Params.RequiredUUID("tenantId")
	if err != nil {
		return nil, err
	}
	p := Permissions{TenantID: tenantID}
	err = func() error { // one round trip, two statements (db.AsCaller)
		a, err := access.Load(ctx, db.AsCaller{Pool: h.d.Pool, Caller: r.DB()}, r.Caller.UserID, tenantID)
		p.IsSystemAdmin = a.SystemAdmin // Load sets it even when the tenant is not found
		if access.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if a.Role != "" {
			p.Role = &a.Role
		}
		p.CanView = a.Can(access.View)
		p.CanManageServers = a.Can(access.ManageServers)
		p.CanDeleteServers = a.Can(access.DeleteServers)
		p.CanManageUsers = a.Can(access.ManageMembers)
		p.CanControlVMs = a.Can(access.ControlGuests)
		return nil
	}()
	if err != nil {
		return nil, err
	}
	return httpapi.OK(p), nil
}
