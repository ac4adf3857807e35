/**
 * The local-process tenant provisioner (issue 9, item 2) against real tenant processes and a real PostgreSQL server:
 * provisioning stages and readiness, a failed start (`failed` + last_error) and its retry through the reprovision
 * route, crash restarts, redeploy, diagnostics, the CP stopping (stop) and leaving (keep) its tenants, adoption by a
 * new provisioner, and a deprovision that leaves no process, database, role or file. The admin token is at rest
 * only encrypted.
 *
 * The CP runs in-process (so the tenants' environment can be changed between attempts); the tenants are the real
 * `molecule-platform tenant` binary, as in production.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createLogger } from '../src/core/logger.js';
import { SecretCipher } from '../src/core/crypto/cipher.js';
import { MemoryRateLimiter } from '../src/core/rate-limit.js';
import { buildControlPlaneApp } from '../src/control-plane/app.js';
import { loadControlPlaneConfig } from '../src/control-plane/config.js';
import { openControlPlaneDatabase } from '../src/control-plane/database.js';
import { TenantAdminTokens } from '../src/control-plane/provisioning/admin-tokens.js';
import { LocalProcessTenantProvisioner, type LocalProcessOptions } from '../src/control-plane/provisioning/local-process.js';
import type { App } from '../src/core/http/app.js';
import type { TenantBootEvent, TenantProvisioner, TenantProvisionRequest } from '../src/control-plane/provisioning/provisioner.js';
import { createScratchDatabase, POSTGRES_ADMIN_URL } from './harness.js';
import { alive } from './support/binary.js';

const TIMEOUT = 120_000;

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, ms = TIMEOUT): Promise<T> {
  const deadline = Date.now() + ms;
  let delay = 20;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 250);
  }
}

async function serverHas(kind: 'database' | 'role', name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await c.connect();
  try {
    const q = kind === 'database' ? 'select 1 from pg_database where datname = $1' : 'select 1 from pg_roles where rolname = $1';
    return Boolean((await c.query(q, [name])).rowCount);
  } finally {
    await c.end();
  }
}

function environOf(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  } catch {
    return [];
  }
}

/** The app's provisioner, swappable: the tests replace the CP's provisioner as a CP restart would. */
class Current implements TenantProvisioner {
  readonly name = 'local-process';
  constructor(public p: TenantProvisioner) {}
  start() {
    return this.p.start();
  }
  provision(r: TenantProvisionRequest) {
    return this.p.provision(r);
  }
  deprovision(r: TenantProvisionRequest) {
    return this.p.deprovision(r);
  }
  onBootEvent(orgId: string, e: TenantBootEvent) {
    return this.p.onBootEvent(orgId, e);
  }
  diagnostics(r: TenantProvisionRequest) {
    return this.p.diagnostics(r);
  }
  redeploy(r: TenantProvisionRequest) {
    return this.p.redeploy(r);
  }
  scrubArtifacts(slug: string) {
    return this.p.scrubArtifacts(slug);
  }
  close() {
    return this.p.close();
  }
}

