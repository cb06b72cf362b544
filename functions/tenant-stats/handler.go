// Package tenantstats is the `tenant-stats` function: live totals for a
// tenant's dashboard (guests, nodes, CPU, memory, storage), the guests and
// storage behind them, and per-node status. One /cluster/resources call per
// active server feeds all three actions; calls run concurrently, each under
// the per-server budget, and are cached per server for a few seconds with
// single-flight, so a burst of refreshes costs one Proxmox call per server.
package tenantstats

import (
	"context"
	"net/http"
	"time"

	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/setup"
	"github.com/pvetenant/backend/shared/snapshots"
	"github.com/pvetenant/backend/shared/statscache"
)

// Name is the function's name in URLs.
const Name = "tenant-stats"

// Needs lists the settings the function cannot start without.
var Needs = setup.Needs{Database: true, Credentials: true}

// Actions.
const (
	ActionLiveStats     = "get-live-stats"
	ActionResourceUsage = "get-resource-usage"
	ActionNodeStatus    = "get-node-status"
)

const (
	// cacheMax bounds the cached per-server answers (one per server
	// configuration); expired ones are dropped as new ones come in.
	cacheMax = 1024
)

type handler struct {
	runner fanout.Runner
	store  *snapshots.Store // the access check and servers in one statement; second-level cache shared by every instance
	cache  *statscache.Cache[[]proxmox.Resource]
	status *statscache.Cache[clusterInfo] // /cluster/status per server (cluster.go)
	now    func() time.Time
}

// New returns the function's HTTP handler. Its cache lives as long as the
// handler: one per warm process.
func New(d *setup.Deps) http.Handler {
	h := &handler{
		runner: fanout.Runner{Proxmox: d.Proxmox, Clients: d.Clients},
		store:  snapshots.New(d.Pool, d.Keyring, d.Config.StatsCacheTTL, d.Proxmox.Budget(), d.Logger),
		cache:  statscache.New[[]proxmox.Resource](d.Config.StatsCacheTTL, cacheMax),
		status: statscache.New[clusterInfo](d.Config.StatsCacheTTL, cacheMax),
		now:    time.Now,
	}
	return d.Server.Handler(h.function())
}

// function is the operations New serves and Describe documents.
func (h *handler) function() httpapi.Function {
	return httpapi.Function{
		Name: Name,
		Operations: []httpapi.Operation{
			httpapi.Get(ActionLiveStats, "Aggregate live stats over every active server", h.liveStats),
			httpapi.Get(ActionResourceUsage, "Guests and storage with their usage", h.resourceUsage),
			httpapi.Get(ActionNodeStatus, "Every node with its usage", h.nodeStatus),
		},
		ByMethod: map[string]string{http.MethodGet: ActionLiveStats, http.MethodPost: ActionLiveStats},
	}
}

func (h *handler) liveStats(ctx context.Context, r *httpapi.Request, q httpapi.TenantRef) (StatsAnswer, error) {
	p, err := h.poll(ctx, r, q.TenantID)
	if err != nil {
		return StatsAnswer{}, err
	}
	stats := aggregate(p.data)
	stats.LastUpdated = p.asOf.UTC().Format(time.RFC3339)
	stats.ServerStatus = p.health
	return StatsAnswer{Stats: stats}, nil
}

func (h *handler) resourceUsage(ctx context.Context, r *httpapi.Request, q httpapi.TenantRef) (ResourcesAnswer, error) {
	p, err := h.poll(ctx, r, q.TenantID)
	if err != nil {
		return ResourcesAnswer{}, err
	}
	return ResourcesAnswer{Resources: resourceUsage(p.data), Servers: p.health}, nil
}

func (h *handler) nodeStatus(ctx context.Context, r *httpapi.Request, q httpapi.TenantRef) (NodesAnswer, error) {
	p, err := h.poll(ctx, r, q.TenantID)
	if err != nil {
		return NodesAnswer{}, err
	}
	return NodesAnswer{Nodes: nodeStatus(p.data), Servers: p.health}, nil
}
