package migrations_test

import (
	"testing"

	"github.com/pvetenant/backend/infra/testdb"
)

// 0010: the recorder takes the outcome; a failed action is recorded as
// guest.<action>_failed with PVE's exit status, never as guest.<action>.
func TestGuestActionOutcomeRecorder(t *testing.T) {
	db := testdb.Fresh(t)
	seed(t, db, false)
	const rec = `select private.record_guest_action($1, $2, 'pve1', 100, 'qemu', $3, $4, $5, $6)`
	runCases(t, db, []rlsCase{
		{"viewer", viewerA, rec, []any{tenantA, serverA, "start", "UPID:x", "succeeded", nil}, 0, "42501"},
		{"admin of B in A", adminB, rec, []any{tenantA, serverA, "start", "UPID:x", "succeeded", nil}, 0, "42501"},
		{"unknown outcome", managerA, rec, []any{tenantA, serverA, "start", "UPID:x", "done", nil}, 0, "22023"},
		{"manager", managerA, rec, []any{tenantA, serverA, "start", "UPID:x", "running", nil}, 1, ""},
	})
	since := lastAuditID(t, db)
	mustAs(t, db, managerA, rec, tenantA, serverA, "start", "UPID:pve1:1", "failed", "VM 100 already running")
	mustAs(t, db, managerA, rec, tenantA, serverA, "stop", nil, "succeeded", nil)
	r := trailSince(t, db, since)
	if len(r) != 2 || r[0].Action != "guest.start_failed" || r[0].After["outcome"] != "failed" ||
		r[0].After["exitstatus"] != "VM 100 already running" || r[0].After["upid"] != "UPID:pve1:1" {
		t.Fatalf("failed row: %+v", r)
	}
	if r[1].Action != "guest.stop" || r[1].After["outcome"] != "succeeded" || r[1].After["upid"] != nil {
		t.Fatalf("succeeded row: %+v", r[1])
	}
	psqlApply(t, db, "0010_guest_action_outcome.sql") // re-appliable
	psqlApply(t, db, "0010_guest_action_outcome.sql")
}
