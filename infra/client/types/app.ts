// Type-checked by the Node tests (test/types.test.mjs): the generated types
// used the way the app's hooks use supabase.functions.invoke, and the
// contract's LiveTenantStats and TenantUserAssignment (the app's
// src/lib/types.ts) checked against what the document generates.
import { createClient } from "@supabase/supabase-js";
import type { components } from "./functions";

type Schemas = components["schemas"];
export type LiveTenantStats = Schemas["LiveTenantStats"];
export type ServerHealth = Schemas["ServerHealth"];
export type TenantUserAssignment = Schemas["Assignment"];
export type Permissions = Schemas["Permissions"];
export type ProxmoxServer = Schemas["Server"];

// The app's own interfaces, as its plan has them.
type TenantRole = "admin" | "manager" | "viewer";
interface AppLiveTenantStats {
  totalVMs: number; runningVMs: number; stoppedVMs: number;
  totalContainers: number; runningContainers: number;
  nodes: { total: number; online: number; offline: number };
  cpuUsage: { used: number; total: number; percentage: number };
  memoryUsage: { used: number; total: number; percentage: number };
  storageUsage: { used: number; total: number; percentage: number };
  servers: { total: number; online: number; offline: number };
  lastUpdated: string;
}
interface AppTenantUserAssignment {
  id: string; user_id: string; tenant_id: string; role: TenantRole; created_at: string;
  profile: { id: string; email: string; full_name: string | null; username: string | null; avatar_url: string | null };
}

// Every field the app reads is there with the app's type.
export const statsFitTheApp = (s: LiveTenantStats): AppLiveTenantStats => s;
// Field for field the same names; profile and its email may be null here
// (a user without a profile row, a phone-only Supabase user), which the
// README records.
type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;
export const sameAssignmentFields: SameKeys<TenantUserAssignment, AppTenantUserAssignment> = true;
export const sameProfileFields: SameKeys<NonNullable<TenantUserAssignment["profile"]>, AppTenantUserAssignment["profile"]> = true;
export const roleFitsTheApp = (a: TenantUserAssignment): TenantRole => a.role;

const supabase = createClient("http://127.0.0.1:54321", "anon-key");

// useLiveTenantStats
export async function liveStats(tenantId: string): Promise<LiveTenantStats> {
  const { data, error } = await supabase.functions.invoke<Schemas["StatsAnswer"]>("tenant-stats", {
    body: { action: "get-live-stats", tenantId } satisfies Schemas["TenantRef"] & { action: string },
  });
  if (error || !data) throw error;
  return data.stats;
}

// usePermissions
export async function permissions(tenantId: string): Promise<Permissions> {
  const { data, error } = await supabase.functions.invoke<Permissions>("tenants", {
    body: { action: "my-permissions", tenantId },
  });
  if (error || !data) throw error;
  return data;
}

// useTenantUsers
export async function tenantUsers(tenantId: string): Promise<TenantUserAssignment[]> {
  const { data, error } = await supabase.functions.invoke<Schemas["UsersAnswer"]>("tenants", {
    body: { action: "list-users", tenantId },
  });
  if (error || !data) throw error;
  return data.users;
}

// useProxmoxServers
export async function servers(tenantId: string): Promise<ProxmoxServer[]> {
  const { data, error } = await supabase.functions.invoke<Schemas["ServersAnswer"]>("proxmox-servers", {
    body: { action: "list", tenantId },
  });
  if (error || !data) throw error;
  return data.servers;
}

// Adding a server: the request type catches a misspelt field.
export const newServer: Schemas["CreateServerRequest"] = {
  tenantId: "aaaaaaaa-0000-4000-8000-000000000001", name: "lab", host: "pve.example.com",
  tokenId: "root@pam!dashboard", tokenSecret: "…",
};
