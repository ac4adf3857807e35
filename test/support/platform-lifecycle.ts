/**
 * A partner's lifecycle against the real `molecule-platform cp` binary with TENANT_PROVISIONER=local-process — real
 * tenant processes, each with its own database and role — on a PostgreSQL server the test starts (the platform's
 * embedded one) and on the real server:
 *
 * sign up (the verification link read from the CP's log, MAIL_TRANSPORT=log), accept the terms, create an org and
 * watch provision-status to `running` (progress never down, eta never up); use the tenant through the edge with the
 * session cookie and an Org API Key minted with it; a second org gets its own tenant, and one org's key opens nothing
 * of the other's nor any CP route; kill -9 of a tenant under a write load loses no acknowledged write; kill -9 of the
 * CP leaves the tenants serving and the next CP adopts them; a CP stopped cleanly stops its tenants
 * (TENANT_SHUTDOWN=stop, the default: the next CP starts them again) or leaves them to be adopted (keep); deleting
 * the orgs leaves no process, database, role or directory behind.
 *
 * Each part and database has its own test file (platform-lifecycle-<part>-<kind>.test.ts), so each stays within the
 * per-file timeout of `npm test`. The steps of one file run in order on one CP and share its orgs.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EmbeddedPostgresServer } from '../../src/core/db/embedded-server.js';
import { POSTGRES_ADMIN_URL, createScratchDatabase } from '../harness.js';
import { spawnBinary, type Spawned } from './binary.js';
import { descendants, dropTenantLeftovers, http, killAll, killTenants, query, stillRunning, tenantProcesses, until, within, type Reply } from './platform.js';

const postgresProblem = await query(POSTGRES_ADMIN_URL, 'select 1').then(
  () => null,
  (err: Error) => err.message,
);

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

const STAGES = new Set(['launching', 'installing', 'starting', 'configuring_https', 'ready']);

interface Org {
  id: string;
  slug: string;
  /** The Host header that routes to its tenant through the edge. */
  host: string;
  key: string;
}

/**
 * The story on one database: `embedded` (a server the test starts) or `postgres` (the shared real server), in two
 * parts that each fit the per-file timeout of `npm test`: `tenants` (isolation, kill -9 of a tenant, the admin token)
 * and `restarts` (kill -9 of the CP, TENANT_SHUTDOWN). Both sign up, create two orgs and delete them at the end.
 */
