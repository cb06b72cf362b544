-- 0006: public.profiles follows auth.users for its whole life, as Supabase
-- Auth really manages users: created with the user, changed when the email or
-- the user metadata change, gone when the user is soft deleted (deleted_at set)
-- or hard deleted. Idempotent; nothing here redefines an object of an earlier
-- migration, so re-applying any earlier one cannot undo it.
--
-- Triggers on auth.users run as the role that writes it, supabase_auth_admin,
-- which has no right on public: the functions are SECURITY DEFINER (owned by
-- postgres) with an empty search_path.

-- 1. What a profile holds of a user. OAuth providers name the same things
-- differently (GitHub: user_name, preferred_username; Google: name).
create or replace function private.profile_fields(_meta jsonb)
returns table (full_name text, username text, avatar_url text)
language sql immutable
set search_path = ''
as $$
  select coalesce(_meta ->> 'full_name', _meta ->> 'name'),
         coalesce(_meta ->> 'username', _meta ->> 'user_name', _meta ->> 'preferred_username'),
         coalesce(_meta ->> 'avatar_url', _meta ->> 'picture')
$$;

-- 2. The trigger. Soft delete (supabase/auth internal/models/user.go
-- SoftDeleteUser: one UPDATE sets deleted_at and scrambles the email, later
-- ones empty the metadata) is treated like a hard delete: memberships,
-- system roles and the profile go. A tenant's last admin cannot be removed
-- (private.keep_last_admin, 0002), so their soft delete fails with SQLSTATE
-- PT409 and the user stays, exactly as a hard delete of a last admin is
-- refused by the cascade: hand the tenant over first.
create or replace function private.profile_follows_auth_user()
returns trigger
language plpgsql security definer
set search_path = ''
as $$
declare
  _name text; _user text; _avatar text;
  _old_name text; _old_user text; _old_avatar text;
begin
  if new.deleted_at is not null then
    if tg_op = 'UPDATE' and old.deleted_at is not null then
      return null; -- already gone (SoftDeleteUser's later metadata updates)
    end if;
    delete from public.user_tenant_assignments where user_id = new.id;
    delete from public.user_roles where user_id = new.id;
    delete from public.profiles where id = new.id;
    return null;
  end if;

  select f.full_name, f.username, f.avatar_url into _name, _user, _avatar
  from private.profile_fields(new.raw_user_meta_data) f;
  if tg_op = 'INSERT' then
    insert into public.profiles (id, email, full_name, username, avatar_url)
    values (new.id, new.email, _name, _user, _avatar)
    on conflict (id) do update set email = excluded.email;
    return null;
  end if;

  -- An update: the email always follows; a metadata field follows only when
  -- Auth's value for it changed, so an edit the user made to their profile
  -- through the app is not overwritten by an unrelated metadata change.
  select f.full_name, f.username, f.avatar_url into _old_name, _old_user, _old_avatar
  from private.profile_fields(old.raw_user_meta_data) f;
  insert into public.profiles as p (id, email, full_name, username, avatar_url)
  values (new.id, new.email, _name, _user, _avatar)
  on conflict (id) do update set
    email = excluded.email,
    full_name = case when _name is distinct from _old_name then excluded.full_name else p.full_name end,
    username = case when _user is distinct from _old_user then excluded.username else p.username end,
    avatar_url = case when _avatar is distinct from _old_avatar then excluded.avatar_url else p.avatar_url end
  where p.email is distinct from excluded.email
     or _name is distinct from _old_name
     or _user is distinct from _old_user
     or _avatar is distinct from _old_avatar;
  return null;
end
$$;
revoke all on function private.profile_fields(jsonb) from public, anon, authenticated, service_role;
revoke all on function private.profile_follows_auth_user() from public, anon, authenticated, service_role;

-- 0001's insert-only trigger is replaced by these two (0001 re-creates it
-- only while the schema is still user-scoped, i.e. never after 0002).
drop trigger if exists on_auth_user_created on auth.users;
drop trigger if exists profile_follows_auth_user_insert on auth.users;
create trigger profile_follows_auth_user_insert
  after insert on auth.users
  for each row execute function private.profile_follows_auth_user();
