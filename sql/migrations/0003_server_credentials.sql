-- 0003: Proxmox credentials leave the table every member can read. They live
-- in private.proxmox_server_credentials: no grant and no policy for any API
-- role, sealed with AES-256-GCM by the functions (the key never reaches the
-- database), the server id bound as associated data so a sealed blob cannot be
-- replayed onto another server.

create table if not exists private.proxmox_server_credentials (
  server_id uuid primary key references public.proxmox_servers (id) on delete cascade,
  auth_type text not null check (auth_type in ('token', 'password')),
  key_id text,
  sealed bytea,
  -- Secrets moved from the legacy plain columns. The database cannot seal
  -- them (it never holds the key); the functions seal them on first use and
  -- clear this column.
  legacy_plaintext jsonb,
  updated_at timestamptz not null default now(),
  check ((sealed is not null and key_id is not null) or legacy_plaintext is not null)
);

alter table private.proxmox_server_credentials enable row level security;
alter table private.proxmox_server_credentials force row level security;
revoke all on private.proxmox_server_credentials from public, anon, authenticated, service_role;

-- Which kind of credentials a server has is not secret; the UI shows it.
alter table public.proxmox_servers add column if not exists auth_type text
  check (auth_type in ('token', 'password'));
alter table public.proxmox_servers add column if not exists tls_fingerprint text;
alter table public.proxmox_servers add column if not exists credentials_version integer not null default 0;

-- Move the legacy secrets, then drop the plain columns so no client can read them again.
do $$
begin
  if exists (select 1 from information_schema.columns
             where table_schema = 'public' and table_name = 'proxmox_servers' and column_name = 'api_token_secret') then
    insert into private.proxmox_server_credentials (server_id, auth_type, legacy_plaintext)
    select s.id,
           case when nullif(s.api_token_secret, '') is not null then 'token' else 'password' end,
           case when nullif(s.api_token_secret, '') is not null
                then jsonb_build_object('tokenId', s.api_token_id, 'tokenSecret', s.api_token_secret)
                else jsonb_build_object('username', s.username, 'password', s.password) end
    from public.proxmox_servers s
    where nullif(s.api_token_secret, '') is not null or nullif(s.password, '') is not null
    on conflict (server_id) do nothing;

    update public.proxmox_servers s
    set auth_type = c.auth_type, credentials_version = 1
    from private.proxmox_server_credentials c
    where c.server_id = s.id;

    alter table public.proxmox_servers drop column api_token_secret;
    alter table public.proxmox_servers drop column api_token_id;
    alter table public.proxmox_servers drop column password;
    alter table public.proxmox_servers drop column username;
  end if;
end
$$;

-- has_credentials, as a computed field: `select *, has_credentials` works from
-- supabase-js too, and the secret itself stays out of reach.
create or replace function public.has_credentials(public.proxmox_servers)
returns boolean
language sql stable security definer
set search_path = ''
as $$
  select exists (select 1 from private.proxmox_server_credentials c where c.server_id = $1.id)
$$;

-- The functions read the sealed credentials of the servers the caller can see,
-- as the caller. `private` is not exposed by the Data API, and what comes back
-- is useless without the functions' key.
create or replace function private.server_credentials(_server_ids uuid[])
returns table (server_id uuid, auth_type text, key_id text, sealed bytea, legacy_plaintext jsonb)
language sql stable security definer
set search_path = ''
as $$
  select c.server_id, c.auth_type, c.key_id, c.sealed, c.legacy_plaintext
  from private.proxmox_server_credentials c
  join public.proxmox_servers s on s.id = c.server_id
  where c.server_id = any (_server_ids)
    and (public.has_role(auth.uid(), 'admin') or public.user_has_tenant_access(auth.uid(), s.tenant_id))
$$;

-- Writes need the right to manage the server's tenant; every write bumps
-- credentials_version, which keys the functions' caches.
create or replace function private.set_server_credentials(_server_id uuid, _auth_type text, _key_id text, _sealed bytea)
returns void
language plpgsql security definer
set search_path = ''
as $$
declare
  _tenant uuid;
begin
  select tenant_id into _tenant from public.proxmox_servers where id = _server_id;
  if _tenant is null
     or not (public.has_role(auth.uid(), 'admin')
             or public.has_tenant_role(auth.uid(), _tenant, array['admin', 'manager']::public.tenant_role[])) then
    raise exception 'not allowed to change the credentials of this server' using errcode = '42501';
  end if;
  insert into private.proxmox_server_credentials (server_id, auth_type, key_id, sealed, legacy_plaintext, updated_at)
  values (_server_id, _auth_type, _key_id, _sealed, null, now())
  on conflict (server_id) do update
    set auth_type = excluded.auth_type, key_id = excluded.key_id, sealed = excluded.sealed,
        legacy_plaintext = null, updated_at = now();
  update public.proxmox_servers
  set auth_type = _auth_type, credentials_version = credentials_version + 1
  where id = _server_id;
end
$$;

-- Sealing a legacy secret changes nothing the caller could observe (same
-- secret, same server), so any member whose request first uses it may do it.
create or replace function private.seal_legacy_credentials(_server_id uuid, _key_id text, _sealed bytea)
returns void
language sql security definer
set search_path = ''
as $$
  update private.proxmox_server_credentials c
  set key_id = _key_id, sealed = _sealed, legacy_plaintext = null, updated_at = now()
  from public.proxmox_servers s
  where c.server_id = _server_id and s.id = c.server_id and c.legacy_plaintext is not null
    and (public.has_role(auth.uid(), 'admin') or public.user_has_tenant_access(auth.uid(), s.tenant_id))
$$;

revoke all on function private.server_credentials(uuid[]) from public, anon;
revoke all on function private.set_server_credentials(uuid, text, text, bytea) from public, anon;
revoke all on function private.seal_legacy_credentials(uuid, text, bytea) from public, anon;
grant execute on function private.server_credentials(uuid[]) to authenticated;
grant execute on function private.set_server_credentials(uuid, text, text, bytea) to authenticated;
grant execute on function private.seal_legacy_credentials(uuid, text, bytea) to authenticated;
