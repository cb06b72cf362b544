-- 0002: servers belong to tenants, and every table's policies follow the role
-- table of the contract. No row is lost: orphaned servers are re-homed first.

create schema if not exists private;
-- Policies call helpers in `private`, so the API roles need to reach them; the
-- schema is never exposed through the Data API (only `public` is).
grant usage on schema private to authenticated, service_role;
revoke all on schema private from anon, public;

-- 1. Backfill. A server keeps its tenant only where its owner is an admin of
-- it: before this migration only the owner could see a server, and the owner
-- could put any tenant id on it, so honouring every label would let a legacy
-- row slip into a tenant its owner never managed. Any other server goes to the
-- owner's oldest admin tenant, or to a new personal tenant with the owner as
-- admin. Either way the former owner still sees and manages it, and nobody
-- else gains sight of it.
do $$
declare
  o record;
  target uuid;
begin
  -- Only while servers are still user-scoped (tenant_id nullable): applied
  -- again later, a server a manager added (user_id = that manager) would
  -- otherwise be moved into a new tenant the manager administers.
  if exists (select 1 from information_schema.columns
             where table_schema = 'public' and table_name = 'proxmox_servers'
               and column_name = 'tenant_id' and is_nullable = 'NO') then
    return;
  end if;
  for o in
    select distinct s.user_id
    from public.proxmox_servers s
    where s.user_id is not null
      and (s.tenant_id is null
           or not exists (select 1 from public.user_tenant_assignments a
                          where a.user_id = s.user_id and a.tenant_id = s.tenant_id and a.role = 'admin'))
  loop
    select a.tenant_id into target
    from public.user_tenant_assignments a
    join public.tenants t on t.id = a.tenant_id
    where a.user_id = o.user_id and a.role = 'admin'
    order by a.created_at, t.created_at, t.id
    limit 1;

    if target is null then
      insert into public.tenants (name, created_by)
      select coalesce(nullif(p.full_name, ''), nullif(u.email, ''), 'Personal') || '''s servers', o.user_id
      from auth.users u left join public.profiles p on p.id = u.id
      where u.id = o.user_id
      returning id into target;

      insert into public.user_tenant_assignments (user_id, tenant_id, role)
      values (o.user_id, target, 'admin');
    end if;

    update public.proxmox_servers s
    set tenant_id = target
    where s.user_id = o.user_id
      and (s.tenant_id is null
           or not exists (select 1 from public.user_tenant_assignments a
                          where a.user_id = s.user_id and a.tenant_id = s.tenant_id and a.role = 'admin'));
  end loop;
end
$$;

-- 2. Tenant scope. A tenant that still has servers cannot be deleted (the
-- functions answer 409); a departed creator no longer takes servers along.
alter table public.proxmox_servers alter column tenant_id set not null;
alter table public.proxmox_servers drop constraint if exists proxmox_servers_tenant_id_fkey;
alter table public.proxmox_servers
  add constraint proxmox_servers_tenant_id_fkey
  foreign key (tenant_id) references public.tenants (id) on delete restrict;

alter table public.proxmox_servers alter column user_id drop not null;
alter table public.proxmox_servers alter column user_id set default auth.uid();
alter table public.proxmox_servers drop constraint if exists proxmox_servers_user_id_fkey;
alter table public.proxmox_servers
  add constraint proxmox_servers_user_id_fkey
  foreign key (user_id) references auth.users (id) on delete set null;

-- 3. Indexes on every column a policy or a hot query filters by.
create index if not exists idx_proxmox_servers_tenant on public.proxmox_servers (tenant_id);
create index if not exists idx_proxmox_servers_user on public.proxmox_servers (user_id);
create index if not exists idx_user_tenant_assignments_tenant on public.user_tenant_assignments (tenant_id, role);
-- (user_id, tenant_id) is covered by the unique constraint, user_roles by (user_id, role).

-- 4. Helpers. SECURITY DEFINER so a policy can read assignments without
-- recursing into their own policies; an empty search_path so nothing can be
-- shadowed. Policies use tenant_ids_of as `tenant_id in (select ...)`: it runs
-- once per statement, where the plan's per-row has_tenant_role() /
-- user_has_tenant_access() calls (never inlined, because of their SET clause)
-- cost 3x on a plain listing. The meaning is the same.
create or replace function private.co_member_ids(_user_id uuid)
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select distinct theirs.user_id
  from public.user_tenant_assignments mine
  join public.user_tenant_assignments theirs on theirs.tenant_id = mine.tenant_id
  where mine.user_id = _user_id
$$;

create or replace function private.tenant_ids_of(_user_id uuid, _roles public.tenant_role[] default null)
returns setof uuid
language sql stable security definer
set search_path = ''
as $$
  select tenant_id from public.user_tenant_assignments
  where user_id = _user_id and (_roles is null or role = any (_roles))
$$;

create or replace function private.touch_updated_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.updated_at := now();
  return new;
end
$$;

-- By name, not "all functions in schema private": applied again after later
-- migrations, that would re-grant what they revoked (trigger functions,
-- helpers kept from service_role).
revoke all on function private.co_member_ids(uuid), private.tenant_ids_of(uuid, public.tenant_role[]),
  private.touch_updated_at() from public, anon;
grant execute on function private.co_member_ids(uuid), private.tenant_ids_of(uuid, public.tenant_role[]),
  private.touch_updated_at() to authenticated, service_role;

drop trigger if exists touch_updated_at on public.tenants;
create trigger touch_updated_at before update on public.tenants
  for each row execute function private.touch_updated_at();
drop trigger if exists touch_updated_at on public.proxmox_servers;
create trigger touch_updated_at before update on public.proxmox_servers
  for each row execute function private.touch_updated_at();
drop trigger if exists touch_updated_at on public.profiles;
create trigger touch_updated_at before update on public.profiles
  for each row execute function private.touch_updated_at();

-- 5. A tenant never loses its last admin, whoever writes: the functions or
-- supabase-js directly. SQLSTATE PT409 is what PostgREST turns into HTTP 409.
create or replace function private.keep_last_admin()
returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  if old.role <> 'admin'
     or (tg_op = 'UPDATE' and new.role = 'admin' and new.tenant_id = old.tenant_id) then
    return coalesce(new, old);
  end if;
  -- The tenant itself is being deleted (this row goes by cascade): let it go.
  if not exists (select 1 from public.tenants where id = old.tenant_id) then
    return old;
  end if;
  -- Serialise admin changes per tenant, so two admins demoting each other at
  -- the same moment cannot both succeed.
  perform 1 from public.tenants where id = old.tenant_id for update;
  if not exists (select 1 from public.user_tenant_assignments
                 where tenant_id = old.tenant_id and role = 'admin' and id <> old.id) then
    raise exception 'A tenant must keep at least one admin: make someone else admin first.'
      using errcode = 'PT409', hint = 'last_admin';
  end if;
  return coalesce(new, old);
end
$$;
revoke all on function private.keep_last_admin() from public, anon, authenticated;

drop trigger if exists keep_last_admin on public.user_tenant_assignments;
create trigger keep_last_admin
  before update or delete on public.user_tenant_assignments
  for each row execute function private.keep_last_admin();

-- 6. Policies. Drop every existing policy on these tables (the legacy
-- user-scoped ones included, whatever they were called) and create the set
-- that follows the contract's role table. `(select auth.uid())` is evaluated
-- once per statement instead of once per row.
do $$
declare
  p record;
begin
  for p in
    select tablename, policyname from pg_policies
    where schemaname = 'public'
      and tablename in ('tenants', 'user_tenant_assignments', 'profiles', 'user_roles', 'proxmox_servers')
  loop
    execute format('drop policy %I on public.%I', p.policyname, p.tablename);
  end loop;
end
$$;

-- tenants: members see theirs; tenant admins rename; system admins create and delete.
create policy "Members can view their tenants" on public.tenants
  for select to authenticated
  using ((select public.has_role((select auth.uid()), 'admin'))
         or id in (select private.tenant_ids_of((select auth.uid()))));
create policy "System admins can create tenants" on public.tenants
  for insert to authenticated
  with check ((select public.has_role((select auth.uid()), 'admin')));
create policy "Tenant admins can update their tenant" on public.tenants
  for update to authenticated
  using ((select public.has_role((select auth.uid()), 'admin'))
         or id in (select private.tenant_ids_of((select auth.uid()), array['admin']::public.tenant_role[])))
  with check ((select public.has_role((select auth.uid()), 'admin'))
         or id in (select private.tenant_ids_of((select auth.uid()), array['admin']::public.tenant_role[])));
create policy "System admins can delete tenants" on public.tenants
  for delete to authenticated
  using ((select public.has_role((select auth.uid()), 'admin')));

-- user_tenant_assignments: members see co-members; tenant admins manage
-- members but never grant themselves a role; anyone may leave.
create policy "Members can view co-members" on public.user_tenant_assignments
  for select to authenticated
  using ((select public.has_role((select auth.uid()), 'admin'))
         or tenant_id in (select private.tenant_ids_of((select auth.uid()))));
create policy "Tenant admins can add members" on public.user_tenant_assignments
  for insert to authenticated
  with check ((select public.has_role((select auth.uid()), 'admin'))
              or (user_id <> (select auth.uid())
                  and tenant_id in (select private.tenant_ids_of((select auth.uid()), array['admin']::public.tenant_role[]))));
create policy "Tenant admins can change roles" on public.user_tenant_assignments
  for update to authenticated
  using ((select public.has_role((select auth.uid()), 'admin'))
         or tenant_id in (select private.tenant_ids_of((select auth.uid()), array['admin']::public.tenant_role[])))
  with check ((select public.has_role((select auth.uid()), 'admin'))
              or tenant_id in (select private.tenant_ids_of((select auth.uid()), array['admin']::public.tenant_role[])));
create policy "Tenant admins remove members, members leave" on public.user_tenant_assignments
  for delete to authenticated
  using ((select public.has_role((select auth.uid()), 'admin'))
         or user_id = (select auth.uid())
         or tenant_id in (select private.tenant_ids_of((select auth.uid()), array['admin']::public.tenant_role[])));

-- profiles: your own, those of people you share a tenant with, all for system admins.
create policy "Profiles visible to self, co-members and system admins" on public.profiles
  for select to authenticated
  using (id = (select auth.uid())
         or (select public.has_role((select auth.uid()), 'admin'))
         or id in (select private.co_member_ids((select auth.uid()))));
create policy "Users create their own profile" on public.profiles
  for insert to authenticated
  with check (id = (select auth.uid()));
create policy "Users update their own profile" on public.profiles
  for update to authenticated
  using (id = (select auth.uid()))
  with check (id = (select auth.uid()));

-- user_roles: system roles are granted by system admins only, never to themselves.
create policy "Users see their own system roles" on public.user_roles
  for select to authenticated
  using (user_id = (select auth.uid()) or (select public.has_role((select auth.uid()), 'admin')));
create policy "System admins grant system roles to others" on public.user_roles
  for insert to authenticated
  with check ((select public.has_role((select auth.uid()), 'admin')) and user_id <> (select auth.uid()));
create policy "System admins change system roles of others" on public.user_roles
  for update to authenticated
  using ((select public.has_role((select auth.uid()), 'admin')) and user_id <> (select auth.uid()))
  with check ((select public.has_role((select auth.uid()), 'admin')) and user_id <> (select auth.uid()));
create policy "System admins revoke system roles" on public.user_roles
  for delete to authenticated
  using ((select public.has_role((select auth.uid()), 'admin')));

-- proxmox_servers: the five policies of the plan. An UPDATE's WITH CHECK sees
-- the new row, so nobody moves a server into a tenant they cannot manage.
create policy "Users can view tenant servers" on public.proxmox_servers
  for select to authenticated
  using (tenant_id in (select private.tenant_ids_of((select auth.uid()))));
create policy "Tenant admins/managers can insert servers" on public.proxmox_servers
  for insert to authenticated
  with check (tenant_id in (select private.tenant_ids_of((select auth.uid()), array['admin', 'manager']::public.tenant_role[])));
create policy "Tenant admins/managers can update servers" on public.proxmox_servers
  for update to authenticated
  using (tenant_id in (select private.tenant_ids_of((select auth.uid()), array['admin', 'manager']::public.tenant_role[])))
  with check (tenant_id in (select private.tenant_ids_of((select auth.uid()), array['admin', 'manager']::public.tenant_role[])));
create policy "Tenant admins can delete servers" on public.proxmox_servers
  for delete to authenticated
  using (tenant_id in (select private.tenant_ids_of((select auth.uid()), array['admin']::public.tenant_role[])));
create policy "System admins can manage all servers" on public.proxmox_servers
  for all to authenticated
  using ((select public.has_role((select auth.uid()), 'admin')))
  with check ((select public.has_role((select auth.uid()), 'admin')));
