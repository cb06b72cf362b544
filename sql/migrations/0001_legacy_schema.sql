-- 0001: the user-scoped schema the app had before tenant scoping ("What
-- Already Exists" in the plan). It applies cleanly both to an empty Supabase
-- database and to the production database that already has these objects:
-- nothing here drops or rewrites data. Its legacy trigger and user-owned
-- policies are (re)created only while the schema is still user-scoped
-- (proxmox_servers.tenant_id nullable, i.e. before 0002): applied again after
-- 0002 it changes nothing, and never brings back a policy 0002 dropped.

do $$
begin
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'public' and t.typname = 'app_role') then
    create type public.app_role as enum ('admin', 'moderator', 'user');
  end if;
  if not exists (select 1 from pg_type t join pg_namespace n on n.oid = t.typnamespace
                 where n.nspname = 'public' and t.typname = 'tenant_role') then
    create type public.tenant_role as enum ('admin', 'manager', 'viewer');
  end if;
end
$$;

create table if not exists public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  email text,
  full_name text,
  username text,
  avatar_url text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table if not exists public.user_roles (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  role public.app_role not null,
  created_at timestamptz not null default now(),
  unique (user_id, role)
);

create table if not exists public.tenants (
  id uuid primary key default gen_random_uuid(),
  name text not null,
  slug text unique,
  description text,
  is_active boolean not null default true,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table if not exists public.user_tenant_assignments (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  tenant_id uuid not null references public.tenants (id) on delete cascade,
  role public.tenant_role not null default 'viewer',
  created_at timestamptz not null default now(),
  unique (user_id, tenant_id)
);

-- Servers were owned by a user; tenant_id existed but was optional, and the
-- credentials sat in plain columns of this table.
create table if not exists public.proxmox_servers (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  tenant_id uuid references public.tenants (id) on delete set null,
  name text not null,
  host text not null,
  port integer not null default 8006,
  username text,
  password text,
  api_token_id text,
  api_token_secret text,
  verify_ssl boolean not null default false,
  is_active boolean not null default true,
  connection_status text,
  last_connected_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create or replace function public.has_role(_user_id uuid, _role public.app_role)
returns boolean
language sql stable security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.user_roles
    where user_id = _user_id and role = _role
  )
$$;

create or replace function public.has_tenant_role(_user_id uuid, _tenant_id uuid, _roles public.tenant_role[])
returns boolean
language sql stable security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.user_tenant_assignments
    where user_id = _user_id and tenant_id = _tenant_id and role = any (_roles)
  )
$$;

create or replace function public.user_has_tenant_access(_user_id uuid, _tenant_id uuid)
returns boolean
language sql stable security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.user_tenant_assignments
    where user_id = _user_id and tenant_id = _tenant_id
  )
$$;

alter table public.profiles enable row level security;
alter table public.user_roles enable row level security;
alter table public.tenants enable row level security;
alter table public.user_tenant_assignments enable row level security;
alter table public.proxmox_servers enable row level security;

-- Every new auth user gets a profile row (0006 replaces this with triggers
-- that follow the user's whole life), and the legacy policies, recreated only
-- where missing so an existing database keeps its own; 0002 replaces them all.
-- Both only while the schema is still user-scoped.
do $do$
declare
  p record;
begin
  if exists (select 1 from information_schema.columns
             where table_schema = 'public' and table_name = 'proxmox_servers'
               and column_name = 'tenant_id' and is_nullable = 'NO') then
    return; -- tenant-scoped already (0002 ran): nothing legacy comes back
  end if;

  create or replace function public.handle_new_user()
  returns trigger
  language plpgsql security definer
  set search_path = ''
  as $fn$
  begin
    insert into public.profiles (id, email, full_name, username, avatar_url)
    values (
      new.id,
      new.email,
      new.raw_user_meta_data ->> 'full_name',
      new.raw_user_meta_data ->> 'username',
      new.raw_user_meta_data ->> 'avatar_url'
    )
    on conflict (id) do nothing;
    return new;
  end
  $fn$;

  drop trigger if exists on_auth_user_created on auth.users;
  create trigger on_auth_user_created
    after insert on auth.users
    for each row execute function public.handle_new_user();

  for p in
    select * from (values
      ('profiles', 'Profiles are viewable by their owner', 'select', 'id = auth.uid()', null),
      ('profiles', 'Users can update their own profile', 'update', 'id = auth.uid()', null),
      ('user_roles', 'Users can view their own roles', 'select', 'user_id = auth.uid()', null),
      ('tenants', 'Members can view their tenants', 'select',
         'public.user_has_tenant_access(auth.uid(), id) or public.has_role(auth.uid(), ''admin'')', null),
      ('user_tenant_assignments', 'Users can view their assignments', 'select',
         'user_id = auth.uid() or public.has_role(auth.uid(), ''admin'')', null),
      ('proxmox_servers', 'Users can view their own servers', 'select', 'user_id = auth.uid()', null),
      ('proxmox_servers', 'Users can insert their own servers', 'insert', null, 'user_id = auth.uid()'),
      ('proxmox_servers', 'Users can update their own servers', 'update', 'user_id = auth.uid()', null),
      ('proxmox_servers', 'Users can delete their own servers', 'delete', 'user_id = auth.uid()', null)
    ) as t(tbl, name, cmd, using_expr, check_expr)
  loop
    if not exists (select 1 from pg_policies
                   where schemaname = 'public' and tablename = p.tbl and policyname = p.name) then
      execute format('create policy %I on public.%I for %s to authenticated', p.name, p.tbl, p.cmd)
        || coalesce(' using (' || p.using_expr || ')', '')
        || coalesce(' with check (' || p.check_expr || ')', '');
    end if;
  end loop;
end
$do$;
