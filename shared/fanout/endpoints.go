package fanout

import (
	"context"

	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/targets"
)

// Cluster is what ServerHealth says about a cluster reached through several
// endpoints (issue 14).
type Cluster struct {
	// Endpoint is the host:port that answered ("" when none did).
	Endpoint string `json:"endpoint,omitempty"`
	// Endpoints counts the server's endpoints and how many are reachable
	// (answered or completed a TLS handshake under the server's trust within
	// the last 30 s).
	Endpoints *EndpointCount `json:"endpoints,omitempty"`
	// Quorate is /cluster/status' quorum: null for a standalone node, or
	// when the cluster's status was not read.
	Quorate *bool `json:"quorate"`
	// SameClusterAs names the server whose figures already count this
	// cluster (stats count a cluster registered twice once). A cluster that
	// answers but needs attention uses Health's Warning code ("no_quorum",
	// "same_cluster") and WarningMessage.
	SameClusterAs string `json:"sameClusterAs,omitempty"`
}

// EndpointCount is Cluster.Endpoints.
type EndpointCount struct {
	Total     int `json:"total"`
	Reachable int `json:"reachable"`
}

func (h *Health) setVia(v proxmox.Via) {
	h.Endpoint = v.Endpoint
	if v.Total > 0 {
		h.Endpoints = &EndpointCount{Total: v.Total, Reachable: v.Reachable}
	}
}

// OneVia is One that also says which endpoint answered.
func (r Runner) OneVia(ctx context.Context, s targets.Server, fn func(ctx context.Context, c *proxmox.Client) error) (proxmox.Via, error) {
	return r.call(ctx, s, fn)
}