describe('local-process tenant provisioner (real tenants, real PostgreSQL)', () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'molecule-prov-'));
  let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
  let database: Awaited<ReturnType<typeof openControlPlaneDatabase>>;
  let app: App;
  let cpUrl = '';
  let provisioner: LocalProcessTenantProvisioner;
  let current: Current;
  const cipher = SecretCipher.ephemeral();
  const adminToken = 'cp-admin-token-for-provisioner-tests';
  const extraTenantEnv: Record<string, string> = {};
  const spawned = new Set<number>();

  const options = (o: Partial<LocalProcessOptions> = {}): LocalProcessOptions => ({
    db: database.db,
    cipher,
    adminTokens: new TenantAdminTokens(database.db, cipher),
    log: createLogger({ name: 'test-provisioner', level: 'silent' }),
    dataDir,
    serverAdminUrl: POSTGRES_ADMIN_URL,
    controlPlaneUrl: () => cpUrl,
    tenantHost: '127.0.0.1',
    readyTimeoutMs: 90_000,
    shutdown: 'stop',
    agentUidBase: 1_500_000,
    agentUidCount: 100,
    tenantEnv: { MOLECULE_ENV: 'test', LOG_LEVEL: 'info', TENANT_DOMAIN: 'localhost' },
    extraTenantEnv,
    ...o,
  });

  const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const instance = (orgId: string) => database.db.selectFrom('org_instances').selectAll().where('org_id', '=', orgId).executeTakeFirstOrThrow();

  async function createOrg(slug: string): Promise<string> {
    const res = await app.inject({ method: 'POST', url: '/api/v1/admin/orgs', headers: admin, payload: { slug, name: slug, owner_user_id: `test:${slug}` } });
    assert.equal(res.statusCode, 201, res.body);
    return (res.json() as { id: string }).id;
  }

  async function running(orgId: string, notPid?: number | null) {
    return until(`org ${orgId} running`, async () => {
      const row = await instance(orgId);
      if (row.status === 'failed') throw new Error(`provisioning failed: ${row.last_error}`);
      if (row.status === 'running' && row.pid && row.pid !== notPid) {
        spawned.add(row.pid);
        return row;
      }
      return null;
    });
  }

  before(async () => {
    scratch = await createScratchDatabase();
    database = await openControlPlaneDatabase({ databaseUrl: scratch.url, dataDir: 'memory://', poolSize: 5 });
    const config = loadControlPlaneConfig({ CP_ADMIN_API_TOKEN: adminToken, DATABASE_URL: scratch.url, MOLECULE_DATA_DIR: dataDir, LOG_LEVEL: 'silent', MOLECULE_ENV: 'test' });
    provisioner = new LocalProcessTenantProvisioner(options());
    current = new Current(provisioner);
    app = await buildControlPlaneApp({ config, db: database.db, logger: createLogger({ name: 'test-cp', level: 'silent' }), rateLimiter: new MemoryRateLimiter(), cipher, provisioner: current });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    cpUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  });

  after(async () => {
    await app?.close();
    // Whatever a test (or a provisioner it replaced) left running: every tenant process under this data directory.
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const env = environOf(Number(entry));
      if (env.some((e) => e.startsWith('MOLECULE_TENANT_PROCESS=')) && env.some((e) => e.startsWith(`MOLECULE_DATA_DIR=${dataDir}`))) spawned.add(Number(entry));
    }
    for (const pid of spawned) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
    await c.connect();
    const left = await c.query<{ datname: string }>("select datname from pg_database where datname like 'tenant_prov%'");
    for (const { datname } of left.rows) {
      await c.query(`drop database if exists ${c.escapeIdentifier(datname)} with (force)`);
      await c.query(`drop role if exists ${c.escapeIdentifier(datname)}`);
    }
    await c.end();
    await database?.close();
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('provisions a tenant: stages move forward, the token is stored only encrypted, the tenant has its own role', { timeout: TIMEOUT }, async () => {
    const orgId = await createOrg('prov-basic');
    const seen: Array<{ progress: number; eta: number }> = [];
    const row = await until('running', async () => {
      const r = await instance(orgId);
      seen.push({ progress: r.progress, eta: r.eta_seconds });
      if (r.status === 'failed') throw new Error(String(r.last_error));
      return r.status === 'running' ? r : null;
    });
    spawned.add(row.pid!);
    for (let i = 1; i < seen.length; i++) {
      assert.ok(seen[i]!.progress >= seen[i - 1]!.progress, `progress never decreases: ${JSON.stringify(seen)}`);
      assert.ok(seen[i]!.eta <= seen[i - 1]!.eta, `eta never increases: ${JSON.stringify(seen)}`);
    }
    assert.equal(row.progress, 100);
    assert.match(row.url!, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal((await fetch(`${row.url}/health`)).status, 200);

    const token = await new TenantAdminTokens(database.db, cipher).reveal(orgId);
    assert.match(token!, /^molt_/);
    const stored = JSON.stringify(row);
    assert.ok(!stored.includes(token!), 'the plaintext admin token is nowhere in the instance row');
    const env = environOf(row.pid!);
    assert.ok(env.includes(`ADMIN_TOKEN=${token}`), 'the tenant runs with the stored token');
    assert.ok(env.includes(`MOLECULE_ORG_ID=${orgId}`));
    assert.ok(env.includes('MOLECULE_ORG_SLUG=prov-basic'));
    assert.ok(env.some((e) => e.startsWith(`DATABASE_URL=postgres://${row.database_name}:`)), 'the tenant connects as its own role');
    assert.ok(!env.some((e) => e.startsWith('CP_ADMIN_API_TOKEN=')), 'the CP admin token never reaches a tenant');
    // Its key works on its own tenant only with its org header.
    const res = await fetch(`${row.url}/org/tokens`, { headers: { authorization: `Bearer ${token}`, 'x-molecule-org-id': orgId } });
    assert.equal(res.status, 200, await res.text());

    // The public lookup names the tenant's host behind the edge, never its loopback address.
    const lookup = await app.inject({ method: 'GET', url: `/api/v1/orgs/prov-basic/instance` });
    assert.equal((lookup.json() as { url: string }).url, 'http://prov-basic.localhost:8080');
  });

  it('a tenant that cannot start → failed with last_error; reprovision after the fix reuses the database and runs it', { timeout: TIMEOUT }, async () => {
    extraTenantEnv['HEARTBEAT_TTL_SECONDS'] = 'not-a-number';
    const orgId = await createOrg('prov-fail');
    const failed = await until('failed', async () => {
      const r = await instance(orgId);
      return r.status === 'failed' ? r : null;
    });
    assert.match(failed.last_error!, /exited while starting|did not call back/);
    assert.match(failed.last_error!, /HEARTBEAT_TTL_SECONDS/, 'the tenant’s own complaint is in last_error');
    const org = await database.db.selectFrom('organizations').select(['status', 'last_error']).where('id', '=', orgId).executeTakeFirstOrThrow();
    assert.equal(org.status, 'failed');
    const status = await app.inject({ method: 'GET', url: '/api/v1/admin/orgs?limit=500', headers: admin });
    const listed = (status.json() as { orgs: Array<{ slug: string; instance_status: string; last_error: string | null }> }).orgs.find((o) => o.slug === 'prov-fail');
    assert.equal(listed?.instance_status, 'failed');

    delete extraTenantEnv['HEARTBEAT_TTL_SECONDS'];
    const again = await app.inject({ method: 'POST', url: '/api/v1/admin/orgs/prov-fail/reprovision', headers: admin });
    assert.equal(again.statusCode, 202, again.body);
    const row = await running(orgId);
    assert.equal(row.database_name, failed.database_name, 'the database of the first attempt is reused');
    const conflict = await app.inject({ method: 'POST', url: '/api/v1/admin/orgs/prov-fail/reprovision', headers: admin });
    assert.equal(conflict.statusCode, 409, 'a running org is redeployed, not reprovisioned');
    const unknown = await app.inject({ method: 'POST', url: '/api/v1/admin/orgs/no-such-org/reprovision', headers: admin });
    assert.equal(unknown.statusCode, 404);
  });

  it('a crashed tenant is restarted (new pid, restarts counted) and its diagnostics say so; redeploy replaces it', { timeout: TIMEOUT }, async () => {
    const orgId = await createOrg('prov-crash');
    const first = await running(orgId);
    process.kill(first.pid!, 'SIGKILL');
    const second = await running(orgId, first.pid);
    assert.notEqual(second.pid, first.pid);
    assert.equal(second.url, first.url, 'the tenant comes back on the same port');
    assert.ok(second.restarts >= 1);
    const diag = await provisioner.diagnostics({ orgId, slug: 'prov-crash', provider: 'local' });
    assert.equal(diag?.pid, second.pid);
    assert.equal(diag?.running, true);
    assert.ok((diag?.restarts ?? 0) >= 1);
    assert.ok(diag!.rss_bytes! > 0);
    assert.ok(diag!.recent_log_lines.some((l) => l.includes('listening')), JSON.stringify(diag?.recent_log_lines));

    const result = await provisioner.redeploy({ orgId, slug: 'prov-crash', provider: 'local' });
    assert.equal(result.ok, true, result.error);
    assert.equal(result.healthz_ok, true);
    assert.notEqual(result.pid, second.pid);
    spawned.add(result.pid!);
    assert.equal(alive(second.pid!), false, 'the old process is gone');
  });

  it('CP shutdown stops its tenants (TENANT_SHUTDOWN=stop) and the next provisioner starts them; `keep` leaves them to be adopted', { timeout: TIMEOUT }, async () => {
    const orgId = await createOrg('prov-stop');
    const first = await running(orgId);
    // A CP restart, as the provisioner sees it: the old one closes, a new one (the app now calls it) starts.
    await provisioner.close();
    const other = new LocalProcessTenantProvisioner(options());
    current.p = other;
    await until('stopped', async () => !alive(first.pid!));
    const stopped = await instance(orgId);
    assert.equal(stopped.status, 'provisioning');
    assert.match(stopped.message, /stopped with the control plane/);

    await other.start();
    const restarted = await running(orgId, first.pid);

    await other.close(); // stops it again (other's shutdown is `stop`)
    const keeper = new LocalProcessTenantProvisioner(options({ shutdown: 'keep' }));
    current.p = keeper;
    await keeper.start();
    const kept = await running(orgId, restarted.pid);
    await keeper.close(); // `keep`: still serving
    assert.equal(alive(kept.pid!), true, 'a `keep` shutdown leaves the tenant serving');
    assert.equal((await fetch(`${kept.url}/health`)).status, 200);

    const adopter = new LocalProcessTenantProvisioner(options());
    current.p = adopter;
    await adopter.start();
    const adopted = await running(orgId);
    assert.equal(adopted.pid, kept.pid, 'the new provisioner adopted the running process');
    const diag = await adopter.diagnostics({ orgId, slug: 'prov-stop', provider: 'local' });
    assert.equal(diag?.pid, kept.pid);
    await adopter.deprovision({ orgId, slug: 'prov-stop', provider: 'local' });
    assert.equal(alive(kept.pid!), false);
    provisioner = adopter;
  });

  it('deprovision leaves no process, database, role or file, and a repeat is a no-op', { timeout: TIMEOUT }, async () => {
    const orgId = await createOrg('prov-gone');
    const row = await running(orgId);
    const dir = path.join(dataDir, 'tenants', orgId);
    assert.ok(existsSync(dir));
    assert.ok(await serverHas('database', row.database_name!));
    await provisioner.deprovision({ orgId, slug: 'prov-gone', provider: 'local' });
    assert.equal(alive(row.pid!), false, 'no process');
    assert.equal(await serverHas('database', row.database_name!), false, 'no database');
    assert.equal(await serverHas('role', row.database_name!), false, 'no role');
    assert.equal(existsSync(dir), false, 'no files');
    assert.equal((await instance(orgId)).status, 'deprovisioned');
    await provisioner.deprovision({ orgId, slug: 'prov-gone', provider: 'local' });
  });

  it('scrub-artifacts removes what a vanished org left under its slug (process, database, role, files), and only that', { timeout: TIMEOUT }, async () => {
    const orgId = await createOrg('prov-left');
    const keepId = await createOrg('prov-left-x');
    const row = await running(orgId);
    const kept = await running(keepId);
    // The org's rows disappear without a deprovision (a crash mid-cascade, a restore from an old backup).
    await database.db.deleteFrom('organizations').where('id', '=', orgId).execute();
    const { removed } = await provisioner.scrubArtifacts('prov-left');
    assert.ok(removed.some((r) => r.startsWith(`process ${row.pid}`) || r === `supervised tenant of org ${orgId}`), JSON.stringify(removed));
    assert.ok(removed.includes(`database ${row.database_name}`), JSON.stringify(removed));
    assert.ok(removed.includes(`directory tenants/${orgId}`), JSON.stringify(removed));
    assert.equal(alive(row.pid!), false);
    assert.equal(await serverHas('database', row.database_name!), false);
    assert.equal(await serverHas('role', row.database_name!), false);
    assert.equal(existsSync(path.join(dataDir, 'tenants', orgId)), false);
    // A live org whose slug merely starts the same way is untouched.
    assert.equal(alive(kept.pid!), true);
    assert.equal(await serverHas('database', kept.database_name!), true);
    assert.deepEqual((await provisioner.scrubArtifacts('prov-left')).removed, [], 'a repeat finds nothing');
  });

  it('a tenant left calling back to another CP address is restarted with the current one, not adopted', { timeout: TIMEOUT }, async () => {
    const keeper = new LocalProcessTenantProvisioner(options({ shutdown: 'keep' }));
    current.p = keeper;
    const orgId = await createOrg('prov-moved');
    const left = await running(orgId);
    await keeper.close();
    assert.equal(alive(left.pid!), true);
    // The same CP, reached under another address: what a CP restarted on another port looks like to its tenants.
    const moved = cpUrl.replace('127.0.0.1', 'localhost');
    const mover = new LocalProcessTenantProvisioner(options({ controlPlaneUrl: () => moved }));
    current.p = mover;
    await mover.start();
    const restarted = await running(orgId, left.pid);
    assert.equal(alive(left.pid!), false, 'the tenant that called the old address is gone');
    assert.ok(environOf(restarted.pid!).includes(`CP_UPSTREAM_URL=${moved}`));
    await mover.deprovision({ orgId, slug: 'prov-moved', provider: 'local' });
    // The mover restarted every org's tenant it found running: hand them back to the app's provisioner by a CP restart.
    await mover.close();
    current.p = provisioner;
  });
});
