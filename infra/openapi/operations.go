// Package openapi is the functions' contract as data: every action with its
// request and answer types, an OpenAPI 3.1 document generated from those Go
// types (never written by hand), and a validator the function tests run every
// answer through, so an answer that drifts from the document fails a test.
package openapi

import (
	"net/http"

	proxmoxservers "github.com/pvetenant/backend/functions/proxmox-servers"
	tenantstats "github.com/pvetenant/backend/functions/tenant-stats"
	"github.com/pvetenant/backend/functions/tenants"
	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/guests"
)

// Operation is one action of one function.
type Operation struct {
	Function string
	Action   string
	Summary  string
	Status   int // the success status
	Request  any // the parameters' type (JSON body; GET/DELETE may send them as a query)
	Answer   any // the success answer's type
}

// ByMethod is the action a request that names none means, per function and
// HTTP method (the contract's table); infra/localserver's test checks the
// handlers agree.
var ByMethod = map[string]map[string]string{
	"proxmox-servers": {http.MethodGet: "list", http.MethodPost: "create", http.MethodPatch: "update", http.MethodPut: "update", http.MethodDelete: "delete"},
	"list-vms":        {http.MethodGet: "list", http.MethodPost: "list"},
	"tenants":         {http.MethodGet: "list", http.MethodPost: "list"},
	"tenant-stats":    {http.MethodGet: "get-live-stats", http.MethodPost: "get-live-stats"},
}

// Requests. A field without omitempty is required; a pointer may be null.

type TenantRef struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
}

type ServerRef struct {
	ServerID string `json:"serverId" jsonschema:"format=uuid"`
}

type ServerFields struct {
	Name           string `json:"name,omitempty" jsonschema:"minLength=1,maxLength=100"`
	Host           string `json:"host,omitempty" jsonschema:"minLength=1,maxLength=253"`
	Port           int    `json:"port,omitempty" jsonschema:"minimum=1,maximum=65535,default=8006"`
	TokenID        string `json:"tokenId,omitempty" jsonschema:"description=API token id user@realm!name"`
	TokenSecret    string `json:"tokenSecret,omitempty" jsonschema:"writeOnly=true"`
	Username       string `json:"username,omitempty" jsonschema:"description=user@realm, with password instead of a token"`
	Password       string `json:"password,omitempty" jsonschema:"writeOnly=true"`
	VerifyTLS      bool   `json:"verifyTls,omitempty"`
	TLSFingerprint string `json:"tlsFingerprint,omitempty" jsonschema:"description=SHA-256 of the certificate as colon hex; empty clears the pin"`
	// Issue 14: the cluster's further endpoints and its CA.
	Endpoints []EndpointInput `json:"endpoints,omitempty" jsonschema:"maxItems=16,description=further nodes of the same cluster; [] removes them"`
	CAPEM     string          `json:"caPem,omitempty" jsonschema:"maxLength=16384,description=PEM of the cluster's /etc/pve/pve-root-ca.pem; empty clears it"`
}

// EndpointInput is one further endpoint of a cluster.
type EndpointInput struct {
	Host           string `json:"host" jsonschema:"minLength=1,maxLength=253"`
	Port           int    `json:"port,omitempty" jsonschema:"minimum=1,maximum=65535,default=8006"`
	TLSFingerprint string `json:"tlsFingerprint,omitempty" jsonschema:"description=optional pin of this node's certificate"`
}

type CreateServerRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	Name     string `json:"name" jsonschema:"minLength=1,maxLength=100"`
	Host     string `json:"host" jsonschema:"minLength=1,maxLength=253"`
	ServerFields
}

type UpdateServerRequest struct {
	ServerID string `json:"serverId" jsonschema:"format=uuid"`
	IsActive bool   `json:"isActive,omitempty"`
	ServerFields
}

