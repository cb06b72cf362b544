// The local dashboard: the app's TenantDashboard, servers and TenantUsers
// pages, calling the functions with supabase-js functions.invoke exactly as
// the React app does. The user switcher swaps the access token the client
// sends, as signing in as another person would.
const { createClient } = window.supabase

const REFRESH_MS = 10_000
const $ = (sel, root = document) => root.querySelector(sel)
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)]

const state = {
  session: null, // /local/session.json: supabaseUrl, anonKey, users
  user: null,
  client: null,
  tenants: [],
  tenantId: null,
  perms: null,
  stats: null,
  statsAt: 0,
  timer: null,
  gen: 0,
  permsReady: Promise.resolve(), // bumps on user/tenant change so late answers are dropped
}

// invoke calls a function; a refusal becomes an Error carrying the
// function's own sentence (FunctionsHttpError's body), as the app shows it.
async function invoke(name, body, options = {}) {
  const { data, error } = await state.client.functions.invoke(name, body === undefined ? options : { body, ...options })
  if (error) {
    let message = error.message
    let code = null
    if (error.context && typeof error.context.json === 'function') {
      try {
        const b = await error.context.json()
        message = b.error || message
        code = b.code || null
      } catch { /* not JSON */ }
    }
    const e = new Error(message)
    e.code = code
    throw e
  }
  return data
}

function showAlert(message) {
  const el = $('#alert')
  el.textContent = message
  el.hidden = !message
}
function showNotice(message) {
  const el = $('#notice')
  el.textContent = message
  el.hidden = !message
  clearTimeout(showNotice.t)
  if (message) showNotice.t = setTimeout(() => { el.hidden = true }, 6000)
}

const fmtBytes = (n) => {
  if (!n) return '0 B'
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']
  let i = 0
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++ }
  return `${n.toFixed(n >= 100 || i === 0 ? 0 : 1)} ${u[i]}`
}
const pct = (used, total) => (total ? Math.round((used / total) * 1000) / 10 : 0)
const el = (tag, attrs = {}, ...kids) => {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v)
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v)
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k.nodeType ? k : String(k))
  return e
}

// ---- session and switching ------------------------------------------------

async function boot() {
  state.session = await (await fetch('/local/session.json', { cache: 'no-store' })).json()
  const sel = $('#user')
  for (const u of state.session.users) sel.append(el('option', { value: u.email }, `${u.name} (${u.role})`))
  const wanted = new URLSearchParams(location.search).get('user') || localStorage.getItem('pvetenant.user') || 'alice@acme.test'
  sel.value = state.session.users.some((u) => u.email === wanted) ? wanted : state.session.users[0].email
  sel.addEventListener('change', () => signIn(sel.value))
  $('#tenant').addEventListener('change', (e) => selectTenant(e.target.value))
  $('#refresh').addEventListener('click', () => refresh(true))
  window.addEventListener('hashchange', route)
  wireServers()
  wireUsers()
  setInterval(tickLive, 1000)
  await signIn(sel.value)
}

async function signIn(email) {
  state.gen++
  showAlert('')
  localStorage.setItem('pvetenant.user', email)
  state.user = state.session.users.find((u) => u.email === email)
  // As the app's client, with this person's access token on every call.
  state.client = createClient(state.session.supabaseUrl, state.session.anonKey, {
    global: { headers: { Authorization: `Bearer ${state.user.token}` } },
    auth: { persistSession: false, autoRefreshToken: false },
  })
  const gen = state.gen
  try {
    const { tenants } = await invoke('tenants', { action: 'list' })
    if (gen !== state.gen) return
    state.tenants = tenants
    const sel = $('#tenant')
    sel.replaceChildren(...tenants.map((t) => el('option', { value: t.id }, t.name)))
    if (!tenants.length) {
      showAlert(`${state.user.name} is not a member of any tenant.`)
      return
    }
    const keep = tenants.find((t) => t.id === state.tenantId)
    await selectTenant(keep ? keep.id : tenants[0].id)
  } catch (e) {
    showAlert(e.message)
  }
}

