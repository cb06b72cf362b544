package tenants

import (
	"net/http"

	"github.com/pvetenant/backend/shared/httpapi"
)

// Describe is the function's operations with their request and answer types,
// from which infra/openapi generates the document.
func Describe() httpapi.Function {
	return httpapi.Function{
		Name: Name,
		Operations: []httpapi.Operation{
			{Action: "list", Summary: "Tenants the caller belongs to (all, for a system admin)", Status: http.StatusOK, Request: httpapi.NoParams{}, Answer: TenantsAnswer{}},
			{Action: "get", Summary: "One tenant", Status: http.StatusOK, Request: httpapi.TenantRef{}, Answer: TenantAnswer{}},
			{Action: "create", Summary: "Create a tenant (system admin)", Status: http.StatusCreated, Request: CreateTenantRequest{}, Answer: TenantAnswer{}},
			{Action: "update", Summary: "Rename or describe a tenant (tenant admin)", Status: http.StatusOK, Request: UpdateTenantRequest{}, Answer: TenantAnswer{}},
			{Action: "delete", Summary: "Delete a tenant without servers (system admin)", Status: http.StatusOK, Request: httpapi.TenantRef{}, Answer: httpapi.DeletedAnswer{}},
			{Action: "list-users", Summary: "Members with their profiles", Status: http.StatusOK, Request: httpapi.TenantRef{}, Answer: UsersAnswer{}},
			{Action: "assign-user", Summary: "Add a member by id or email (invites unknown addresses)", Status: http.StatusCreated, Request: AssignUserRequest{}, Answer: AssignedAnswer{}},
			{Action: "update-user-role", Summary: "Change a member's role", Status: http.StatusOK, Request: UpdateUserRoleRequest{}, Answer: AssignmentAnswer{}},
			{Action: "remove-user", Summary: "Remove a member (or leave)", Status: http.StatusOK, Request: UserRef{}, Answer: RemovedAnswer{}},
			{Action: "lookup-users", Summary: "Find people by email to add", Status: http.StatusOK, Request: LookupUsersRequest{}, Answer: ProfilesAnswer{}},
			{Action: "my-permissions", Summary: "What the caller may do in a tenant", Status: http.StatusOK, Request: httpapi.TenantRef{}, Answer: Permissions{}},
			{Action: "list-audit", Summary: "The tenant's audit trail, newest first (admin)", Status: http.StatusOK, Request: ListAuditRequest{}, Answer: AuditAnswer{}},
		},
		ByMethod: map[string]string{http.MethodGet: "list", http.MethodPost: "list"},
	}
}

// Requests. A field without omitempty is required; a pointer may be null.
// Answers follow.

type TenantFields struct {
	Slug        string `json:"slug,omitempty" jsonschema:"maxLength=63,pattern=^([a-z0-9]+(-[a-z0-9]+)*)?$"`
	Description string `json:"description,omitempty" jsonschema:"maxLength=500"`
}

type CreateTenantRequest struct {
	Name        string `json:"name" jsonschema:"minLength=1,maxLength=100"`
	AdminUserID string `json:"adminUserId,omitempty" jsonschema:"format=uuid"`
	TenantFields
}

type UpdateTenantRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	Name     string `json:"name,omitempty" jsonschema:"minLength=1,maxLength=100"`
	TenantFields
}

type AssignUserRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	UserID   string `json:"userId,omitempty" jsonschema:"format=uuid,description=userId or email"`
	Email    string `json:"email,omitempty" jsonschema:"maxLength=254"`
	Role     string `json:"role" jsonschema:"enum=admin,enum=manager,enum=viewer"`
}

type UpdateUserRoleRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	UserID   string `json:"userId" jsonschema:"format=uuid"`
	Role     string `json:"role" jsonschema:"enum=admin,enum=manager,enum=viewer"`
}

type UserRef struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	UserID   string `json:"userId" jsonschema:"format=uuid"`
}

type LookupUsersRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	Query    string `json:"query" jsonschema:"minLength=3"`
}

type ListAuditRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	Limit    int    `json:"limit,omitempty" jsonschema:"minimum=1"`
	BeforeID int64  `json:"beforeId,omitempty"`
}

type TenantsAnswer struct {
	Tenants []Tenant `json:"tenants"`
}

type TenantAnswer struct {
	Tenant Tenant `json:"tenant"`
}

type UsersAnswer struct {
	Users []Assignment `json:"users"`
}

type AssignmentAnswer struct {
	Assignment Assignment `json:"assignment"`
}

type AssignedAnswer struct {
	Assignment Assignment `json:"assignment"`
	Invited    bool       `json:"invited" jsonschema:"description=true when the address was unknown and Supabase Auth sent an invitation"`
}

type RemovedAnswer struct {
	Removed bool `json:"removed"`
}

type ProfilesAnswer struct {
	Users []Profile `json:"users"`
}

type AuditAnswer struct {
	Entries []AuditEntry `json:"entries"`
}
