/**
 * The real binary as a child process on loopback: boot by environment, the "listening" line, the seed's curl
 * steps over real HTTP, SIGTERM with buffered audit rows and last-used times flushed, and no credential in the log.
 */
import assert from 'node:assert/strict';
import { agentUidRange } from './support/agent-uids.js';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { mintCredential } from '../src/core/credentials/format.js';
import { newUuid } from '../src/core/ids.js';
import { createScratchDatabase, forEachDatabase } from './harness.js';
import { BIN, startBinary } from './support/binary.js';

forEachDatabase('the tenant binary over real HTTP', (kind) => {
  const adminToken = mintCredential('tenantAdminToken').plaintext;
  const orgId = newUuid();
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;

  before(async () => {
    env = { ADMIN_TOKEN: adminToken, MOLECULE_ORG_ID: orgId, MOLECULE_ORG_SLUG: 'acme' };
    if (kind === 'postgres') {
      const scratch = await createScratchDatabase();
      env['DATABASE_URL'] = scratch.url;
      cleanup = () => scratch.drop();
    } else {
      const dir = mkdtempSync(path.join(tmpdir(), 'molecule-e2e-'));
      env['MOLECULE_DATA_DIR'] = dir;
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
  });
  after(() => cleanup());

  it('serves the seed’s first steps, shuts down cleanly on SIGTERM, and keeps every acknowledged event', async () => {
    const child = await startBinary('tenant', env);
    let keyId = '';
    let keyPlaintext = '';
    const org = { 'x-molecule-org-id': orgId };
    const json = { 'content-type': 'application/json' };
    try {
      const health = await fetch(`${child.url}/health`);
      assert.deepEqual(await health.json(), { status: 'ok' });

      // Mint a key with ADMIN_TOKEN, list workspaces with the key and the org header, revoke.
      const mint = await fetch(`${child.url}/org/tokens`, {
        method: 'POST',
        headers: { ...org, ...json, authorization: `Bearer ${adminToken}` },
        body: JSON.stringify({ name: 'e2e' }),
      });
      assert.equal(mint.status, 200);
      const key = (await mint.json()) as { id: string; auth_token: string; prefix: string };
      keyId = key.id;
      keyPlaintext = key.auth_token;
      const auth = { ...org, authorization: `Bearer ${key.auth_token}` };
      const created = await fetch(`${child.url}/workspaces`, { method: 'POST', headers: { ...auth, ...json }, body: JSON.stringify({ name: 'agent-1' }) });
      assert.equal(created.status, 201);
      const list = await fetch(`${child.url}/workspaces`, { headers: auth });
      assert.equal(list.status, 200);
      assert.equal(((await list.json()) as unknown[]).length, 1);

      // Reads whose audit rows sit in the write-behind buffer when SIGTERM arrives.
      const ids = Array.from({ length: 20 }, (_, i) => `e2e-read-${i}`);
      const reads = await Promise.all(ids.map((id) => fetch(`${child.url}/org/tokens`, { headers: { ...auth, 'x-request-id': id } })));
      assert.ok(reads.every((r) => r.status === 200));
      child.proc.kill('SIGTERM');
      assert.equal(await child.exited, 0, child.output());
      assert.match(child.output(), /"msg":"stopped"/);
    } finally {
      if (child.proc.exitCode === null) child.proc.kill('SIGKILL');
    }

    // Nothing secret was ever logged.
    assert.equal(child.output().includes(adminToken), false, 'ADMIN_TOKEN in the log');
    assert.equal(/mola_[0-9A-Za-z]{20,}/.test(child.output()), false, 'an org key in the log');

    // Restart on the same database: every acknowledged request's audit row and the key's last use are there.
    const again = await startBinary('tenant', env);
    try {
      const admin = { ...org, authorization: `Bearer ${adminToken}` };
      const audit = await fetch(`${again.url}/audit?path=/org/tokens&method=GET&limit=1000`, { headers: admin });
      const events = ((await audit.json()) as { events: Array<{ request_id: string; actor: string }> }).events;
      for (let i = 0; i < 20; i++) {
        const e = events.find((ev) => ev.request_id === `e2e-read-${i}`);
        assert.ok(e, `audit row for e2e-read-${i} survived the shutdown`);
      }
      const verify = await fetch(`${again.url}/audit/verify`, { headers: admin });
      assert.equal(((await verify.json()) as { ok: boolean }).ok, true);
      const keys = await fetch(`${again.url}/org/tokens`, { headers: admin });
      const tokens = ((await keys.json()) as { tokens: Array<{ id: string; last_used_at: string | null }> }).tokens;
      const ours = tokens.find((k) => k.id === keyId);
      assert.ok(ours?.last_used_at, 'last_used_at was flushed at shutdown');

      // Revoke, then the key is refused on the very next request.
      const del = await fetch(`${again.url}/org/tokens/${keyId}`, { method: 'DELETE', headers: admin });
      assert.deepEqual(await del.json(), { revoked: keyId });
      const refused = await fetch(`${again.url}/workspaces`, { headers: { ...org, authorization: `Bearer ${keyPlaintext}` } });
      assert.equal(refused.status, 401);
    } finally {
      again.proc.kill('SIGTERM');
      await again.exited;
    }
  });

  it('refuses to boot on bad configuration and names every bad key', async () => {
    const proc = spawn(process.execPath, [BIN, 'tenant'], {
      env: { PATH: process.env['PATH'] ?? '', PORT: 'eighty', MOLECULE_ORG_ID: 'not-a-uuid', ADMIN_TOKEN: 'short' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => proc.on('exit', r));
    assert.equal(code, 1);
    assert.match(err, /PORT: must be a port number/);
    assert.match(err, /MOLECULE_ORG_ID: must be a UUID/);
    assert.match(err, /ADMIN_TOKEN: must be at least 16 characters/);
  });

  it('refuses to boot with CP_UPSTREAM_URL but no MOLECULE_ORG_ID, saying what to set', async () => {
    const proc = spawn(process.execPath, [BIN, 'tenant'], {
      env: { PATH: process.env['PATH'] ?? '', CP_UPSTREAM_URL: 'http://127.0.0.1:1', MOLECULE_DATA_DIR: 'memory://' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => proc.on('exit', r));
    assert.equal(code, 1);
    assert.match(err, /MOLECULE_ORG_ID: required when CP_UPSTREAM_URL is set; set it to the UUID of the org this tenant serves/);
  });
});

describe('workspace runtimes never outlive their tenant', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'molecule-orphans-'));
  const adminToken = mintCredential('tenantAdminToken').plaintext;
  const orgId = newUuid();
  const env = { ADMIN_TOKEN: adminToken, MOLECULE_ORG_ID: orgId, MOLECULE_DATA_DIR: dir, HEARTBEAT_INTERVAL_SECONDS: '1' };
  const headers = { authorization: `Bearer ${adminToken}`, 'x-molecule-org-id': orgId };
  after(() => rmSync(dir, { recursive: true, force: true }));

  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  async function onlinePid(url: string, id: string, notPid?: number): Promise<number> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const w = (await (await fetch(`${url}/workspaces/${id}`, { headers })).json()) as { status: string; process: { pid: number | null } | null };
      if (w.status === 'online' && w.process?.pid && w.process.pid !== notPid) return w.process.pid;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('workspace did not come online');
  }
  async function gone(pid: number, withinMs: number) {
    const deadline = Date.now() + withinMs;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return !alive(pid);
  }

  it('SIGTERM stops the runtimes; a restarted tenant starts them again; SIGKILL of the tenant still ends them', async () => {
    const first = await startBinary('tenant', env);
    const created = await fetch(`${first.url}/workspaces`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'survivor' }) });
    assert.equal(created.status, 201);
    const id = ((await created.json()) as { id: string }).id;
    const pid1 = await onlinePid(first.url, id);
    first.proc.kill('SIGTERM');
    assert.equal(await first.exited, 0);
    assert.ok(await gone(pid1, 2000), 'runtime stopped with its tenant');

    const second = await startBinary('tenant', env);
    const pid2 = await onlinePid(second.url, id, pid1);
    second.proc.kill('SIGKILL');
    await second.exited;
    assert.ok(await gone(pid2, 5000), 'runtime exits when its tenant is killed (its stdin pipe closes)');
  });
});