async function selectTenant(id) {
  state.gen++
  const gen = state.gen
  state.tenantId = id
  $('#tenant').value = id
  state.stats = null
  const tenant = state.tenants.find((t) => t.id === id)
  $('#tenant-name').textContent = tenant?.name ?? ''
  $$('.tenant-name').forEach((n) => { n.textContent = tenant?.name ?? '' })
  state.perms = null
  // Permissions and the page's data load side by side (one round trip
  // less before the first paint); rows wait for the permissions to render.
  state.permsReady = invoke('tenants', { action: 'my-permissions', tenantId: id }).then((p) => {
    if (gen !== state.gen) return
    state.perms = p
    $('#role-line').textContent = `${state.user.name}: ${p.role ?? (p.isSystemAdmin ? 'system admin' : 'no role')}` +
      (p.canControlVms ? ' · can control VMs' : ' · read-only')
    // What my-permissions allows is all the page offers.
    $('#add-server').hidden = !p.canManageServers
    $('#add-user').hidden = !p.canManageUsers
    if (!p.canManageServers) $('#server-form').hidden = true
  })
  clearInterval(state.timer)
  state.timer = setInterval(() => refresh(false), REFRESH_MS)
  await route()
}

function route() {
  const view = (location.hash || '#dashboard').slice(1)
  for (const v of ['dashboard', 'servers', 'users']) $(`#view-${v}`).hidden = v !== view
  $$('.tabs a').forEach((a) => a.classList.toggle('active', a.dataset.view === view))
  return refresh(true)
}

async function refresh(showErrors) {
  if (!state.tenantId) return
  const view = (location.hash || '#dashboard').slice(1)
  try {
    if (view === 'dashboard') await loadDashboard()
    else if (view === 'servers') await loadServers()
    else if (view === 'users') await loadMembers()
    if (showErrors) showAlert('')
  } catch (e) {
    if (showErrors) showAlert(e.message)
    $('#live').className = 'live stale'
  }
}

// ---- dashboard ------------------------------------------------------------

async function loadDashboard() {
  const gen = state.gen
  const tenantId = state.tenantId
  const [stats, nodes, vms] = await Promise.all([
    invoke('tenant-stats', { action: 'get-live-stats', tenantId }),
    invoke('tenant-stats', { action: 'get-node-status', tenantId }),
    invoke('list-vms', { tenantId }),
    state.permsReady,
  ])
  if (gen !== state.gen) return
  state.stats = stats.stats
  state.statsAt = Date.now()
  renderStats(stats.stats)
  renderNodes(nodes.nodes)
  renderVMs(vms.vms)
  tickLive()
}

function renderStats(s) {
  const get = (path) => path.split('.').reduce((o, k) => (o == null ? o : o[k]), s)
  $$('[data-stat]').forEach((n) => { n.textContent = get(n.dataset.stat) ?? '–' })
  for (const card of $$('[data-usage]')) {
    const u = s[card.dataset.usage]
    const fill = $('.fill', card)
    fill.style.width = `${Math.min(100, u.percentage)}%`
    fill.className = `fill${u.percentage >= 90 ? ' crit' : u.percentage >= 75 ? ' hi' : ''}`
    $('.pct', card).textContent = `${u.percentage}%`
    $('.amount', card).textContent = card.dataset.usage === 'cpuUsage'
      ? `${u.used} / ${u.total} cores`
      : `${fmtBytes(u.used)} / ${fmtBytes(u.total)}`
  }
  $('#health').replaceChildren(...(s.serverStatus || []).map((h) =>
    el('div', { class: 'card health', 'data-server': h.name },
      el('h3', {}, h.name, el('span', { class: `status ${h.status}` }, h.status)),
      el('div', { class: 'sub' }, h.latencyMs != null ? `answered in ${h.latencyMs} ms` : ''),
      h.error ? el('div', { class: 'reason' }, h.error) : null)))
}

function renderNodes(nodes) {
  $('#nodes').replaceChildren(...nodes.map((n) =>
    el('div', { class: 'card node', 'data-node': `${n.serverName}/${n.node}` },
      el('h3', {}, n.node, el('span', { class: `status ${n.status}` }, n.status)),
      el('div', { class: 'sub' }, n.serverName),
      el('div', { class: 'sub' }, n.status === 'online'
        ? `CPU ${pct(n.cpu, 1)}% of ${n.maxcpu} · Mem ${pct(n.mem, n.maxmem)}% of ${fmtBytes(n.maxmem)}`
        : 'no data while offline'))))
}

const POWER = {
  running: [['shutdown', 'Shutdown'], ['reboot', 'Reboot'], ['stop', 'Stop']],
  paused: [['stop', 'Stop']],
  stopped: [['start', 'Start']],
}

