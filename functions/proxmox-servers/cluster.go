package proxmoxservers

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pvetenant/backend/functions/proxmox-servers/store"
	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/targets"
)

// maxEndpoints matches 0009's check constraint.
const maxEndpoints = 16

// parseEndpoints reads `endpoints`: an array of {host, port?, tlsFingerprint?}
// ([] or null removes them all); given is false when absent.
func parseEndpoints(p httpapi.Params) (out []EndpointInput, given bool, err error) {
	raw, ok := p.Raw("endpoints")
	if !ok {
		return nil, false, nil
	}
	list, ok := raw.([]any)
	if !ok && raw != nil {
		return nil, false, bad("endpoints must be an array of {host, port, tlsFingerprint}.")
	}
	if len(list) > maxEndpoints {
		return nil, false, bad("At most " + strconv.Itoa(maxEndpoints) + " further endpoints.")
	}
	out = []EndpointInput{}
	for i, v := range list {
		o, ok := v.(map[string]any)
		at := "endpoints[" + strconv.Itoa(i) + "]"
		if !ok {
			return nil, false, bad(at + " must be an object {host, port, tlsFingerprint}.")
		}
		h, _ := o["host"].(string)
		host, err := validHost(strings.TrimSpace(h))
		if err != nil || h == "" {
			return nil, false, bad(at + ".host must be a host name or an IP address.")
		}
		e := EndpointInput{Host: host, Port: proxmox.DefaultPort}
		if pv, ok := o["port"]; ok && pv != nil {
			n, err := strconv.Atoi(strings.TrimSpace(toString(pv)))
			if err != nil || n < 1 || n > 65535 {
				return nil, false, bad(at + ".port must be between 1 and 65535.")
			}
			e.Port = n
		}
		if fv, ok := o["tlsFingerprint"]; ok && fv != nil && fv != "" {
			s, _ := fv.(string)
			if e.TLSFingerprint, err = normalizeFingerprint(s); err != nil {
				return nil, false, bad(at + ".tlsFingerprint must be a SHA-256 fingerprint in colon hex.")
			}
		}
		out = append(out, e)
	}
	return out, true, nil
}

func toString(v any) string {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case string:
		return x
	}
	return "x"
}

// parseCAPEM reads `caPem`, the cluster's /etc/pve/pve-root-ca.pem ("" clears
// it); given is false when absent or null.
func parseCAPEM(p httpapi.Params) (pem string, given bool, err error) {
	if !p.Has("caPem") {
		return "", false, nil
	}
	// PEM has newlines, which OptionalString refuses.
	raw, _ := p.Raw("caPem")
	s, isString := raw.(string)
	if raw != nil && !isString || len(s) > 16384 {
		return "", false, bad("caPem must be a PEM certificate of at most 16384 characters.")
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", true, nil
	}
	if err := proxmox.ValidClusterCA(s); err != nil {
		return "", false, bad("caPem must be the cluster's CA certificate (the PEM of /etc/pve/pve-root-ca.pem): " + err.Error() + ".")
	}
	return s + "\n", true, nil
}

// needsCredentialsAgain: the stored secret must not follow the server to an
// address its editor chose without knowing it. Changing the CA, or adding
// endpoints trusted by their own pin, needs the credentials again; adding
// endpoints that only the unchanged cluster CA vouches for does not, because
// a certificate from that CA proves the endpoint is a node of the cluster
// the credentials belong to.
func needsCredentialsAgain(cur store.Server, f ServerFields) bool {
	curCA := ""
	if cur.CAPEM != nil {
		curCA = *cur.CAPEM
	}
	if f.given.caPEM && f.CAPEM != curCA {
		return true
	}
	before, eps := cur.ClusterEndpoints(), f.endpoints()
	if !f.given.endpoints || slices.Equal(eps, before) {
		return false
	}
	if curCA == "" {
		return true
	}
	for _, e := range eps {
		if e.Fingerprint != "" && !slices.Contains(before, e) {
			return true
		}
	}
	return false
}

// ClusterReport is what `test` found in /cluster/status: the cluster's name,
// quorum and nodes, offered as suggested endpoints. Nothing is added without
// an explicit update: the ip PVE reports is the corosync ring address,
// often unreachable from outside.
type ClusterReport struct {
	Name               string              `json:"name,omitempty"`
	Clustered          bool                `json:"clustered"`
	Quorate            *bool               `json:"quorate"`
	SuggestedEndpoints []SuggestedEndpoint `json:"suggestedEndpoints"`
}

// SuggestedEndpoint is one node of /cluster/status.
type SuggestedEndpoint struct {
	Node   string `json:"node"`
	IP     string `json:"ip,omitempty"`
	Online bool   `json:"online"`
}

// EndpointReport is one endpoint's certificate as `test` saw it, with a
// handshake only (nothing sent).
type EndpointReport struct {
	Endpoint       string `json:"endpoint"`
	TLSFingerprint string `json:"tlsFingerprint,omitempty"`
	ChainsToCA     *bool  `json:"chainsToCa,omitempty"` // null without a CA
	Error          string `json:"error,omitempty"`
}

