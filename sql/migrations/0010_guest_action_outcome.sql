-- 0010: the audit trail says what became of a guest power action. Proxmox
-- accepts most actions with a task id and may then fail inside the task
-- ("VM 100 already running", "VM is locked (backup)"); list-vms follows the
-- task briefly and records the outcome: succeeded, running (still going when
-- list-vms stopped following), accepted (accepted, task status unreadable)
-- or failed. A failed action is recorded as guest.<action>_failed, never as
-- guest.<action>, so nothing reads it as done.
create or replace function private.record_guest_action(
  _tenant_id uuid, _server_id uuid, _node text, _vmid integer, _type text, _action text, _upid text,
  _outcome text, _exitstatus text)
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
     or _type is null or _type not in ('qemu', 'lxc')
     or _outcome is null or _outcome not in ('succeeded', 'running', 'accepted', 'failed') then
    raise exception 'unknown guest action % of type % with outcome %', _action, _type, _outcome using errcode = '22023';
  end if;
  insert into public.audit_log (tenant_id, actor_id, action, target_type, target_id, after)
  values (_tenant_id, auth.uid(),
          'guest.' || _action || case when _outcome = 'failed' then '_failed' else '' end, 'guest',
          format('%s/%s/%s', _server_id, _node, _vmid),
          jsonb_strip_nulls(jsonb_build_object('server_id', _server_id, 'node', _node, 'vmid', _vmid,
                             'type', _type, 'action', _action, 'upid', _upid,
                             'outcome', _outcome, 'exitstatus', left(_exitstatus, 500))))
  returning id into _id;
  return _id;
end
$$;

revoke all on function private.record_guest_action(uuid, uuid, text, integer, text, text, text, text, text) from public, anon;
grant execute on function private.record_guest_action(uuid, uuid, text, integer, text, text, text, text, text) to authenticated;