/** The pid of a process's (first) child, from /proc; null when it has none. */
function childOf(pid: number): number | null {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (Number(/^PPid:\s*(\d+)/m.exec(readFileSync(`/proc/${d}/status`, 'utf8'))?.[1]) === pid) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

/** Reads an SSE response until `predicate` matches a data frame (or times out). */
async function waitForFrame(res: Response, predicate: (data: { type: string; workspace_id: string | null }) => boolean, timeoutMs = 30_000) {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const chunk = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), deadline - Date.now()))]);
    if (!chunk || chunk.done) break;
    buffer += decoder.decode(chunk.value, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      if (data) {
        const parsed = JSON.parse(data.slice(6)) as { type: string; workspace_id: string | null };
        if (predicate(parsed)) {
          await reader.cancel();
          return parsed;
        }
      }
    }
  }
  await reader.cancel().catch(() => undefined);
  throw new Error('the expected event never arrived on the stream');
}

forEachDatabase('a new user drives a workspace over real HTTP (the binary)', (kind) => {
  const adminToken = mintCredential('tenantAdminToken').plaintext;
  const orgId = newUuid();
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;
  before(async () => {
    // The agent command of the `sleeper` template just runs; the workspace's secrets are its environment.
    const templates = mkdtempSync(path.join(tmpdir(), 'molecule-e2e-templates-'));
    mkdirSync(path.join(templates, 'sleeper'));
    writeFileSync(path.join(templates, 'sleeper', 'template.json'), JSON.stringify({ command: 'sleep 100000' }));
    env = { ADMIN_TOKEN: adminToken, MOLECULE_ORG_ID: orgId, MOLECULE_ORG_SLUG: 'acme', HEARTBEAT_INTERVAL_SECONDS: '1', MOLECULE_TEMPLATES_DIR: templates, ...agentUidRange() };
    const removeTemplates = () => rmSync(templates, { recursive: true, force: true });
    if (kind === 'postgres') {
      const scratch = await createScratchDatabase();
      env['DATABASE_URL'] = scratch.url;
      cleanup = async () => {
        removeTemplates();
        await scratch.drop();
      };
    } else {
      const dir = mkdtempSync(path.join(tmpdir(), 'molecule-e2e-ws-'));
      env['MOLECULE_DATA_DIR'] = dir;
      cleanup = async () => {
        removeTemplates();
        rmSync(dir, { recursive: true, force: true });
      };
    }
  });
  after(() => cleanup());

  it('create with an org key, see it online on the SSE stream, set a secret, pause/resume/restart, kill, delete', async () => {
    const child = await startBinary('tenant', env);
    try {
      const u = child.url;
      const org = { 'x-molecule-org-id': orgId };
      const mint = await fetch(`${u}/org/tokens`, { method: 'POST', headers: { ...org, authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'new-user' }) });
      const key = ((await mint.json()) as { auth_token: string }).auth_token;
      const auth = { ...org, authorization: `Bearer ${key}` };
      const json = { ...auth, 'content-type': 'application/json' };

      const stream = await fetch(`${u}/events/stream`, { headers: auth });
      assert.equal(stream.status, 200);
      assert.match(String(stream.headers.get('content-type')), /text\/event-stream/);
      const created = await fetch(`${u}/workspaces`, { method: 'POST', headers: json, body: JSON.stringify({ name: 'my-agent', template: 'sleeper' }) });
      assert.equal(created.status, 201);
      const id = ((await created.json()) as { id: string }).id;
      await waitForFrame(stream, (d) => d.type === 'WORKSPACE_ONLINE' && d.workspace_id === id);

      const view = async () => (await (await fetch(`${u}/workspaces/${id}`, { headers: auth })).json()) as { status: string; process: { pid: number | null } | null };
      const until = async (what: string, ok: (w: Awaited<ReturnType<typeof view>>) => boolean) => {
        const deadline = Date.now() + 30_000;
        for (;;) {
          const w = await view();
          if (ok(w)) return w;
          if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(w)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      };
      const first = await until('online', (w) => w.status === 'online' && !!w.process?.pid);

      const secret = await fetch(`${u}/workspaces/${id}/secrets`, { method: 'POST', headers: json, body: JSON.stringify({ key: 'OPENAI_API_KEY', value: 'sk-new-user' }) });
      assert.deepEqual(await secret.json(), { status: 'saved', key: 'OPENAI_API_KEY' });
      const restarted = await until('restarted with the secret', (w) => {
        if (w.status !== 'online' || !w.process?.pid || w.process.pid === first.process!.pid) return false;
        try {
          // The agent command (the runtime's child) holds the secret; the runtime itself never does.
          const agent = childOf(w.process.pid);
          if (!agent) return false;
          assert.equal(readFileSync(`/proc/${w.process.pid}/environ`, 'utf8').includes('sk-new-user'), false, 'the runtime holds the secret');
          return readFileSync(`/proc/${agent}/environ`, 'utf8').split('\0').includes('OPENAI_API_KEY=sk-new-user');
        } catch (err) {
          if (err instanceof assert.AssertionError) throw err;
          return false;
        }
      });

      for (const verb of ['pause', 'resume', 'restart']) {
        const res = await fetch(`${u}/workspaces/${id}/${verb}`, { method: 'POST', headers: auth });
        assert.equal(res.status, 200, `${verb}: ${await res.clone().text()}`);
        await until(verb, (w) => (verb === 'pause' ? w.status === 'paused' : w.status === 'online' && !!w.process?.pid));
      }

      const before = await view();
      process.kill(before.process!.pid!, 'SIGKILL');
      await until('recovered after kill -9', (w) => w.status === 'online' && !!w.process?.pid && w.process.pid !== before.process!.pid);
      assert.ok(restarted.process?.pid);

      const del = await fetch(`${u}/workspaces/${id}`, { method: 'DELETE', headers: auth });
      assert.equal(del.status, 200);
      assert.equal((await fetch(`${u}/workspaces/${id}`, { headers: auth })).status, 404);
    } finally {
      child.proc.kill('SIGTERM');
      assert.equal(await child.exited, 0);
    }
  });
});
