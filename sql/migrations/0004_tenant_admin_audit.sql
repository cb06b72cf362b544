-- 0004: what tenant administration needs beyond the policies of 0002 (finding
-- people to add), and an audit trail that the database writes itself, so a
-- change made straight through supabase-js is recorded like one made by the
-- functions. Idempotent: safe to apply again.

-- 1. Finding people. Profiles are readable only by co-members (0002): right
-- for reading, too narrow for "add alice@example.com to my tenant". These two
-- helpers widen it exactly as far as the contract says, and check their caller.

-- Both helpers match on lower(email); text_pattern_ops serves the prefix LIKE
-- (whatever the collation) and the exact match alike.
create index if not exists idx_profiles_email_lower on public.profiles (lower(email) text_pattern_ops);

-- The user id behind an email, for assign-user. Only tenant admins of the
-- tenant (and system admins) may ask: otherwise it would tell anyone whether
-- an address has an account.
create or replace function private.find_user_id_by_email(_tenant_id uuid, _email text)
returns uuid
language plpgsql stable security definer
set search_path = ''
as $$
begin
  if not (public.has_role(auth.uid(), 'admin')
          or public.has_tenant_role(auth.uid(), _tenant_id, array['admin']::public.tenant_role[])) then
    raise exception 'only admins of this tenant may look people up' using errcode = '42501';
  end if;
  return (select p.id from public.profiles p
          where lower(p.email) = lower(btrim(_email))
          order by p.created_at, p.id
          limit 1);
end
$$;

-- lookup-users: at most 10 profiles whose email starts with _query among the
-- people who share a tenant with the caller, plus whoever has exactly that
-- email (case-insensitive). A system admin searches everyone. A stranger is
-- never found by prefix: knowing the whole address is the proof of knowing them.
create or replace function private.lookup_users(_tenant_id uuid, _query text)
returns table (id uuid, email text, full_name text, username text, avatar_url text)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  _me uuid := auth.uid();
  _q text := lower(btrim(coalesce(_query, '')));
  _everyone boolean := public.has_role(_me, 'admin');
  _prefix text;
