package tenants

import (
	"context"

	"github.com/pvetenant/backend/shared/httpapi"
)

// listAudit answers a tenant's trail newest first, limit (1-200, default 50)
// entries at a time; beforeId, the id of the last entry seen, pages back.
func (h *handler) listAudit(ctx context.Context, r *httpapi.Request, q ListAuditRequest) (AuditAnswer, error) {
	entries, err := h.store.Audit(ctx, r.DB(), q.TenantID, q.Limit, q.BeforeID)
	return AuditAnswer{Entries: entries}, err
}
