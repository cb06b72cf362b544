package proxmox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// call sends one request under the budget (a no-op inside a call that
// already has one) and decodes the "data" member of the answer; a 2xx answer
// decode cannot use is a bad response.
func call[T any](ctx context.Context, c *Client, method, path string, decode func([]byte) (T, error)) (T, error) {
	ctx, cancel := c.begin(ctx)
	defer cancel()
	var zero T
	var raw json.RawMessage
	if err := c.request(ctx, method, path, &raw); err != nil {
		return zero, err
	}
	v, err := decode(raw)
	if err != nil {
		return zero, c.badResponse(method+" "+path, err)
	}
	return v, nil
}

// tolerant is a tolerant decoder for call: malformed entries it skipped or
// zeroed are logged at debug level, never failing the call.
func tolerant[T any](c *Client, op string, decode func([]byte) (T, DecodeStats, error)) func([]byte) (T, error) {
	return func(raw []byte) (T, error) {
		v, st, err := decode(raw)
		if err == nil {
			c.logStats(op, st)
		}
		return v, err
	}
}

// version returns /version (Probe's first request).
func (c *Client) version(ctx context.Context) (Version, error) {
	return call(ctx, c, http.MethodGet, "/version", decodeVersion)
}

// resourceTypes maps accepted filters to the server-side ?type= value.
// "qemu" and "lxc" are not server filters; they query "vm" and filter here.
var resourceTypes = map[string]string{
	"": "", "vm": "vm", "storage": "storage", "node": "node", "sdn": "sdn",
	"pool": "pool", "network": "network", "qemu": "vm", "lxc": "vm",
}

// ClusterResources returns /cluster/resources, optionally filtered by typ
// (vm, qemu, lxc, node, storage, pool, sdn, network). Malformed entries are
// skipped or partially zeroed (never failing the call) and reported at debug
// level.
func (c *Client) ClusterResources(ctx context.Context, typ string) ([]Resource, error) {
	q, ok := resourceTypes[typ]
	if !ok {
		return nil, invalidInput("GET /cluster/resources", "unknown resource type filter")
	}
	path := "/cluster/resources"
	if q != "" {
		path += "?type=" + q
	}
	res, err := call(ctx, c, http.MethodGet, path, tolerant(c, "GET "+path, func(raw []byte) ([]Resource, DecodeStats, error) {
		return decodeList(raw, decodeResource)
	}))
	if err != nil {
		return nil, err
	}
	if typ == "qemu" || typ == "lxc" {
		kept := res[:0]
		for _, r := range res {
			if r.Type == typ {
				kept = append(kept, r)
			}
		}
		res = kept
	}
	return res, nil
}

// nodes returns /nodes (Probe's node count).
func (c *Client) nodes(ctx context.Context) ([]Node, error) {
	return call(ctx, c, http.MethodGet, "/nodes", tolerant(c, "GET /nodes", decodeNodes))
}

// ClusterStatus returns /cluster/status (needs Sys.Audit on /).
func (c *Client) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	return call(ctx, c, http.MethodGet, "/cluster/status", tolerant(c, "GET /cluster/status", decodeClusterStatus))
}

// GuestAction starts/stops/shuts down/reboots a VM (typ "qemu") or
// container ("lxc") and returns the task's UPID. Inputs are validated
// before anything is sent.
func (c *Client) GuestAction(ctx context.Context, node, typ string, vmid int, action string) (string, error) {
	const op = "POST guest action"
	switch {
	case !nodeRe.MatchString(node):
		return "", invalidInput(op, "invalid node name")
	case !guestTypes[typ]:
		return "", invalidInput(op, `guest type must be "qemu" or "lxc"`)
	case vmid < 100 || vmid > maxVMID:
		return "", invalidInput(op, "VMID must be between 100 and 999999999")
	case !guestActions[action]:
		return "", invalidInput(op, "action must be start, stop, shutdown or reboot")
	}
	path := "/nodes/" + node + "/" + typ + "/" + strconv.Itoa(vmid) + "/status/" + action
	return call(ctx, c, http.MethodPost, path, decodeUPID)
}

// TaskStatus returns the status of a task started on node.
func (c *Client) TaskStatus(ctx context.Context, node, upid string) (TaskStatus, error) {
	const op = "GET task status"
	if !nodeRe.MatchString(node) {
		return TaskStatus{}, invalidInput(op, "invalid node name")
	}
	m := upidRe.FindStringSubmatch(upid)
	if m == nil {
		return TaskStatus{}, invalidInput(op, "invalid task id (UPID)")
	}
	if !strings.EqualFold(m[1], node) {
		return TaskStatus{}, invalidInput(op, "task id belongs to a different node")
	}
	path := "/nodes/" + node + "/tasks/" + url.PathEscape(upid) + "/status"
	return call(ctx, c, http.MethodGet, path, decodeTask)
}

// Probe backs the "test connection" button: version, node count, latency of
// GET /version, and the TLS leaf fingerprint. The whole probe shares one
// deadline. The result is filled as far as the probe got even on error, in
// particular Fingerprint on TLS errors so the UI can offer to pin it.
func (c *Client) Probe(ctx context.Context) (ProbeResult, error) {
	ctx, cancel := c.begin(ctx)
	defer cancel()
	res := ProbeResult{TLSMode: c.tlsMode}
	fail := func(err error) (ProbeResult, error) {
		res.Fingerprint = c.LastFingerprint()
		var e *Error
		if errors.As(err, &e) && e.Fingerprint != "" {
			res.Fingerprint = e.Fingerprint
		}
		return res, err
	}

	if c.password {
		// Log in first so the latency figure is one plain round trip.
		c.authMu.Lock()
		err := c.ensureSessionLocked(ctx)
		c.authMu.Unlock()
		if err != nil {
			return fail(err)
		}
	}

	start := time.Now()
	v, err := c.version(ctx)
	if err != nil {
		return fail(err)
	}
	res.LatencyMS = time.Since(start).Milliseconds()
	res.Version = v
	res.Fingerprint = c.LastFingerprint()

	nodes, err := c.nodes(ctx)
	if err != nil {
		return fail(err)
	}
	res.Nodes = len(nodes)
	for _, n := range nodes {
		if n.Status == "online" {
			res.NodesOnline++
		}
	}
	return res, nil
}

func (c *Client) logStats(op string, st DecodeStats) {
	if st.Skipped == 0 && st.Partial == 0 {
		return
	}
	c.log.Debug("proxmox: tolerated malformed entries",
		"op", op, "total", st.Total, "kept", st.Kept, "skipped", st.Skipped,
		"partial", st.Partial, "problems", st.Problems)
}
