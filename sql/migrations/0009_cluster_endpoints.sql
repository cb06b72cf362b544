-- 0009: a server is a cluster reachable through several endpoints. The
-- primary endpoint stays host/port/tls_fingerprint (so every existing server
-- keeps working unchanged, as a cluster of one endpoint); further endpoints
-- and the cluster's CA certificate (pve-root-ca.pem) live beside them, on the
-- same row, under the same RLS policies and role rules. Credentials stay in
-- private.proxmox_server_credentials, one sealed secret for all endpoints (a
-- PVE cluster shares its users and tokens through pmxcfs).

alter table public.proxmox_servers
  add column if not exists endpoints jsonb not null default '[]'::jsonb,
  add column if not exists ca_pem text;

-- endpoints: at most 16 objects {"host": text, "port": 1..65535,
-- "tls_fingerprint": colon hex SHA-256 or absent}. The functions validate host
-- names too; this keeps direct supabase-js writes in shape.
alter table public.proxmox_servers drop constraint if exists proxmox_servers_endpoints_check;
alter table public.proxmox_servers add constraint proxmox_servers_endpoints_check check (
  jsonb_typeof(endpoints) = 'array'
  and jsonb_array_length(endpoints) <= 16
  and not jsonb_path_exists(endpoints, '$[*] ? (@.type() != "object")')
  and not jsonb_path_exists(endpoints, '$[*] ? (!exists(@.host) || @.host.type() != "string" || !exists(@.port) || @.port.type() != "number")')
  and not jsonb_path_exists(endpoints, '$[*] ? (@.port < 1 || @.port > 65535 || @.host.size() > 253 || @.host == "")')
  and not jsonb_path_exists(endpoints, '$[*].tls_fingerprint ? (@.type() != "string" || !(@ like_regex "^([0-9A-F]{2}:){31}[0-9A-F]{2}$"))')
);

-- ca_pem: one PEM certificate, no private key ever.
alter table public.proxmox_servers drop constraint if exists proxmox_servers_ca_pem_check;
alter table public.proxmox_servers add constraint proxmox_servers_ca_pem_check check (
  ca_pem is null or (
    length(ca_pem) <= 16384
    and ca_pem like '-----BEGIN CERTIFICATE-----%'
    and position('PRIVATE KEY' in ca_pem) = 0
  )
);
