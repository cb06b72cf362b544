// The local stack's dashboard page (infra/dashboard) in headless Chromium, as
// a person uses it: live numbers equal to get-live-stats, a manager starts a
// VM, a viewer sees no controls, an admin changes roles and reads the
// last-admin refusal as a sentence. Saves a screenshot (SCREENSHOT_DIR).
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { createClient } from '@supabase/supabase-js'
import ws from 'ws'

const stack = JSON.parse(process.env.STACK_JSON)
const base = stack.url.replace(/\/functions\/v1\/$/, '')
const acme = stack.tenants['ACME Corp']
const shots = process.env.SCREENSHOT_DIR || join(tmpdir(), 'pvetenant-dashboard')
const T = 30_000 // the longest any expectation waits: generous, CI runs every package at once

let browser

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  })
})
after(async () => { await browser?.close() })

// open loads the page as a demo user in a fresh context (own localStorage).
async function open(email, view = 'dashboard') {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  const page = await context.newPage()
  const errors = []
  page.on('pageerror', (e) => errors.push(e.message))
  // No email: the page as a newcomer opens it (alice by default).
  await page.goto(email ? `${base}/?user=${encodeURIComponent(email)}#${view}` : `${base}/`)
  page.errors = errors
  return page
}

const sb = (email) => createClient(base, stack.anon, {
  global: { headers: { Authorization: `Bearer ${stack.tokens[email]}` } },
  auth: { persistSession: false, autoRefreshToken: false },
  realtime: { transport: ws },
})

test('the dashboard shows the live numbers get-live-stats answers, with a live indicator', async (t) => {
  const began = Date.now()
  const page = await open(null)
  await page.locator('#vms tbody tr').first().waitFor({ timeout: T })
  // Measured, never asserted: from navigation to a filled page.
  t.diagnostic(`dashboard filled ${Date.now() - began} ms after opening /`)
  assert.equal(await page.inputValue('#user'), 'alice@acme.test')
  assert.equal((await page.locator('h1').first().textContent()).trim(), 'ACME Corp Environment')
  const { data, error } = await sb('alice@acme.test').functions.invoke('tenant-stats', { body: { action: 'get-live-stats', tenantId: acme } })
  assert.equal(error, null)
  const s = data.stats
  const shown = async (key) => (await page.locator(`[data-stat="${key}"]`).first().textContent()).trim()
  for (const [key, want] of [
    ['totalVMs', s.totalVMs], ['runningVMs', s.runningVMs], ['stoppedVMs', s.stoppedVMs],
    ['totalContainers', s.totalContainers], ['runningContainers', s.runningContainers],
    ['nodes.online', s.nodes.online], ['nodes.total', s.nodes.total],
    ['servers.online', s.servers.online], ['servers.total', s.servers.total],
  ]) {
    assert.equal(await shown(key), String(want), key)
  }
  assert.equal((await page.locator('[data-usage="cpuUsage"] .pct').textContent()).trim(), `${s.cpuUsage.percentage}%`)
  assert.equal((await page.locator('[data-usage="memoryUsage"] .pct').textContent()).trim(), `${s.memoryUsage.percentage}%`)
  assert.equal((await page.locator('[data-usage="storageUsage"] .pct').textContent()).trim(), `${s.storageUsage.percentage}%`)
  assert.match(await page.locator('#live-text').textContent(), /^Live · data \d+ s old/)
  assert.equal(await page.locator('#health .card').count(), s.serverStatus.length)
  assert.equal(await page.locator('#nodes .card').count(), s.nodes.total)
  mkdirSync(shots, { recursive: true })
  await page.screenshot({ path: join(shots, 'dashboard.png'), fullPage: true })
  assert.deepEqual(page.errors, [])
  await page.context().close()
})

