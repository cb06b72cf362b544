package openapi_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/pvetenant/backend/infra/openapi"
)

// The committed document is what the Go types generate; after changing a
// request or answer type run `go run ./infra/cmd/openapi` (and regenerate
// the app's TypeScript types).
func TestDocumentIsCurrent(t *testing.T) {
	b, err := openapi.Document()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, openapi.Committed()) {
		t.Fatal("infra/openapi/openapi.json is stale: run `go run ./infra/cmd/openapi`")
	}
}

func TestValidateAnswer(t *testing.T) {
	server := `{"id":"6b0f1c52-1d4e-4c6f-9a5e-0f6d8f1b2a11","user_id":null,"tenant_id":"aaaaaaaa-0000-4000-8000-000000000001","name":"lab","host":"10.0.0.5","port":8006,
		"verify_ssl":false,"tls_fingerprint":null,"auth_type":"token","is_active":true,"connection_status":null,"last_connected_at":null,
		"credentials_version":1,"created_at":"2026-12-02T10:00:00Z","updated_at":"2026-12-02T10:00:00Z","has_credentials":true,"endpoints":[],"ca_pem":null%s}`
	cases := []struct {
		name, function, action string
		status                 int
		body                   string
		ok                     bool
	}{
		{"a server as documented", "proxmox-servers", "get", 200, `{"server":` + sprintf(server, "") + `}`, true},
		{"a secret field the document does not name", "proxmox-servers", "get", 200, `{"server":` + sprintf(server, `,"token_secret":"x"`) + `}`, false},
		{"a required field missing", "tenants", "my-permissions", 200, `{"tenantId":"aaaaaaaa-0000-4000-8000-000000000001","role":"admin","isSystemAdmin":false}`, false},
		{"null where Go has a pointer", "tenants", "my-permissions", 200, `{"tenantId":"aaaaaaaa-0000-4000-8000-000000000001","role":null,"isSystemAdmin":true,"canView":true,"canManageServers":true,"canDeleteServers":true,"canManageUsers":true,"canControlVms":true}`, true},
		{"null where Go has no pointer", "tenants", "my-permissions", 200, `{"tenantId":null,"role":null,"isSystemAdmin":true,"canView":true,"canManageServers":true,"canDeleteServers":true,"canManageUsers":true,"canControlVms":true}`, false},
		{"an unknown ServerHealth status", "list-vms", "list", 200, `{"vms":[],"servers":[{"id":"a","name":"b","status":"fine","latencyMs":1}]}`, false},
		{"an error answer", "tenants", "get", 404, `{"error":"Not found.","code":"not_found"}`, true},
		{"an error without a code", "tenants", "get", 404, `{"error":"Not found."}`, false},
		{"a status the document does not list", "proxmox-servers", "create", 200, `{"server":` + sprintf(server, "") + `}`, false},
		{"an action the document does not list", "tenants", "nope", 200, `{}`, false},
		{"a storage entry among resources", "tenant-stats", "get-resource-usage", 200, `{"servers":[],"resources":[{"serverId":"s","serverName":"n","type":"storage","storage":"local","node":"pve1","status":"available","shared":false,"plugintype":"dir","content":["iso"],"disk":1,"maxdisk":2}]}`, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := openapi.ValidateAnswer(c.function, c.action, c.status, []byte(c.body))
			if (err == nil) != c.ok {
				t.Fatalf("ok=%v, err=%v", c.ok, err)
			}
		})
	}
}

func sprintf(format, extra string) string { return strings.Replace(format, "%s", extra, 1) }