// SameCluster names another server of the tenant that is the same cluster.
type SameCluster struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func reportOf(cs proxmox.ClusterStatus) *ClusterReport {
	r := &ClusterReport{Name: cs.Name, Clustered: cs.Clustered, SuggestedEndpoints: []SuggestedEndpoint{}}
	if cs.Clustered {
		q := cs.Quorate
		r.Quorate = &q
	}
	for _, n := range cs.Nodes {
		r.SuggestedEndpoints = append(r.SuggestedEndpoints, SuggestedEndpoint{Node: n.Name, IP: n.IP, Online: n.Online})
	}
	return r
}

func clusterID(cs proxmox.ClusterStatus) string {
	if !cs.Clustered || cs.Name == "" {
		return "" // standalone nodes are often all called "pve"
	}
	names := make([]string, 0, len(cs.Nodes))
	for _, n := range cs.Nodes {
		names = append(names, n.Name)
	}
	slices.Sort(names)
	return cs.Name + "\x00" + strings.Join(names, ",")
}

// endpointReports handshakes with every endpoint concurrently.
func (h *handler) endpointReports(ctx context.Context, t proxmox.Target, eps []proxmox.Endpoint) []EndpointReport {
	all := append([]proxmox.Endpoint{{Host: t.Host, Port: t.Port}}, eps...)
	out := make([]EndpointReport, len(all))
	var wg sync.WaitGroup
	for i, e := range all {
		out[i].Endpoint = e.Name()
		wg.Add(1)
		go func(i int, e proxmox.Endpoint) {
			defer wg.Done()
			defer func() { _ = recover() }()
			certs, err := proxmox.PeekCertificates(ctx, e.Host, e.Port, h.proxmox)
			if err != nil {
				out[i].Error = proxmox.Describe(err)
				return
			}
			out[i].TLSFingerprint = proxmox.CertFingerprint(certs[0])
			if t.ClusterCA != "" {
				ok := proxmox.ChainsToCAPEM(t.ClusterCA, certs)
				out[i].ChainsToCA = &ok
			}
		}(i, e)
	}
	wg.Wait()
	return out
}

// sameClusterAs finds the tenant's other servers (not exclude) that answer
// /cluster/status with the same cluster name and node set as cs. Servers
// that do not answer are not compared.
func (h *handler) sameClusterAs(ctx context.Context, r *httpapi.Request, tenantID, exclude string, cs proxmox.ClusterStatus) ([]SameCluster, error) {
	id := clusterID(cs)
	if id == "" {
		return nil, nil
	}
	servers, err := h.store.Targets(ctx, r.DB(), tenantID, "")
	if err != nil {
		return nil, err
	}
	servers = slices.DeleteFunc(servers, func(s targets.Server) bool { return s.ID == exclude })
	ids := fanout.Collect(ctx, h.runner, servers, func(ctx context.Context, _ targets.Server, c *proxmox.Client) (string, error) {
		other, err := c.ClusterStatus(ctx)
		return clusterID(other), err
	})
	var out []SameCluster
	for i, s := range servers {
		if ids[i].Value == id {
			out = append(out, SameCluster{ID: s.ID, Name: s.Name})
		}
	}
	return out, nil
}

// probeCluster reads /cluster/status through the target's endpoints. ok is
// false when no endpoint answered (create then goes ahead, as before).
func (h *handler) probeCluster(ctx context.Context, key string, t proxmox.Target, eps []proxmox.Endpoint) (proxmox.ClusterStatus, bool) {
	m := proxmox.NewMulti(key, t, eps, h.proxmox)
	defer m.CloseIdleConnections()
	var cs proxmox.ClusterStatus
	_, err := m.Do(ctx, func(ctx context.Context, c *proxmox.Client) error {
		var err error
		cs, err = c.ClusterStatus(ctx)
		return err
	})
	return cs, err == nil
}

// refuseSameCluster answers 409 same_cluster at create when the new server
// answers /cluster/status as a cluster another server of the tenant already
// is. The caller runs it after access and admission (admitProbe,
// admitEndpoints); a target nothing verifies is never called; an
// unreachable one is created as before.
func (h *handler) refuseSameCluster(ctx context.Context, r *httpapi.Request, q CreateServerRequest) error {
	t, eps := q.target(), q.endpoints()
	if !t.VerifyTLS && t.Fingerprint == "" && t.ClusterCA == "" && !slices.ContainsFunc(eps, func(e proxmox.Endpoint) bool { return e.Fingerprint != "" }) {
		return nil
	}
	cs, ok := h.probeCluster(ctx, "probe", t, eps)
	if !ok {
		return nil
	}
	same, err := h.sameClusterAs(ctx, r, q.TenantID, "", cs)
	if err != nil {
		return err
	}
	if len(same) > 0 {
		return errSameCluster(same[0].Name)
	}
	return nil
}