test('a manager starts a stopped VM and sees its status change, and can test a server', async () => {
  const page = await open('mona@acme.test')
  const row = page.locator('tr[data-vm="pve-edge/102"]')
  await row.waitFor({ timeout: T })
  assert.equal(await row.locator('[data-field=status]').textContent(), 'stopped')
  await row.locator('button[data-action=start]').click()
  await page.locator('tr[data-vm="pve-edge/102"] [data-field=status]', { hasText: 'running' }).waitFor({ timeout: T })
  // Now it offers what a running VM allows.
  await page.locator('tr[data-vm="pve-edge/102"] button[data-action=shutdown]').waitFor({ timeout: T })
  assert.match(await page.locator('#notice').textContent(), /start sent to old-vm/)
  // The manager's servers page: "Add server" and "Test connection".
  await page.click('a[data-view=servers]')
  await page.locator('tr[data-server="pve-edge"]').waitFor({ timeout: T })
  assert.equal(await page.getByRole('button', { name: 'Add server' }).count(), 1)
  await page.locator('tr[data-server="pve-edge"]').getByRole('button', { name: 'Test connection' }).click()
  await page.locator('#notice', { hasText: /^Connected: Proxmox VE/ }).waitFor({ timeout: T })
  assert.deepEqual(page.errors, [])
  await page.context().close()
})

test('a viewer sees no power buttons and no "Add server"', async () => {
  const page = await open('alice@acme.test')
  await page.locator('#vms button.power').first().waitFor({ timeout: T })
  // The user switcher: the same page, now as the viewer.
  await page.selectOption('#user', 'victor@acme.test')
  await page.locator('#role-line', { hasText: 'viewer' }).waitFor({ timeout: T })
  await page.locator('#vms tbody tr').first().waitFor({ timeout: T })
  await page.waitForFunction(() => document.querySelectorAll('#vms button.power').length === 0, null, { timeout: T })
  assert.ok(await page.locator('#vms tbody tr').count() > 0, 'the viewer still sees the VMs')
  await page.click('a[data-view=servers]')
  await page.locator('#servers tbody tr').first().waitFor({ timeout: T })
  assert.equal(await page.locator('#add-server').isVisible(), false)
  assert.equal(await page.getByRole('button', { name: 'Add server' }).count(), 0)
  assert.equal(await page.getByRole('button', { name: 'Test connection' }).count(), 0)
  assert.deepEqual(page.errors, [])
  await page.context().close()
})

test('an admin adds a member, changes a role, and reads the last-admin refusal as a sentence', async () => {
  const page = await open('alice@acme.test', 'users')
  await page.locator('tr[data-member="alice@acme.test"]').waitFor({ timeout: T })
  // Add bob (another tenant's admin) by email; lookup-users suggests him.
  await page.fill('#add-user [name=email]', 'bob@globex.test')
  await page.waitForFunction(() => [...document.querySelectorAll('#user-suggestions option')].some((o) => o.value === 'bob@globex.test'), null, { timeout: T })
  await page.selectOption('#add-user [name=role]', 'viewer')
  await page.click('#add-user button[type=submit]')
  const bob = page.locator('tr[data-member="bob@globex.test"]')
  await bob.locator('[data-field=badge]', { hasText: 'viewer' }).waitFor({ timeout: T })
  // Adding him twice: the 409 as a sentence.
  await page.fill('#add-user [name=email]', 'bob@globex.test')
  await page.click('#add-user button[type=submit]')
  await page.locator('#alert', { hasText: 'already a member' }).waitFor({ timeout: T })

  await bob.locator('select[data-field=role]').selectOption('manager')
  await page.locator('tr[data-member="bob@globex.test"] [data-field=badge]', { hasText: 'manager' }).waitFor({ timeout: T })

  // Alice is ACME's only admin: demoting herself is refused with a sentence.
  await page.locator('tr[data-member="alice@acme.test"] select[data-field=role]').selectOption('viewer')
  const alert = page.locator('#alert')
  await alert.waitFor({ state: 'visible', timeout: T })
  const text = (await alert.textContent()).trim()
  assert.match(text, /last admin/)
  assert.match(text, /^[A-Z].*\.$/, `not a sentence: ${text}`)
  assert.doesNotMatch(text, /last_admin|409|Edge Function/)
  await page.locator('tr[data-member="alice@acme.test"] [data-field=badge]', { hasText: 'admin' }).waitFor({ timeout: T })

  // Leave ACME as it was for the other tests.
  await bob.getByRole('button', { name: 'Remove' }).click()
  await bob.waitFor({ state: 'detached', timeout: T })
  assert.deepEqual(page.errors, [])
  await page.context().close()
})
