// Headless Chromium loads a page from another origin that calls
// functions.invoke: CORS as a real browser enforces it.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { chromium } from 'playwright-core'

const stack = JSON.parse(process.env.STACK_JSON)
const base = stack.url.replace(/\/functions\/v1\/$/, '')
const umd = readFileSync(new URL('../node_modules/@supabase/supabase-js/dist/umd/supabase.js', import.meta.url))

let server, origin, browser, page

before(async () => {
  server = http.createServer((req, res) => {
    if (req.url === '/supabase.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' })
      return res.end(umd)
    }
    res.writeHead(200, { 'content-type': 'text/html' })
    res.end('<!doctype html><title>app</title><script src="/supabase.js"></script>')
  })
  await new Promise((r) => server.listen(0, '127.0.0.1', r))
  origin = `http://127.0.0.1:${server.address().port}`
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  })
  page = await browser.newPage()
  await page.goto(origin)
})

after(async () => {
  await browser?.close()
  server?.close()
})

// invoke runs supabase-js inside the page, against url.
const invoke = (url, email, name, body) =>
  page.evaluate(
    async ({ url, anon, token, name, body }) => {
      const sb = supabase.createClient(url, anon, {
        global: { headers: { Authorization: `Bearer ${token}` } },
        auth: { persistSession: false, autoRefreshToken: false },
      })
      const { data, error } = await sb.functions.invoke(name, { body })
      let status = null, errorBody = null
      if (error?.context?.status) {
        status = error.context.status
        errorBody = await error.context.json()
      }
      return { data, error: error ? error.name : null, status, errorBody }
    },
    { url, anon: stack.anon, token: stack.tokens[email], name, body },
  )

test('the page (another origin) reads live stats', async () => {
  assert.notEqual(origin, base)
  const r = await invoke(base, 'victor@acme.test', 'tenant-stats', { action: 'get-live-stats', tenantId: stack.tenants['ACME Corp'] })
  assert.equal(r.error, null)
  assert.equal(r.data.stats.totalVMs, 9)
})

test('the page can read a 403 body: CORS headers are on errors too', async () => {
  const r = await invoke(base, 'victor@acme.test', 'list-vms', {
    action: 'start', tenantId: stack.tenants['ACME Corp'], serverId: stack.servers['pve-cluster'], node: 'pve2', vmid: 104, type: 'qemu',
  })
  assert.equal(r.error, 'FunctionsHttpError')
  assert.equal(r.status, 403)
  assert.equal(r.errorBody.code, 'forbidden')
})

test('an origin that is not allowed is blocked by the browser', async () => {
  // The same functions, configured with ALLOWED_ORIGINS that exclude the page.
  const r = await invoke(stack.restrictedUrl, 'victor@acme.test', 'tenant-stats', { action: 'get-live-stats', tenantId: stack.tenants['ACME Corp'] })
  assert.equal(r.error, 'FunctionsFetchError')
  assert.equal(r.data, null)
})
