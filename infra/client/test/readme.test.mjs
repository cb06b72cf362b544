// The README's two supabase-js snippets, run as printed with node (Node 20:
// no global WebSocket), against the local server the Go test started.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const stack = JSON.parse(process.env.STACK_JSON)
const base = stack.url.replace(/\/functions\/v1\/$/, '')
const readme = readFileSync(fileURLToPath(new URL('../../../README.md', import.meta.url)), 'utf8')
// Inside infra/client, so the snippets resolve its node_modules as a user's
// file saved there does.
let dir

before(() => { dir = mkdtempSync(fileURLToPath(new URL('../.snippet-', import.meta.url))) })
after(() => { rmSync(dir, { recursive: true, force: true }) })

// snippet returns the code block that follows <!-- snippet: name -->.
function snippet(name) {
  const m = readme.match(new RegExp(`<!-- snippet: ${name} -->\\n\`\`\`js\\n([\\s\\S]*?)\\n\`\`\`\\n`))
  assert.ok(m, `README has no snippet ${name}`)
  return m[1]
}

async function node(name, env) {
  const file = join(dir, `${name}.mjs`)
  writeFileSync(file, snippet(name) + '\n')
  // Only what the README says to set, plus PATH: no inherited surprises.
  const { stdout, stderr } = await run(process.execPath, [file], { env: { PATH: process.env.PATH, ...env }, timeout: 60_000 })
  return { stdout, stderr }
}

test('README: the Node snippet against the local stack, with the variables of stack.env', async () => {
  const { stdout } = await node('node-local', {
    BASE_URL: base, ANON_KEY: stack.anon, TOKEN_VICTOR: stack.tokens['victor@acme.test'], ACME_TENANT_ID: stack.tenants['ACME Corp'],
  })
  assert.match(stdout, /totalVMs: 9/)
  assert.match(stdout, /servers: \{ total: 2, online: 2, offline: 0 \}/)
})

test('README: pointing the app at another functions URL (custom fetch and FunctionsClient)', async () => {
  // The "Supabase URL" is a closed port: only the functions URL, the local
  // server, may be called.
  const functionsUrl = `${base}/functions/v1`
  const { stdout } = await node('api-gateway', {
    SUPABASE_URL: 'http://127.0.0.1:9', SUPABASE_ANON_KEY: stack.anon, FUNCTIONS_URL: functionsUrl,
    ACCESS_TOKEN: stack.tokens['victor@acme.test'], TENANT_ID: stack.tenants['ACME Corp'],
  })
  assert.equal(stdout.trim(), '9 9')
})
