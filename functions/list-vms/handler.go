// Package listvms is the `list-vms` function: the VMs and containers of one
// or all of a tenant's active servers, queried concurrently, and the power
// actions (start, stop, shutdown, reboot) for managers and admins.
package listvms

import (
	"context"
	"net/http"
	"sort"
	"time"

	"github.com/pvetenant/backend/functions/list-vms/store"
	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/guests"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/setup"
	"github.com/pvetenant/backend/shared/targets"
)

// Name is the function's name in URLs.
const Name = "list-vms"

// Needs lists the settings the function cannot start without.
var Needs = setup.Needs{Database: true, Credentials: true}

type handler struct {
	store      *store.Store
	runner     fanout.Runner
	taskFollow time.Duration // TASK_FOLLOW: how long a power action's task is followed
}

// New returns the function's HTTP handler.
func New(d *setup.Deps) http.Handler {
	h := &handler{
		store:      store.New(d.Pool, d.Keyring, d.Limits),
		runner:     fanout.Runner{Proxmox: d.Proxmox, Clients: d.Clients},
		taskFollow: d.Config.TaskFollow,
	}
	return d.Server.Handler(h.function())
}

// list is every guest of the tenant's active servers (or of one named
// server, even when paused: is_active false), each server's health beside.
func (h *handler) list(ctx context.Context, r *httpapi.Request, q ListVMsRequest) (VMsAnswer, error) {
	servers, err := h.store.Visible(ctx, r.DB(), targets.Filter{TenantID: q.TenantID, ServerID: q.ServerID, ActiveOnly: q.ServerID == ""})
	if err != nil {
		return VMsAnswer{}, err
	}
	if q.ServerID != "" && len(servers) == 0 {
		return VMsAnswer{}, errServerNotFound
	}
	results := fanout.Collect(ctx, h.runner, servers, func(ctx context.Context, s targets.Server, c *proxmox.Client) ([]guests.VM, error) {
		res, err := c.ClusterResources(ctx, "vm")
		if err != nil {
			return nil, err
		}
		var mine []guests.VM
		for _, g := range res {
			if g.IsGuest() && (q.Type == "" || g.Type == q.Type) {
				mine = append(mine, guests.FromResource(s.ID, s.Name, g))
			}
		}
		return mine, nil
	})
	vms := []guests.VM{} // [] rather than null when there are none
	for _, res := range results {
		vms = append(vms, res.Value...)
	}
	sort.Slice(vms, func(i, j int) bool {
		a, b := vms[i], vms[j]
		if a.ServerName != b.ServerName {
			return a.ServerName < b.ServerName
		}
		if a.ServerID != b.ServerID {
			return a.ServerID < b.ServerID
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.VMID < b.VMID
	})
	return VMsAnswer{VMs: vms, Servers: fanout.Healths(results)}, nil
}

// oneServer is the server an action on one node names, once the caller may
// see (View) or control (power) it, and only if it may be called at all.
func oneServer(servers []targets.Server, err error) (targets.Server, error) {
	switch {
	case err != nil:
		return targets.Server{}, err
	case len(servers) == 0:
		return targets.Server{}, errServerNotFound
	case servers[0].Problem != "":
		// The same code as when the call itself fails that way: one failure,
		// one code (proxmox_tls_error, proxmox_auth_error, ...).
		return targets.Server{}, unreachable(servers[0])
	}
	return servers[0], nil
}
