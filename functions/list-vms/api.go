package listvms

import (
	"net/http"

	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/guests"
	"github.com/pvetenant/backend/shared/httpapi"
)

// Describe is the function's operations with their request and answer types,
// from which infra/openapi generates the document.
func Describe() httpapi.Function {
	return httpapi.Function{
		Name: Name,
		Operations: []httpapi.Operation{
			{Action: "list", Summary: "Guests across the tenant's servers, with each server's health", Status: http.StatusOK, Request: ListVMsRequest{}, Answer: VMsAnswer{}},
			{Action: "start", Summary: "Start a guest", Status: http.StatusAccepted, Request: PowerRequest{}, Answer: PowerAnswer{}},
			{Action: "stop", Summary: "Stop a guest (hard)", Status: http.StatusAccepted, Request: PowerRequest{}, Answer: PowerAnswer{}},
			{Action: "shutdown", Summary: "Shut a guest down (ACPI / init)", Status: http.StatusAccepted, Request: PowerRequest{}, Answer: PowerAnswer{}},
			{Action: "reboot", Summary: "Reboot a guest", Status: http.StatusAccepted, Request: PowerRequest{}, Answer: PowerAnswer{}},
			{Action: "task-status", Summary: "A Proxmox task of one of the tenant's servers", Status: http.StatusOK, Request: TaskStatusRequest{}, Answer: TaskStatusAnswer{}},
		},
		ByMethod: map[string]string{http.MethodGet: "list", http.MethodPost: "list"},
	}
}

// Requests. A field without omitempty is required; a pointer may be null.
// Answers follow.

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
