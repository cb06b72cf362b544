package migrations_test

import (
	"strings"
	"testing"

	"github.com/pvetenant/backend/infra/testdb"
	"github.com/pvetenant/backend/sql/migrations"
)

// 0009: existing servers keep working as one endpoint; the columns are
// checked; re-applying changes nothing; RLS is unchanged (a viewer cannot
// change endpoints, a manager can, nobody outside the tenant sees them).
func TestClusterEndpointsMigration(t *testing.T) {
	db := testdb.Empty(t)
	var name string
	for _, m := range migrations.All() {
		if strings.HasPrefix(m.Name, "0009") {
			name = m.Name
			break
		}
		psqlApply(t, db, m.Name)
	}
	seed(t, db, false)
	psqlApply(t, db, name)
	psqlApply(t, db, name)
	if got := scalar[string](t, db, `select endpoints::text || coalesce(ca_pem, 'null') from public.proxmox_servers where id = $1`, serverA); got != "[]null" {
		t.Fatalf("existing server: %s", got)
	}
	const upd = `update public.proxmox_servers set endpoints = $2::jsonb where id = $1`
	good := `[{"host": "pve2.acme.test", "port": 8006}, {"host": "10.0.0.3", "port": 8006, "tls_fingerprint": "` +
		strings.TrimSuffix(strings.Repeat("AB:", 32), ":") + `"}]`
	runCases(t, db, []rlsCase{
		{"manager adds endpoints", managerA, upd, []any{serverA, good}, 1, ""},
		{"viewer cannot", viewerA, upd, []any{serverA, good}, 0, ""},
		{"admin of B cannot", adminB, upd, []any{serverA, good}, 0, ""},
		{"not an array", managerA, upd, []any{serverA, `{"host": "x"}`}, 0, "23514"},
		{"no port", managerA, upd, []any{serverA, `[{"host": "x"}]`}, 0, "23514"},
		{"port out of range", managerA, upd, []any{serverA, `[{"host": "x", "port": 70000}]`}, 0, "23514"},
		{"bad fingerprint", managerA, upd, []any{serverA, `[{"host": "x", "port": 8006, "tls_fingerprint": "ab"}]`}, 0, "23514"},
		{"a key is no CA", managerA, `update public.proxmox_servers set ca_pem = '-----BEGIN CERTIFICATE-----x-----BEGIN PRIVATE KEY-----' where id = $1`, []any{serverA}, 0, "23514"},
		{"a CA", managerA, `update public.proxmox_servers set ca_pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----' where id = $1`, []any{serverA}, 1, ""},
	})
}
