/**
 * `npm start` (`molecule-platform up`, the real binary) on the embedded PostgreSQL server: Ctrl-C (SIGINT) stops every
 * process it started — the CP (in the launcher), the demo org's tenant process (detached: found by the identity in
 * its environment, not by parentage), the workspace runtimes the tenant runs, the postmaster and its backends — and
 * the next start finds the org and its workspace again; a launcher killed with -9 leaves its server and tenant
 * behind, and the next start recovers both (the orphaned server stopped and restarted, the tenant adopted or
 * replaced: one tenant process for the org afterwards), the data intact.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { startUp, type StartedUp } from './support/binary.js';
import { descendants, http, killAll, killTenants, procOf, stillRunning, tenantProcesses, until, within, type Proc } from './support/platform.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

/** The demo org's tenant through the edge, as the banner's curl lines reach it (`acme.localhost:<port>`). */
function tenantCall(up: StartedUp, method: string, p: string, key: string, body?: unknown) {
  const port = new URL(up.field('Control plane')).port;
  return http(method, `http://127.0.0.1:${port}${p}`, {
    host: `acme.localhost:${port}`,
    headers: { authorization: `Bearer ${key}`, 'x-molecule-org-id': up.field('Org id') },
    ...(body !== undefined ? { body } : {}),
  });
}

/** Every process `up` is responsible for right now: its own tree, plus the tenant (detached) and the tenant's tree. */
function everything(up: StartedUp, orgId: string): Proc[] {
  const tenants = tenantProcesses(orgId);
  return [...descendants(up.proc.pid!), ...tenants, ...descendants(...tenants.map((t) => t.pid))].filter((p, i, all) => all.findIndex((q) => q.pid === p.pid) === i);
}

async function stopWithCtrlC(up: StartedUp, started: Proc[]): Promise<void> {
  up.proc.kill('SIGINT');
  assert.equal(await up.exited, 0, up.out());
  await until('every process the launcher started is gone', () => started.every((p) => !stillRunning(p)) || undefined, 60_000, 50).catch(() => undefined);
  assert.deepEqual(
    started.filter(stillRunning).map((p) => `${p.pid} ${p.cmd}`),
    [],
    'no process the launcher started outlives it',
  );
}

describe('npm start on the embedded PostgreSQL server', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'molecule-up-pg-'));
  const launched: StartedUp[] = [];
  const orgIds = new Set<string>();
  const up = async (env: Record<string, string> = {}) => {
    const started = await startUp(dir, env);
    launched.push(started);
    orgIds.add(started.field('Org id'));
    return started;
  };
  after(async () => {
    for (const u of launched) {
      const left = descendants(u.proc.pid!);
      if (u.proc.exitCode === null && u.proc.signalCode === null) {
        u.proc.kill('SIGINT');
        await within(u.exited, 60_000);
      }
      await killAll(left);
    }
    await killTenants(orgIds);
    const lock = path.join(dir, 'pg', 'data', 'postmaster.pid');
    // A postmaster orphaned by a failed test: ours only if it serves this cluster.
    const postmaster = existsSync(lock) ? procOf(Number(readFileSync(lock, 'utf8').split('\n')[0])) : null;
    if (postmaster?.cmd.includes(path.join(dir, 'pg', 'data'))) await killAll([postmaster]);
    rmSync(dir, { recursive: true, force: true });
  });

  let workspaceId = '';

  it('Ctrl-C stops the CP, the tenant, its workspace runtime and the postmaster; the next start finds the workspace', async () => {
    const first = await up();
    const orgId = first.field('Org id');
    assert.match(first.banner, /embedded PostgreSQL server/);
    assert.ok(existsSync(path.join(dir, 'pg', 'data', 'PG_VERSION')), 'the cluster lives under <data dir>/pg');
    const created = await tenantCall(first, 'POST', '/workspaces', first.field('Org API key'), { name: 'my-agent' });
    assert.equal(created.status, 201, created.text);
    workspaceId = created.json.id as string;
    await until('the workspace is online', async () => (await tenantCall(first, 'GET', `/workspaces/${workspaceId}`, first.field('Org API key'))).json?.status === 'online' || undefined);

    const tenants = tenantProcesses(orgId);
    assert.equal(tenants.length, 1, 'one tenant process for the demo org');
    const started = everything(first, orgId);
    assert.ok(
      started.some((p) => p.cmd.includes('postgres') && p.cmd.includes(path.join(dir, 'pg', 'data'))),
      `the postmaster is among the launcher's processes: ${JSON.stringify(started)}`,
    );
    assert.ok(started.some((p) => p.pid === tenants[0]!.pid));
    assert.ok(
      descendants(tenants[0]!.pid).some((p) => /molecule-platform\.js runtime/.test(p.cmd)),
      `the workspace runtime runs under the tenant: ${JSON.stringify(descendants(tenants[0]!.pid))}`,
    );
    await stopWithCtrlC(first, started);
    assert.deepEqual(tenantProcesses(orgId), []);
    assert.equal(existsSync(path.join(dir, 'pg', 'data', 'postmaster.pid')), false, 'the server shut down cleanly');

    const second = await up();
    assert.equal(second.field('Org id'), orgId, 'the same org');
    const ws = await tenantCall(second, 'GET', `/workspaces/${workspaceId}`, second.field('Org API key'));
    assert.equal(ws.status, 200, ws.text);
    assert.equal(ws.json.name, 'my-agent');
    await stopWithCtrlC(second, everything(second, orgId));
  });

  it('starts again after the launcher was killed with SIGKILL: the orphaned server is replaced, the tenant adopted or replaced, the data kept', async (t) => {
    // A fixed port, as `npm start` has (8080): the tenant the killed launcher leaves behind calls the CP there.
    const port = String(await freePort());
    const killed = await up({ PORT: port });
    const orgId = killed.field('Org id');
    const postmaster = Number(readFileSync(path.join(dir, 'pg', 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const orphan = descendants(killed.proc.pid!).find((p) => p.pid === postmaster);
    assert.ok(orphan, 'the postmaster was started by the launcher');
    const leftTenant = tenantProcesses(orgId);
    assert.equal(leftTenant.length, 1);
    killed.proc.kill('SIGKILL');
    await killed.exited;
    assert.ok(stillRunning(orphan), 'a kill -9 of the launcher leaves its server running');
    assert.ok(stillRunning(leftTenant[0]!), 'and its (detached) tenant');

    const next = await up({ PORT: port });
    assert.equal(stillRunning(orphan), false, 'the next start stopped the orphaned server');
    assert.equal(next.field('Org id'), orgId);
    const tenants = tenantProcesses(orgId);
    assert.equal(tenants.length, 1, `exactly one tenant process for the org afterwards: ${JSON.stringify(tenants)}`);
    const adopted = tenants[0]!.pid === leftTenant[0]!.pid;
    t.diagnostic(`the tenant left by the killed launcher was ${adopted ? 'adopted' : 'replaced'}`);
    const ws = await tenantCall(next, 'GET', `/workspaces/${workspaceId}`, next.field('Org API key'));
    assert.equal(ws.status, 200, `the data survived: ${ws.text}`);
    assert.equal(ws.json.name, 'my-agent');
    const all = everything(next, orgId);
    if (!adopted) all.push(...leftTenant);
    await stopWithCtrlC(next, all);
    assert.equal(stillRunning(leftTenant[0]!), false, 'the tenant the killed launcher left is gone after the next Ctrl-C');
  });
});
