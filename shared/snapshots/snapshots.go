// Package snapshots is tenant-stats' fleet-wide store of /cluster/resources
// answers, in PostgreSQL (private.server_snapshots, sql/migrations/0007), so
// that every warm instance of the function shares them: a server is asked
// once per TTL by the whole fleet, however many instances serve its tenant.
//
// The hot path is one statement (Load): the caller's role, the tenant's
// active servers, their sealed credentials and their snapshots. A server
// whose snapshot is stale is then resolved by Resolve: one instance takes a
// lease (an atomic upsert that only succeeds when no fresh snapshot and no
// live lease exist), asks Proxmox and stores the answer or the failure; the
// others answer from the last snapshot when it is recent, or wait for the
// lease holder's answer up to the per-server timeout.
//
// The in-process statscache stays the first level in front of this one.
package snapshots

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/pvetenant/backend/shared/access"
	"github.com/pvetenant/backend/shared/db"
	"github.com/pvetenant/backend/shared/proxmox"
	"github.com/pvetenant/backend/shared/secrets"
	"github.com/pvetenant/backend/shared/statscache"
	"github.com/pvetenant/backend/shared/targets"
)

// MaxBytes bounds one stored answer (a 1,000-guest cluster is ~0.5 MB); a
// larger one is used by the instance that read it but not shared.
const MaxBytes = 8 << 20

// Store is safe for concurrent use. Build it with New.
type Store struct {
	pool     *pgxpool.Pool
	keyring  *secrets.Keyring // opens the servers' sealed credentials
	ttl      time.Duration    // a snapshot younger than this is fresh
	timeout  time.Duration    // the per-server Proxmox budget
	maxStale time.Duration    // older than ttl but younger than this: served while another instance refreshes it
	owner    string           // this instance, written as lease_owner
	log      *slog.Logger
	poll     time.Duration

	known     sync.Map // server id -> heldAt: what this instance's first level holds
	lastPrune atomic.Int64
}

type heldAt struct {
	fetchedAt time.Time // the snapshot's fetched_at, database clock
	local     time.Time // when Proxmox answered, this instance's clock
}

// New returns a store. ttl <= 0 disables sharing: Resolve asks Proxmox.
// timeout is the per-server budget (proxmox.Options.Budget): how long a
// lease lasts and how long another instance's fetch is waited for.
func New(pool *pgxpool.Pool, kr *secrets.Keyring, ttl, timeout time.Duration, log *slog.Logger) *Store {
	if log == nil {
		log = slog.Default()
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	host, _ := os.Hostname()
	return &Store{pool: pool, keyring: kr, ttl: ttl, timeout: timeout, maxStale: ttl + timeout, log: log,
		owner: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b)), poll: 50 * time.Millisecond}
}

// Snapshot is a server's stored answer as Load read it.
type Snapshot struct {
	Key       string
	FetchedAt time.Time // database clock
	Age       time.Duration
	Took      time.Duration
	OK        bool
	Resources []byte // nil when the first level already holds this snapshot, or when !OK
	ErrStatus string
	ErrMsg    string
	Leased    bool
	readAt    time.Time // local clock, when Age was measured
}

// Entry is one active server of the tenant.
type Entry struct {
	Server targets.Server
	Snap   *Snapshot // nil when none is stored
}

