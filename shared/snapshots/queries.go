package snapshots

// The store's statements. The table and private.stats_context are defined in
// sql/migrations/0007_server_snapshots.sql. Every statement stands alone (no
// transaction), so each is one round trip, also through a transaction pooler.

// loadSQL is the hot path: claims, role, servers, credentials, snapshots.
const loadSQL = `select role, system_admin, server, auth_type, key_id, sealed, legacy_plaintext::text,
	snap_config_key, snap_fetched_at, snap_age_ms, snap_took_ms, snap_ok, snap_resources, snap_error_status, snap_error_message, snap_leased
	from private.stats_context($1, $2::uuid, $3::jsonb)`

// leaseSQL returns a row only when this instance now holds the lease: no
// snapshot of this configuration younger than the TTL ($5, ms), and no live
// lease on it by anyone else. A new configuration starts empty. The lease
// outlives the per-server timeout ($4, ms) a little, so it only expires under a
// holder that died.
const leaseSQL = `insert into private.server_snapshots as n (server_id, config_key, lease_owner, lease_until)
	values ($1::uuid, $2, $3, clock_timestamp() + $4::bigint * interval '1 millisecond')
	on conflict (server_id) do update
	set config_key = excluded.config_key, lease_owner = excluded.lease_owner, lease_until = excluded.lease_until,
	    fetched_at = case when n.config_key = excluded.config_key then n.fetched_at end,
	    resources = case when n.config_key = excluded.config_key then n.resources end,
	    ok = n.ok and n.config_key = excluded.config_key
	where n.config_key <> excluded.config_key
	   or ((n.lease_until is null or n.lease_until < clock_timestamp())
	       and (n.fetched_at is null or n.fetched_at <= clock_timestamp() - $5::bigint * interval '1 millisecond'))
	returning 1`

// storeSQL records the lease holder's answer or failure and ends its lease.
// Nothing is written when the configuration changed meanwhile.
const storeSQL = `update private.server_snapshots
	set fetched_at = clock_timestamp(), took_ms = $4, ok = $5, resources = $6::jsonb,
	    error_status = $7, error_message = $8, lease_owner = null, lease_until = null, updated_at = clock_timestamp()
	where server_id = $1::uuid and config_key = $2 and (lease_owner = $3 or lease_owner is null or lease_until < clock_timestamp())
	returning fetched_at`

// readSQL is what a waiting instance polls.
const readSQL = `select fetched_at, (extract(epoch from (clock_timestamp() - fetched_at)) * 1000)::bigint, took_ms, ok,
	case when ok then resources end, error_status, error_message, coalesce(lease_until > clock_timestamp(), false)
	from private.server_snapshots where server_id = $1::uuid and config_key = $2`

// releaseSQL gives a lease up without an answer (one too large to share).
const releaseSQL = `update private.server_snapshots set lease_owner = null, lease_until = null
	where server_id = $1::uuid and config_key = $2 and lease_owner = $3`

// pruneSQL bounds the table to servers someone watched in the last hour;
// rows of deleted servers already went with them (on delete cascade).
const pruneSQL = `delete from private.server_snapshots
	where updated_at < clock_timestamp() - interval '1 hour' and (lease_until is null or lease_until < clock_timestamp())`