type TestServerRequest struct {
	ServerID string `json:"serverId,omitempty" jsonschema:"format=uuid,description=a saved server; or give the create fields instead"`
	TenantID string `json:"tenantId,omitempty" jsonschema:"format=uuid"`
	ServerFields
}

type ListVMsRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	ServerID string `json:"serverId,omitempty" jsonschema:"format=uuid"`
	Type     string `json:"type,omitempty" jsonschema:"enum=qemu,enum=lxc,enum=vm,enum=container"`
}

type PowerRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	ServerID string `json:"serverId" jsonschema:"format=uuid"`
	Node     string `json:"node" jsonschema:"minLength=1,maxLength=64"`
	VMID     int    `json:"vmid" jsonschema:"minimum=100,maximum=999999999"`
	Type     string `json:"type" jsonschema:"enum=qemu,enum=lxc,enum=vm,enum=container"`
}

type TaskStatusRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	ServerID string `json:"serverId" jsonschema:"format=uuid"`
	Node     string `json:"node" jsonschema:"minLength=1,maxLength=64"`
	UPID     string `json:"upid" jsonschema:"minLength=1,maxLength=512,description=a task id UPID:node:pid:pstart:starttime:type:id:user: of that node"`
}

type NoParams struct{}

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

// Answers.

type ServersAnswer struct {
	Servers []proxmoxservers.Server `json:"servers"`
}
type ServerAnswer struct {
	Server      proxmoxservers.Server        `json:"server"`
	SameCluster []proxmoxservers.SameCluster `json:"sameCluster,omitempty" jsonschema:"description=update: the tenant's other servers that are this same cluster"`
}
type DeletedAnswer struct {
	Deleted bool `json:"deleted"`
}
type RemovedAnswer struct {
	Removed bool `json:"removed"`
}
type VMsAnswer struct {
	VMs     []guests.VM     `json:"vms"`
	Servers []fanout.Health `json:"servers"`
}
type PowerAnswer struct {
	UPID       string `json:"upid"`
	Status     string `json:"status,omitempty" jsonschema:"enum=running,enum=stopped,description=the task's state when list-vms stopped following it; absent when it could not be read"`
	ExitStatus string `json:"exitstatus,omitempty" jsonschema:"description=OK or WARNINGS: n once stopped (a failed task is an error answer)"`
	Endpoint   string `json:"endpoint,omitempty" jsonschema:"description=host:port of the node that took the action"`
}
type TaskStatusAnswer struct {
	Status     string `json:"status" jsonschema:"enum=running,enum=stopped"`
	ExitStatus string `json:"exitstatus,omitempty" jsonschema:"description=OK, WARNINGS: n, or PVE's error message; once stopped"`
	StartedAt  string `json:"startedAt" jsonschema:"format=date-time"`
}
type TenantsAnswer struct {
	Tenants []tenants.Tenant `json:"tenants"`
}
type TenantAnswer struct {
	Tenant tenants.Tenant `json:"tenant"`
}
type UsersAnswer struct {
	Users []tenants.Assignment `json:"users"`
}
type AssignmentAnswer struct {
	Assignment tenants.Assignment `json:"assignment"`
}
type AssignedAnswer struct {
	Assignment tenants.Assignment `json:"assignment"`
	Invited    bool               `json:"invited" jsonschema:"description=true when the address was unknown and Supabase Auth sent an invitation"`
}
type ProfilesAnswer struct {
	Users []tenants.Profile `json:"users"`
}
type AuditAnswer struct {
	Entries []tenants.AuditEntry `json:"entries"`
}
type StatsAnswer struct {
	Stats tenantstats.LiveTenantStats `json:"stats"`
}
type ResourcesAnswer struct {
	Resources []any           `json:"resources" jsonschema:"description=guests (the VM shape) and storage entries; each names its server"`
	Servers   []fanout.Health `json:"servers"`
}
type NodesAnswer struct {
	Nodes   []tenantstats.NodeStatus `json:"nodes"`
	Servers []fanout.Health          `json:"servers"`
}

