package functest

import (
	"context"
	"encoding/json"

	"github.com/pvetenant/backend/infra/pvesim"
	"github.com/pvetenant/backend/shared/secrets"
)

// ClusterOpts describe a cluster registered by AddCluster.
type ClusterOpts struct {
	Primary   string   // node whose port is host/port
	Endpoints []string // further nodes, in order
	CA        bool     // trust the cluster's CA (ca_pem) instead of pinning each node
}

// AddCluster registers a simulated cluster as one server of tenant: the
// primary node's address plus further endpoints, trusted through the
// cluster CA or pinned per node, with sealed API token credentials, as the
// table owner (as a row created before issue 14's create checks would be).
func (e *Env) AddCluster(tenant, name string, c *pvesim.Cluster, o ClusterOpts) string {
	e.T.Helper()
	ctx := context.Background()
	type ep struct {
		Host        string `json:"host"`
		Port        int    `json:"port"`
		Fingerprint string `json:"tls_fingerprint,omitempty"`
	}
	eps := []ep{}
	for _, n := range o.Endpoints {
		x := ep{Host: "127.0.0.1", Port: c.NodePort(n)}
		if !o.CA {
			x.Fingerprint = c.NodeFingerprint(n)
		}
		eps = append(eps, x)
	}
	b, _ := json.Marshal(eps)
	var fp, ca *string
	if o.CA {
		s := c.CAPEM()
		ca = &s
	} else {
		s := c.NodeFingerprint(o.Primary)
		fp = &s
	}
	var id string
	err := e.DB.Pool.QueryRow(ctx, `insert into public.proxmox_servers (tenant_id, name, host, port, verify_ssl, tls_fingerprint, endpoints, ca_pem, is_active)
		values ($1, $2, '127.0.0.1', $3, false, $4, $5::jsonb, $6, true) returning id::text`,
		tenant, name, c.NodePort(o.Primary), fp, string(b), ca).Scan(&id)
	if err != nil {
		e.T.Fatal(err)
	}
	cr := secrets.Credentials{TokenID: pvesim.PresetTokenID, TokenSecret: pvesim.PresetTokenSecret}
	keyID, sealed, err := e.Deps.Keyring.SealCredentials(id, cr)
	if err != nil {
		e.T.Fatal(err)
	}
	if _, err := e.DB.Pool.Exec(ctx, `insert into private.proxmox_server_credentials (server_id, auth_type, key_id, sealed) values ($1, $2, $3, $4)`,
		id, cr.AuthType(), keyID, sealed); err != nil {
		e.T.Fatal(err)
	}
	if _, err := e.DB.Pool.Exec(ctx, `update public.proxmox_servers set auth_type = $2, credentials_version = 1 where id = $1`, id, cr.AuthType()); err != nil {
		e.T.Fatal(err)
	}
	return id
}
