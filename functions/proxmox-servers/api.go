package proxmoxservers

import (
	"net/http"

	"github.com/pvetenant/backend/shared/httpapi"
)

// Describe is the function's operations with their request and answer types,
// from which infra/openapi generates the document.
func Describe() httpapi.Function {
	return httpapi.Function{
		Name: Name,
		Operations: []httpapi.Operation{
			{Action: "list", Summary: "The tenant's servers, newest first, never their secrets", Status: http.StatusOK, Request: httpapi.TenantRef{}, Answer: ServersAnswer{}},
			{Action: "get", Summary: "One server", Status: http.StatusOK, Request: ServerRef{}, Answer: ServerAnswer{}},
			{Action: "create", Summary: "Register a server (manager or admin); credentials are sealed", Status: http.StatusCreated, Request: CreateServerRequest{}, Answer: ServerAnswer{}},
			{Action: "update", Summary: "Edit a server; a secret is replaced only when given", Status: http.StatusOK, Request: UpdateServerRequest{}, Answer: ServerAnswer{}},
			{Action: "delete", Summary: "Delete a server (admin)", Status: http.StatusOK, Request: ServerRef{}, Answer: httpapi.DeletedAnswer{}},
			{Action: "test", Summary: "Test a saved server or unsaved settings", Status: http.StatusOK, Request: TestServerRequest{}, Answer: TestResult{}},
		},
		ByMethod: map[string]string{http.MethodGet: "list", http.MethodPost: "create", http.MethodPatch: "update", http.MethodPut: "update", http.MethodDelete: "delete"},
	}
}

// Requests. A field without omitempty is required; a pointer may be null.
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
}

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
}

type TestServerRequest struct {
	ServerID string `json:"serverId,omitempty" jsonschema:"format=uuid,description=a saved server; or give the create fields instead"`
	TenantID string `json:"tenantId,omitempty" jsonschema:"format=uuid"`
	ServerFields
}

type ServersAnswer struct {
	Servers []Server `json:"servers"`
}

type ServerAnswer struct {
	Server      Server        `json:"server"`
	SameCluster []SameCluster `json:"sameCluster,omitempty" jsonschema:"description=update: the tenant's other servers that are this same cluster"`
}
