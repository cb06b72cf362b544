package tenantstats

import (
	"context"
	"errors"
	"slices"
	"strings"

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
func (h *handler) readCluster(ctx context.Context, key string, c *proxmox.Client, out *clusterInfo) error {
	res, err := h.status.Get(ctx, key, func(ctx context.Context) (clusterInfo, error) {
		ctx, cancel := context.WithTimeout(ctx, h.timeout)
		defer cancel()
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
		return err
	}
	if res.Err != nil {
		return res.Err
	}
	*out = res.Value
	return nil
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

// applyClusters puts quorum into each answered server's health, and counts
// servers that are the same cluster (same name, same node set) once: the
// row that sees the most (a token with fewer privileges sees less of the
// same cluster; ties go to the first row) is counted, the others keep their
// health and name it.
func applyClusters(p *polled, clusters []clusterInfo) {
	id := func(i int) string {
		ci := clusters[i]
		if !p.health[i].Online() || !ci.known || !ci.clustered {
			return ""
		}
		return ci.name + "\x00" + ci.nodes
	}
	best := map[string]int{}
	for i := range p.data {
		k := id(i)
		if k == "" {
			continue
		}
		if j, ok := best[k]; !ok || len(p.data[i].Resources) > len(p.data[j].Resources) {
			best[k] = i
		}
	}
	orig := append([]serverData(nil), p.data...)
	kept := p.data[:0]
	for i := range orig {
		ci, h := clusters[i], &p.health[i]
		if h.Online() && ci.known && ci.clustered {
			q := ci.quorate
			h.Quorate = &q
			if !q {
				// More urgent than any other warning (issue 13's privileges).
				h.Warning, h.WarningMessage = "no_quorum", NoQuorumWarning
			}
		}
		if k := id(i); k != "" && best[k] != i {
			j := best[k]
			h.SameClusterAs = orig[j].ID
			if h.Warning == "" {
				h.Warning = "same_cluster"
				h.WarningMessage = "The same cluster as server \"" + orig[j].Name + "\": counted once; add this address as an endpoint of that server instead."
			}
			continue
		}
		kept = append(kept, orig[i])
	}
	p.data = kept
}
