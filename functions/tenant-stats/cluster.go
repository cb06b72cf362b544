package tenantstats

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/proxmox"
)

// clusterInfo is what /cluster/status says about a server: whether it is a
// cluster, its quorum, and its identity (name and node set) for counting a
// cluster registered twice once.
type clusterInfo struct {
	known     bool
	clustered bool
	quorate   bool
	name      string
	nodes     string // sorted node names, comma separated
}

// readCluster reads /cluster/status (cached like /cluster/resources) on the
// endpoint that just answered. A token without Sys.Audit on / gets 403:
// the quorum is then unknown, which is not a failure of the server.
func (h *handler) readCluster(ctx context.Context, key string, c *proxmox.Client) (clusterInfo, error) {
	res, err := h.status.Get(ctx, key, func(ctx context.Context) (clusterInfo, error) {
		cs, err := c.ClusterStatus(ctx)
		if err != nil {
			var e *proxmox.Error
			if errors.As(err, &e) && e.HTTPStatus >= 400 && e.HTTPStatus < 500 {
				return clusterInfo{}, nil
			}
			return clusterInfo{}, err
		}
		return infoOf(cs), nil
	})
	if err != nil {
		return clusterInfo{}, err
	}
	return res.Value, res.Err
}

func infoOf(cs proxmox.ClusterStatus) clusterInfo {
	names := make([]string, 0, len(cs.Nodes))
	for _, n := range cs.Nodes {
		names = append(names, n.Name)
	}
	slices.Sort(names)
	return clusterInfo{known: true, clustered: cs.Clustered, quorate: cs.Quorate, name: cs.Name, nodes: strings.Join(names, ",")}
}

// NoQuorumWarning is shown for a cluster that answers without quorum.
const NoQuorumWarning = "The cluster has lost quorum: guests keep running, but nothing can be started, stopped or changed until enough nodes are back (pmxcfs is read-only without quorum)."

// identity is an answering cluster's name and node set, "" for anything else.
func identity(r fanout.Result[served]) string {
	ci := r.Value.cluster
	if !r.Health.Online() || !ci.known || !ci.clustered {
		return ""
	}
	return ci.name + "\x00" + ci.nodes
}

// countingRows says, for each server, which row's figures count it: servers
// that are the same cluster (same name, same node set) count once, through
// the row that sees the most (a token with fewer privileges sees less of the
// same cluster; ties go to the first row). Every other server counts itself.
func countingRows(rs []fanout.Result[served]) []int {
	best := map[string]int{}
	for i, r := range rs {
		k := identity(r)
		if k == "" {
			continue
		}
		if j, ok := best[k]; !ok || len(r.Value.res.Value) > len(rs[j].Value.res.Value) {
			best[k] = i
		}
	}
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = i
		if k := identity(r); k != "" {
			out[i] = best[k]
		}
	}
	return out
}

// describeCluster puts quorum into an answering cluster's health, and names
// the server whose figures already count it (counted, nil when it counts
// itself). Losing quorum is more urgent than any other warning (issue 13's
// privileges); being counted elsewhere is the least.
func describeCluster(h *fanout.Health, ci clusterInfo, counted *fanout.Health) {
	if h.Online() && ci.known && ci.clustered {
		q := ci.quorate
		h.Quorate = &q
		if !q {
			h.Warning, h.WarningMessage = "no_quorum", NoQuorumWarning
		}
	}
	if counted == nil {
		return
	}
	h.SameClusterAs = counted.ID
	if h.Warning == "" {
		h.Warning = "same_cluster"
		h.WarningMessage = "The same cluster as server \"" + counted.Name + "\": counted once; add this address as an endpoint of that server instead."
	}
}
