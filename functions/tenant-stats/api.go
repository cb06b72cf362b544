package tenantstats

import (
	"net/http"

	"github.com/invopop/jsonschema"

	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/httpapi"
)

// Describe is the function's operations with their request and answer types,
// from which infra/openapi generates the document.
func Describe() httpapi.Function {
	return httpapi.Function{
		Name: Name,
		Operations: []httpapi.Operation{
			{Action: "get-live-stats", Summary: "Aggregate live stats over every active server", Status: http.StatusOK, Request: httpapi.TenantRef{}, Answer: StatsAnswer{}},
			{Action: "get-resource-usage", Summary: "Guests and storage with their usage", Status: http.StatusOK, Request: httpapi.TenantRef{}, Answer: ResourcesAnswer{}},
			{Action: "get-node-status", Summary: "Every node with its usage", Status: http.StatusOK, Request: httpapi.TenantRef{}, Answer: NodesAnswer{}},
		},
		ByMethod: map[string]string{http.MethodGet: "get-live-stats", http.MethodPost: "get-live-stats"},
	}
}

// Requests. A field without omitempty is required; a pointer may be null.
// Answers follow.

type StatsAnswer struct {
	Stats LiveTenantStats `json:"stats"`
}

type ResourcesAnswer struct {
	Resources []any           `json:"resources" jsonschema:"description=guests (the VM shape) and storage entries; each names its server"`
	Servers   []fanout.Health `json:"servers"`
}

type NodesAnswer struct {
	Nodes   []NodeStatus    `json:"nodes"`
	Servers []fanout.Health `json:"servers"`
}

// JSONSchemaExtend makes each resource a guest or a storage entry (the Go
// type is []any because the handler merges both kinds in one sorted list).
func (ResourcesAnswer) JSONSchemaExtend(s *jsonschema.Schema) {
	if p, ok := s.Properties.Get("resources"); ok {
		p.Items = &jsonschema.Schema{OneOf: []*jsonschema.Schema{{Ref: "#/$defs/VM"}, {Ref: "#/$defs/Storage"}}}
	}
}
