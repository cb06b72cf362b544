package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/db"
)

// AuditEntry is a row of public.audit_log. list-audit is an extension beyond
// the contract: the trail itself is written by the database (0004).
type AuditEntry struct {
	ID         int64           `json:"id"`
	TenantID   string          `json:"tenant_id"`
	ActorID    *string         `json:"actor_id"`
	Action     string          `json:"action"`
	TargetType string          `json:"target_type"`
	TargetID   *string         `json:"target_id"`
	Before     json.RawMessage `json:"before"`
	After      json.RawMessage `json:"after"`
	CreatedAt  time.Time       `json:"created_at"`
}

// Audit reads a tenant's trail newest first (tenant admins and system
// admins only), limit entries at a time; beforeID, when not 0, is the last
// entry seen and pages back from it.
func (s *Store) Audit(ctx context.Context, c db.Caller, tenantID string, limit int, beforeID int64) (entries []AuditEntry, err error) {
	var cursor *int64
	if beforeID != 0 {
		cursor = &beforeID
	}
	err = access.In(ctx, s.pool, c, tenantID, access.ManageMembers, func(tx pgx.Tx, _ access.Access) error {
		entries, err = db.List(ctx, tx, pgx.RowToStructByPos[AuditEntry], `select l.id, l.tenant_id::text, l.actor_id::text, l.action, l.target_type, l.target_id,
				l.before, l.after, l.created_at
			from public.audit_log l
			where l.tenant_id = $1
			  and ($2::bigint is null or (l.created_at, l.id) < (select c.created_at, c.id from public.audit_log c where c.id = $2))
			order by l.created_at desc, l.id desc
			limit $3`, tenantID, cursor, limit)
		return err
	})
	return entries, err
}