export function lifecycleSuite(kind: 'embedded' | 'postgres', part: 'tenants' | 'restarts'): void {
  // The other part's steps are not registered at all (they run in their own file).
  const only = (which: typeof part): typeof it => (which === part ? it : ((() => undefined) as unknown as typeof it));
  const skip = kind === 'postgres' && postgresProblem ? `PostgreSQL not reachable (${postgresProblem})` : false;

  describe(`a partner's lifecycle against molecule-platform cp with local-process tenants: ${part} [${kind}]`, { skip }, () => {
    const tag = randomBytes(3).toString('hex');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'molecule-lifecycle-'));
    const serverDir = mkdtempSync(path.join(tmpdir(), 'molecule-lifecycle-pg-'));
    const cpAdmin = `cp-admin-${tag}-e2e-secret-value`;
    const email = `partner-${tag}@example.com`;
    const orgIds = new Set<string>();
    const orgs: { a?: Org; b?: Org } = {};
    let serverAdminUrl = '';
    let cpDbUrl = '';
    let embedded: EmbeddedPostgresServer | undefined;
    let dropScratch: () => Promise<void> = async () => undefined;
    let port = 0;
    let edge = '';
    let cp: Spawned | undefined;
    let cookie = '';

    const env = (extra: Record<string, string> = {}) => ({
      PORT: String(port),
      MOLECULE_DATA_DIR: dataDir,
      DATABASE_URL: cpDbUrl,
      TENANT_DATABASE_URL: serverAdminUrl,
      TENANT_PROVISIONER: 'local-process',
      CP_ADMIN_API_TOKEN: cpAdmin,
      MAIL_TRANSPORT: 'log',
      PASSWORD_HASH_COST: '12',
      // The write load below mints keys from one client faster than the default 10 an hour (TENANT_ENV_<NAME> → tenants).
      TENANT_ENV_ORG_TOKEN_MINT_LIMIT: '100000',
      ...extra,
    });
    async function startCp(extra: Record<string, string> = {}): Promise<Spawned> {
      const spawned = spawnBinary('cp', env(extra));
      cp = spawned;
      await spawned.listening(120_000);
      return spawned;
    }
    const instance = async (orgId: string) =>
      (await query<{ pid: number | null; url: string | null; status: string; database_name: string | null }>(cpDbUrl, 'select pid, url, status, database_name from org_instances where org_id = $1', [orgId]))[0];
    const onEdge = (org: Org, method: string, p: string, opts: { headers?: Record<string, string>; body?: unknown } = {}) => http(method, `${edge}${p}`, { ...opts, host: org.host });
    const withKey = (key: string, extra: Record<string, string> = {}) => ({ authorization: `Bearer ${key}`, ...extra });

    before(async () => {
      if (kind === 'embedded') {
        // A directory of its own: the server's OS user must be able to walk down to it.
        embedded = await EmbeddedPostgresServer.start({ dataDir: serverDir, startTimeoutMs: 120_000 });
        cpDbUrl = await embedded.ensureDatabase('molecule_cp');
        serverAdminUrl = embedded.adminUrl;
      } else {
        const scratch = await createScratchDatabase();
        cpDbUrl = scratch.url;
        dropScratch = scratch.drop;
        serverAdminUrl = POSTGRES_ADMIN_URL;
      }
      port = await freePort();
      edge = `http://127.0.0.1:${port}`;
      await startCp();
    });

    after(async () => {
      if (cp && cp.proc.exitCode === null && cp.proc.signalCode === null) {
        const below = descendants(cp.proc.pid!);
        cp.proc.kill('SIGTERM');
        await within(cp.exited, 60_000);
        await killAll(below);
        if (cp.proc.exitCode === null && cp.proc.signalCode === null) cp.proc.kill('SIGKILL');
      }
      await killTenants(orgIds);
      for (const org of [orgs.a, orgs.b]) if (org) await dropTenantLeftovers(serverAdminUrl, `tenant_${org.slug.replace(/-/g, '_')}_`);
      await embedded?.stop().catch(() => undefined);
      await dropScratch().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(serverDir, { recursive: true, force: true });
    });

    /** POST /api/v1/orgs as the signed-in user, then provision-status polled to running; checks the contract of every poll. */
    async function createOrg(slug: string): Promise<Org> {
      const created = await http('POST', `${edge}/api/v1/orgs`, { headers: { cookie }, body: { slug, name: `Org ${slug}` } });
      assert.equal(created.status, 201, created.text);
      const id = created.json.id as string;
      orgIds.add(id);
      const polls: Array<{ status: string; stage: string; progress: number; eta_seconds: number }> = [];
      await until(
        `${slug} provisioned`,
        async () => {
          const res = await http('GET', `${edge}/api/v1/orgs/${slug}/provision-status`, { headers: { cookie } });
          assert.equal(res.status, 200, res.text);
          const s = res.json as { status: string; stage: string; progress: number; eta_seconds: number; message: string };
          assert.notEqual(s.status, 'failed', `provisioning failed: ${res.text}`);
          assert.ok(STAGES.has(s.stage), `stage ${s.stage} is one of the documented ones`);
          const prev = polls.at(-1);
          if (prev) {
            assert.ok(s.progress >= prev.progress, `progress never decreases: ${JSON.stringify(polls.concat(s))}`);
            assert.ok(s.eta_seconds <= prev.eta_seconds, `eta never increases: ${JSON.stringify(polls.concat(s))}`);
          }
          polls.push(s);
          return s.status === 'running' || undefined;
        },
        180_000,
        100,
      );
      const last = polls.at(-1)!;
      assert.deepEqual([last.stage, last.progress, last.eta_seconds], ['ready', 100, 0]);
      const org: Org = { id, slug, host: `${slug}.localhost:${port}`, key: '' };
      // The owner's session cookie is a credential on the org's tenant (tier 1, confirmed by /cp/auth/tenant-member).
      const minted = await onEdge(org, 'POST', '/org/tokens', { headers: { cookie }, body: { name: 'partner key' } });
      assert.equal(minted.status, 200, minted.text);
      assert.match(minted.json.auth_token, /^mola_/);
      org.key = minted.json.auth_token as string;
      return org;
    }

    it('signs up (verifying the address from the logged link), accepts the terms, creates an org and uses its tenant through the edge', async () => {
      const signup = await http('POST', `${edge}/api/v1/auth/signup`, { body: { email, password: `partner password ${tag}`, name: 'Partner' } });
      assert.equal(signup.status, 201, signup.text);
      cookie = String([signup.headers['set-cookie']].flat()[0]).split(';')[0]!;
      assert.match(cookie, /^mcp_session=mols_/);
      const link = await until('the verification mail in the CP log', () => {
        for (const line of cp!.output().split('\n')) {
          if (!line.startsWith('{')) continue;
          const entry = JSON.parse(line) as { mail?: string; to?: string; link?: string };
          if (entry.mail === 'email-verification' && entry.to === email && entry.link) return entry.link;
        }
        return undefined;
      });
      const verified = await http('POST', `${edge}/api/v1/auth/verify-email`, { headers: { cookie }, body: { token: new URL(link).searchParams.get('token') } });
      assert.equal(verified.status, 200, verified.text);
      assert.equal(verified.json.email_verified, true);
      assert.equal((await http('POST', `${edge}/api/v1/auth/accept-terms`, { headers: { cookie }, body: {} })).status, 200);

      orgs.a = await createOrg(`pa-${tag}`);
      const a = orgs.a;
      const processes = tenantProcesses(a.id);
      assert.equal(processes.length, 1, `one tenant process for the org: ${JSON.stringify(processes)}`);
      assert.equal((await instance(a.id))?.pid, processes[0]!.pid, 'org_instances.pid names it');

      // The key works through the edge, by host (the edge names the org) and by the org header.
      const list = await onEdge(a, 'GET', '/workspaces', { headers: withKey(a.key) });
      assert.equal(list.status, 200, list.text);
      assert.ok(Array.isArray(list.json));
      const byHeader = await http('GET', `${edge}/workspaces`, { headers: withKey(a.key, { 'x-molecule-org-slug': a.slug }) });
      assert.equal(byHeader.status, 200, byHeader.text);
      const ws = await onEdge(a, 'POST', '/workspaces', { headers: withKey(a.key), body: { name: 'partner-agent' } });
      assert.equal(ws.status, 201, ws.text);
    });

    it('a second org of the same user gets its own tenant; neither org’s key opens the other’s tenant or any CP route', async () => {
      const a = orgs.a!;
      orgs.b = await createOrg(`pb-${tag}`);
      const b = orgs.b;
      const [ia, ib] = [await instance(a.id), await instance(b.id)];
      assert.ok(ia?.pid && ib?.pid);
      assert.notEqual(ia.pid, ib.pid, 'a process of its own');
      assert.notEqual(ia.database_name, ib.database_name, 'a database of its own');
      assert.notEqual(ia.url, ib.url);
      const dbs = await query<{ datname: string }>(serverAdminUrl, 'select datname from pg_database where datname = any($1)', [[ia.database_name, ib.database_name]]);
      assert.equal(dbs.length, 2);
      assert.deepEqual(tenantProcesses(b.id).map((p) => p.pid), [ib.pid]);

      // A's key on B's tenant. The tenant guard judges the org header first: another org's → 404 with an empty body
      // (nothing learned); B's own (given, or injected by the edge from the host) → the key is unknown there → 401.
      const asA = await onEdge(b, 'GET', '/workspaces', { headers: withKey(a.key, { 'x-molecule-org-id': a.id }) });
      assert.deepEqual([asA.status, asA.text], [404, '']);
      const asASlug = await onEdge(b, 'GET', '/workspaces', { headers: withKey(a.key, { 'x-molecule-org-slug': a.slug }) });
      assert.deepEqual([asASlug.status, asASlug.text], [404, '']);
      for (const headers of [withKey(a.key, { 'x-molecule-org-id': b.id }), withKey(a.key)]) {
        const res = await onEdge(b, 'GET', '/workspaces', { headers });
        assert.equal(res.status, 401, res.text);
        const mint = await onEdge(b, 'POST', '/org/tokens', { headers, body: { name: 'stolen' } });
        assert.equal(mint.status, 401, mint.text);
      }
      // The same through the header route (no tenant host).
      const viaHeader = await http('GET', `${edge}/workspaces`, { headers: withKey(a.key, { 'x-molecule-org-slug': b.slug }) });
      assert.equal(viaHeader.status, 401, viaHeader.text);
      // And B's key on B works: the refusals above are about the key, not the route.
      assert.equal((await onEdge(b, 'GET', '/workspaces', { headers: withKey(b.key) })).status, 200);

      // An Org API Key is no CP credential, in any tier (session, admin, tenant callbacks), under either prefix.
      const cpRoutes: Array<[string, string, unknown?]> = [
        ['GET', '/api/v1/auth/me'],
        ['GET', '/api/v1/orgs'],
        ['GET', `/api/v1/orgs/${a.slug}`],
        ['GET', `/api/v1/orgs/${a.slug}/provision-status`],
        ['DELETE', `/api/v1/orgs/${a.slug}`],
        ['GET', `/api/v1/orgs/${a.slug}/members`],
        ['GET', '/cp/auth/me'],
        ['GET', `/cp/auth/tenant-member?org_id=${a.id}`],
        ['GET', '/api/v1/admin/orgs'],
        ['POST', `/api/v1/admin/orgs/${a.slug}/reprovision`],
        ['GET', '/cp/admin/orgs'],
        ['POST', '/api/v1/tenants/boot-event', { stage: 'listening' }],
        ['POST', '/cp/tenants/boot-event', { stage: 'listening' }],
      ];
      for (const [method, p, body] of cpRoutes) {
        const res: Reply = await http(method, `${edge}${p}`, { headers: withKey(a.key), ...(body !== undefined ? { body } : {}) });
        assert.equal(res.status, 401, `${method} ${p} with an Org API Key: ${res.status} ${res.text}`);
      }
      assert.equal((await instance(a.id))?.status, 'running', 'nothing changed');
    });

    only('tenants')('kill -9 of a tenant under a write load: the provisioner restarts it and every acknowledged write is there', async (t) => {
      const a = orgs.a!;
      const before = await instance(a.id);
      const victim = tenantProcesses(a.id);
      assert.deepEqual(victim.map((p) => p.pid), [before!.pid]);
      const acked: string[] = [];
      const refusals = new Map<string, number>();
      let killedAt = 0;
      let ackedAfterRestart = 0;
      let newPid = 0;
      let n = 0;
      const deadline = Date.now() + 240_000;
      const writer = async () => {
        while (Date.now() < deadline && ackedAfterRestart < 10) {
          const i = n++;
          try {
            const res = await onEdge(a, 'POST', '/org/tokens', { headers: withKey(a.key), body: { name: `load-${i}` } });
            if (res.status === 200 || res.status === 201) {
              acked.push(res.json.id as string);
              if (killedAt) {
                if (!newPid) newPid = (await instance(a.id))?.pid ?? 0;
                if (newPid) ackedAfterRestart++;
              }
            } else {
              refusals.set(String(res.status), (refusals.get(String(res.status)) ?? 0) + 1);
              await new Promise((r) => setTimeout(r, 50));
            }
          } catch (err) {
            refusals.set((err as Error).message.slice(0, 60), (refusals.get((err as Error).message.slice(0, 60)) ?? 0) + 1);
            await new Promise((r) => setTimeout(r, 50));
          }
          if (!killedAt && acked.length >= 10) {
            killedAt = Date.now();
            process.kill(victim[0]!.pid, 'SIGKILL');
          }
        }
      };
      await Promise.all([writer(), writer(), writer()]);
      assert.ok(killedAt, 'the tenant was killed mid-load');
      t.diagnostic(`${acked.length} writes acknowledged (${ackedAfterRestart} by the restarted tenant); refused meanwhile: ${JSON.stringify([...refusals])}`);
      assert.ok(ackedAfterRestart >= 10, `writes are acknowledged again after the restart (refusals meanwhile: ${JSON.stringify([...refusals])})`);
      // While it was down the edge said so (503 not ready / 502 unreachable) or the connection broke; never another answer.
      for (const [what] of refusals) assert.ok(['502', '503'].includes(what) || !/^\d+$/.test(what), `unexpected answer while the tenant restarted: ${what}`);

      const after = await instance(a.id);
      assert.equal(after?.status, 'running');
      assert.notEqual(after?.pid, before?.pid, 'a new process');
      assert.deepEqual(tenantProcesses(a.id).map((p) => p.pid), [after!.pid], 'exactly one tenant process for the org');
      const listed = await onEdge(a, 'GET', '/org/tokens', { headers: withKey(a.key) });
      assert.equal(listed.status, 200, listed.text);
      const ids = new Set((listed.json.tokens as Array<{ id: string }>).map((t) => t.id));
      const lost = acked.filter((id) => !ids.has(id));
      assert.deepEqual(lost, [], `every acknowledged write survived (${acked.length} acknowledged)`);
      const restarts = await query<{ restarts: number }>(cpDbUrl, 'select restarts from org_instances where org_id = $1', [a.id]);
      assert.ok(restarts[0]!.restarts >= 1, 'the restart is counted');
    });

    only('restarts')('kill -9 of the CP: the tenants keep serving, and the next CP adopts them (same pids, no second process)', async () => {
      const a = orgs.a!;
      const b = orgs.b!;
      const [ia, ib] = [await instance(a.id), await instance(b.id)];
      const old = cp!;
      old.proc.kill('SIGKILL');
      await old.exited;

      // Served directly on its loopback URL while no CP runs.
      const direct = await http('GET', `${ia!.url}/workspaces`, { headers: withKey(a.key, { 'x-molecule-org-id': a.id }) });
      assert.equal(direct.status, 200, direct.text);
      assert.ok(direct.json.some((w: { name: string }) => w.name === 'partner-agent'));
      assert.deepEqual(tenantProcesses(a.id).map((p) => p.pid), [ia!.pid]);
      assert.deepEqual(tenantProcesses(b.id).map((p) => p.pid), [ib!.pid]);

      const next = await startCp();
      for (const [org, was] of [[a, ia], [b, ib]] as const) {
        await until(`${org.slug} running again`, async () => (await instance(org.id))?.status === 'running' || undefined, 60_000);
        assert.equal((await instance(org.id))?.pid, was!.pid, `${org.slug}: adopted, not restarted`);
        assert.deepEqual(tenantProcesses(org.id).map((p) => p.pid), [was!.pid], `${org.slug}: no second tenant process`);
        const res = await onEdge(org, 'GET', '/workspaces', { headers: withKey(org.key) });
        assert.equal(res.status, 200, res.text);
      }
      assert.equal(next.output().match(/"msg":"adopted a running tenant"/g)?.length, 2, 'both adopted, as the CP logs');
      // The adopted tenant still confirms sessions with the CP (the new CP is where its CP_UPSTREAM_URL points).
      const minted = await onEdge(a, 'POST', '/org/tokens', { headers: { cookie }, body: { name: 'after adoption' } });
      assert.equal(minted.status, 200, minted.text);
    });

    only('restarts')('TENANT_SHUTDOWN: a CP stopped by default stops its tenants (the next starts them again); with `keep` they serve on and are adopted', async () => {
      const tenants = [orgs.a!, orgs.b!];
      const pidsOf = async () => Promise.all(tenants.map(async (o) => (await instance(o.id))!.pid!));
      const stopCp = async () => {
        const current = cp!;
        current.proc.kill('SIGTERM');
        assert.equal(await current.exited, 0, current.output());
      };

      // Default (stop): SIGTERM stops every tenant process; the instances say they start again with the CP.
      const before = tenants.map((o) => tenantProcesses(o.id));
      await stopCp();
      for (const procs of before) assert.equal(procs.some(stillRunning), false, 'stopped with the CP');
      for (const o of tenants) {
        assert.deepEqual(tenantProcesses(o.id), []);
        assert.equal((await instance(o.id))?.status, 'provisioning');
      }

      // The next CP (keep) starts them again: new processes, the data still there.
      await startCp({ TENANT_SHUTDOWN: 'keep' });
      for (const o of tenants) await until(`${o.slug} running again`, async () => (await instance(o.id))?.status === 'running' || undefined, 180_000);
      const started = await pidsOf();
      for (const [i, o] of tenants.entries()) {
        assert.deepEqual(tenantProcesses(o.id).map((p) => p.pid), [started[i]]);
        assert.notEqual(started[i], before[i]![0]!.pid, 'a new process');
      }
      const list = await onEdge(orgs.a!, 'GET', '/workspaces', { headers: withKey(orgs.a!.key) });
      assert.equal(list.status, 200, list.text);
      assert.ok(list.json.some((w: { name: string }) => w.name === 'partner-agent'), 'the workspace is still there');

      // keep: a clean stop leaves them serving; the next CP adopts them.
      await stopCp();
      for (const [i, o] of tenants.entries()) {
        assert.deepEqual(tenantProcesses(o.id).map((p) => p.pid), [started[i]], `${o.slug} kept running`);
        const direct = await http('GET', `${(await instance(o.id))!.url}/workspaces`, { headers: withKey(o.key, { 'x-molecule-org-id': o.id }) });
        assert.equal(direct.status, 200, direct.text);
      }
      await startCp();
      for (const [i, o] of tenants.entries()) {
        await until(`${o.slug} adopted`, async () => (await instance(o.id))?.status === 'running' || undefined, 60_000);
        assert.equal((await instance(o.id))?.pid, started[i], `${o.slug}: adopted, not restarted`);
        assert.deepEqual(tenantProcesses(o.id).map((p) => p.pid), [started[i]]);
        assert.equal((await onEdge(o, 'GET', '/workspaces', { headers: withKey(o.key) })).status, 200);
      }
    });

    only('tenants')('the tenant admin token, read through the CP admin API, is a credential on its tenant only', async () => {
      const a = orgs.a!;
      const b = orgs.b!;
      const res = await http('GET', `${edge}/api/v1/admin/orgs/${a.slug}/admin-token`, { headers: { authorization: `Bearer ${cpAdmin}` } });
      assert.equal(res.status, 200, res.text);
      const token = res.json.admin_token as string;
      assert.match(token, /^molt_/);
      const minted = await onEdge(a, 'POST', '/org/tokens', { headers: withKey(token, { 'x-molecule-org-id': a.id }), body: { name: 'by admin token' } });
      assert.equal(minted.status, 200, minted.text);
      assert.equal((await onEdge(b, 'GET', '/workspaces', { headers: withKey(token, { 'x-molecule-org-id': b.id }) })).status, 401, "A's admin token on B's tenant");
      assert.equal((await http('GET', `${edge}/api/v1/admin/orgs`, { headers: withKey(token) })).status, 401, 'no CP admin credential');
    });

    it('deleting the orgs as their owner leaves nothing: no tenant process, database, role or directory', async () => {
      for (const org of [orgs.a!, orgs.b!]) {
        const inst = await instance(org.id);
        const processes = tenantProcesses(org.id);
        assert.equal(processes.length, 1);
        const below = descendants(processes[0]!.pid);
        const del = await http('DELETE', `${edge}/api/v1/orgs/${org.slug}`, { headers: { cookie } });
        assert.equal(del.status, 204, del.text);
        await until(`${org.slug}: its tenant process is gone`, () => tenantProcesses(org.id).length === 0 || undefined, 60_000);
        await until(`${org.slug}: the processes its tenant ran are gone`, () => below.every((p) => !stillRunning(p)) || undefined, 60_000);
        const prefix = `tenant_${org.slug.replace(/-/g, '_')}_`;
        const like = `${prefix.replace(/_/g, '\\_')}%`;
        assert.deepEqual(await query(serverAdminUrl, 'select datname from pg_database where datname like $1', [like]), [], 'no database');
        assert.deepEqual(await query(serverAdminUrl, 'select rolname from pg_roles where rolname like $1', [like]), [], 'no role');
        assert.ok(inst?.database_name?.startsWith(prefix));
        assert.equal(existsSync(path.join(dataDir, 'tenants', org.id)), false, 'no tenant directory');
        assert.equal((await onEdge(org, 'GET', '/workspaces', { headers: withKey(org.key) })).status, 404, 'the edge knows the org no more');
      }
    });
  });
}
