package tenants

import (
	"net/mail"
	"regexp"

	"github.com/pvetenant/backend/functions/tenants/store"
	"github.com/pvetenant/backend/shared/httpapi"
)

// Requests, each with its Parse: the one place the request is checked. A
// field without omitempty is required; a pointer may be null. Answers follow.

type TenantFields struct {
	Slug        string `json:"slug,omitempty" jsonschema:"maxLength=63,pattern=^([a-z0-9]+(-[a-z0-9]+)*)?$"`
	Description string `json:"description,omitempty" jsonschema:"maxLength=500"`
}

var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// parseDetails reads name, slug and description, each only when given (not
// null): create and update check them alike.
func parseDetails(p httpapi.Params) (store.Details, error) {
	var d store.Details
	if p.Has("name") {
		name, ok, err := p.OptionalString("name", 100)
		if err != nil {
			return d, err
		}
		if !ok {
			return d, errNameEmpty
		}
		d.Name = &name
	}
	if p.Has("slug") {
		slug, ok, err := p.OptionalString("slug", 63)
		if err != nil {
			return d, err
		}
		if ok && !slugPattern.MatchString(slug) {
			return d, errSlugForm
		}
		d.Slug = &slug // "" clears it
	}
	if p.Has("description") {
		desc, _, err := p.OptionalString("description", 500)
		if err != nil {
			return d, err
		}
		d.Description = &desc // "" clears it
	}
	return d, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

type CreateTenantRequest struct {
	Name        string `json:"name" jsonschema:"minLength=1,maxLength=100"`
	AdminUserID string `json:"adminUserId,omitempty" jsonschema:"format=uuid"`
	TenantFields
}

// Parse requires a name; adminUserId "" means the caller.
func (q *CreateTenantRequest) Parse(p httpapi.Params) error {
	d, err := parseDetails(p)
	if err != nil {
		return err
	}
	if d.Name == nil {
		return errNameRequired
	}
	q.Name, q.Slug, q.Description = *d.Name, deref(d.Slug), deref(d.Description)
	q.AdminUserID, _, err = p.OptionalUUID("adminUserId")
	return err
}

type UpdateTenantRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	Name     string `json:"name,omitempty" jsonschema:"minLength=1,maxLength=100"`
	TenantFields
	changes store.Details // what was given: only those columns are written
}

// Parse requires a tenant and at least one of name, slug and description.
func (q *UpdateTenantRequest) Parse(p httpapi.Params) (err error) {
	if q.TenantID, err = p.RequiredUUID("tenantId"); err != nil {
		return err
	}
	if q.changes, err = parseDetails(p); err != nil {
		return err
	}
	if q.changes == (store.Details{}) {
		return errNothingToWrite
	}
	q.Name, q.Slug, q.Description = deref(q.changes.Name), deref(q.changes.Slug), deref(q.changes.Description)
	return nil
}

var tenantRoles = []string{"admin", "manager", "viewer"}

type AssignUserRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	UserID   string `json:"userId,omitempty" jsonschema:"format=uuid,description=userId or email"`
	Email    string `json:"email,omitempty" jsonschema:"maxLength=254"`
	Role     string `json:"role" jsonschema:"enum=admin,enum=manager,enum=viewer"`
}

// Parse requires a tenant, a role, and userId or email (one of them).
func (q *AssignUserRequest) Parse(p httpapi.Params) (err error) {
	if q.TenantID, err = p.RequiredUUID("tenantId"); err != nil {
		return err
	}
	var byID, byEmail bool
	if q.UserID, byID, err = p.OptionalUUID("userId"); err != nil {
		return err
	}
	if q.Email, byEmail, err = p.OptionalString("email", 254); err != nil {
		return err
	}
	switch {
	case byID && byEmail:
		return errIDAndEmail
	case !byID && !byEmail:
		return errIDOrEmail
	case byEmail && !validEmail(q.Email):
		return errEmailForm
	}
	q.Role, err = p.OneOf("role", "", tenantRoles...)
	return err
}

func validEmail(s string) bool {
	addr, err := mail.ParseAddress(s)
	return err == nil && addr.Address == s
}

type UpdateUserRoleRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	UserID   string `json:"userId" jsonschema:"format=uuid"`
	Role     string `json:"role" jsonschema:"enum=admin,enum=manager,enum=viewer"`
}

// Parse requires a tenant, a member and a role.
func (q *UpdateUserRoleRequest) Parse(p httpapi.Params) (err error) {
	var ref UserRef
	if err = ref.Parse(p); err != nil {
		return err
	}
	q.TenantID, q.UserID = ref.TenantID, ref.UserID
	q.Role, err = p.OneOf("role", "", tenantRoles...)
	return err
}

type UserRef struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	UserID   string `json:"userId" jsonschema:"format=uuid"`
}

// Parse requires a tenant and a user.
func (q *UserRef) Parse(p httpapi.Params) (err error) {
	if q.TenantID, err = p.RequiredUUID("tenantId"); err != nil {
		return err
	}
	q.UserID, err = p.RequiredUUID("userId")
	return err
}

type LookupUsersRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	Query    string `json:"query" jsonschema:"minLength=3"`
}

// Parse requires a tenant and a query of 3 to 254 characters.
func (q *LookupUsersRequest) Parse(p httpapi.Params) (err error) {
	if q.TenantID, err = p.RequiredUUID("tenantId"); err != nil {
		return err
	}
	if q.Query, err = p.RequiredString("query", 254); err != nil {
		return err
	}
	if len([]rune(q.Query)) < 3 {
		return errQueryTooShort
	}
	return nil
}

type ListAuditRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	Limit    int    `json:"limit,omitempty" jsonschema:"minimum=1"`
	BeforeID int64  `json:"beforeId,omitempty"`
}

// Parse requires a tenant; limit is 1-200 (default 50), beforeId 0 when not
// paging.
func (q *ListAuditRequest) Parse(p httpapi.Params) (err error) {
	if q.TenantID, err = p.RequiredUUID("tenantId"); err != nil {
		return err
	}
	limit, given, err := p.OptionalInt("limit", 1, 200)
	if err != nil {
		return err
	}
	if !given {
		limit = 50
	}
	q.Limit = int(limit)
	q.BeforeID, _, err = p.OptionalInt("beforeId", 1, 1<<62)
	return err
}

type TenantsAnswer struct {
	Tenants []store.Tenant `json:"tenants"`
}

type TenantAnswer struct {
	Tenant store.Tenant `json:"tenant"`
}

type UsersAnswer struct {
	Users []store.Assignment `json:"users"`
}

type AssignmentAnswer struct {
	Assignment store.Assignment `json:"assignment"`
}

type AssignedAnswer struct {
	Assignment store.Assignment `json:"assignment"`
	Invited    bool             `json:"invited" jsonschema:"description=true when the address was unknown and Supabase Auth sent an invitation"`
}

type RemovedAnswer struct {
	Removed bool `json:"removed"`
}

type ProfilesAnswer struct {
	Users []store.Profile `json:"users"`
}

type AuditAnswer struct {
	Entries []store.AuditEntry `json:"entries"`
}
