package targets

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"

	"github.com/pvetenant/backend/shared/proxmox"
)

// parseEndpoints reads the endpoints column (0009 keeps it an array of
// {host, port, tls_fingerprint}); anything unreadable is dropped.
func parseEndpoints(raw string) []proxmox.Endpoint {
	var eps []proxmox.Endpoint
	if err := json.Unmarshal([]byte(raw), &eps); err != nil {
		return nil
	}
	out := eps[:0]
	for _, e := range eps {
		if strings.TrimSpace(e.Host) != "" {
			out = append(out, e)
		}
	}
	return out
}

// requireVerifiedTLS marks a server no request may be sent to: credentials
// only ever travel over TLS that something verifies (the system roots, a
// pinned fingerprint, on the primary or a further endpoint, or the
// cluster's CA).
func (s *Server) requireVerifiedTLS() {
	if !s.Target.VerifyTLS && s.Target.Fingerprint == "" && s.Target.ClusterCA == "" && !anyPinned(s.Endpoints) {
		s.fail(proxmox.StatusTLSError, UnverifiedTLS)
	}
}

func anyPinned(eps []proxmox.Endpoint) bool {
	for _, e := range eps {
		if e.Fingerprint != "" {
			return true
		}
	}
	return false
}

// endpointsKey extends Key with the further endpoints and the CA, so an edit
// of either gives a new client.
func endpointsKey(s Server) string {
	if len(s.Endpoints) == 0 && s.Target.ClusterCA == "" {
		return ""
	}
	b, _ := json.Marshal(s.Endpoints)
	sum := sha256.Sum256(append(b, s.Target.ClusterCA...))
	return "|" + hex.EncodeToString(sum[:8])
}

// Multi builds the server's multi-endpoint client. The process-wide
// endpoint memory is keyed by the server's id.
func (s Server) Multi(o proxmox.Options) *proxmox.Multi {
	return proxmox.NewMulti(s.ID, s.Target, s.Endpoints, o)
}