// sameClusterOfRow is sameClusterAs for a saved server (update shows it).
// Failures only mean nothing is shown.
func (h *handler) sameClusterOfRow(ctx context.Context, r *httpapi.Request, tenantID, id string) []SameCluster {
	servers, err := h.store.Targets(ctx, r.DB(), tenantID, id)
	if err != nil || len(servers) != 1 || servers[0].Problem != "" {
		return nil
	}
	var cs proxmox.ClusterStatus
	if err := h.runner.One(ctx, servers[0], func(ctx context.Context, c *proxmox.Client) error {
		var err error
		cs, err = c.ClusterStatus(ctx)
		return err
	}); err != nil {
		return nil
	}
	same, _ := h.sameClusterAs(ctx, r, tenantID, id, cs)
	return same
}

// TestCluster is what `test` adds for clusters.
type TestCluster struct {
	// Endpoint is the host:port that answered.
	Endpoint string `json:"endpoint,omitempty"`
	// Cluster is /cluster/status: name, quorum, and the nodes as suggested
	// endpoints (added only by an explicit update).
	Cluster *ClusterReport `json:"cluster,omitempty"`
	// Endpoints shows each endpoint's certificate and whether it chains to
	// the given CA.
	Endpoints []EndpointReport `json:"endpoints,omitempty"`
	// SameCluster lists the tenant's other servers that are this cluster.
	SameCluster []SameCluster `json:"sameCluster,omitempty"`

	status *proxmox.ClusterStatus
}

// probeVia is probe through every endpoint (failover as for any call), and
// reads /cluster/status on the endpoint that answered.
func (h *handler) probeVia(ctx context.Context, key string, t proxmox.Target, eps []proxmox.Endpoint, problem string, problemStatus proxmox.Status) TestResult {
	if problem != "" || (len(eps) == 0 && t.ClusterCA == "") {
		res := h.probe(ctx, t, problem, problemStatus)
		if res.OK {
			h.readStatus(ctx, t, &res)
		}
		return res
	}
	if key == "" {
		key = "probe"
	}
	m := proxmox.NewMulti(key, t, eps, h.proxmox)
	defer m.CloseIdleConnections()
	start := time.Now()
	var p proxmox.ProbeResult
	var last *proxmox.Client
	var cs proxmox.ClusterStatus
	var priv *proxmox.Privileges
	via, err := m.Do(ctx, func(ctx context.Context, c *proxmox.Client) error {
		last = c
		var err error
		if p, err = c.Probe(ctx); err != nil {
			return err
		}
		if st, err := c.ClusterStatus(ctx); err == nil {
			cs = st
		}
		if p, err := c.Permissions(ctx); err == nil {
			priv = &p
		}
		return nil
	})
	if err != nil {
		res := TestResult{Status: proxmox.Classify(err), Error: proxmox.Describe(err), LatencyMs: time.Since(start).Milliseconds()}
		if last != nil {
			res.TLSFingerprint = last.LastFingerprint()
		}
		return res
	}
	res := TestResult{OK: true, Status: proxmox.StatusOnline, Version: p.Version.Version, Nodes: p.Nodes,
		LatencyMs: p.LatencyMS, TLSFingerprint: p.Fingerprint}
	res.Endpoint = via.Endpoint
	if priv != nil {
		res.Privileges, res.Warning = priv, priv.Sentence()
	}
	if len(cs.Nodes) > 0 {
		res.status = &cs
	}
	return res
}

// readStatus adds /cluster/status for a single-endpoint server.
func (h *handler) readStatus(ctx context.Context, t proxmox.Target, res *TestResult) {
	c, err := proxmox.NewClient(t, h.proxmox)
	if err != nil {
		return
	}
	defer c.CloseIdleConnections()
	if cs, err := c.ClusterStatus(ctx); err == nil && len(cs.Nodes) > 0 {
		res.status = &cs
		res.Endpoint = proxmox.Endpoint{Host: t.Host, Port: t.Port}.Name()
	}
}

// describeCluster fills the cluster part of a test answer.
func (h *handler) describeCluster(ctx context.Context, r *httpapi.Request, res *TestResult, tenantID, serverID string, t proxmox.Target, eps []proxmox.Endpoint) {
	if len(eps) > 0 || t.ClusterCA != "" {
		res.Endpoints = h.endpointReports(ctx, t, eps)
	}
	if res.status == nil {
		return
	}
	res.Cluster = reportOf(*res.status)
	if tenantID != "" {
		res.SameCluster, _ = h.sameClusterAs(ctx, r, tenantID, serverID, *res.status)
	}
}

// admitEndpoints applies admitProbe (address guard, probing limits) to each
// endpoint that is new compared with before, so the guard holds for every
// endpoint at create and update too, not only when dialled.
func (h *handler) admitEndpoints(ctx context.Context, t *store.Tx, r *httpapi.Request, tenantID string, eps, before []proxmox.Endpoint) error {
	for _, e := range eps {
		if slices.ContainsFunc(before, func(b proxmox.Endpoint) bool { return b.Host == e.Host && b.Port == e.Port }) {
			continue
		}
		if err := h.admitProbe(ctx, t, r, tenantID, e.Host, e.Port); err != nil {
			return err
		}
	}
	return nil
}
