-- 0008: limits on probing, shared by every function process, and a record of
-- every connection test of a server that is not saved yet (issue 18).
-- Idempotent: safe to apply again.

-- 1. A fleet-wide rate limiter. Lambda instances share nothing but the
-- database, so the counters live here. Each bucket (what is counted, for whom)
-- has a row per fixed window; a hit is judged by a sliding window, the current
-- window's hits plus the previous window's in proportion to how much of it the
-- last `window` seconds still cover (no burst of twice the limit at a window
-- boundary). Client roles never see the table: schema private, RLS forced, no
-- policy, no grant; only the function below touches it.
create table if not exists private.rate_limit_windows (
  kind text not null,          -- probe, saved_test, power
  scope text not null check (scope in ('user', 'tenant')),
  subject uuid not null,       -- the user's or the tenant's id
  window_start timestamptz not null,
  hits integer not null default 0,
  expires_at timestamptz not null, -- window_start + 2 windows: past it the row no longer counts
  primary key (kind, scope, subject, window_start)
);
-- The sweep deletes by expiry.
create index if not exists idx_rate_limit_windows_expires on private.rate_limit_windows (expires_at);

alter table private.rate_limit_windows enable row level security;
alter table private.rate_limit_windows force row level security;
revoke all on private.rate_limit_windows from public, anon, authenticated, service_role;

-- Deletes up to 1000 expired windows, skipping rows a running hit holds, so
-- the sweep never waits. Returns how many went.
create or replace function private.rate_limit_cleanup()
returns integer
language sql security definer
set search_path = ''
as $$
  with gone as (
    delete from private.rate_limit_windows w
    where w.ctid in (select x.ctid from private.rate_limit_windows x
                     where x.expires_at < clock_timestamp()
                     limit 1000 for update skip locked)
    returning 1)
  select count(*)::integer from gone
$$;

-- Counts one hit of _kind for the caller (_tenant_id null) or for a tenant
-- the caller belongs to, at most _limit per _window_seconds. Answers whether
-- the hit is allowed and, when not, how long until one would be (refused hits
-- are not counted, so waiting that long is enough). The window's row stays
-- locked until the caller's transaction ends: concurrent hits on one bucket,
-- from any process, are judged one after the other; a hit in a transaction
-- that rolls back is not counted.
create or replace function private.rate_limit_hit(_kind text, _tenant_id uuid, _limit integer, _window_seconds integer)
returns table (allowed boolean, retry_after_ms bigint)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _me uuid := auth.uid();
  _scope text := 'user';
  _subject uuid := _me;
  _w double precision := _window_seconds;
  _epoch double precision := extract(epoch from clock_timestamp());
  _cur_start timestamptz;
  _elapsed double precision;
  _cur integer;
  _prev integer;
  _room double precision;
  _wait double precision;
begin
  if _me is null then
    raise exception 'rate limits count signed-in callers only' using errcode = '42501';
  end if;
  if _kind is null or _kind !~ '^[a-z_]{1,32}$' or _limit is null or _limit < 1
     or _window_seconds is null or _window_seconds < 1 or _window_seconds > 86400 then
    raise exception 'invalid rate limit' using errcode = '22023';
  end if;
  if _tenant_id is not null then
    -- A caller spends only their own tenants' budgets.
    if not (public.has_role(_me, 'admin') or public.user_has_tenant_access(_me, _tenant_id)) then
      raise exception 'not a member of this tenant' using errcode = '42501';
    end if;
    _scope := 'tenant';
    _subject := _tenant_id;
  end if;
  _cur_start := to_timestamp(floor(_epoch / _w) * _w);
  _elapsed := _epoch - extract(epoch from _cur_start);

  insert into private.rate_limit_windows as r (kind, scope, subject, window_start, hits, expires_at)
  values (_kind, _scope, _subject, _cur_start, 0, _cur_start + make_interval(secs => 2 * _w))
  on conflict (kind, scope, subject, window_start) do update set hits = r.hits -- takes the row lock
  returning r.hits into _cur;
  select r.hits into _prev from private.rate_limit_windows r
  where r.kind = _kind and r.scope = _scope and r.subject = _subject
    and r.window_start = _cur_start - make_interval(secs => _w);
  _prev := coalesce(_prev, 0);

  _room := _limit - 1 - _cur; -- what the previous window's share may still be
  if _prev * (_w - _elapsed) / _w <= _room then
    update private.rate_limit_windows r set hits = r.hits + 1
    where r.kind = _kind and r.scope = _scope and r.subject = _subject and r.window_start = _cur_start;
    -- Keep the table bounded: this bucket's stale windows now, everyone's
    -- now and then (each sweep removes up to 1000, far more than the one
    -- row a hit can add).
    delete from private.rate_limit_windows r
    where r.kind = _kind and r.scope = _scope and r.subject = _subject and r.window_start < _cur_start - make_interval(secs => _w);
    if random() < 0.01 then
      perform private.rate_limit_cleanup();
    end if;
    return query select true, 0::bigint;
    return;
  end if;
  if _room >= 0 then
    -- Later in this window the previous window's share has shrunk enough:
    -- _prev * (w - e) / w <= _room  <=>  e >= w * (1 - _room / _prev).
    _wait := _w * (1 - _room / _prev) - _elapsed;
  else
    -- This window alone is full: in the next one it becomes the previous,
    -- and its share must shrink to _limit - 1.
    _wait := (_w - _elapsed) + greatest(0, _w * (1 - (_limit - 1)::double precision / _cur));
  end if;
  return query select false, greatest(1, ceil(_wait * 1000))::bigint;
end
$$;

revoke all on function private.rate_limit_cleanup() from public, anon, authenticated, service_role;
revoke all on function private.rate_limit_hit(text, uuid, integer, integer) from public, anon;
grant execute on function private.rate_limit_hit(text, uuid, integer, integer) to authenticated;

-- 2. Connection tests of servers that are not saved yet are probes of an
-- address the user typed: each one goes into the tenant's audit trail (0004),
-- readable by its admins, with who, which host and port, how it was
-- authenticated and the outcome class. Never a credential: there is no
-- parameter for one.
create or replace function private.record_connection_test(
  _tenant_id uuid, _host text, _port integer, _auth_type text, _outcome text)
returns bigint
language plpgsql security definer
set search_path = ''
as $$
declare
  _id bigint;
begin
  if not (public.has_role(auth.uid(), 'admin')
          or public.has_tenant_role(auth.uid(), _tenant_id, array['admin', 'manager']::public.tenant_role[])) then
    raise exception 'not allowed to test servers in this tenant' using errcode = '42501';
  end if;
  if _host is null or length(_host) > 253 or _port is null or _port not between 1 and 65535
     or _auth_type is null or _auth_type not in ('token', 'password')
     or _outcome is null or _outcome !~ '^[a-z_]{1,32}$' then
    raise exception 'invalid connection test record' using errcode = '22023';
  end if;
  insert into public.audit_log (tenant_id, actor_id, action, target_type, target_id, after)
  values (_tenant_id, auth.uid(), 'server.tested', 'address', format('%s:%s', _host, _port),
          jsonb_build_object('host', _host, 'port', _port, 'auth_type', _auth_type, 'outcome', _outcome))
  returning id into _id;
  return _id;
end
$$;

revoke all on function private.record_connection_test(uuid, text, integer, text, text) from public, anon;
grant execute on function private.record_connection_test(uuid, text, integer, text, text) to authenticated;
