// Package listvms is the `list-vms` function: the VMs and containers of one
// or all of a tenant's active servers, queried concurrently, and the power
// actions (start, stop, shutdown, reboot) for managers and admins.
package listvms

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/db"
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
	d      *setup.Deps
	runner fanout.Runner
}

// New returns the function's HTTP handler.
func New(d *setup.Deps) http.Handler {
	h := &handler{d: d, runner: fanout.Runner{Proxmox: d.Proxmox, Clients: d.Clients}}
	actions := map[string]httpapi.Action{"list": h.list}
	for _, a := range []string{"start", "stop", "shutdown", "reboot"} {
		actions[a] = h.power
	}
	actions["task-status"] = h.taskStatus
	return d.Server.Handler(httpapi.Function{
		Name:     Name,
		Actions:  actions,
		ByMethod: map[string]string{http.MethodGet: "list", http.MethodPost: "list"},
	})
}

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

// loadServers reads the caller's standing and the servers to query.
func (h *handler) loadServers(ctx context.Context, r *httpapi.Request, need access.Permission, f targets.Filter) ([]targets.Server, error) {
	var servers []targets.Server
	var err error
	if need == access.View {
		// Every member may view: one round trip, no transaction.
		servers, err = targets.LoadAsCaller(ctx, h.d.Pool, r.DB(), h.d.Keyring, f)
	} else {
		err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
			a, err := access.Load(ctx, tx, r.Caller.UserID, f.TenantID)
			if err != nil {
				return err
			}
			if err := a.Require(need); err != nil {
				return err
			}
			servers, err = targets.Load(ctx, tx, h.d.Keyring, f)
			return err
		})
	}
	if err != nil {
		return nil, err
	}
	if f.ServerID != "" && len(servers) == 0 {
		return nil, apperr.New(apperr.NotFound, "Server not found in this tenant.").WithCode("server_not_found")
	}
	return servers, nil
}

func (h *handler) list(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	tenantID, err := r.Params.RequiredUUID("tenantId")
	if err != nil {
		return nil, err
	}
	serverID, one, err := r.Params.OptionalUUID("serverId")
	if err != nil {
		return nil, err
	}
	typ, err := guestType(r.Params, false)
	if err != nil {
		return nil, err
	}
	// One named server is listed even when paused (is_active false); "all"
	// means the active ones.
	servers, err := h.loadServers(ctx, r, access.View, targets.Filter{TenantID: tenantID, ServerID: serverID, ActiveOnly: !one})
	if err != nil {
		return nil, err
	}
	var mu sync.Mutex
	vms := []guests.VM{}
	health := h.runner.Each(ctx, servers, func(ctx context.Context, i int, c *proxmox.Client) error {
		res, err := c.ClusterResources(ctx, "vm")
		if err != nil {
			return err
		}
		s := servers[i]
		var mine []guests.VM
		for _, g := range res {
			if !g.IsGuest() || (typ != "" && g.Type != typ) {
				continue
			}
			mine = append(mine, guests.FromResource(s.ID, s.Name, g))
		}
		mu.Lock()
		vms = append(vms, mine...)
		mu.Unlock()
		return nil
	})
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
	return httpapi.OK(map[string]any{"vms": vms, "servers": health}), nil
}

// power starts, stops, shuts down or reboots one guest. The guest must really
// be on that server and node, with that type, and in a state Proxmox would
// act on; only then is the action sent (see powerOn).
func (h *handler) power(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	// Per-user limit, fleet-wide (issue 17/18): before anything reaches Proxmox.
	if err := h.d.Limits.Power(ctx, h.d.Pool, r.DB()); err != nil {
		return nil, err
	}
	p := r.Params
	tenantID, serverID, node, err := onNode(p)
	if err != nil {
		return nil, err
	}
	vmid, err := p.RequiredInt("vmid", 100, 999999999)
	if err != nil {
		return nil, err
	}
	typ, err := guestType(p, true)
	if err != nil {
		return nil, err
	}
	servers, err := h.loadServers(ctx, r, access.ControlGuests, targets.Filter{TenantID: tenantID, ServerID: serverID})
	if err != nil {
		return nil, err
	}
	s := servers[0]
	if s.Problem != "" {
		// The same code as when the call itself fails that way: one failure,
		// one code (proxmox_tls_error, proxmox_auth_error, ...).
		return nil, apperr.New(apperr.BadGateway, "This server cannot be reached: "+s.Problem+".").WithCode("proxmox_" + string(s.ProblemStatus))
	}
	// The guest's row decides first (power.go); then Proxmox, whose task is
	// followed briefly, and the audit trail records what happened.
	return h.powerOn(ctx, r, tenantID, s, node, int(vmid), typ)
}

// onNode reads what every action on one node of one server names: the
// tenant, the server and the node, validated in one place.
func onNode(p httpapi.Params) (tenantID, serverID, node string, err error) {
	if tenantID, err = p.RequiredUUID("tenantId"); err != nil {
		return
	}
	if serverID, err = p.RequiredUUID("serverId"); err != nil {
		return
	}
	node, err = p.RequiredString("node", 64)
	return
}

var errGuestNotFound = apperr.New(apperr.NotFound, "No guest with that vmid, type and node on this server.").WithCode("guest_not_found")

// proxmoxError maps a failed Proxmox call to 504 (timeout) or 502 (anything
// else), with the client's sentence; our own errors pass through.
func proxmoxError(err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	status := proxmox.Classify(err)
	msg := "The Proxmox server failed: " + proxmox.Describe(err) + "."
	if status == proxmox.StatusTimeout {
		return apperr.Wrap(apperr.GatewayTimeout, err, msg).WithCode("proxmox_timeout")
	}
	return apperr.Wrap(apperr.BadGateway, err, msg).WithCode("proxmox_" + string(status))
}
