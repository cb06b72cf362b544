// supabase-js calling every function through functions.invoke, as the app
// does, against the local stack the Go test started (STACK_JSON).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createClient, FunctionsHttpError } from '@supabase/supabase-js'
// Node 20 has no global WebSocket; supabase-js's realtime client needs one at construction.
import ws from 'ws'

const stack = JSON.parse(process.env.STACK_JSON)
const base = stack.url.replace(/\/functions\/v1\/$/, '')
const acme = stack.tenants['ACME Corp']
const globex = stack.tenants['Globex']
const cluster = stack.servers['pve-cluster']

const as = (email) =>
  createClient(base, stack.anon, {
    global: { headers: { Authorization: `Bearer ${stack.tokens[email]}` } },
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: ws },
  })

test('tenant-stats: live stats over both ACME servers', async () => {
  const { data, error } = await as('victor@acme.test').functions.invoke('tenant-stats', {
    body: { action: 'get-live-stats', tenantId: acme },
  })
  assert.equal(error, null)
  // 7 VMs on the cluster (the template not counted) + 2 on the standalone node.
  assert.equal(data.stats.totalVMs, 9)
  assert.equal(data.stats.totalContainers, 5)
  assert.deepEqual(data.stats.servers, { total: 2, online: 2, offline: 0 })
  assert.equal(data.stats.serverStatus.length, 2)
})

test('proxmox-servers: GET with the tenant in the query string, no secrets', async () => {
  const { data, error } = await as('victor@acme.test').functions.invoke(`proxmox-servers?tenantId=${acme}`, { method: 'GET' })
  assert.equal(error, null)
  assert.deepEqual(data.servers.map((s) => s.name).sort(), ['pve-cluster', 'pve-edge'])
  for (const s of data.servers) {
    assert.equal(s.has_credentials, true)
    assert.ok(!JSON.stringify(s).includes('3f1c2b4a'), 'a token secret leaked')
  }
})

test('list-vms: containers of one server', async () => {
  const { data, error } = await as('mona@acme.test').functions.invoke('list-vms', {
    body: { tenantId: acme, serverId: cluster, type: 'lxc' },
  })
  assert.equal(error, null)
  assert.deepEqual(data.vms.map((v) => v.vmid), [200, 201, 202, 203])
  assert.equal(data.servers[0].status, 'online')
})

test('tenants: my tenants and my permissions', async () => {
  const mona = as('mona@acme.test')
  const list = await mona.functions.invoke('tenants', { body: { action: 'list' } })
  assert.equal(list.error, null)
  assert.deepEqual(list.data.tenants.map((t) => [t.name, t.role]), [['ACME Corp', 'manager']])
  const perms = await mona.functions.invoke('tenants', { body: { action: 'my-permissions', tenantId: acme } })
  assert.equal(perms.error, null)
  assert.equal(perms.data.canControlVms, true)
  assert.equal(perms.data.canManageUsers, false)
})

test('a 403 comes back as FunctionsHttpError with a readable body', async () => {
  const { data, error } = await as('victor@acme.test').functions.invoke('list-vms', {
    body: { action: 'start', tenantId: acme, serverId: cluster, node: 'pve2', vmid: 104, type: 'qemu' },
  })
  assert.equal(data, null)
  assert.ok(error instanceof FunctionsHttpError, `got ${error}`)
  assert.equal(error.context.status, 403)
  const body = await error.context.json()
  assert.equal(body.code, 'forbidden')
  assert.match(body.error, /managers and admins/)
})

test('another tenant is invisible: 404, not 403', async () => {
  const { error } = await as('victor@acme.test').functions.invoke('tenant-stats', {
    body: { action: 'get-live-stats', tenantId: globex },
  })
  assert.ok(error instanceof FunctionsHttpError)
  assert.equal(error.context.status, 404)
  assert.equal((await error.context.json()).code, 'tenant_not_found')
})

test('the anon key alone is refused with 401', async () => {
  const anon = createClient(base, stack.anon, { auth: { persistSession: false, autoRefreshToken: false }, realtime: { transport: ws } })
  const { error } = await anon.functions.invoke('tenants', { body: { action: 'list' } })
  assert.ok(error instanceof FunctionsHttpError)
  assert.equal(error.context.status, 401)
})