// Error is every error answer.
type Error struct {
	Error string `json:"error" jsonschema:"description=a sentence for a person"`
	Code  string `json:"code" jsonschema:"description=snake_case, stable; see the README's list"`
}

// Operations is every action of every function.
func Operations() []Operation {
	const ok, created, accepted = http.StatusOK, http.StatusCreated, http.StatusAccepted
	return []Operation{
		{"proxmox-servers", "list", "The tenant's servers, newest first, never their secrets", ok, TenantRef{}, ServersAnswer{}},
		{"proxmox-servers", "get", "One server", ok, ServerRef{}, ServerAnswer{}},
		{"proxmox-servers", "create", "Register a server (manager or admin); credentials are sealed", created, CreateServerRequest{}, ServerAnswer{}},
		{"proxmox-servers", "update", "Edit a server; a secret is replaced only when given", ok, UpdateServerRequest{}, ServerAnswer{}},
		{"proxmox-servers", "delete", "Delete a server (admin)", ok, ServerRef{}, DeletedAnswer{}},
		{"proxmox-servers", "test", "Test a saved server or unsaved settings", ok, TestServerRequest{}, proxmoxservers.TestResult{}},

		{"list-vms", "list", "Guests across the tenant's servers, with each server's health", ok, ListVMsRequest{}, VMsAnswer{}},
		{"list-vms", "start", "Start a guest", accepted, PowerRequest{}, PowerAnswer{}},
		{"list-vms", "stop", "Stop a guest (hard)", accepted, PowerRequest{}, PowerAnswer{}},
		{"list-vms", "shutdown", "Shut a guest down (ACPI / init)", accepted, PowerRequest{}, PowerAnswer{}},
		{"list-vms", "reboot", "Reboot a guest", accepted, PowerRequest{}, PowerAnswer{}},
		{"list-vms", "task-status", "A Proxmox task of one of the tenant's servers", ok, TaskStatusRequest{}, TaskStatusAnswer{}},

		{"tenants", "list", "Tenants the caller belongs to (all, for a system admin)", ok, NoParams{}, TenantsAnswer{}},
		{"tenants", "get", "One tenant", ok, TenantRef{}, TenantAnswer{}},
		{"tenants", "create", "Create a tenant (system admin)", created, CreateTenantRequest{}, TenantAnswer{}},
		{"tenants", "update", "Rename or describe a tenant (tenant admin)", ok, UpdateTenantRequest{}, TenantAnswer{}},
		{"tenants", "delete", "Delete a tenant without servers (system admin)", ok, TenantRef{}, DeletedAnswer{}},
		{"tenants", "list-users", "Members with their profiles", ok, TenantRef{}, UsersAnswer{}},
		{"tenants", "assign-user", "Add a member by id or email (invites unknown addresses)", created, AssignUserRequest{}, AssignedAnswer{}},
		{"tenants", "update-user-role", "Change a member's role", ok, UpdateUserRoleRequest{}, AssignmentAnswer{}},
		{"tenants", "remove-user", "Remove a member (or leave)", ok, UserRef{}, RemovedAnswer{}},
		{"tenants", "lookup-users", "Find people by email to add", ok, LookupUsersRequest{}, ProfilesAnswer{}},
		{"tenants", "my-permissions", "What the caller may do in a tenant", ok, TenantRef{}, tenants.Permissions{}},
		{"tenants", "list-audit", "The tenant's audit trail, newest first (admin)", ok, ListAuditRequest{}, AuditAnswer{}},

		{"tenant-stats", "get-live-stats", "Aggregate live stats over every active server", ok, TenantRef{}, StatsAnswer{}},
		{"tenant-stats", "get-resource-usage", "Guests and storage with their usage", ok, TenantRef{}, ResourcesAnswer{}},
		{"tenant-stats", "get-node-status", "Every node with its usage", ok, TenantRef{}, NodesAnswer{}},
	}
}
