-- 0011: one helper answers "in which tenants may the caller act with one of
-- these roles?", system admins folded in, and the policies and SECURITY
-- DEFINER helpers that spelled "system admin, or a member with this role"
-- out use it. Every rule means what it meant: the same people reach the same
-- rows (sql/migrations tests, role by role).
--
-- Idempotent. Applied again alone after this file, 0002, 0003, 0004 or 0005
-- bring back their own wording of the objects replaced here (same meaning);
-- applying this file again restores these (TestEachMigrationReappliedAlone).

-- 1. The helper. A system admin (public.has_role(uid, 'admin'), as the
-- policies asked) acts in every tenant; anyone else in the tenants where
-- they hold one of _roles, or any role when _roles is null. Policies call it
-- as `tenant_id in (select private.tenant_ids_for(...))`: evaluated once per
-- statement (0002 measured the per-row form at 3x). SECURITY DEFINER so it
-- reads assignments without recursing into their policies; the empty
-- search_path so nothing can be shadowed.
create or replace function private.tenant_ids_for(_roles public.tenant_role[] default null)
returns setof uuid
language plpgsql stable security definer
set search_path = ''
as $$
begin
  if public.has_role(auth.uid(), 'admin') then
    return query select t.id from public.tenants t;
  else
    return query select a.tenant_id from public.user_tenant_assignments a
      where a.user_id = auth.uid() and (_roles is null or a.role = any (_roles));
  end if;
end
$$;

revoke all on function private.tenant_ids_for(public.tenant_role[]) from public, anon;
grant execute on function private.tenant_ids_for(public.tenant_role[]) to authenticated, service_role;

-- 2. Policies of 0002 and 0004: the same names, commands and roles, in the
-- helper's words. Where the system-admin test stays spelled out, "every
-- tenant" is not all it grants:
--   - tenants select: a system admin reads back a tenant they create with
--     INSERT ... RETURNING before any statement can see it (so not yet
--     among every tenant id);
--   - memberships insert: a system admin may add themselves (create-tenant
--     makes its creator admin), which tenant admins may not;
--   - audit_log select: the trail outlives its tenant, and system admins
--     still read it.
-- Elsewhere the one remaining difference is which refusal a system admin
-- meets when a row names a tenant that does not exist: this policy (42501)
-- before the foreign key (23503).
alter policy "Members can view their tenants" on public.tenants
  using ((select public.has_role((select auth.uid()), 'admin'))
         or id in (select private.tenant_ids_for()));
alter policy "Tenant admins can update their tenant" on public.tenants
  using (id in (select private.tenant_ids_for('{admin}')))
  with check (id in (select private.tenant_ids_for('{admin}')));

alter policy "Members can view co-members" on public.user_tenant_assignments
  using (tenant_id in (select private.tenant_ids_for()));
alter policy "Tenant admins can add members" on public.user_tenant_assignments
  with check ((select public.has_role((select auth.uid()), 'admin'))
              or (user_id <> (select auth.uid())
                  and tenant_id in (select private.tenant_ids_for('{admin}'))));
alter policy "Tenant admins can change roles" on public.user_tenant_assignments
  using (tenant_id in (select private.tenant_ids_for('{admin}')))
  with check (tenant_id in (select private.tenant_ids_for('{admin}')));
alter policy "Tenant admins remove members, members leave" on public.user_tenant_assignments
  using (user_id = (select auth.uid())
         or tenant_id in (select private.tenant_ids_for('{admin}')));

-- proxmox_servers: system admins manage every server through the same four
-- policies, so 0002's separate "System admins can manage all servers" goes.
drop policy if exists "System admins can manage all servers" on public.proxmox_servers;

alter policy "Users can view tenant servers" on public.proxmox_servers
  using (tenant_id in (select private.tenant_ids_for()));
alter policy "Tenant admins/managers can insert servers" on public.proxmox_servers
  with check (tenant_id in (select private.tenant_ids_for('{admin,manager}')));
alter policy "Tenant admins/managers can update servers" on public.proxmox_servers
  using (tenant_id in (select private.tenant_ids_for('{admin,manager}')))
  with check (tenant_id in (select private.tenant_ids_for('{admin,manager}')));
alter policy "Tenant admins can delete servers" on public.proxmox_servers
  using (tenant_id in (select private.tenant_ids_for('{admin}')));

alter policy "Tenant admins read their audit trail" on public.audit_log
  using ((select public.has_role((select auth.uid()), 'admin'))
         or tenant_id in (select private.tenant_ids_for('{admin}')));

-- 0002's private.tenant_ids_of has no caller left but stays: 0002 and 0004,
-- applied again by hand, name it.

-- 3. The SECURITY DEFINER helpers of 0003 and 0005 that asked has_role()
-- and user_has_tenant_access() for every server row ask once per call.
create or replace function private.server_credentials(_server_ids uuid[])
returns table (server_id uuid, auth_type text, key_id text, sealed bytea, legacy_plaintext jsonb)
language sql stable security definer
set search_path = ''
as $$
  select c.server_id, c.auth_type, c.key_id, c.sealed, c.legacy_plaintext
  from private.proxmox_server_credentials c
  join public.proxmox_servers s on s.id = c.server_id
  where c.server_id = any (_server_ids) and s.tenant_id in (select private.tenant_ids_for())
$$;

create or replace function private.seal_legacy_credentials(_server_id uuid, _key_id text, _sealed bytea)
returns void
language sql security definer
set search_path = ''
as $$
  update private.proxmox_server_credentials c
  set key_id = _key_id, sealed = _sealed, legacy_plaintext = null, updated_at = now()
  from public.proxmox_servers s
  where c.server_id = _server_id and s.id = c.server_id and c.legacy_plaintext is not null
    and s.tenant_id in (select private.tenant_ids_for())
$$;

create or replace function private.reseal_server_credentials(_server_id uuid, _old_key_id text, _key_id text, _sealed bytea)
returns void
language sql security definer
set search_path = ''
as $$
  update private.proxmox_server_credentials c
  set key_id = _key_id, sealed = _sealed, updated_at = now()
  from public.proxmox_servers s
  where c.server_id = _server_id and s.id = c.server_id and c.key_id = _old_key_id
    and s.tenant_id in (select private.tenant_ids_for())
$$;
