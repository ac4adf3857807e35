/**
 * Workspaces on real processes: each workspace is a `molecule-platform runtime` child of the tenant, which
 * registers and heartbeats over real HTTP on loopback, and runs the template's agent command as its own child.
 * Status, restarts and secrets are checked against the OS (pids, /proc/<pid>/environ, /proc/<pid>/status), not
 * against the tenant's own opinion.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { INHERITED_ENV } from '../src/core/compute/runtime-launcher.js';
import { SecretCipher } from '../src/core/crypto/cipher.js';
import { workspaceSecretAad } from '../src/tenant/secrets/store.js';
import { alive } from './support/binary.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

interface WorkspaceBody {
  id: string;
  status: string;
  last_error: string | null;
  restart_count: number;
  process: { pid: number | null; running: boolean; restarts: number; rss_bytes: number | null; uptime_seconds: number } | null;
}

const templates = mkdtempSync(path.join(tmpdir(), 'molecule-templates-'));
mkdirSync(path.join(templates, 'crasher'));
// An agent command that dies half a second after it starts: five times in a row is a crash loop.
writeFileSync(path.join(templates, 'crasher', 'template.json'), JSON.stringify({ command: `${JSON.stringify(process.execPath)} -e "setTimeout(() => process.exit(3), 300)"` }));
// An agent that just runs: its environment is read from /proc.
mkdirSync(path.join(templates, 'sleeper'));
writeFileSync(path.join(templates, 'sleeper', 'template.json'), JSON.stringify({ command: 'sleep 100000' }));
// An agent that ignores SIGTERM, forks a child that ignores it too, and one that leaves the process group (setsid).
mkdirSync(path.join(templates, 'stubborn'));
writeFileSync(
  path.join(templates, 'stubborn', 'template.json'),
  JSON.stringify({ command: "trap '' TERM; (trap '' TERM; sleep 100000) & setsid sleep 100000 & sleep 100000" }),
);
const SECRETS_KEY = randomBytes(32).toString('base64');

function environOf(pid: number): Record<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
  return Object.fromEntries(
    raw
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
}


interface ProcStatus {
  pid: number;
  ppid: number;
  uid: number;
  state: string;
}

/** /proc/<pid>/status, or null when gone. A zombie (state Z) has exited; it only waits to be reaped. */
function procStatus(pid: number): ProcStatus | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => new RegExp(`^${name}:\\s*(\\S+)`, 'm').exec(text)?.[1] ?? '';
    return { pid, ppid: Number(field('PPid')), uid: Number(field('Uid')), state: field('State') };
  } catch {
    return null;
  }
}

function allProcesses(): ProcStatus[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => procStatus(Number(d)))
    .filter((p): p is ProcStatus => p !== null && p.state !== 'Z');
}

/** Running (not a zombie). */
function living(pid: number): boolean {
  const s = procStatus(pid);
  return s !== null && s.state !== 'Z';
}

/** The agent command: the runtime's one child. */
function agentOf(runtimePid: number): ProcStatus | null {
  return allProcesses().find((p) => p.ppid === runtimePid) ?? null;
}

