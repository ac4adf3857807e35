/**
 * The Partner API Keys seed's two flows, end to end over the real binaries (issue 12, item 7): `molecule-platform cp`
 * with TENANT_PROVISIONER=local-process — real tenant processes, each with its own database on the PostgreSQL server —
 * driven only with the CP admin bearer and partner keys, as a reseller's or a CI pipeline's script would, on the
 * deprecated `/cp/*` paths the seed uses:
 *
 * - reseller: the admin mints a key (orgs:create + orgs:list) → POST /cp/orgs {name, slug, plan} answers
 *   {id, slug, status: "provisioning", created_at} → GET /cp/orgs/:id/status polled until `running` → the tenant
 *   answers through the edge → the key revokes itself (DELETE /cp/admin/partner-keys/:id with its own bearer) → 401;
 * - CI ephemeral org: create, use (a workspace created through the CP, attributed to the key in the CP's and the
 *   tenant's audit chains), delete (orgs:delete) — no tenant process, database or org row left — then revoke.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from '../src/core/net.js';
import { tenantDatabaseName } from '../src/core/db/tenant-databases.js';
import { POSTGRES_ADMIN_URL, createScratchDatabase } from './harness.js';
import { spawnBinary, type Spawned } from './support/binary.js';
import { descendants, dropTenantLeftovers, http, killAll, killTenants, query, tenantProcesses, until, within } from './support/platform.js';

const postgresProblem = await query(POSTGRES_ADMIN_URL, 'select 1').then(
  () => null,
  (err: Error) => err.message,
);
if (postgresProblem && process.env['CI'] === 'true') throw new Error(`PostgreSQL is mandatory under CI=true: ${postgresProblem}`);

describe('the Partner API Keys seed, end to end against molecule-platform cp with real tenants', { skip: postgresProblem ? `PostgreSQL not reachable (${postgresProblem})` : false }, () => {
  const tag = randomBytes(3).toString('hex');
  const dataDir = mkdtempSync(path.join(tmpdir(), 'molecule-partner-e2e-'));
  const adminToken = `cp-admin-${tag}-partner-e2e-secret`;
  const orgs = new Map<string, string>(); // id → slug
  let cp: Spawned | undefined;
  let cpDbUrl = '';
  let dropScratch: () => Promise<void> = async () => undefined;
  let port = 0;
  let edge = '';

  const admin = { authorization: `Bearer ${adminToken}` };
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

  before(async () => {
    const scratch = await createScratchDatabase();
    cpDbUrl = scratch.url;
    dropScratch = scratch.drop;
    port = await freePort();
    edge = `http://127.0.0.1:${port}`;
    cp = spawnBinary('cp', {
      PORT: String(port),
      MOLECULE_DATA_DIR: dataDir,
      DATABASE_URL: cpDbUrl,
      TENANT_DATABASE_URL: POSTGRES_ADMIN_URL,
      TENANT_PROVISIONER: 'local-process',
      CP_ADMIN_API_TOKEN: adminToken,
      MAIL_TRANSPORT: 'log',
    });
    await cp.listening(120_000);
  });

  after(async () => {
    if (cp && cp.proc.exitCode === null && cp.proc.signalCode === null) {
      // Whatever a failed step left: the admin delete cascade first (it stops the tenant and drops its database).
      for (const slug of orgs.values()) await http('DELETE', `${edge}/api/v1/admin/tenants/${slug}`, { headers: admin, body: { confirm: slug }, timeoutMs: 120_000 }).catch(() => undefined);
      const below = descendants(cp.proc.pid!);
      cp.proc.kill('SIGTERM');
      await within(cp.exited, 60_000);
      await killAll(below);
      if (cp.proc.exitCode === null && cp.proc.signalCode === null) cp.proc.kill('SIGKILL');
    }
    await killTenants(orgs.keys());
    for (const [id, slug] of orgs) await dropTenantLeftovers(POSTGRES_ADMIN_URL, tenantDatabaseName(slug, id));
    await dropScratch().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function mint(scopes: string[]): Promise<{ id: string; key: string; key_prefix: string; partner_id: string }> {
    const res = await http('POST', `${edge}/cp/admin/partner-keys`, { headers: admin, body: { name: `seed ${scopes.join(',')}`, partner_id: `reseller-${tag}`, scopes, org_id: null, expires_in_days: 1 } });
    assert.equal(res.status, 201, res.text);
    assert.match(res.json.key, /^mol_pk_live_[0-9A-Za-z]{49}$/);
    return res.json;
  }

  /** The seed's create + poll: {id, slug, status: provisioning, created_at}, then GET /cp/orgs/:id/status until running. */
  async function createAndWait(key: string, slug: string): Promise<string> {
    const created = await http('POST', `${edge}/cp/orgs`, { headers: bearer(key), body: { name: `Customer ${slug}`, slug, plan: 'starter' } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.slug, slug);
    assert.equal(created.json.status, 'provisioning');
    assert.match(created.json.id, /^[0-9a-f-]{36}$/);
    assert.ok(!Number.isNaN(Date.parse(created.json.created_at)));
    const id = created.json.id as string;
    orgs.set(id, slug);
    let progress = 0;
    await until(
      `${slug} running`,
      async () => {
        const res = await http('GET', `${edge}/cp/orgs/${id}/status`, { headers: bearer(key) });
        assert.equal(res.status, 200, res.text);
        assert.notEqual(res.json.status, 'failed', res.text);
        assert.ok(res.json.provisioning.progress >= progress, 'progress never decreases');
        progress = res.json.provisioning.progress;
        return res.json.status === 'running' || undefined;
      },
      180_000,
      200,
    );
    return id;
  }

  it('reseller: mint → create → poll until running → the tenant answers through the edge → the key revokes itself → 401', async () => {
    const k = await mint(['orgs:create', 'orgs:list']);
    const slug = `resell-${tag}`;
    const id = await createAndWait(k.key, slug);
    const status = await http('GET', `${edge}/cp/orgs/${slug}/status`, { headers: bearer(k.key) });
    assert.equal(status.json.provisioning.url, `http://${slug}.localhost:${port}`);
    // The tenant, not the CP, answers the org's host and the org routing header: /workspaces is a tenant route (the CP
    // has none: 404 there), and the tenant asks for its own credentials.
    for (const route of [{ host: `${slug}.localhost:${port}` }, { headers: { 'x-molecule-org-slug': slug } }]) {
      const res = await http('GET', `${edge}/workspaces`, route);
      assert.equal(res.status, 401, res.text);
      assert.deepEqual([res.json.code, res.json.error], ['ADMIN_AUTH_REQUIRED', 'admin auth required']);
    }
    assert.equal((await http('GET', `${edge}/workspaces`)).status, 404, 'the CP itself has no /workspaces');
    assert.equal(tenantProcesses(id).length, 1, 'one tenant process serves the org');
    const listed = await http('GET', `${edge}/cp/orgs`, { headers: bearer(k.key) });
    assert.deepEqual((listed.json as Array<{ id: string }>).map((o) => o.id), [id]);

    const revoked = await http('DELETE', `${edge}/cp/admin/partner-keys/${k.id}`, { headers: bearer(k.key) });
    assert.equal(revoked.status, 204, revoked.text);
    const after = await http('GET', `${edge}/cp/orgs`, { headers: bearer(k.key) });
    assert.equal(after.status, 401);
    assert.equal(after.json.error, 'invalid API key');
    // The org lives on (revoking a key deletes nothing); the operator removes it.
    const cleanup = await http('DELETE', `${edge}/api/v1/admin/tenants/${slug}`, { headers: admin, body: { confirm: slug }, timeoutMs: 120_000 });
    assert.equal(cleanup.status, 200, cleanup.text);
    orgs.delete(id);
  });

  it('CI ephemeral org: create, use (a workspace, attributed to the key in both audit chains), delete (orgs:delete) — nothing left — revoke', async () => {
    const k = await mint(['orgs:create', 'provision:status', 'workspaces:create', 'orgs:delete']);
    const slug = `ci-${tag}`;
    const id = await createAndWait(k.key, slug);
    const provision = await http('GET', `${edge}/cp/orgs/${slug}/provision-status`, { headers: bearer(k.key) });
    assert.deepEqual([provision.status, provision.json.status, provision.json.progress], [200, 'running', 100]);

    const ws = await http('POST', `${edge}/cp/orgs/${slug}/workspaces`, { headers: bearer(k.key), body: { name: 'ci-job', external: true } });
    assert.equal(ws.status, 201, ws.text);
    assert.equal(ws.json.name, 'ci-job');
    assert.match(ws.json.auth_token, /^molw_/);

    // Attribution: the CP's chain names the key and its partner; the tenant's names the key too (X-Molecule-Acting-For).
    const cpAudit = await until('the CP audit row of the workspace create', async () => {
      const res = await http('GET', `${edge}/api/v1/admin/audit?credential_id=${k.id}&path=/cp/orgs/${slug}/workspaces`, { headers: admin });
      return (res.json.events as Array<Record<string, unknown>>).find((e) => e['method'] === 'POST' && e['status'] === 201);
    });
    assert.equal(cpAudit['actor'], `partner-key:${k.key_prefix}`);
    assert.equal(cpAudit['partner_id'], k.partner_id);
    const tenantToken = (await http('GET', `${edge}/api/v1/admin/orgs/${slug}/admin-token`, { headers: admin })).json.admin_token as string;
    const tenantAudit = await until('the tenant audit row of the workspace create', async () => {
      const res = await http('GET', `${edge}/audit?actor=partner-key:${k.key_prefix}`, { host: `${slug}.localhost:${port}`, headers: { authorization: `Bearer ${tenantToken}` } });
      assert.equal(res.status, 200, res.text);
      return (res.json.events as Array<Record<string, unknown>>).find((e) => e['method'] === 'POST' && e['path'] === '/workspaces');
    });
    assert.equal(tenantAudit['status'], 201);
    assert.equal(tenantAudit['credential_class'], 'admin-token', 'the tenant still records which credential was presented');

    const deleted = await http('DELETE', `${edge}/cp/orgs/${slug}`, { headers: bearer(k.key), timeoutMs: 120_000 });
    assert.equal(deleted.status, 204, deleted.text);
    orgs.delete(id);
    assert.deepEqual(tenantProcesses(id), [], 'no tenant process left');
    assert.deepEqual(await query(cpDbUrl, 'select id from organizations where id = $1', [id]), [], 'no org row left');
    assert.deepEqual(await query(cpDbUrl, 'select org_id from org_instances where org_id = $1', [id]), [], 'no instance row left');
    assert.deepEqual(await query(POSTGRES_ADMIN_URL, 'select datname from pg_database where datname = $1', [tenantDatabaseName(slug, id)]), [], 'no tenant database left');
    assert.equal((await http('GET', `${edge}/cp/orgs/${id}/status`, { headers: bearer(k.key) })).status, 404);

    assert.equal((await http('DELETE', `${edge}/cp/admin/partner-keys/${k.id}`, { headers: bearer(k.key) })).status, 204);
    assert.equal((await http('GET', `${edge}/cp/orgs/${id}/status`, { headers: bearer(k.key) })).status, 401);
  });
});