begin
  if not (_everyone or public.has_tenant_role(_me, _tenant_id, array['admin']::public.tenant_role[])) then
    raise exception 'only admins of this tenant may look people up' using errcode = '42501';
  end if;
  if length(_q) < 3 then
    raise exception 'the query must be at least 3 characters long' using errcode = '22023';
  end if;
  -- The query is text, not a pattern: escape LIKE's wildcards (backslash is
  -- LIKE's default escape character).
  _prefix := replace(replace(replace(_q, '\', '\\'), '%', '\%'), '_', '\_') || '%';
  return query
    with hits as (
      select p.id from public.profiles p where lower(p.email) = _q
      union
      select p.id from public.profiles p where _everyone and lower(p.email) like _prefix
      union
      select p.id from public.profiles p
      where p.id in (select private.co_member_ids(_me)) and lower(p.email) like _prefix
    )
    select p.id, p.email, p.full_name, p.username, p.avatar_url
    from public.profiles p
    where p.id in (select h.id from hits h)
    order by lower(p.email) = _q desc, lower(p.email), p.id
    limit 10;
end
$$;

-- 2. The audit trail. Tenant admins (and system admins) read their tenant's
-- rows; nobody edits them: RLS with a select policy only, no write grant to
-- any API role, and a trigger that refuses changes even from the owner.
-- tenant_id has no foreign key so the trail outlives a deleted tenant (system
-- admins still read it); actor_id neither, so it outlives a deleted user.
create table if not exists public.audit_log (
  id bigint generated always as identity primary key,
  tenant_id uuid not null,
  actor_id uuid,               -- auth.uid(); null when the table owner wrote (a migration, the SQL editor)
  action text not null,        -- e.g. member.added, server.updated, tenant.renamed, guest.start
  target_type text not null,   -- member, server, tenant, guest
  target_id text,              -- member: user id; server/tenant: its id; guest: server/node/vmid
  before jsonb,
  after jsonb,
  created_at timestamptz not null default now()
);

-- The policy filters by tenant_id; the listing reads a tenant's newest first.
create index if not exists idx_audit_log_tenant_created on public.audit_log (tenant_id, created_at desc, id desc);

alter table public.audit_log enable row level security;

-- Supabase grants every new public table (and its identity sequence) to the
-- API roles; take writing back from all of them, service_role included.
revoke all on public.audit_log from public, anon, authenticated, service_role;
grant select on public.audit_log to authenticated, service_role;
do $$
begin
  execute format('revoke all on sequence %s from public, anon, authenticated, service_role',
                 pg_get_serial_sequence('public.audit_log', 'id'));
end
$$;

drop policy if exists "Tenant admins read their audit trail" on public.audit_log;
create policy "Tenant admins read their audit trail" on public.audit_log
  for select to authenticated
  using ((select public.has_role((select auth.uid()), 'admin'))
         or tenant_id in (select private.tenant_ids_of((select auth.uid()), array['admin']::public.tenant_role[])));

create or replace function private.audit_log_is_append_only()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  raise exception 'the audit trail is append-only' using errcode = '42501';
end
$$;

drop trigger if exists append_only on public.audit_log;
create trigger append_only before update or delete on public.audit_log
  for each row execute function private.audit_log_is_append_only();
drop trigger if exists append_only_truncate on public.audit_log;
create trigger append_only_truncate before truncate on public.audit_log
  for each statement execute function private.audit_log_is_append_only();

-- 3. Who changed what, recorded by the database for every writer. SECURITY
-- DEFINER so the insert needs no grant the caller lacks; the actor is the
-- caller's auth.uid(). tg_argv[0] names the kind of row: member, server, tenant.
create or replace function private.audit_change()
returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  _kind text := tg_argv[0];
  -- A change of these alone is bookkeeping (a connection test, the touch
  -- trigger), not a decision anyone made.
  _noise text[] := array['updated_at', 'connection_status', 'last_connected_at'];
  -- Servers hold no secret since 0003; should a legacy column ever come
  -- back, it still never reaches the trail.
  _secret text[] := array['password', 'api_token_secret'];
  _old jsonb;
  _new jsonb;
  _row jsonb;
  _action text;
begin
  if tg_op <> 'INSERT' then _old := to_jsonb(old) - _secret; end if;
  if tg_op <> 'DELETE' then _new := to_jsonb(new) - _secret; end if;
  if tg_op = 'UPDATE' and (_old - _noise) = (_new - _noise) then
    return null;
  end if;
  _row := coalesce(_new, _old);
  _action := case
    when _kind = 'member' and tg_op = 'INSERT' then 'member.added'
    when _kind = 'member' and tg_op = 'DELETE' then 'member.removed'
    when _kind = 'member' and _old ->> 'role' is distinct from _new ->> 'role' then 'member.role_changed'
    when _kind = 'tenant' and tg_op = 'UPDATE' and _old ->> 'name' is distinct from _new ->> 'name' then 'tenant.renamed'
    else _kind || '.' || case tg_op when 'INSERT' then 'created' when 'DELETE' then 'deleted' else 'updated' end
  end;
  insert into public.audit_log (tenant_id, actor_id, action, target_type, target_id, before, after)
  values (case when _kind = 'tenant' then (_row ->> 'id')::uuid else (_row ->> 'tenant_id')::uuid end,
          auth.uid(), _action, _kind,
          case when _kind = 'member' then _row ->> 'user_id' else _row ->> 'id' end,
          _old, _new);
  -- A row moved to another tenant is news to the tenant it left too.
  if tg_op = 'UPDATE' and _kind <> 'tenant' and _old ->> 'tenant_id' is distinct from _new ->> 'tenant_id' then
    insert into public.audit_log (tenant_id, actor_id, action, target_type, target_id, before, after)
    values ((_old ->> 'tenant_id')::uuid, auth.uid(), _action, _kind,
            case when _kind = 'member' then _row ->> 'user_id' else _row ->> 'id' end,
            _old, _new);
  end if;
  return null;
end
$$;

drop trigger if exists audit_change on public.user_tenant_assignments;
create trigger audit_change after insert or update or delete on public.user_tenant_assignments
  for each row execute function private.audit_change('member');
drop trigger if exists audit_change on public.proxmox_servers;
create trigger audit_change after insert or update or delete on public.proxmox_servers
  for each row execute function private.audit_change('server');
drop trigger if exists audit_change on public.tenants;
create trigger audit_change after insert or update or delete on public.tenants
  for each row execute function private.audit_change('tenant');

-- 4. Guest power actions happen on Proxmox, not in a table: list-vms records
-- them after Proxmox accepted one, through this function, which checks that
-- the caller may control guests in the tenant and that the server is in it.
create or replace function private.record_guest_action(
  _tenant_id uuid, _server_id uuid, _node text, _vmid integer, _type text, _action text, _upid text)
returns bigint
language plpgsql security definer
set search_path = ''
as $$
declare
  _id bigint;
begin
  if not (public.has_role(auth.uid(), 'admin')
          or public.has_tenant_role(auth.uid(), _tenant_id, array['admin', 'manager']::public.tenant_role[]))
     or not exists (select 1 from public.proxmox_servers where id = _server_id and tenant_id = _tenant_id) then
    raise exception 'not allowed to control guests on this server' using errcode = '42501';
  end if;
  if _action is null or _action not in ('start', 'stop', 'shutdown', 'reboot')
     or _type is null or _type not in ('qemu', 'lxc') then
    raise exception 'unknown guest action % of type %', _action, _type using errcode = '22023';
  end if;
  insert into public.audit_log (tenant_id, actor_id, action, target_type, target_id, after)
  values (_tenant_id, auth.uid(), 'guest.' || _action, 'guest',
          format('%s/%s/%s', _server_id, _node, _vmid),
          jsonb_build_object('server_id', _server_id, 'node', _node, 'vmid', _vmid,
                             'type', _type, 'action', _action, 'upid', _upid))
  returning id into _id;
  return _id;
end
$$;

-- Callable helpers: authenticated only (each checks its caller). Trigger
-- functions: nobody calls them directly.
revoke all on function private.find_user_id_by_email(uuid, text) from public, anon;
revoke all on function private.lookup_users(uuid, text) from public, anon;
revoke all on function private.record_guest_action(uuid, uuid, text, integer, text, text, text) from public, anon;
grant execute on function private.find_user_id_by_email(uuid, text) to authenticated;
grant execute on function private.lookup_users(uuid, text) to authenticated;
grant execute on function private.record_guest_action(uuid, uuid, text, integer, text, text, text) to authenticated;
revoke all on function private.audit_change() from public, anon, authenticated, service_role;
revoke all on function private.audit_log_is_append_only() from public, anon, authenticated, service_role;
