// Package ratelimit counts hits against fleet-wide limits kept in PostgreSQL
// (private.rate_limit_hit, migration 0008), so every function process, on
// every Lambda instance, spends the same budget. A hit is counted in the
// caller's own transaction: it takes effect when that transaction commits,
// and a request that fails afterwards and rolls back spends nothing.
package ratelimit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/shared/apperr"
	"github.com/pvetenant/backend/shared/db"
)

// Rule is at most Limit hits in any Window. A zero Limit turns it off.
type Rule struct {
	Limit  int
	Window time.Duration
}

func (r Rule) String() string {
	if r.Limit == 0 {
		return "off"
	}
	return fmt.Sprintf("%d/%s", r.Limit, r.Window)
}

// Limits are the rules the functions enforce. RATE_LIMITS overrides them.
type Limits struct {
	// ProbePerUser and ProbePerTenant bound what reaches an address a user
	// typed: `test` of an unsaved target and `create`/`update` that set an
	// address. They share one budget.
	ProbePerUser   Rule
	ProbePerTenant Rule
	// SavedTestPerUser bounds `test` by serverId: the address was judged
	// (and counted) when it was saved, so the limit is higher.
	SavedTestPerUser Rule
	// PowerPerUser bounds guest power actions, which make Proxmox work.
	PowerPerUser Rule
}

// Defaults: see the README (Issue 18) for why these numbers.
func Defaults() Limits {
	return Limits{
		ProbePerUser:     Rule{20, time.Minute},
		ProbePerTenant:   Rule{60, time.Minute},
		SavedTestPerUser: Rule{60, time.Minute},
		PowerPerUser:     Rule{30, time.Minute},
	}
}

var names = map[string]func(*Limits) *Rule{
	"probe_per_user":      func(l *Limits) *Rule { return &l.ProbePerUser },
	"probe_per_tenant":    func(l *Limits) *Rule { return &l.ProbePerTenant },
	"saved_test_per_user": func(l *Limits) *Rule { return &l.SavedTestPerUser },
	"power_per_user":      func(l *Limits) *Rule { return &l.PowerPerUser },
}

// Parse reads RATE_LIMITS: comma-separated name=N/window entries (e.g.
// "probe_per_user=10/1m, power_per_user=0") over the defaults; N = 0 turns a
// rule off. Windows are whole seconds from 1s to 24h.
func Parse(s string) (Limits, error) {
	l := Defaults()
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, val, ok := strings.Cut(f, "=")
		get := names[strings.TrimSpace(name)]
		if !ok || get == nil {
			return l, fmt.Errorf("unknown entry %q (known: probe_per_user, probe_per_tenant, saved_test_per_user, power_per_user)", f)
		}
		r := get(&l)
		n, win, hasWin := strings.Cut(strings.TrimSpace(val), "/")
		limit, err := strconv.Atoi(strings.TrimSpace(n))
		if err != nil || limit < 0 || limit > 1_000_000 {
			return l, fmt.Errorf("%q: the limit must be a whole number from 0", f)
		}
		r.Limit = limit
		if hasWin {
			d, err := time.ParseDuration(strings.TrimSpace(win))
			if err != nil || d < time.Second || d > 24*time.Hour || d%time.Second != 0 {
				return l, fmt.Errorf("%q: the window must be whole seconds from 1s to 24h, e.g. 1m", f)
			}
			r.Window = d
		}
	}
	return l, nil
}

// What a refusal says, per kind of hit.
const (
	kindProbe     = "probe"
	kindSavedTest = "saved_test"
	kindPower     = "power"
)

var messages = map[string]string{
	kindProbe:     "Too many connection attempts to new addresses",
	kindSavedTest: "Too many connection tests",
	kindPower:     "Too many power actions",
}

// Probe counts a probe of a new address for the caller and for tenantID.
// Both must allow it; tx runs as the caller (db.AsUser).
func (l Limits) Probe(ctx context.Context, tx pgx.Tx, tenantID string) error {
	if err := hit(ctx, tx, kindProbe, "", l.ProbePerUser); err != nil {
		return err
	}
	return hit(ctx, tx, kindProbe, tenantID, l.ProbePerTenant)
}

// SavedTest counts a `test` of a saved server for the caller.
func (l Limits) SavedTest(ctx context.Context, tx pgx.Tx) error {
	return hit(ctx, tx, kindSavedTest, "", l.SavedTestPerUser)
}

// Power counts a guest power action for the caller, in a transaction of its
// own so it can stand first in a request.
func (l Limits) Power(ctx context.Context, pool *pgxpool.Pool, caller db.Caller) error {
	if l.PowerPerUser.Limit == 0 {
		return nil
	}
	// One statement of its own: one round trip, never repeated once sent.
	return hit(ctx, db.WritesAsCaller{Pool: pool, Caller: caller}, kindPower, "", l.PowerPerUser)
}

// rower is a transaction, or db.WritesAsCaller for a hit of its own.
type rower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func hit(ctx context.Context, tx rower, kind, tenantID string, r Rule) error {
	if r.Limit == 0 {
		return nil
	}
	var tenant *string
	if tenantID != "" {
		tenant = &tenantID
	}
	var allowed bool
	var retryMS int64
	if err := tx.QueryRow(ctx, `select allowed, retry_after_ms from private.rate_limit_hit($1, $2::uuid, $3, $4)`,
		kind, tenant, r.Limit, int(r.Window/time.Second)).Scan(&allowed, &retryMS); err != nil {
		return err
	}
	if allowed {
		return nil
	}
	wait := time.Duration(retryMS) * time.Millisecond
	secs := int64((wait + time.Second - 1) / time.Second)
	unit := "seconds"
	if secs == 1 {
		unit = "second"
	}
	return apperr.New(apperr.TooManyRequests, fmt.Sprintf("%s: try again in %d %s.", messages[kind], secs, unit)).WithRetryAfter(wait)
}