async function until<T>(what: string, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

forEachDatabase('workspace lifecycle on real processes', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind, {
      listen: true,
      env: {
        WORKSPACE_PROVISIONER: 'local',
        HEARTBEAT_INTERVAL_SECONDS: '1',
        HEARTBEAT_TTL_SECONDS: '3',
        PROVISION_TIMEOUT_SECONDS: '20',
        MOLECULE_TEMPLATES_DIR: templates,
        SECRETS_ENCRYPTION_KEY: SECRETS_KEY,
      },
    });
  });
  after(async () => {
    await t.close();
  });

  async function get(id: string): Promise<WorkspaceBody> {
    const res = await t.app.inject({ method: 'GET', url: `/workspaces/${id}`, headers: t.admin() });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as WorkspaceBody;
  }

  async function waitFor(id: string, what: string, predicate: (w: WorkspaceBody) => boolean, timeoutMs = 20_000): Promise<WorkspaceBody> {
    const deadline = Date.now() + timeoutMs;
    let last: WorkspaceBody | undefined;
    while (Date.now() < deadline) {
      last = await get(id);
      if (predicate(last)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
  }

  const online = (id: string) => waitFor(id, 'online', (w) => w.status === 'online' && w.process?.running === true);

  async function post(url: string, payload?: object) {
    return t.app.inject({ method: 'POST', url, headers: t.admin(), ...(payload ? { payload } : {}) });
  }

  it('a new workspace gets its own runtime process, which registers and goes online', async () => {
    const key = await t.mintKey({ name: 'lifecycle' });
    const res = await t.app.inject({ method: 'POST', url: '/workspaces', headers: t.as(key.auth_token), payload: { name: 'runner' } });
    assert.equal(res.statusCode, 201, res.body);
    const ws = await online(res.json().id);
    const pid = ws.process!.pid!;
    assert.ok(alive(pid));
    const env = environOf(pid);
    assert.equal(env['WORKSPACE_ID'], ws.id);
    assert.match(env['MOLECULE_WORKSPACE_TOKEN'] ?? '', /^molw_/);
    assert.equal(env['ADMIN_TOKEN'], undefined, 'the tenant’s own secrets never reach a workspace');
    assert.ok((ws.process!.rss_bytes ?? 0) > 1_000_000);
  });

  it('kill -9 of a runtime: offline at once, then restarted and online again with a new pid', async () => {
    const ws = await online((await t.createWorkspace()).id);
    const pid = ws.process!.pid!;
    process.kill(pid, 'SIGKILL');
    const down = await waitFor(ws.id, 'offline', (w) => w.status === 'offline' || w.process?.pid !== pid, 5000);
    // Never "online" on the dead process. On a loaded machine the restart can win the race against our 100 ms
    // poll, so "online on a new pid" is a truthful first observation too; the events below prove offline happened.
    assert.ok(!(down.status === 'online' && down.process?.pid === pid), JSON.stringify(down));
    const back = await waitFor(ws.id, 'online again', (w) => w.status === 'online' && w.process?.pid !== pid && w.process?.running === true);
    assert.ok(alive(back.process!.pid!));
    assert.equal(alive(pid), false);
    assert.ok(back.restart_count >= 1);
    const events = await t.db.selectFrom('workspace_events').select(['event_type']).where('workspace_id', '=', ws.id).orderBy('id').execute();
    const types = events.map((e) => e.event_type);
    assert.ok(types.indexOf('WORKSPACE_OFFLINE') > types.indexOf('WORKSPACE_ONLINE'));
    assert.equal(types.at(-1), 'WORKSPACE_ONLINE');
  });

  it('a runtime that stops heartbeating goes offline after the TTL and online when it resumes', async () => {
    const ws = await online((await t.createWorkspace()).id);
    const pid = ws.process!.pid!;
    process.kill(pid, 'SIGSTOP');
    try {
      await waitFor(ws.id, 'offline by heartbeat TTL', (w) => w.status === 'offline', 10_000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const back = await online(ws.id);
    assert.equal(back.process!.pid, pid, 'the same process came back; nothing was restarted');
  });

  it('pause stops the process and keeps it stopped; resume and restart start a new one', async () => {
    const ws = await online((await t.createWorkspace()).id);
    const pid = ws.process!.pid!;
    const paused = await post(`/workspaces/${ws.id}/pause`);
    assert.equal(paused.statusCode, 200, paused.body);
    assert.deepEqual(paused.json(), { status: 'paused', paused_count: 1 });
    assert.equal(alive(pid), false);
    await new Promise((r) => setTimeout(r, 1500));
    const still = await get(ws.id);
    assert.equal(still.status, 'paused');
    assert.equal(still.process?.running, false);
    const again = await post(`/workspaces/${ws.id}/pause`);
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().error, 'workspace not found or already paused');
    const resumed = await post(`/workspaces/${ws.id}/resume`);
    assert.equal(resumed.statusCode, 200);
    assert.deepEqual(resumed.json(), { status: 'provisioning', resumed_count: 1 });
    const up = await online(ws.id);
    assert.notEqual(up.process!.pid, pid);
    const notPaused = await post(`/workspaces/${ws.id}/resume`);
    assert.equal(notPaused.statusCode, 404);
    assert.equal(notPaused.json().error, 'workspace not found or not paused');
    const restarted = await post(`/workspaces/${ws.id}/restart`);
    assert.equal(restarted.statusCode, 200);
    assert.deepEqual(restarted.json(), { status: 'provisioning', restarted_count: 1 });
    const fresh = await online(ws.id);
    assert.notEqual(fresh.process!.pid, up.process!.pid);
  });

  it('cascade: descendants need ?cascade=true, and nothing restarts under a paused parent', async () => {
    const parent = await t.createWorkspace({ name: 'parent' });
    const child = await t.createWorkspace({ name: 'child', parent_id: parent.id });
    await online(parent.id);
    await online(child.id);
    const refused = await post(`/workspaces/${parent.id}/pause`);
    assert.equal(refused.statusCode, 409);
    assert.deepEqual(refused.json().descendants, [{ id: child.id, name: 'child' }]);
    const ok = await post(`/workspaces/${parent.id}/pause?cascade=true`);
    assert.deepEqual(ok.json(), { status: 'paused', paused_count: 2 });
    assert.equal((await get(child.id)).status, 'paused');
    const blocked = await post(`/workspaces/${child.id}/resume`);
    assert.equal(blocked.statusCode, 409);
    assert.equal(blocked.json().error, 'parent workspace "parent" is paused — resume it first');
    const resumed = await post(`/workspaces/${parent.id}/resume?cascade=true`);
    assert.deepEqual(resumed.json(), { status: 'provisioning', resumed_count: 2 });
    await online(parent.id);
    await online(child.id);
    const restarted = await post(`/workspaces/${parent.id}/restart?cascade=true`);
    assert.deepEqual(restarted.json(), { status: 'provisioning', restarted_count: 2 });
  });

  it('a bound credential cannot cascade past its scope: 404, nothing disclosed, descendants untouched (issue 7, item 4)', async () => {
    const parent = await t.createWorkspace({ name: 'scoped-parent' });
    const child = await t.createWorkspace({ name: 'scoped-child', parent_id: parent.id });
    const grandchild = await t.createWorkspace({ name: 'scoped-grandchild', parent_id: child.id });
    const below = [child, grandchild];
    for (const w of [parent, ...below]) await online(w.id);
    const snapshot = async () => {
      const seen: Array<{ id: string; status: string; pid: number | null }> = [];
      for (const w of [parent, ...below]) {
        const now = await get(w.id);
        seen.push({ id: w.id, status: now.status, pid: now.process?.pid ?? null });
      }
      return seen;
    };
    const before = await snapshot();

    /** The refusal an out-of-scope workspace gets: a plain 404 that names no descendant. */
    const assertHidden = (res: { statusCode: number; body: string }, what: string) => {
      assert.equal(res.statusCode, 404, `${what}: ${res.body}`);
      const body = JSON.parse(res.body) as Record<string, unknown>;
      assert.deepEqual([body['code'], body['error']], ['WORKSPACE_NOT_FOUND', 'workspace not found'], what);
      assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'request_id'], `${what}: no context fields`);
      for (const w of below) {
        assert.equal(res.body.includes(w.id), false, `${what} does not disclose ${w.name}'s id`);
        assert.equal(res.body.includes(w.name), false, `${what} does not disclose ${w.name}'s name`);
      }
    };
    const as = (bearer: string, method: 'POST' | 'DELETE', url: string) => t.app.inject({ method, url, headers: t.as(bearer) });

    // The parent's own workspace token (scope: the parent alone).
    const token = parent.auth_token;
    assertHidden(await as(token, 'POST', `/workspaces/${parent.id}/pause?cascade=true`), 'token pause?cascade');
    assertHidden(await as(token, 'POST', `/workspaces/${parent.id}/pause`), 'token pause (would 409 listing children)');
    assertHidden(await as(token, 'POST', `/workspaces/${parent.id}/restart?cascade=true`), 'token restart?cascade');
    // Org keys bound to the parent only, and to the parent and its child but not the grandchild.
    const parentOnly = await t.mintKey({ name: 'bound-parent', role: 'editor', workspace_ids: [parent.id] });
    const partial = await t.mintKey({ name: 'bound-partial', role: 'editor', workspace_ids: [parent.id, child.id] });
    for (const key of [parentOnly, partial]) {
      assertHidden(await as(key.auth_token, 'POST', `/workspaces/${parent.id}/pause?cascade=true`), `${key.name} pause?cascade`);
      assertHidden(await as(key.auth_token, 'POST', `/workspaces/${parent.id}/restart?cascade=true`), `${key.name} restart?cascade`);
      assertHidden(await as(key.auth_token, 'DELETE', `/workspaces/${parent.id}?confirm=true`), `${key.name} delete?confirm`);
      assertHidden(await as(key.auth_token, 'DELETE', `/workspaces/${parent.id}`), `${key.name} delete (would 409 listing children)`);
    }
    assert.deepEqual(await snapshot(), before, 'no status changed and no process was stopped or replaced');

    // Resume needs a paused subtree: an unbound admin pauses it, then bound callers try to resume it.
    const paused = await post(`/workspaces/${parent.id}/pause?cascade=true`);
    assert.deepEqual(paused.json(), { status: 'paused', paused_count: 3 });
    assertHidden(await as(token, 'POST', `/workspaces/${parent.id}/resume?cascade=true`), 'token resume?cascade');
    assertHidden(await as(token, 'POST', `/workspaces/${parent.id}/resume`), 'token resume (would 409 listing paused children)');
    assertHidden(await as(partial.auth_token, 'POST', `/workspaces/${parent.id}/resume?cascade=true`), 'partial resume?cascade');
    // The child's own token: paused descendants it cannot see make its own resume a 404 as well.
    assertHidden(await as(child.auth_token, 'POST', `/workspaces/${child.id}/resume`), 'child token resume');
    // The leaf's own token learns nothing about the paused ancestors it cannot see (the 409 would name them).
    const leafResume = await as(grandchild.auth_token, 'POST', `/workspaces/${grandchild.id}/resume`);
    assert.equal(leafResume.statusCode, 409, leafResume.body);
    assert.equal(leafResume.json().error, 'a parent workspace is paused — resume it first');
    for (const w of [parent, child]) assert.equal(leafResume.body.includes(w.id) || leafResume.body.includes(w.name), false, `${w.name} not named`);
    // An unbound caller is still told which ancestor to resume.
    const named = await post(`/workspaces/${grandchild.id}/resume`);
    assert.equal(named.json().error, 'parent workspace "scoped-child" is paused — resume it first');
    for (const w of [parent, ...below]) assert.equal((await get(w.id)).status, 'paused', `${w.name} is still paused`);

    // A key bound to the whole subtree may act on it, like an unbound one.
    const whole = await t.mintKey({ name: 'bound-whole', role: 'editor', workspace_ids: [parent.id, child.id, grandchild.id] });
    const resumed = await as(whole.auth_token, 'POST', `/workspaces/${parent.id}/resume?cascade=true`);
    assert.equal(resumed.statusCode, 200, resumed.body);
    assert.deepEqual(resumed.json(), { status: 'provisioning', resumed_count: 3 });
    for (const w of [parent, ...below]) await online(w.id);
    const restarted = await as(whole.auth_token, 'POST', `/workspaces/${parent.id}/restart?cascade=true`);
    assert.deepEqual(restarted.json(), { status: 'provisioning', restarted_count: 3 });
    for (const w of [parent, ...below]) await online(w.id);
    // Without cascade, the parent's token still restarts its own workspace and nothing below it.
    const pids = await snapshot();
    const own = await as(token, 'POST', `/workspaces/${parent.id}/restart`);
    assert.deepEqual(own.json(), { status: 'provisioning', restarted_count: 1 });
    await waitFor(parent.id, 'parent on a new process', (w) => w.status === 'online' && w.process?.running === true && w.process?.pid !== pids[0]!.pid);
    assert.deepEqual((await snapshot()).slice(1), pids.slice(1), 'descendants were not restarted');
    const removed = await as(whole.auth_token, 'DELETE', `/workspaces/${parent.id}?confirm=true`);
    assert.equal(removed.statusCode, 200, removed.body);
    assert.deepEqual(removed.json(), { status: 'removed', id: parent.id, cascade_deleted: 2 });
  });

  it('delete stops the process; the workspace is gone from get and list', async () => {
    const ws = await online((await t.createWorkspace()).id);
    const pid = ws.process!.pid!;
    const del = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}`, headers: t.admin() });
    assert.equal(del.statusCode, 200);
    assert.equal(alive(pid), false);
    assert.equal((await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() })).statusCode, 404);
    const list = await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.admin() });
    assert.equal(list.json().some((w: { id: string }) => w.id === ws.id), false);
  });

  it('a crash-looping agent command ends in failed with last_error; a restart clears it', async () => {
    const res = await post('/workspaces', { name: 'crashy', template: 'crasher' });
    assert.equal(res.statusCode, 201);
    const failed = await waitFor(res.json().id, 'failed', (w) => w.status === 'failed', 40_000);
    assert.match(failed.last_error ?? '', /crash loop/);
    assert.equal(failed.process?.running ?? false, false);
    const restarted = await post(`/workspaces/${failed.id}/restart`);
    assert.equal(restarted.statusCode, 200);
    assert.notEqual((await get(failed.id)).status, 'failed');
  });

  /**
   * The environment of the workspace's running agent command (a `sleeper` template), once it satisfies `predicate`.
   * The runtime's own environment must never hold a secret: only the agent gets them.
   */
  async function envOfRunning(id: string, predicate: (env: Record<string, string>) => boolean, what: string): Promise<{ pid: number; env: Record<string, string> }> {
    const deadline = Date.now() + 20_000;
    let last: Record<string, string> = {};
    while (Date.now() < deadline) {
      const w = await get(id);
      const pid = w.process?.pid;
      const agent = pid ? agentOf(pid) : null;
      if (w.status === 'online' && pid && agent) {
        try {
          last = environOf(agent.pid);
          const runtimeEnv = environOf(pid);
          if (predicate(last)) {
            for (const k of Object.keys(last)) {
              // The operator's own LANG, TZ, … reach both processes; they are not secrets.
              const operators = INHERITED_ENV.includes(k) && runtimeEnv[k] === process.env[k];
              if (!operators && !['WORKSPACE_ID', 'PLATFORM_URL', 'MOLECULE_WORKSPACE_TOKEN', 'MOLECULE_ORG_ID', 'PATH', 'HOME'].includes(k)) {
                assert.equal(runtimeEnv[k], undefined, `the runtime itself holds the secret ${k}`);
              }
            }
            return { pid, env: last };
          }
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          // the process went away between the reads; look again
        }
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`timed out waiting for ${what}; last environment keys: ${Object.keys(last).join(',')}`);
  }

  async function restartsFor(id: string, reason: string): Promise<number> {
    const rows = await t.db.selectFrom('workspace_events').select('payload').where('workspace_id', '=', id).where('event_type', '=', 'WORKSPACE_PROVISIONING').execute();
    return rows.filter((r) => (r.payload as { reason?: string }).reason === reason).length;
  }

  it('secrets given at creation are in the first process’s environment', async () => {
    const res = await post('/workspaces', { name: 'with-secrets', template: 'sleeper', secrets: { OPENAI_BASE: 'https://llm.local', AGENT_MODE: 'eager' } });
    assert.equal(res.statusCode, 201, res.body);
    const { env } = await envOfRunning(res.json().id, (e) => e['AGENT_MODE'] === 'eager', 'creation secrets');
    assert.equal(env['OPENAI_BASE'], 'https://llm.local');
  });

  it('a secret write restarts the workspace, and the new process carries the value', async () => {
    const ws = await online((await t.createWorkspace({ template: 'sleeper' })).id);
    const set = await post(`/workspaces/${ws.id}/secrets`, { key: 'API_KEY', value: 'first' });
    assert.equal(set.statusCode, 200, set.body);
    const { pid } = await envOfRunning(ws.id, (e) => e['API_KEY'] === 'first', 'API_KEY=first');
    assert.notEqual(pid, ws.process!.pid);
    const del = await t.app.inject({ method: 'DELETE', url: `/workspaces/${ws.id}/secrets/API_KEY`, headers: t.admin() });
    assert.equal(del.statusCode, 200);
    await envOfRunning(ws.id, (e) => e['API_KEY'] === undefined, 'API_KEY gone');
  });

  it('rapid writes coalesce into at most two restarts, and the last value always reaches the process', async () => {
    const ws = await online((await t.createWorkspace({ template: 'sleeper' })).id);
    for (let i = 1; i <= 10; i++) {
      const res = await post(`/workspaces/${ws.id}/secrets`, { key: 'BURST', value: `v${i}` });
      assert.equal(res.statusCode, 200);
    }
    await envOfRunning(ws.id, (e) => e['BURST'] === 'v10', 'BURST=v10');
    // Let any cycle still pending finish, then count.
    await new Promise((r) => setTimeout(r, 1500));
    const { env } = await envOfRunning(ws.id, (e) => e['BURST'] !== undefined, 'BURST present');
    assert.equal(env['BURST'], 'v10', 'no later restart brought back an older value');
    const restarts = await restartsFor(ws.id, 'secrets changed');
    assert.ok(restarts >= 1 && restarts <= 2, `10 writes cost ${restarts} restarts`);
  });

  it('an org-wide secret restarts the workspaces that inherit it, not those with their own value', async () => {
    const inherits = await online((await t.createWorkspace({ template: 'sleeper' })).id);
    const overrides = await t.createWorkspace({ template: 'sleeper', secrets: { SHARED_TOKEN: 'mine' } });
    const own = await envOfRunning(overrides.id, (e) => e['SHARED_TOKEN'] === 'mine', 'own SHARED_TOKEN');
    const put = await t.app.inject({ method: 'PUT', url: '/settings/secrets', headers: t.admin(), payload: { key: 'SHARED_TOKEN', value: 'org-wide' } });
    assert.equal(put.statusCode, 200, put.body);
    await envOfRunning(inherits.id, (e) => e['SHARED_TOKEN'] === 'org-wide', 'inherited SHARED_TOKEN');
    await new Promise((r) => setTimeout(r, 500));
    const still = await get(overrides.id);
    assert.equal(still.process!.pid, own.pid, 'a workspace with its own value was not restarted');
    assert.equal(environOf(agentOf(own.pid)!.pid)['SHARED_TOKEN'], 'mine');
    await t.app.inject({ method: 'DELETE', url: '/settings/secrets/SHARED_TOKEN', headers: t.admin() });
  });

  it('old secret rows with reserved names (written before the rule) never reach the runtime or the agent', async () => {
    // Two workspaces: one without a command (a RUNTIME_COMMAND row must not become one), one with the sleeper.
    const cipher = SecretCipher.fromConfig(t.config);
    const bare = await t.createWorkspace({ name: 'bare' });
    const sleeper = await t.createWorkspace({ name: 'sleeper', template: 'sleeper', secrets: { ALLOWED: 'yes' } });
    await t.app.inject({ method: 'POST', url: `/workspaces/${bare.id}/pause`, headers: t.admin() });
    await t.app.inject({ method: 'POST', url: `/workspaces/${sleeper.id}/pause`, headers: t.admin() });
    const marker = path.join(templates, `pwned-${bare.id}`);
    const rows = (id: string) =>
      Object.entries({ RUNTIME_COMMAND: `touch ${marker}; sleep 100000`, NODE_OPTIONS: '--title=pwned', LD_PRELOAD: '/nonexistent.so', PATH: '/evil', HOME: '/root' }).map(([key, value]) => {
        const sealed = cipher.encrypt(value, workspaceSecretAad(id, key));
        return { workspace_id: id, key, ciphertext: sealed.ciphertext, key_id: sealed.keyId };
      });
    await t.db.insertInto('workspace_secrets').values([...rows(bare.id), ...rows(sleeper.id)]).execute();
    const sealed = cipher.encrypt('--title=org-pwned', 'global:NODE_OPTIONS');
    await t.db.insertInto('global_secrets').values({ key: 'NODE_OPTIONS', ciphertext: sealed.ciphertext, key_id: sealed.keyId }).execute();
    try {
      for (const id of [bare.id, sleeper.id]) assert.equal((await post(`/workspaces/${id}/resume`)).statusCode, 200);
      // The command-less runtime says it has no agent command: the RUNTIME_COMMAND row ran nothing.
      const up = await online(bare.id);
      // The runtime starts a command right after it registers; seconds later it still has none.
      const settled = await waitFor(bare.id, 'the bare runtime to run for 3 s', (w) => w.status === 'online' && (w.process?.uptime_seconds ?? 0) >= 3);
      assert.equal(settled.process!.pid, up.process!.pid);
      assert.equal(agentOf(up.process!.pid!), null, 'the command-less runtime started no command');
      assert.equal(existsSync(marker), false);
      const runtimeEnv = environOf(up.process!.pid!);
      for (const k of ['RUNTIME_COMMAND', 'ALLOWED']) assert.equal(runtimeEnv[k], undefined, k);
      assert.notEqual(runtimeEnv['NODE_OPTIONS'], '--title=pwned');
      assert.notEqual(runtimeEnv['NODE_OPTIONS'], '--title=org-pwned');
      // The agent gets its allowed secret and the platform's own PATH and HOME, none of the reserved rows.
      const { pid, env } = await envOfRunning(sleeper.id, (e) => e['ALLOWED'] === 'yes', 'ALLOWED=yes');
      assert.equal(env['PATH'], '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
      assert.notEqual(env['HOME'], '/root');
      for (const k of ['RUNTIME_COMMAND', 'NODE_OPTIONS', 'LD_PRELOAD']) assert.equal(env[k], undefined, k);
      assert.notEqual(environOf(pid)['NODE_OPTIONS'], '--title=pwned');
    } finally {
      await t.db.deleteFrom('global_secrets').where('key', '=', 'NODE_OPTIONS').execute();
    }
  });

  /** Every living process of the agent's uid (uid isolation: one uid per workspace). */
  const processesOfUid = (uid: number) => allProcesses().filter((p) => p.uid === uid);

  /** Starts a `stubborn` workspace and waits until its whole tree runs; returns the runtime pid, the agent uid and pids. */
  async function stubborn(tenant: TestTenant = t): Promise<{ id: string; runtimePid: number; uid: number; pids: number[] }> {
    const res = await tenant.app.inject({ method: 'POST', url: '/workspaces', headers: tenant.admin(), payload: { name: `stubborn-${Date.now()}`, template: 'stubborn' } });
    assert.equal(res.statusCode, 201, res.body);
    const id = res.json().id as string;
    let runtimePid = 0;
    await until('the runtime and its agent', async () => {
      const w = (await tenant.app.inject({ method: 'GET', url: `/workspaces/${id}`, headers: tenant.admin() })).json() as WorkspaceBody;
      runtimePid = w.process?.pid ?? 0;
      // Until setpriv has switched to the agent's uid, the child is still the launcher (root): wait for the switch,
      // which a real isolation failure never makes (then this times out).
      const a = runtimePid > 0 ? agentOf(runtimePid) : null;
      return a !== null && a.uid !== 0;
    });
    const agent = agentOf(runtimePid)!;
    assert.notEqual(agent.uid, 0, 'the agent does not run as root');
    // sh and three sleeps: the subshell's (dash execs its last command), the setsid one (its own session), the shell's.
    const pids = await until('the agent’s four processes', () => {
      const ps = processesOfUid(agent.uid);
      return ps.length >= 4 ? ps.map((p) => p.pid) : null;
    });
    return { id, runtimePid, uid: agent.uid, pids };
  }

  const allGone = (pids: number[], what: string) => until(`${what}: ${pids.join(',')} gone`, () => pids.every((p) => !living(p)), 20_000);

  it('an agent that ignores SIGTERM and forks leaves nothing behind: restart, pause, delete, kill -9 of its runtime', async () => {
    // restart
    let s = await stubborn();
    assert.equal((await post(`/workspaces/${s.id}/restart`)).statusCode, 200);
    await allGone(s.pids, 'after restart');
    const next = await until('the restarted agent', () => {
      const ps = processesOfUid(s.uid);
      return ps.length >= 4 ? ps : null;
    });
    assert.ok(next.every((p) => !s.pids.includes(p.pid)), 'only the new agent runs under the workspace’s uid');
    // kill -9 of the runtime: the old agent dies (parent-death signal, then the uid sweep), a new one starts
    const before = next.map((p) => p.pid);
    const runtimePid = (await get(s.id)).process!.pid!;
    process.kill(runtimePid, 'SIGKILL');
    await allGone(before, 'after kill -9 of the runtime');
    await waitFor(s.id, 'a new runtime', (w) => w.process?.running === true && w.process.pid !== runtimePid);
    // pause
    const again = await until('the agent after the crash restart', () => {
      const ps = processesOfUid(s.uid);
      return ps.length >= 4 ? ps.map((p) => p.pid) : null;
    });
    assert.equal((await post(`/workspaces/${s.id}/pause`)).statusCode, 200);
    await allGone(again, 'after pause');
    assert.deepEqual(processesOfUid(s.uid), []);
    // delete
    s = await stubborn();
    const del = await t.app.inject({ method: 'DELETE', url: `/workspaces/${s.id}`, headers: t.admin() });
    assert.equal(del.statusCode, 200, del.body);
    await allGone(s.pids, 'after delete');
    assert.deepEqual(processesOfUid(s.uid), []);
  });

  it('two workspaces never share an agent uid', async () => {
    const a = await stubborn();
    const b = await stubborn();
    assert.notEqual(a.uid, b.uid);
    for (const s of [a, b]) await t.app.inject({ method: 'DELETE', url: `/workspaces/${s.id}`, headers: t.admin() });
    await allGone([...a.pids, ...b.pids], 'after delete');
  });

  it('tenant shutdown leaves no agent process behind', async () => {
    const other = await startTestTenant(kind, {
      listen: true,
      env: { WORKSPACE_PROVISIONER: 'local', HEARTBEAT_INTERVAL_SECONDS: '1', MOLECULE_TEMPLATES_DIR: templates },
    });
    let s: Awaited<ReturnType<typeof stubborn>>;
    try {
      s = await stubborn(other);
    } catch (err) {
      await other.close();
      throw err;
    }
    await other.close();
    await allGone([s.runtimePid, ...s.pids], 'after tenant shutdown');
    assert.deepEqual(processesOfUid(s.uid), []);
  });

  it('external workspaces start no process; restart is a no-op', async () => {
    const res = await post('/workspaces', { name: 'outside', external: true });
    assert.equal(res.statusCode, 201);
    assert.equal(res.json().status, 'awaiting_agent');
    const withUrl = await post('/workspaces', { name: 'outside-url', external: true, url: 'https://agent.example/a2a' });
    assert.equal(withUrl.json().status, 'online');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal((await get(res.json().id)).process, null);
    const noop = await post(`/workspaces/${res.json().id}/restart`);
    assert.deepEqual(noop.json(), { status: 'noop', restarted_count: 0 });
  });
});

forEachDatabase('provisioning timeout', (kind) => {
  let t: TestTenant;
  before(async () => {
    // Runtimes are pointed at a port where nothing listens, so they can never register.
    t = await startTestTenant(kind, {
      listen: true,
      env: { WORKSPACE_PROVISIONER: 'local', PROVISION_TIMEOUT_SECONDS: '5', PLATFORM_URL: 'http://127.0.0.1:9', HEARTBEAT_TTL_SECONDS: '2' },
    });
  });
  after(() => t.close());

  it('a runtime that never registers leaves the workspace failed, process stopped', async () => {
    const ws = await t.createWorkspace();
    const deadline = Date.now() + 20_000;
    let body: WorkspaceBody | undefined;
    while (Date.now() < deadline) {
      body = (await t.app.inject({ method: 'GET', url: `/workspaces/${ws.id}`, headers: t.admin() })).json() as WorkspaceBody;
      if (body.status === 'failed') break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.equal(body?.status, 'failed');
    assert.match(body?.last_error ?? '', /provisioning timed out/);
    assert.equal(body?.process?.running, false);
  });
});

after(() => {
  if (existsSync(templates)) rmSync(templates, { recursive: true, force: true });
});
