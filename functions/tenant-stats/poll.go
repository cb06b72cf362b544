package tenantstats

import (
	"context"
	"fmt"
	"time"

	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/guests"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/snapshots"
	"github.com/pvetenant/backend/shared/statscache"
	"github.com/pvetenant/backend/shared/targets"
)

// polled is every active server's answer for one request.
type polled struct {
	data   []serverData    // what is summed: a cluster registered twice once
	health []fanout.Health // every server, in the order loaded
	asOf   time.Time       // when the oldest answer used was read from Proxmox
}

// served is one server's part of a poll, as fanout.Collect returns it.
type served struct {
	res      statscache.Result[[]proxmox.Resource] // /cluster/resources: fetched, shared or cached
	answered bool                                  // res came before this request's time ran out
	cluster  clusterInfo                           // /cluster/status, read once res is an answer
}

// poll checks that the caller may view the tenant and loads its active
// servers as the caller — on every request, before any cache is read — then
// gets each server's /cluster/resources, from the cache or from Proxmox.
func (h *handler) poll(ctx context.Context, r *httpapi.Request, tenantID string) (polled, error) {
	// One statement: the caller's role, the servers, their credentials and
	// the fleet's snapshots (shared/snapshots).
	entries, err := h.store.Load(ctx, r.DB(), tenantID)
	if err != nil {
		return polled{}, err
	}
	servers := make([]targets.Server, len(entries))
	snaps := make(map[string]*snapshots.Snapshot, len(entries))
	for i, e := range entries {
		servers[i], snaps[e.Server.ID] = e.Server, e.Snap
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
	results := fanout.Collect(fctx, h.runner, servers, func(ctx context.Context, s targets.Server, c *proxmox.Client) (served, error) {
		return h.serve(ctx, s, snaps[s.ID], c)
	})

	p := assemble(results, h.now())
	stats := recordMetrics(results)
	r.Log.Debug("tenant stats", "servers", len(servers), "from_cache", stats.CacheHits)
	return p, nil
}

// serve is one server's part: its resources through both cache levels and,
// at the same time, its cluster status, so a server nobody asked lately
// costs one Proxmox round trip of waiting, not two. The fetch behind the
// caches is shared with other requests and instances, so it runs detached
// from this request; the Proxmox client bounds it by the server's budget,
// not by whoever asked first.
func (h *handler) serve(ctx context.Context, s targets.Server, snap *snapshots.Snapshot, c *proxmox.Client) (served, error) {
	type status struct {
		info clusterInfo
		err  error
	}
	statusCh := make(chan status, 1)
	go func() { // ends with readCluster, which the request and the budget bound; serve waits for it
		defer func() {
			if p := recover(); p != nil {
				statusCh <- status{err: fmt.Errorf("%w: %v", fanout.ErrPanic, p)}
			}
		}()
		info, err := h.readCluster(ctx, s.Key(), c)
		statusCh <- status{info, err}
	}()
	res, err := h.cache.GetResult(ctx, s.Key(), func(ctx context.Context) statscache.Result[[]proxmox.Resource] {
		return h.store.Resolve(ctx, s, snap, func(ctx context.Context) ([]proxmox.Resource, error) {
			return fetchResources(ctx, c)
		})
	})
	st := <-statusCh
	if err != nil {
		return served{}, err // this caller ran out of time; the fetch goes on for the others
	}
	sv := served{res: res, answered: true}
	if res.Err != nil {
		return sv, res.Err // the status of a server that did not answer is not used
	}
	sv.cluster = st.info
	return sv, st.err
}

// assemble builds each server's health once, from its result, and the data
// the actions sum.
func assemble(rs []fanout.Result[served], now time.Time) polled {
	p := polled{health: make([]fanout.Health, len(rs)), asOf: now}
	counter := countingRows(rs)
	for i, r := range rs {
		h, sv := r.Health, r.Value
		if sv.answered {
			res := sv.res
			if res.Fetched.Before(p.asOf) {
				p.asOf = res.Fetched
			}
			// Report the Proxmox call whose answer is used, not the time
			// spent reading the cache or waiting on another request's call.
			h.LatencyMs = res.Took.Milliseconds()
			h.AgeMs = max(res.Age(now).Milliseconds(), 0)
			if res.Cached && res.Err != nil {
				h.Error += fmt.Sprintf(" (last checked %ds ago)", int(res.Age(now).Round(time.Second)/time.Second))
			}
		}
		d := serverData{ID: h.ID, Name: h.Name, Online: h.Online()}
		if d.Online {
			d.Resources = sv.res.Value
			h.Warning, h.WarningMessage = guests.PrivilegeWarning(sv.res.Value)
		}
		var counted *fanout.Health
		if j := counter[i]; j != i {
			counted = &rs[j].Health
		}
		describeCluster(&h, sv.cluster, counted)
		if counted == nil {
			p.data = append(p.data, d)
		}
		p.health[i] = h
	}
	return p
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