function renderVMs(vms) {
  const canControl = !!state.perms?.canControlVms
  $('#vms tbody').replaceChildren(...vms.map((v) => {
    const actions = !canControl || v.template ? [] : (POWER[v.status] || []).map(([action, label]) =>
      el('button', { type: 'button', class: `small power${action === 'stop' ? ' danger' : ''}`, 'data-action': action,
        onclick: (e) => power(v, action, e.currentTarget) }, label))
    return el('tr', { 'data-vm': `${v.serverName}/${v.vmid}`, class: v.template ? 'tmpl' : '' },
      el('td', {}, v.vmid),
      el('td', {}, v.name || '', v.template ? ' (template)' : ''),
      el('td', {}, v.type === 'lxc' ? 'container' : 'VM'),
      el('td', {}, `${v.serverName} / ${v.node}`),
      el('td', {}, el('span', { class: `status ${v.status}`, 'data-field': 'status' }, v.status)),
      el('td', {}, v.status === 'running' ? `${pct(v.cpu, 1)}% of ${v.maxcpu}` : '–'),
      el('td', {}, v.status === 'running' ? `${fmtBytes(v.mem)} / ${fmtBytes(v.maxmem)}` : fmtBytes(v.maxmem)),
      el('td', { class: 'actions' }, actions))
  }))
}

async function power(v, action, button) {
  button.disabled = true
  showAlert('')
  try {
    await invoke('list-vms', { action, tenantId: state.tenantId, serverId: v.serverId, node: v.node, vmid: v.vmid, type: v.type })
    showNotice(`${action} sent to ${v.name || v.vmid} on ${v.serverName}.`)
    // Proxmox runs the task; follow the guest until its status moves.
    for (let i = 0; i < 10; i++) {
      const { vms } = await invoke('list-vms', { tenantId: state.tenantId, serverId: v.serverId })
      const now = vms.find((x) => x.vmid === v.vmid && x.node === v.node)
      if (now && now.status !== v.status) break
      await new Promise((r) => setTimeout(r, 500))
    }
    await refresh(false)
  } catch (e) {
    showAlert(e.message)
    button.disabled = false
  }
}

function tickLive() {
  const live = $('#live')
  const text = $('#live-text')
  if (!state.stats) { text.textContent = 'waiting for data…'; return }
  // The age of the data is that of the oldest Proxmox answer (lastUpdated).
  const age = Math.max(0, Math.round((Date.now() - Date.parse(state.stats.lastUpdated)) / 1000))
  const stale = Date.now() - state.statsAt > 2 * REFRESH_MS
  live.className = `live ${stale ? 'stale' : 'on'}`
  text.textContent = `${stale ? 'Stale' : 'Live'} · data ${age} s old · refresh every 10 s`
}

// ---- servers --------------------------------------------------------------

async function loadServers() {
  const gen = state.gen
  const [{ servers }] = await Promise.all([
    invoke(`proxmox-servers?tenantId=${state.tenantId}`, undefined, { method: 'GET' }), state.permsReady])
  if (gen !== state.gen) return
  const canManage = !!state.perms?.canManageServers
  $('#servers tbody').replaceChildren(...servers.map((s) =>
    el('tr', { 'data-server': s.name },
      el('td', {}, s.name, s.is_active === false ? ' (paused)' : ''),
      el('td', {}, `${s.host}:${s.port}`),
      el('td', {}, s.auth_type === 'password' ? 'user + password' : 'API token'),
      el('td', {}, el('span', { class: `status ${s.connection_status || 'unknown'}` }, s.connection_status || 'not tested')),
      el('td', {}, s.last_connected_at ? new Date(s.last_connected_at).toLocaleString() : '–'),
      el('td', { class: 'actions' }, canManage
        ? el('button', { type: 'button', class: 'small', onclick: (e) => testServer({ serverId: s.id }, e.currentTarget) }, 'Test connection')
        : null))))
}

async function testServer(params, button) {
  button.disabled = true
  try {
    const r = await invoke('proxmox-servers', { action: 'test', ...params })
    const msg = r.ok
      ? `Connected: Proxmox VE ${r.version}, ${r.nodes?.length ?? r.nodes} node(s), ${r.latencyMs} ms.`
      : `Connection failed (${r.status}): ${r.error}${r.tlsFingerprint ? ` The server presented ${r.tlsFingerprint}.` : ''}`
    if (r.ok) showNotice(msg)
    else showAlert(msg)
    return r
  } catch (e) {
    showAlert(e.message)
  } finally {
    button.disabled = false
    if (params.serverId) refresh(false)
  }
}

