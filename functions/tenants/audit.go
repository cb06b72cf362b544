package tenants

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/httpapi"
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

// listAudit answers a tenant's trail newest first, limit (1-200, default 50)
// entries at a time; beforeId, the id of the last entry seen, pages back.
func (h *handler) listAudit(ctx context.Context, r *httpapi.Request) (*httpapi.Response, error) {
	tenantID, err := r.Params.RequiredUUID("tenantId")
	if err != nil {
		return nil, err
	}
	limit, given, err := r.Params.OptionalInt("limit", 1, 200)
	if err != nil {
		return nil, err
	}
	if !given {
		limit = 50
	}
	beforeID, paging, err := r.Params.OptionalInt("beforeId", 1, 1<<62)
	if err != nil {
		return nil, err
	}
	var cursor *int64
	if paging {
		cursor = &beforeID
	}
	var entries []AuditEntry
	err = db.AsUser(ctx, h.d.Pool, r.DB(), func(tx pgx.Tx) error {
		if _, err := manage(ctx, tx, r, tenantID); err != nil {
			return err
		}
		entries, err = db.List(ctx, tx, pgx.RowToStructByPos[AuditEntry], `select l.id, l.tenant_id::text, l.actor_id::text, l.action, l.target_type, l.target_id,
				l.before, l.after, l.created_at
			from public.audit_log l
			where l.tenant_id = $1
			  and ($2::bigint is null or (l.created_at, l.id) < (select c.created_at, c.id from public.audit_log c where c.id = $2))
			order by l.created_at desc, l.id desc
			limit $3`, tenantID, cursor, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	return httpapi.OK(map[string]any{"entries": entries}), nil
}
