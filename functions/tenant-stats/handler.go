// Package tenantstats is the `tenant-stats` function: live totals for a
// tenant's dashboard (guests, nodes, CPU, memory, storage), the guests and
// storage behind them, and per-node status. One /cluster/resources call per
// active server feeds all three actions; calls run concurrently, each under
// the per-server timeout, and are cached per server for a few seconds with
// single-flight, so a burst of refreshes costs one Proxmox call per server.
package tenantstats

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/guests"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/setup"
	"github.com/pvetenant/backend/shared/snapshots"
	"github.com/pvetenant/backend/shared/statscache"
	"github.com/pvetenant/backend/shared/targets"
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
	d       *setup.Deps
	runner  fanout.Runner
	timeout time.Duration
	cache   *statscache.Cache[[]proxmox.Resource]
	store   *snapshots.Store               // second level, shared by every instance
	status  *statscache.Cache[clusterInfo] // /cluster/status per server (cluster.go)
	now     func() time.Time
}

// New returns the function's HTTP handler. Its cache lives as long as the
// handler: one per warm process.
func New(d *setup.Deps) http.Handler {
	timeout := d.Proxmox.Timeout
	if timeout <= 0 {
		timeout = proxmox.DefaultTimeout
	}
	h := &handler{
		d:       d,
		runner:  fanout.Runner{Proxmox: d.Proxmox, Clients: d.Clients},
		timeout: timeout,
		cache:   statscache.New[[]proxmox.Resource](d.Config.StatsCacheTTL, cacheMax),
		store:   snapshots.New(d.Pool, d.Config.StatsCacheTTL, timeout, d.Logger),
		status:  statscache.New[clusterInfo](d.Config.StatsCacheTTL, cacheMax),
		now:     time.Now,
	}
	return d.Server.Handler(httpapi.Function{
		Name: Name,
		Actions: map[string]httpapi.Action{
			ActionLiveStats:     h.liveStats,
			ActionResourceUsage: h.resourceUsage,
			ActionNodeStatus:    h.nodeStatus,
		},
		ByMethod: map[string]string{http.MethodGet: ActionLiveStats, http.MethodPost: ActionLiveStats},
	})
}

func (h *handler) liveStats(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	p, err := h.poll(ctx, r)
	if err != nil {
		return nil, err
	}
	stats := aggregate(p.data)
	stats.LastUpdated = p.asOf.UTC().Format(time.RFC3339)
	stats.ServerStatus = p.health
	return httpapi.OK(map[string]any{"stats": stats}), nil
}

func (h *handler) resourceUsage(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	p, err := h.poll(ctx, r)
	if err != nil {
		return nil, err
	}
	return httpapi.OK(map[string]any{"resources": resourceUsage(p.data), "servers": p.health}), nil
}

func (h *handler) nodeStatus(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	p, err := h.poll(ctx, r)
	if err != nil {
		return nil, err
	}
	return httpapi.OK(map[string]any{"nodes": nodeStatus(p.data), "servers": p.health}), nil
}

// polled is every active server's answer for one request.
type polled struct {
	data   []serverData
	health []fanout.Health
	asOf   time.Time // when the oldest answer used was read from Proxmox
}

// poll checks that the caller may view the tenant and loads its active
// servers as the caller — on every request, before any cache is read — then
// gets each server's /cluster/resources, from the cache or from Proxmox.
func (h *handler) poll(ctx context.Context, r *httpapi.Request) (polled, error) {
	tenantID, err := r.Params.RequiredUUID("tenantId")
	if err != nil {
		return polled{}, err
	}
	// One statement: the caller's role, the servers, their credentials and
	// the fleet's snapshots (shared/snapshots).
	_, entries, err := h.store.Load(ctx, r.DB(), h.d.Keyring, tenantID)
	if err != nil {
		return polled{}, err
	}
	servers := make([]targets.Server, len(entries))
	for i := range entries {
		servers[i] = entries[i].Server
	}

	// Keep a little of the request's time for summing and writing the
	// answer, so that servers queued behind the fan-out limit cannot push
	// it past the request deadline.
	fctx := ctx
	if dl, ok := ctx.Deadline(); ok {
		reserve := min(time.Until(dl)/20, time.Second)
		var cancel context.CancelFunc
		fctx, cancel = context.WithDeadline(ctx, dl.Add(-reserve))
		defer cancel()
	}

	results := make([]statscache.Result[[]proxmox.Resource], len(servers))
	answered := make([]bool, len(servers))
	clusters := make([]clusterInfo, len(servers))
	health := h.runner.Each(fctx, servers, func(ctx context.Context, i int, c *proxmox.Client) error {
		res, err := h.cache.GetResult(ctx, servers[i].Key(), func(ctx context.Context) statscache.Result[[]proxmox.Resource] {
			return h.store.Resolve(ctx, servers[i], entries[i].Snap, func(ctx context.Context) ([]proxmox.Resource, error) {
				// Shared with other requests and instances, so bounded by
				// the per-server timeout rather than by whoever asked first.
				ctx, cancel := context.WithTimeout(ctx, h.timeout)
				defer cancel()
				return fetchResources(ctx, c)
			})
		})
		if err != nil {
			return err // this caller ran out of time; the fetch goes on for the others
		}
		results[i], answered[i] = res, true
		if res.Err != nil {
			return res.Err
		}
		return h.readCluster(ctx, servers[i].Key(), c, &clusters[i])
	})

	now := h.now()
	p := polled{data: make([]serverData, len(servers)), health: health, asOf: now}
	fromCache := 0
	for i, s := range servers {
		p.data[i] = serverData{ID: s.ID, Name: s.Name, Online: health[i].Online()}
		if !answered[i] {
			continue
		}
		res := results[i]
		if p.data[i].Online {
			p.data[i].Resources = res.Value
			health[i].Warning, health[i].WarningMessage = guests.PrivilegeWarning(res.Value)
		}
		if res.Fetched.Before(p.asOf) {
			p.asOf = res.Fetched
		}
		// Report the Proxmox call whose answer is used, not the time spent
		// reading the cache or waiting on another request's call.
		health[i].LatencyMs = res.Took.Milliseconds()
		health[i].AgeMs = max(res.Age(now).Milliseconds(), 0)
		if res.Cached {
			fromCache++
			if res.Err != nil {
				health[i].Error += fmt.Sprintf(" (last checked %ds ago)", int(res.Age(now).Round(time.Second)/time.Second))
			}
		}
	}
	applyClusters(&p, clusters)
	r.Log.Debug("tenant stats", "servers", len(servers), "from_cache", fromCache)
	recordMetrics(health, answered, results)
	return p, nil
}

// fetchResources reads /cluster/resources, keeping only the entry types the
// actions use (guests, nodes, storage), which is also what the cache holds.
func fetchResources(ctx context.Context, c *proxmox.Client) ([]proxmox.Resource, error) {
	res, err := c.ClusterResources(ctx, "")
	if err != nil {
		return nil, err
	}
	kept := res[:0]
	for _, r := range res {
		switch r.Type {
		case "qemu", "lxc", "node", "storage":
			kept = append(kept, r)
		}
	}
	return kept, nil
}
