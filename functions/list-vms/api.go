package listvms

import (
	"net/http"
	"strings"

	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/guests"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
)

// Describe is the function's operations with their request and answer types,
// from which infra/openapi generates the document: the very operations New
// serves (the nil handler is never called).
func Describe() httpapi.Function { return (*handler)(nil).function() }

func (h *handler) function() httpapi.Function {
	return httpapi.Function{
		Name: Name,
		Operations: []httpapi.Operation{
			httpapi.Get("list", "Guests across the tenant's servers, with each server's health", h.list),
			h.limited(httpapi.Accept("start", "Start a guest", h.power)),
			h.limited(httpapi.Accept("stop", "Stop a guest (hard)", h.power)),
			h.limited(httpapi.Accept("shutdown", "Shut a guest down (ACPI / init)", h.power)),
			h.limited(httpapi.Accept("reboot", "Reboot a guest", h.power)),
			httpapi.Get("task-status", "A Proxmox task of one of the tenant's servers", h.taskStatus),
		},
		ByMethod: map[string]string{http.MethodGet: "list", http.MethodPost: "list"},
	}
}

// Requests. A field without omitempty is required; a pointer may be null.
// Each Parse is the one place its request is checked. Answers follow.

type ListVMsRequest struct {
	httpapi.TenantRef
	ServerID string `json:"serverId,omitempty" jsonschema:"format=uuid"`
	Type     string `json:"type,omitempty" jsonschema:"enum=qemu,enum=lxc"`
}

// Parse: tenantId, an optional serverId and an optional type ("" for any).
func (q *ListVMsRequest) Parse(p httpapi.Params) (err error) {
	if err = q.TenantRef.Parse(p); err != nil {
		return err
	}
	if q.ServerID, _, err = p.OptionalUUID("serverId"); err != nil {
		return err
	}
	q.Type, err = guestType(p, false)
	return err
}

// NodeRef is what every action on one node of one server names.
type NodeRef struct {
	httpapi.TenantRef
	ServerID string `json:"serverId" jsonschema:"format=uuid"`
	Node     string `json:"node" jsonschema:"minLength=1,maxLength=64"`
}

// Parse requires tenantId, serverId and node, in that order.
func (q *NodeRef) Parse(p httpapi.Params) (err error) {
	if err = q.TenantRef.Parse(p); err != nil {
		return err
	}
	if q.ServerID, err = p.RequiredUUID("serverId"); err != nil {
		return err
	}
	q.Node, err = p.RequiredString("node", 64)
	return err
}

type PowerRequest struct {
	NodeRef
	VMID int    `json:"vmid" jsonschema:"minimum=100,maximum=999999999"`
	Type string `json:"type" jsonschema:"enum=qemu,enum=lxc"`
}

// Parse: the node, then vmid and type (qemu or lxc), both required.
func (q *PowerRequest) Parse(p httpapi.Params) error {
	if err := q.NodeRef.Parse(p); err != nil {
		return err
	}
	vmid, err := p.RequiredInt("vmid", 100, 999999999)
	if err != nil {
		return err
	}
	q.VMID = int(vmid)
	q.Type, err = guestType(p, true)
	return err
}

type TaskStatusRequest struct {
	NodeRef
	UPID string `json:"upid" jsonschema:"minLength=1,maxLength=512,description=a task id UPID:node:pid:pstart:starttime:type:id:user: of that node"`
}

// Parse: the node, then a UPID of that very node.
func (q *TaskStatusRequest) Parse(p httpapi.Params) (err error) {
	if err = q.NodeRef.Parse(p); err != nil {
		return err
	}
	if q.UPID, err = p.RequiredString("upid", 512); err != nil {
		return err
	}
	upidNode, ok := proxmox.ValidUPID(q.UPID)
	if !ok {
		return errUPIDMalformed
	}
	if !strings.EqualFold(upidNode, q.Node) {
		return errUPIDOtherNode
	}
	return nil
}

// guestType reads type: qemu or lxc; when not required, absent means any
// and is "".
func guestType(p httpapi.Params, required bool) (string, error) {
	def := "any"
	if required {
		def = ""
	}
	t, err := p.OneOf("type", def, "qemu", "lxc")
	if t == "any" {
		t = ""
	}
	return t, err
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
