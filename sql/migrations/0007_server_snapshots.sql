-- 0007: a fleet-wide snapshot store for tenant-stats, and the one-statement
-- read of its hot path.
--
-- Every warm function instance (one per concurrent request on Lambda) shares
-- the last /cluster/resources answer of each server here, so a server is asked
-- once per TTL by the whole fleet instead of once per instance. The functions
-- take a short lease before asking (shared/snapshots); the others wait for
-- that answer or use a recent one.
--
-- UNLOGGED: a row is a cache entry that any instance can rebuild with one
-- Proxmox call, rewritten every TTL (5 s by default) per watched server, and
-- a 1,000-guest cluster answers ~0.5 MB: logged, that is ~0.1 MB/s of WAL per
-- such server for data nobody needs after a crash (an unlogged table is
-- emptied by crash recovery, which costs one Proxmox call per server) and
-- which replicas and PITR backups would carry for nothing.
--
-- Size: one row per server (primary key), rows of deleted servers go with
-- them (on delete cascade), rows nobody refreshed for an hour are deleted by
-- the functions (shared/snapshots), and the functions never store an answer
-- over 8 MiB. Snapshots hold what Proxmox reported about guests, nodes and
-- storage, and an error sentence: never a credential.

create unlogged table if not exists private.server_snapshots (
  server_id uuid primary key references public.proxmox_servers (id) on delete cascade,
  -- The server's configuration (credentials version, address, TLS) the
  -- snapshot was taken with: an edit or a new credential invalidates it.
  config_key text not null,
  fetched_at timestamptz,            -- when the Proxmox answer arrived; null until the first one
  took_ms integer not null default 0,
  ok boolean not null default false,
  resources jsonb,                   -- the kept /cluster/resources entries when ok
  error_status text,                 -- ServerHealth status of a failure
  error_message text,                -- its sentence, secret-free (proxmox.Describe)
  lease_owner text,                  -- which instance is asking Proxmox now
  lease_until timestamptz,           -- others wait or use the last snapshot until then
  updated_at timestamptz not null default now()
);

create index if not exists idx_server_snapshots_updated on private.server_snapshots (updated_at);

alter table private.server_snapshots enable row level security;
alter table private.server_snapshots force row level security;
revoke all on private.server_snapshots from public, anon, authenticated, service_role;

-- The hot path of tenant-stats in one statement: the caller's claims are set
-- (transaction-locally: the statement's own implicit transaction), then the
-- caller's role in the tenant, the tenant's active servers (each row whole,
-- so columns added later flow through), their sealed credentials and their
-- snapshots come back together. The rules are those of the policies and of
-- access.Load: a tenant is visible to its members and to system admins
-- (otherwise no row at all: 404), and its servers to the same people.
--
-- _known maps server ids to the fetched_at of the snapshot the instance
-- already holds in memory; a snapshot that is not newer comes back without
-- its resources, so a warm instance reads a few bytes per server, not 0.5 MB.
--
-- Only the functions' own database role (the owner) may call it: it trusts
-- _claims, which the functions verified. No client role can execute it.
create or replace function private.stats_context(_claims text, _tenant uuid, _known jsonb default '{}'::jsonb)
returns table (
  role text, system_admin boolean,
  server jsonb, auth_type text, key_id text, sealed bytea, legacy_plaintext jsonb,
  snap_config_key text, snap_fetched_at timestamptz, snap_age_ms bigint, snap_took_ms integer, snap_ok boolean,
  snap_resources jsonb, snap_error_status text, snap_error_message text, snap_leased boolean)
language plpgsql volatile security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  _uid uuid;
  _role text;
  _sys boolean;
begin
  perform set_config('request.jwt.claims', _claims, true);
  perform set_config('request.jwt.claim.sub', coalesce(_claims::jsonb ->> 'sub', ''), true);
  _uid := auth.uid();
  if _uid is null or not exists (select 1 from public.tenants t where t.id = _tenant) then
    return;
  end if;
  select a.role::text into _role from public.user_tenant_assignments a where a.tenant_id = _tenant and a.user_id = _uid;
  _sys := public.has_role(_uid, 'admin');
  if _role is null and not _sys then
    return;
  end if;
  return query
  select _role, _sys, v.server, v.auth_type, v.key_id, v.sealed, v.legacy_plaintext,
         v.config_key, v.fetched_at, v.age_ms, v.took_ms, v.ok, v.resources, v.error_status, v.error_message, v.leased
  from (select 1) one
  left join lateral (
    select to_jsonb(s) as server, c.auth_type, c.key_id, c.sealed, c.legacy_plaintext,
           n.config_key, n.fetched_at,
           (extract(epoch from (clock_timestamp() - n.fetched_at)) * 1000)::bigint as age_ms,
           n.took_ms, n.ok,
           case when n.fetched_at > coalesce((_known ->> s.id::text)::timestamptz, '-infinity'::timestamptz)
                then n.resources end as resources,
           n.error_status, n.error_message,
           coalesce(n.lease_until > clock_timestamp(), false) as leased,
           s.created_at, s.id
    from public.proxmox_servers s
    left join private.proxmox_server_credentials c on c.server_id = s.id
    left join private.server_snapshots n on n.server_id = s.id
    where s.tenant_id = _tenant and s.is_active
  ) v on true
  order by v.created_at desc, v.id;
end
$$;

revoke all on function private.stats_context(text, uuid, jsonb) from public, anon, authenticated, service_role;

-- Reads in two statements (set the caller, then one query: shared/db
-- ReadAsUser) need "this tenant is not yours" to come from the query itself.
-- As a one-time filter (`where private.require_tenant_view($1) and ...`) it
-- raises PT404 tenant_not_found for a tenant the caller has no role in (and
-- is no system admin), exactly when access.Load answers 404; it tells the
-- caller nothing about anyone else.
create or replace function private.require_tenant_view(_tenant uuid)
returns boolean
language plpgsql stable security definer
set search_path = ''
as $$
begin
  if exists (select 1 from public.tenants t where t.id = _tenant)
     and (public.has_role(auth.uid(), 'admin')
          or exists (select 1 from public.user_tenant_assignments a where a.tenant_id = _tenant and a.user_id = auth.uid())) then
    return true;
  end if;
  raise exception 'Tenant not found.' using errcode = 'PT404', hint = 'tenant_not_found';
end
$$;

revoke all on function private.require_tenant_view(uuid) from public, anon;
grant execute on function private.require_tenant_view(uuid) to authenticated;
