package listvms

import (
	"context"
	"errors"

	"github.com/pvetenant/backend/shared/proxmox"
)

// requireQuorum refuses a power action on a cluster without quorum before
// anything is sent: PVE would fail it anyway ("cluster not ready - no
// quorum?", PVE::Cluster::check_cfs_quorum, because pmxcfs is read-only
// without quorum), after the user waited for a task. A token that may not
// read /cluster/status (403, needs Sys.Audit) skips the check; Proxmox
// still has the last word. A node-level failure is returned so the next
// endpoint is tried.
func requireQuorum(ctx context.Context, c *proxmox.Client) error {
	cs, err := c.ClusterStatus(ctx)
	if err != nil {
		var e *proxmox.Error
		if errors.As(err, &e) && e.HTTPStatus >= 400 && e.HTTPStatus < 500 {
			return nil
		}
		return err
	}
	if cs.Clustered && !cs.Quorate {
		return errNoQuorum
	}
	return nil
}