function serverFields() {
  const f = new FormData($('#server-form'))
  const p = { tenantId: state.tenantId, name: f.get('name'), host: f.get('host'), port: Number(f.get('port') || 8006),
    tokenId: f.get('tokenId'), tokenSecret: f.get('tokenSecret') }
  if (f.get('tlsFingerprint')) p.tlsFingerprint = f.get('tlsFingerprint')
  return p
}

function wireServers() {
  $('#add-server').addEventListener('click', () => { $('#server-form').hidden = false })
  $('#server-cancel').addEventListener('click', () => { $('#server-form').hidden = true })
  $('#server-test').addEventListener('click', async (e) => {
    const r = await testServer(serverFields(), e.currentTarget)
    if (r && !r.ok && r.tlsFingerprint && !$('#server-form [name=tlsFingerprint]').value) {
      $('#server-test-result').textContent = `Certificate fingerprint: ${r.tlsFingerprint} (check it on the server, then pin it above)`
    }
  })
  $('#server-form').addEventListener('submit', async (e) => {
    e.preventDefault()
    try {
      const { server } = await invoke('proxmox-servers', serverFields())
      showNotice(`Added ${server.name}.`)
      e.target.reset()
      e.target.hidden = true
      await loadServers()
    } catch (err) {
      showAlert(err.message)
    }
  })
}

// ---- users ----------------------------------------------------------------

async function loadMembers() {
  const gen = state.gen
  const [{ users }] = await Promise.all([invoke('tenants', { action: 'list-users', tenantId: state.tenantId }), state.permsReady])
  if (gen !== state.gen) return
  const canManage = !!state.perms?.canManageUsers
  $('#members tbody').replaceChildren(...users.map((a) => {
    const p = a.profile || {}
    const role = el('select', { 'aria-label': `Role of ${p.email}`, 'data-field': 'role',
      onchange: (e) => changeRole(a, e.target.value, e.target) },
    ...['admin', 'manager', 'viewer'].map((r) => el('option', { value: r, selected: r === a.role }, r[0].toUpperCase() + r.slice(1))))
    return el('tr', { 'data-member': p.email || a.user_id },
      el('td', {}, p.full_name || p.email || a.user_id),
      el('td', {}, p.email || ''),
      el('td', {}, el('span', { class: `badge ${a.role}`, 'data-field': 'badge' }, a.role)),
      el('td', { class: 'actions' }, canManage ? [role, ' ',
        el('button', { type: 'button', class: 'small danger', onclick: () => removeMember(a) }, 'Remove')] : null))
  }))
}

async function changeRole(a, role, select) {
  showAlert('')
  try {
    await invoke('tenants', { action: 'update-user-role', tenantId: state.tenantId, userId: a.user_id, role })
    showNotice(`${a.profile?.email ?? 'Member'} is now ${role}.`)
  } catch (e) {
    // 409 last_admin and friends: the function's sentence, as is.
    showAlert(e.message)
    select.value = a.role
  }
  await loadMembers()
}

async function removeMember(a) {
  showAlert('')
  try {
    await invoke('tenants', { action: 'remove-user', tenantId: state.tenantId, userId: a.user_id })
    showNotice(`Removed ${a.profile?.email ?? a.user_id}.`)
  } catch (e) {
    showAlert(e.message)
  }
  await loadMembers()
}

function wireUsers() {
  const form = $('#add-user')
  const input = $('[name=email]', form)
  let pending = 0
  input.addEventListener('input', async () => {
    const q = input.value.trim()
    if (q.length < 3) return
    const mine = ++pending
    try {
      const { users } = await invoke('tenants', { action: 'lookup-users', query: q, tenantId: state.tenantId })
      if (mine !== pending) return
      $('#user-suggestions').replaceChildren(...users.map((u) => el('option', { value: u.email }, u.full_name || u.email)))
    } catch { /* suggestions are optional */ }
  })
  form.addEventListener('submit', async (e) => {
    e.preventDefault()
    showAlert('')
    const f = new FormData(form)
    try {
      const r = await invoke('tenants', { action: 'assign-user', tenantId: state.tenantId, email: f.get('email').trim(), role: f.get('role') })
      showNotice(`${f.get('email')} added as ${f.get('role')}${r.invited ? ' (invited)' : ''}.`)
      form.reset()
    } catch (err) {
      showAlert(err.message) // 409 already_member, 404 no account: sentences
    }
    await loadMembers()
  })
}

boot().catch((e) => showAlert(`The page could not start: ${e.message}`))
