-- A local stand-in for what a fresh Supabase database has before any project
-- migration: the roles, the auth schema with auth.users and the JWT helpers,
-- and Supabase's default grants on `public`. It is for local use and tests
-- only; on a real project Supabase provides all of this. Idempotent, and it
-- upgrades a database made by an older stand-in.
--
-- It follows the Supabase Postgres image 15.8.1.004 (supabase/postgres
-- ansible/vars.yml at commit 7db7e1a, migrations/db/init-scripts and
-- migrations/db/migrations) and Supabase Auth's own migrations
-- (supabase/auth migrations/*.up.sql) for auth.users. Apply it as a
-- superuser (Supabase's supabase_admin); the project's migrations are then
-- applied as `postgres`, which Supabase demotes to a non-superuser with
-- BYPASSRLS (10000000000000_demote-postgres.sql).

do $$
begin
  -- 10000000000000_demote-postgres.sql: ALTER ROLE postgres NOSUPERUSER
  -- CREATEDB CREATEROLE LOGIN REPLICATION BYPASSRLS. Where the server's own
  -- bootstrap superuser is called postgres (a plain initdb, or a
  -- DATABASE_URL naming it), it stays what it is: a role cannot demote itself.
  if not exists (select 1 from pg_roles where rolname = 'postgres') then
    create role postgres nosuperuser createdb createrole login replication bypassrls;
  end if;
  -- 00000000000001-auth-schema.sql: the role Supabase Auth (GoTrue) logs in as.
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin noinherit createrole login noreplication;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  -- PostgREST logs in as authenticator and switches role per request.
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator noinherit login;
  end if;
end
$$;

grant anon, authenticated, service_role to authenticator;
-- 20230201083204_grant_auth_roles_to_postgres.sql and
-- 20220609081115_grant-supabase-auth-admin-...-to-postgres.sql: postgres may
-- act as the API roles (the functions' `set local role authenticated`) and
-- holds the auth admin's privileges (so it can add triggers to auth.users).
do $$
begin
  if current_user <> 'postgres' then
    grant anon, authenticated, service_role, supabase_auth_admin to postgres;
  end if;
  -- demote-postgres: GRANT ALL ON DATABASE postgres TO postgres (here: this database).
  execute format('grant all on database %I to postgres', current_database());
end
$$;
alter role supabase_auth_admin set search_path = auth;

create schema if not exists auth;
create schema if not exists extensions;
grant all on schema auth to supabase_auth_admin, postgres;
grant usage on schema auth to anon, authenticated, service_role;

-- auth.users as Supabase Auth leaves it: the columns of
-- 00000000000001-auth-schema.sql plus those its own migrations add that
-- matter here. Two defaults (id, created_at) are conveniences for tests that
-- play GoTrue; GoTrue always sets both itself.
create table if not exists auth.users (
  instance_id uuid null,
  id uuid not null primary key default gen_random_uuid(),
  aud varchar(255) null,
  role varchar(255) null,
  email varchar(255) null,
  encrypted_password varchar(255) null,
  email_confirmed_at timestamptz null,
  invited_at timestamptz null,
  email_change varchar(255) null,
  last_sign_in_at timestamptz null,
  raw_app_meta_data jsonb null,
  raw_user_meta_data jsonb null,
  is_super_admin boolean null,
  created_at timestamptz null default now(),
  updated_at timestamptz null default now(),
  phone text null default null unique
);
-- A database made by the first stand-in (email text unique, metadata not null).
do $$
begin
  if (select format_type(atttypid, atttypmod) from pg_attribute
      where attrelid = 'auth.users'::regclass and attname = 'email') <> 'character varying(255)' then
    alter table auth.users alter column email type varchar(255);
  end if;
end
$$;
alter table auth.users alter column raw_user_meta_data drop not null;
alter table auth.users alter column raw_user_meta_data drop default;
alter table auth.users alter column raw_app_meta_data drop not null;
alter table auth.users alter column raw_app_meta_data drop default;
-- 20221215195500_modify_users_email_unique_index.up.sql: emails are unique
-- only among non-SSO users, through a partial index, not a constraint.
alter table auth.users add column if not exists is_sso_user boolean not null default false;
alter table auth.users drop constraint if exists users_email_key;
create unique index if not exists users_email_partial_key on auth.users (email) where (is_sso_user = false);
-- 20230116124412_add_deleted_at.up.sql: set by a soft delete
-- (internal/models/user.go SoftDeleteUser, which also scrambles the email).
alter table auth.users add column if not exists deleted_at timestamptz null;
-- 20240214120130_add_is_anonymous_column.up.sql
alter table auth.users add column if not exists is_anonymous boolean not null default false;
create index if not exists users_is_anonymous_idx on auth.users using btree (is_anonymous);
-- 20220114185221_update_user_idx.up.sql: Auth looks emails up case-insensitively.
create index if not exists users_instance_id_email_idx on auth.users using btree (instance_id, lower(email));

-- Owned by the auth admin (20211115181400_update-auth-permissions.sql), with
-- RLS on and no policy (20240612123726_enable_rls_update_grants.up.sql): only
-- the owner and BYPASSRLS roles (postgres) read it. postgres has every
-- privilege on it in this image (demote-postgres: GRANT ALL ON ALL TABLES IN
-- SCHEMA auth TO postgres).
alter table auth.users owner to supabase_auth_admin;
alter table auth.users enable row level security;
grant all on auth.users to supabase_auth_admin, postgres;

-- The same definitions Supabase ships: read the claims PostgREST sets per request.
create or replace function auth.uid() returns uuid
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;

create or replace function auth.role() returns text
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;

create or replace function auth.jwt() returns jsonb
language sql stable
as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;

grant execute on function auth.uid(), auth.role(), auth.jwt() to anon, authenticated, service_role, postgres;

-- Supabase's default grants (00000000000000-initial-schema.sql): every new
-- object in public is granted to the API roles, so row level security is the
-- only lock on a table. postgres may create in public and owns what it creates.
grant usage, create on schema public to postgres;
grant usage on schema public to anon, authenticated, service_role;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant all on all tables in schema public to anon, authenticated, service_role;
grant all on all sequences in schema public to anon, authenticated, service_role;
grant all on all functions in schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
do $$
begin
  if current_user <> 'postgres' then
    -- The same defaults for what postgres creates (Supabase sets them for
    -- postgres and supabase_admin alike).
    alter default privileges for role postgres in schema public grant all on tables to anon, authenticated, service_role;
    alter default privileges for role postgres in schema public grant all on sequences to anon, authenticated, service_role;
    alter default privileges for role postgres in schema public grant all on functions to anon, authenticated, service_role;
  end if;
end
$$;
