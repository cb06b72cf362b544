// Package catalog lists the project's functions: what the local server
// mounts, what the SAM template must deploy and what the OpenAPI document
// describes all come from this one list.
package catalog

import (
	"net/http"

	listvms "github.com/pvetenant/backend/functions/list-vms"
	proxmoxservers "github.com/pvetenant/backend/functions/proxmox-servers"
	tenantstats "github.com/pvetenant/backend/functions/tenant-stats"
	"github.com/pvetenant/backend/functions/tenants"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/setup"
)

// Function is one deployable function.
type Function struct {
	Name     string
	Needs    setup.Needs
	New      func(*setup.Deps) http.Handler
	Describe func() httpapi.Function // its operations and their types, for the OpenAPI document
}

// Functions lists every function of the project.
var Functions = []Function{
	{proxmoxservers.Name, proxmoxservers.Needs, proxmoxservers.New, proxmoxservers.Describe},
	{listvms.Name, listvms.Needs, listvms.New, listvms.Describe},
	{tenants.Name, tenants.Needs, tenants.New, tenants.Describe},
	{tenantstats.Name, tenantstats.Needs, tenantstats.New, tenantstats.Describe},
}

// Merge returns what all functions need together (one process serving all).
func Merge() setup.Needs {
	var n setup.Needs
	for _, f := range Functions {
		n.Database = n.Database || f.Needs.Database
		n.Credentials = n.Credentials || f.Needs.Credentials
		n.MayReceiveServiceRoleKey = n.MayReceiveServiceRoleKey || f.Needs.MayReceiveServiceRoleKey
	}
	return n
}