drop trigger if exists profile_follows_auth_user_update on auth.users;
create trigger profile_follows_auth_user_update
  after update of email, raw_user_meta_data, deleted_at on auth.users
  for each row execute function private.profile_follows_auth_user();

-- 3. Backfill. Users who signed up before the trigger existed get a
-- profile; emails that drifted (changed in Auth while only inserts were
-- followed) are brought back in line.
insert into public.profiles (id, email, full_name, username, avatar_url)
select u.id, u.email, f.full_name, f.username, f.avatar_url
from auth.users u cross join lateral private.profile_fields(u.raw_user_meta_data) f
where u.deleted_at is null
on conflict (id) do nothing;

update public.profiles p
set email = u.email
from auth.users u
where u.id = p.id and u.deleted_at is null and p.email is distinct from u.email;

-- Users soft deleted before this migration lose what a soft delete now
-- takes. A tenant's last admin keeps that one membership (the migration must
-- not fail, nor leave a tenant without an admin); a warning names it so a
-- person can hand the tenant over.
do $$
declare
  m record;
begin
  delete from public.user_roles r using auth.users u where u.id = r.user_id and u.deleted_at is not null;
  delete from public.profiles p using auth.users u where u.id = p.id and u.deleted_at is not null;
  for m in
    select a.id, a.user_id, a.tenant_id
    from public.user_tenant_assignments a join auth.users u on u.id = a.user_id
    where u.deleted_at is not null
    order by a.role <> 'admin' desc, a.id
  loop
    begin
      delete from public.user_tenant_assignments where id = m.id;
    exception when sqlstate 'PT409' then
      raise warning 'soft-deleted user % is the last admin of tenant %: membership kept; make someone else admin, then remove it',
        m.user_id, m.tenant_id;
    end;
  end loop;
end
$$;

-- 4. Finding a person by email for assign-user. Like 0004's
-- find_user_id_by_email (which stays as it was), but when no profile has the
-- address it asks auth.users, the source of truth, and gives that user the
-- missing profile. Emails compare case-insensitively, as Supabase Auth does
-- (users_instance_id_email_idx is on lower(email)). Soft-deleted and
-- anonymous users are never found.
create or replace function private.resolve_user_by_email(_tenant_id uuid, _email text)
returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  _e text := lower(btrim(_email));
  _id uuid;
begin
  if not (public.has_role(auth.uid(), 'admin')
          or public.has_tenant_role(auth.uid(), _tenant_id, array['admin']::public.tenant_role[])) then
    raise exception 'only admins of this tenant may look people up' using errcode = '42501';
  end if;
  select p.id into _id from public.profiles p
  where lower(p.email) = _e
  order by p.created_at, p.id
  limit 1;
  if _id is not null then
    return _id;
  end if;
  -- SSO users may share an address with an email user (the unique index is
  -- partial, where is_sso_user = false): prefer the email user.
  select u.id into _id from auth.users u
  where lower(u.email) = _e and u.deleted_at is null and not u.is_anonymous
  order by u.is_sso_user, u.created_at, u.id
  limit 1;
  if _id is not null then
    insert into public.profiles (id, email, full_name, username, avatar_url)
    select u.id, u.email, f.full_name, f.username, f.avatar_url
    from auth.users u cross join lateral private.profile_fields(u.raw_user_meta_data) f
    where u.id = _id
    on conflict (id) do nothing;
  end if;
  return _id;
end
$$;

-- 5. Whether the caller's account still exists and is not soft deleted. An
-- access token stays valid until it expires, also after its user was deleted
-- (Auth does not revoke issued JWTs); the functions check this in the same
-- query as the caller's role and answer 401 user_deleted.
create or replace function private.caller_is_active()
returns boolean
language sql stable security definer
set search_path = ''
as $$
  select exists (select 1 from auth.users where id = auth.uid() and deleted_at is null)
$$;

revoke all on function private.resolve_user_by_email(uuid, text) from public, anon, service_role;
revoke all on function private.caller_is_active() from public, anon, service_role;
grant execute on function private.resolve_user_by_email(uuid, text) to authenticated;
grant execute on function private.caller_is_active() to authenticated;