// Load runs the hot path's one statement: the caller's role in tenantID
// (404 tenant_not_found when none, the access check of access.View), the
// tenant's active servers with their credentials opened, and their
// snapshots. Retried once on a fresh connection when the connection failed.
func (st *Store) Load(ctx context.Context, c db.Caller, tenantID string) ([]Entry, error) {
	known := st.knownJSON()
	a := access.Access{TenantID: tenantID}
	var entries []Entry
	var sealed []*targets.Sealed
	err := db.Read(ctx, st.pool, func(ctx context.Context) error {
		a, entries, sealed = access.Access{TenantID: tenantID}, nil, nil
		rows, err := st.pool.Query(ctx, loadSQL, c.ClaimsJSON(), tenantID, known)
		if err != nil {
			return err
		}
		defer rows.Close()
		found := false
		for rows.Next() {
			found = true
			var (
				role                   *string
				server                 []byte
				authType, keyID        *string
				blob                   []byte
				legacy                 *string
				key, errStatus, errMsg *string
				fetchedAt              *time.Time
				ageMs                  *int64
				tookMs                 *int32
				ok                     *bool
				res                    []byte
				leased                 *bool
			)
			if err := rows.Scan(&role, &a.SystemAdmin, &server, &authType, &keyID, &blob, &legacy,
				&key, &fetchedAt, &ageMs, &tookMs, &ok, &res, &errStatus, &errMsg, &leased); err != nil {
				return err
			}
			if role != nil {
				a.Role = *role
			}
			if server == nil {
				continue // the tenant has no active server
			}
			s, err := targets.FromRow(server)
			if err != nil {
				return err
			}
			e := Entry{Server: s}
			if key != nil {
				e.Snap = &Snapshot{Key: *key, Leased: leased != nil && *leased, Resources: res, readAt: time.Now(),
					ErrStatus: deref(errStatus), ErrMsg: deref(errMsg)}
				if fetchedAt != nil && ageMs != nil {
					e.Snap.FetchedAt, e.Snap.Age = *fetchedAt, time.Duration(*ageMs)*time.Millisecond
				}
				if tookMs != nil {
					e.Snap.Took = time.Duration(*tookMs) * time.Millisecond
				}
				e.Snap.OK = ok != nil && *ok
			}
			var sl *targets.Sealed
			if authType != nil {
				sl = &targets.Sealed{AuthType: *authType, KeyID: keyID, Sealed: blob, Legacy: legacy}
			}
			entries, sealed = append(entries, e), append(sealed, sl)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if !found {
			return access.ErrTenantNotFound
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := a.Require(access.View); err != nil {
		return nil, err
	}
	for i := range entries {
		if err := targets.OpenAsCaller(ctx, st.pool, c, st.keyring, &entries[i].Server, sealed[i]); err != nil {
			return nil, err
		}
	}
	return entries, nil
}

// Result is what the first level caches per server.
type Result = statscache.Result[[]proxmox.Resource]

// Resolve returns server s's resources: from snap when it is fresh for s's
// configuration, otherwise from the instance holding the lease, or from
// Proxmox through fetch after taking the lease. fetch must be bounded by
// the per-server budget (the Proxmox client applies it). Database trouble
// never fails the answer: Resolve then asks Proxmox itself, unshared.
func (st *Store) Resolve(ctx context.Context, s targets.Server, snap *Snapshot, fetch func(context.Context) ([]proxmox.Resource, error)) Result {
	if st.ttl <= 0 {
		return st.direct(ctx, fetch)
	}
	key := s.Key()
	if r, ok := st.usable(s.ID, key, snap, st.ttl); ok {
		return r
	}
	// Wait for another instance's fetch at most the per-server timeout,
	// then fetch ourselves once (its lease has expired by then).
	ctx, cancel := context.WithTimeout(ctx, 2*st.timeout+time.Second)
	defer cancel()
	for attempt := 0; ; attempt++ {
		got, err := st.lease(ctx, s.ID, key)
		if err != nil {
			st.log.Warn("snapshot lease", "server", s.ID, "error", err.Error())
			return st.direct(ctx, fetch)
		}
		if got {
			return st.fetchAndStore(ctx, s.ID, key, fetch)
		}
		if r, ok := st.usable(s.ID, key, snap, st.maxStale); ok {
			return r // recent enough while the lease holder refreshes it; Age says how old
		}
		r, ok, err := st.wait(ctx, s.ID, key)
		if ok {
			return r
		}
		if err != nil && ctx.Err() == nil {
			st.log.Warn("snapshot wait", "server", s.ID, "error", err.Error())
			return st.direct(ctx, fetch)
		}
		if ctx.Err() != nil || attempt >= 1 {
			return Result{Err: proxmox.StoredError(proxmox.StatusTimeout, "no answer yet: another request is reading this server"), Fetched: time.Now()}
		}
	}
}

// usable turns snap into a result when it belongs to key and is younger than maxAge.
func (st *Store) usable(id, key string, snap *Snapshot, maxAge time.Duration) (Result, bool) {
	if snap == nil || snap.Key != key || snap.FetchedAt.IsZero() {
		return Result{}, false
	}
	age := snap.Age + time.Since(snap.readAt)
	if age >= maxAge {
		return Result{}, false
	}
	r := Result{Fetched: time.Now().Add(-age), Took: snap.Took, Cached: true}
	if snap.OK {
		if snap.Resources == nil {
			return Result{}, false // held by the first level, which missed after all: read it in full
		}
		if err := json.Unmarshal(snap.Resources, &r.Value); err != nil {
			return Result{}, false
		}
	} else {
		r.Err = proxmox.StoredError(proxmox.Status(snap.ErrStatus), snap.ErrMsg)
	}
	st.hold(id, snap.FetchedAt, r.Fetched)
	return r, true
}

// lease takes the right to ask Proxmox for server id, atomically: only when
// no fresh snapshot of this configuration exists and nobody else holds a
// live lease (a lease on another configuration is taken over).
func (st *Store) lease(ctx context.Context, id, key string) (bool, error) {
	var got bool
	err := db.Read(ctx, st.pool, func(ctx context.Context) error {
		rows, err := st.pool.Query(ctx, leaseSQL, id, key, st.owner, (st.timeout + time.Second).Milliseconds(), st.ttl.Milliseconds())
		if err != nil {
			return err
		}
		got = rows.Next()
		rows.Close()
		return rows.Err()
	})
	return got, err
}

// wait polls for the lease holder's answer until it is there, the lease is
// gone without one, or ctx ends.
func (st *Store) wait(ctx context.Context, id, key string) (Result, bool, error) {
	t := time.NewTicker(st.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return Result{}, false, nil
		case <-t.C:
		}
		snap, err := st.read(ctx, id, key)
		if err != nil {
			return Result{}, false, err
		}
		if r, ok := st.usable(id, key, snap, st.ttl); ok {
			return r, true, nil
		}
		if snap == nil || !snap.Leased {
			return Result{}, false, nil // the holder gave up: take the lease ourselves
		}
	}
}

func (st *Store) read(ctx context.Context, id, key string) (*Snapshot, error) {
	var snap *Snapshot
	err := db.Read(ctx, st.pool, func(ctx context.Context) error {
		snap = nil
		var s Snapshot
		var fetchedAt *time.Time
		var ageMs *int64
		var tookMs int32
		var errStatus, errMsg *string
		err := st.pool.QueryRow(ctx, readSQL, id, key).Scan(&fetchedAt, &ageMs, &tookMs, &s.OK, &s.Resources, &errStatus, &errMsg, &s.Leased)
		if err == pgx.ErrNoRows {
			return nil
		}
		if err != nil {
			return err
		}
		s.Key, s.readAt, s.Took = key, time.Now(), time.Duration(tookMs)*time.Millisecond
		s.ErrStatus, s.ErrMsg = deref(errStatus), deref(errMsg)
		if fetchedAt != nil && ageMs != nil {
			s.FetchedAt, s.Age = *fetchedAt, time.Duration(*ageMs)*time.Millisecond
		}
		snap = &s
		return nil
	})
	return snap, err
}

// fetchAndStore asks Proxmox as the lease holder and shares the outcome.
func (st *Store) fetchAndStore(ctx context.Context, id, key string, fetch func(context.Context) ([]proxmox.Resource, error)) Result {
	r := st.direct(ctx, fetch)
	var data *string // jsonb, sent as text
	status, msg := "", ""
	if r.Err == nil {
		b, err := json.Marshal(r.Value)
		if err != nil || len(b) > MaxBytes {
			st.release(id, key)
			return r
		}
		js := string(b)
		data = &js
	} else {
		status, msg = string(proxmox.Classify(r.Err)), proxmox.Describe(r.Err)
	}
	// Stored even if the caller has left: the others are waiting for it.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), st.timeout)
	defer cancel()
	var fetchedAt time.Time
	err := db.Read(sctx, st.pool, func(ctx context.Context) error {
		return st.pool.QueryRow(ctx, storeSQL, id, key, st.owner, r.Took.Milliseconds(), r.Err == nil, data, nullable(status), nullable(msg)).Scan(&fetchedAt)
	})
	if err == nil {
		st.hold(id, fetchedAt, r.Fetched)
	} else if !isNotFound(err) { // not found: the configuration changed meanwhile
		st.log.Warn("snapshot store", "server", id, "error", err.Error())
		st.release(id, key) // let a waiting instance ask rather than wait out the lease
	}
	st.prune(sctx)
	return r
}

func isNotFound(err error) bool { return access.IsNotFound(err) }

// release gives the lease up without an answer, so a waiting instance asks.
func (st *Store) release(id, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), st.timeout)
	defer cancel()
	_, _ = st.pool.Exec(ctx, releaseSQL, id, key, st.owner)
}

// prune deletes snapshots nobody refreshed for an hour (paused servers,
// tenants nobody watches), at most every ten minutes per instance.
func (st *Store) prune(ctx context.Context) {
	now := time.Now().UnixNano()
	last := st.lastPrune.Load()
	if now-last < int64(10*time.Minute) || !st.lastPrune.CompareAndSwap(last, now) {
		return
	}
	if _, err := st.pool.Exec(ctx, pruneSQL); err != nil {
		st.log.Warn("snapshot prune", "error", err.Error())
	}
}

// direct asks Proxmox, bounded by fetch itself.
func (st *Store) direct(ctx context.Context, fetch func(context.Context) ([]proxmox.Resource, error)) Result {
	start := time.Now()
	v, err := fetch(ctx)
	end := time.Now()
	return Result{Value: v, Err: err, Fetched: end, Took: end.Sub(start)}
}

// hold notes that the first level holds id's snapshot of fetchedAt
// (database clock), read from Proxmox at local (this instance's clock).
func (st *Store) hold(id string, fetchedAt, local time.Time) {
	st.known.Store(id, heldAt{fetchedAt: fetchedAt, local: local})
}

// knownJSON lists the snapshots the first level may still hold, so Load does
// not send their resources again.
func (st *Store) knownJSON() string {
	m := map[string]string{}
	st.known.Range(func(k, v any) bool {
		h := v.(heldAt)
		if time.Since(h.local) >= st.ttl {
			st.known.Delete(k)
		} else {
			m[k.(string)] = h.fetchedAt.UTC().Format(time.RFC3339Nano)
		}
		return true
	})
	b, _ := json.Marshal(m)
	return string(b)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
