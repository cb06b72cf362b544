-- 0005: rotation of CREDENTIALS_KEY completes by itself. Credentials sealed
-- under a previous key are resealed under the current one by the first
-- request that uses them, so the previous key can be retired once no row
-- names it (select key_id, count(*) from private.proxmox_server_credentials
-- group by 1).

-- Like sealing a legacy secret, resealing changes nothing a caller could
-- observe (same secret, same server), so any member whose request uses it may
-- do it. Only a row still sealed under _old_key_id is replaced, so two
-- requests resealing at once cannot overwrite a newer edit.
create or replace function private.reseal_server_credentials(_server_id uuid, _old_key_id text, _key_id text, _sealed bytea)
returns void
language sql security definer
set search_path = ''
as $$
  update private.proxmox_server_credentials c
  set key_id = _key_id, sealed = _sealed, updated_at = now()
  from public.proxmox_servers s
  where c.server_id = _server_id and s.id = c.server_id and c.key_id = _old_key_id
    and (public.has_role(auth.uid(), 'admin') or public.user_has_tenant_access(auth.uid(), s.tenant_id))
$$;

revoke all on function private.reseal_server_credentials(uuid, text, text, bytea) from public, anon;
grant execute on function private.reseal_server_credentials(uuid, text, text, bytea) to authenticated;
