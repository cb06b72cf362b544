package proxmoxservers

import (
	"net/http"

	"github.com/pvetenant/backend/functions/proxmox-servers/store"
	"github.com/pvetenant/backend/shared/httpapi"
	"github.com/pvetenant/backend/shared/proxmox"
)

// Describe is the function's operations with their request and answer types,
// from which infra/openapi generates the document: the same operations New
// serves.
func Describe() httpapi.Function { return (*handler)(nil).function() }

// function is the operations; Describe takes them from a nil handler, whose
// methods are named here but never called.
func (h *handler) function() httpapi.Function {
	return httpapi.Function{
		Name: Name,
		Operations: []httpapi.Operation{
			httpapi.Get("list", "The tenant's servers, newest first, never their secrets", h.list),
			httpapi.Get("get", "One server", h.get),
			httpapi.Create("create", "Register a server (manager or admin); credentials are sealed", h.create),
			httpapi.Op("update", http.StatusOK, "Edit a server; a secret is replaced only when given", h.update),
			httpapi.Op("delete", http.StatusOK, "Delete a server (admin)", h.delete),
			httpapi.Op("test", http.StatusOK, "Test a saved server or unsaved settings", h.test),
		},
		ByMethod: map[string]string{http.MethodGet: "list", http.MethodPost: "create", http.MethodPatch: "update", http.MethodPut: "update", http.MethodDelete: "delete"},
	}
}

// Requests. A field without omitempty is required; a pointer may be null.
// Each request's Parse (validate.go) is the one place it is checked.
// Answers follow.

type ServerRef struct {
	ServerID string `json:"serverId" jsonschema:"format=uuid"`
}

type ServerFields struct {
	Name           string `json:"name,omitempty" jsonschema:"minLength=1,maxLength=100"`
	Host           string `json:"host,omitempty" jsonschema:"minLength=1,maxLength=253"`
	Port           int    `json:"port,omitempty" jsonschema:"minimum=1,maximum=65535,default=8006"`
	TokenID        string `json:"tokenId,omitempty" jsonschema:"description=API token id user@realm!name"`
	TokenSecret    string `json:"tokenSecret,omitempty" jsonschema:"writeOnly=true"`
	Username       string `json:"username,omitempty" jsonschema:"description=user@realm, with password instead of a token"`
	Password       string `json:"password,omitempty" jsonschema:"writeOnly=true"`
	VerifyTLS      bool   `json:"verifyTls,omitempty"`
	TLSFingerprint string `json:"tlsFingerprint,omitempty" jsonschema:"description=SHA-256 of the certificate as colon hex; empty clears the pin"`
	// Issue 14: the cluster's further endpoints and its CA.
	Endpoints []EndpointInput `json:"endpoints,omitempty" jsonschema:"maxItems=16,description=further nodes of the same cluster; [] removes them"`
	CAPEM     string          `json:"caPem,omitempty" jsonschema:"maxLength=16384,description=PEM of the cluster's /etc/pve/pve-root-ca.pem; empty clears it"`

	// given says which of the fields whose zero value is a value were
	// given: an update changes only those ("" clears a pin or the CA).
	// Name, Host and Port are never zero when given.
	given given
}

type given struct{ verifyTLS, fingerprint, endpoints, caPEM bool }

// EndpointInput is one further endpoint of a cluster.
type EndpointInput struct {
	Host           string `json:"host" jsonschema:"minLength=1,maxLength=253"`
	Port           int    `json:"port,omitempty" jsonschema:"minimum=1,maximum=65535,default=8006"`
	TLSFingerprint string `json:"tlsFingerprint,omitempty" jsonschema:"description=optional pin of this node's certificate"`
}

type CreateServerRequest struct {
	TenantID string `json:"tenantId" jsonschema:"format=uuid"`
	Name     string `json:"name" jsonschema:"minLength=1,maxLength=100"`
	Host     string `json:"host" jsonschema:"minLength=1,maxLength=253"`
	ServerFields
}

type UpdateServerRequest struct {
	ServerID string `json:"serverId" jsonschema:"format=uuid"`
	IsActive bool   `json:"isActive,omitempty"`
	ServerFields

	isActiveGiven bool // false is a value
	// moveTo is tenantId: a system admin, or a manager of both tenants,
	// moves the server there. It is not in the document.
	moveTo string
}

type TestServerRequest struct {
	ServerID string `json:"serverId,omitempty" jsonschema:"format=uuid,description=a saved server; or give the create fields instead"`
	TenantID string `json:"tenantId,omitempty" jsonschema:"format=uuid"`
	ServerFields
}

type ServersAnswer struct {
	Servers []store.Server `json:"servers"`
}

type ServerAnswer struct {
	Server      store.Server  `json:"server"`
	SameCluster []SameCluster `json:"sameCluster,omitempty" jsonschema:"description=update: the tenant's other servers that are this same cluster"`
}

// TestResult answers `test`. A failed connection is an answer, not an error:
// ok is false, status says how it failed, and tlsFingerprint shows the
// certificate the server presented so the user can pin it.
type TestResult struct {
	OK             bool           `json:"ok"`
	Version        string         `json:"version,omitempty"`
	Nodes          int            `json:"nodes"`
	LatencyMs      int64          `json:"latencyMs"`
	TLSFingerprint string         `json:"tlsFingerprint,omitempty"`
	Status         proxmox.Status `json:"status"`
	Error          string         `json:"error,omitempty"`
	// What the credentials may do (GET /access/permissions), and a sentence
	// when they cannot see guests, storage or node figures, or power guests.
	Privileges  *proxmox.Privileges `json:"privileges,omitempty"`
	Warning     string              `json:"warning,omitempty"`
	TestCluster                     // issue 14 (cluster.go)
}
