package tenantstats

import (
	"github.com/invopop/jsonschema"

	"github.com/pvetenant/backend/shared/fanout"
	"github.com/pvetenant/backend/shared/httpapi"
)

// Describe is the function's operations with their request and answer types,
// from which infra/openapi generates the document: the same operations New
// serves (method values on a nil handler are never called).
func Describe() httpapi.Function { return (*handler)(nil).function() }

// Every action takes httpapi.TenantRef. Answers: a field without omitempty
// is always sent.

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
