/**
 * Admin and fleet routes of the control plane (issue 9 item 6; reference-control-plane.md §2.4, §4.6–§4.9 and the
 * black-box checks 25–36, each named where it is reproduced).
 *
 * Routes that act through a tenant run against a REAL tenant app listening on loopback: the org is made to look
 * provisioned the way the provisioner leaves it — its admin token minted in the CP's store first, the tenant started
 * with that ADMIN_TOKEN and MOLECULE_ORG_ID, then `org_instances` marked running at the tenant's URL. Redeploys,
 * fleet rollouts and the delete cascade run on the RecordingProvisioner, told per slug what to answer.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SecretCipher } from '../src/core/crypto/cipher.js';
import { TenantAdminTokens } from '../src/control-plane/provisioning/admin-tokens.js';
import { startTestControlPlane, uniqueSlug, type TestControlPlane, type TestOrg, type TestUser } from './cp-harness.js';
import { forEachDatabase, startTestTenant, type DbKind, type TestTenant } from './harness.js';
import { RecordingProvisioner } from './support/recording-provisioner.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- response bodies under test

forEachDatabase('control plane: admin and fleet routes', (kind: DbKind) => {
  let cp: TestControlPlane;
  let tokens: TenantAdminTokens;
  let owner: TestUser;
  const provisioner = new RecordingProvisioner();
  const terminated: string[] = [];
  let failWorkspaces: string | null = null;
  const tenants: TestTenant[] = [];

  before(async () => {
    cp = await startTestControlPlane(kind, {
      provisioner,
      // One key for the app and for this suite's token store, so a token minted here is the one the CP reveals.
      env: { SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64') },
      terminateOrgWorkspaces: async (orgId) => {
        if (failWorkspaces) throw new Error(failWorkspaces);
        terminated.push(orgId);
        return 2;
      },
    });
    tokens = new TenantAdminTokens(cp.db, SecretCipher.fromConfig(cp.config));
    owner = await cp.signup();
  });
  after(async () => {
    for (const t of tenants) await t.close().catch(() => undefined);
    await cp?.close();
  });

  const admin = (method: string, path: string, payload?: unknown) =>
    cp.app.inject({ method: method as 'GET', url: `/api/v1/admin${path}`, headers: cp.admin(), ...(payload !== undefined ? { payload: payload as object } : {}) });

  const markRunning = (org: TestOrg, url: string) =>
    cp.db.updateTable('org_instances').set({ status: 'running', stage: 'ready', progress: 100, url, updated_at: new Date() }).where('org_id', '=', org.id).execute();

  /** A real tenant for the org, as a provisioner would start it: token minted first, then the tenant, then `running`. */
  async function provisionRealTenant(org: TestOrg, token?: string): Promise<{ tenant: TestTenant; token: string }> {
    const adminToken = token ?? (await tokens.mint(org.id));
    const tenant = await startTestTenant(kind, { listen: true, env: { ADMIN_TOKEN: adminToken, MOLECULE_ORG_ID: org.id, MOLECULE_ORG_SLUG: org.slug } });
    tenants.push(tenant);
    await markRunning(org, tenant.url);
    return { tenant, token: adminToken };
  }

  const asTenantAdmin = (org: TestOrg, token: string) => ({ authorization: `Bearer ${token}`, 'x-molecule-org-id': org.id });

  async function tenantWorkspace(tenant: TestTenant, org: TestOrg, token: string, body: Record<string, unknown> = {}): Promise<string> {
    const res = await tenant.app.inject({ method: 'POST', url: '/workspaces', headers: asTenantAdmin(org, token), payload: { name: `ws-${randomBytes(3).toString('hex')}`, ...body } });
    assert.equal(res.statusCode, 201, res.body);
    return (res.json() as Json)['id'];
  }

  async function tenantSecretKeys(tenant: TestTenant, org: TestOrg, token: string, wsId: string): Promise<string[]> {
    const res = await tenant.app.inject({ method: 'GET', url: `/workspaces/${wsId}/secrets`, headers: asTenantAdmin(org, token) });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as Json[]).filter((s) => s['scope'] === 'workspace').map((s) => s['key']).sort();
  }

  /** A loopback server that counts the requests it gets and answers `status`: proves whether the tenant was called. */
  async function countingServer(status = 500): Promise<{ url: string; hits: () => number; close(): Promise<void> }> {
    let hits = 0;
    const server = http.createServer((req, res) => {
      hits += 1;
      req.resume();
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'tenant exploded', code: 'INTERNAL' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      hits: () => hits,
      close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    };
  }

  // ---------------------------------------------------------------------------------------------------------------
  describe('admin token: reveal and rotate', () => {
    it('check 25: an admin-created org answers 404 until its token is minted, then 200 {slug, admin_token}; an unknown slug is 404', async () => {
      const slug = uniqueSlug('tok');
      const created = await admin('POST', '/orgs', { slug, name: 'Token org', owner_user_id: `e2e-runner:${slug}` });
      assert.equal(created.statusCode, 201, created.body);
      const early = await admin('GET', `/orgs/${slug}/admin-token`);
      assert.equal(early.statusCode, 404, early.body);
      assert.equal(early.json().code, 'ADMIN_TOKEN_NOT_FOUND');
      const minted = await tokens.mint(created.json().id);
      const res = await admin('GET', `/orgs/${slug}/admin-token`);
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { slug, admin_token: minted });
      assert.match(minted, /^molt_/);
      const unknown = await admin('GET', `/orgs/${uniqueSlug('nope')}/admin-token`);
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.json().code, 'ORG_NOT_FOUND');
      // The /cp alias answers the same.
      const legacy = await cp.app.inject({ method: 'GET', url: `/cp/admin/orgs/${slug}/admin-token`, headers: cp.admin() });
      assert.equal(legacy.body, res.body);
    });

    it('rotation restarts the real tenant with the new token: the old one stops working at the tenant and at the CP', async () => {
      const org = await cp.createOrg(owner);
      const { tenant, token: oldToken } = await provisionRealTenant(org);
      // The provisioner's redeploy: stop the tenant, start it again with the token the CP now holds.
      provisioner.redeployResults.set(org.slug, async () => {
        await tenant.close();
        const next = await provisionRealTenant(org, (await tokens.reveal(org.id))!);
        return { ok: true, healthz_ok: (await fetch(`${next.tenant.url}/health`)).ok, pid: process.pid };
      });
      const res = await admin('POST', `/orgs/${org.slug}/admin-token/rotate`);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.deepEqual(Object.keys(body).sort(), ['admin_token', 'rotated_at', 'slug', 'tenant_restarted']);
      assert.equal(body.tenant_restarted, true);
      assert.notEqual(body.admin_token, oldToken);
      assert.ok(Math.abs(Date.parse(body.rotated_at) - Date.now()) < 60_000);
      assert.equal((await admin('GET', `/orgs/${org.slug}/admin-token`)).json().admin_token, body.admin_token);
      assert.deepEqual(await tokens.orgOf(oldToken), null, 'the CP no longer knows the old token');
      // At the running tenant: the new token works, the old one is refused.
      const url = (await cp.db.selectFrom('org_instances').select('url').where('org_id', '=', org.id).executeTakeFirstOrThrow()).url!;
      const withNew = await fetch(`${url}/workspaces`, { headers: asTenantAdmin(org, body.admin_token) });
      assert.equal(withNew.status, 200);
      const withOld = await fetch(`${url}/workspaces`, { headers: asTenantAdmin(org, oldToken) });
      assert.equal(withOld.status, 401);
      // The CP's proxy uses the new token by itself.
      assert.equal((await admin('GET', `/orgs/${org.slug}/workspaces`)).statusCode, 200);
    });

    it('a restart that fails after the mint: 502 TENANT_RESTART_FAILED, the new token stored and said so', async () => {
      const org = await cp.createOrg(owner);
      const before = await tokens.mint(org.id);
      await markRunning(org, 'http://127.0.0.1:9');
      provisioner.redeployResults.set(org.slug, new Error('tenant did not come back'));
      const res = await admin('POST', `/orgs/${org.slug}/admin-token/rotate`);
      assert.equal(res.statusCode, 502, res.body);
      const body = res.json();
      assert.equal(body.code, 'TENANT_RESTART_FAILED');
      assert.equal(body.token_rotated, true);
      assert.equal(body.tenant_restarted, false);
      assert.match(body.error, /new admin token .* is stored/);
      assert.equal(res.body.includes('molt_'), false, 'the error carries no token');
      const now = (await admin('GET', `/orgs/${org.slug}/admin-token`)).json().admin_token;
      assert.notEqual(now, before);
      // Unhealthy after the restart counts as failed too.
      provisioner.redeployResults.set(org.slug, { ok: true, healthz_ok: false, pid: 1 });
      const unhealthy = await admin('POST', `/orgs/${org.slug}/admin-token/rotate`);
      assert.equal(unhealthy.statusCode, 502);
      assert.equal(unhealthy.json().healthz_ok, false);
    });

    it('404 with no token to rotate; 503 TENANT_NOT_READY while provisioning', async () => {
      const org = await cp.createOrg(owner);
      const none = await admin('POST', `/orgs/${org.slug}/admin-token/rotate`);
      assert.equal(none.statusCode, 404);
      assert.equal(none.json().code, 'ADMIN_TOKEN_NOT_FOUND');
      const token = await tokens.mint(org.id);
      const provisioning = await admin('POST', `/orgs/${org.slug}/admin-token/rotate`);
      assert.equal(provisioning.statusCode, 503);
      assert.equal(provisioning.json().code, 'TENANT_NOT_READY');
      assert.equal(await tokens.reveal(org.id), token, 'unchanged');
    });
  });

  // ---------------------------------------------------------------------------------------------------------------
  describe('GET /admin/orgs/:slug/workspaces', () => {
    it("passes the real tenant's list through; 404 unknown slug; 503 not running; 502 unreachable or failing tenant", async () => {
      const org = await cp.createOrg(owner);
      const notRunning = await admin('GET', `/orgs/${org.slug}/workspaces`);
      assert.equal(notRunning.statusCode, 503, notRunning.body);
      assert.equal(notRunning.json().code, 'TENANT_NOT_READY');
      assert.equal(notRunning.json().instance_status, 'provisioning');

      const { tenant, token } = await provisionRealTenant(org);
      const wsId = await tenantWorkspace(tenant, org, token, { name: 'listed-by-the-cp' });
      const res = await admin('GET', `/orgs/${org.slug}/workspaces`);
      assert.equal(res.statusCode, 200, res.body);
      const direct = await tenant.app.inject({ method: 'GET', url: '/workspaces', headers: asTenantAdmin(org, token) });
      assert.deepEqual(res.json(), direct.json(), 'the body is the tenant’s, unchanged');
      assert.ok((res.json() as Json[]).some((w) => w['id'] === wsId && w['name'] === 'listed-by-the-cp'));

      assert.equal((await admin('GET', `/orgs/${uniqueSlug('nope')}/workspaces`)).statusCode, 404);

      // The tenant refuses the CP's token (it was rotated without a restart): 502 naming the tenant's status.
      await tokens.mint(org.id);
      const refused = await admin('GET', `/orgs/${org.slug}/workspaces`);
      assert.equal(refused.statusCode, 502, refused.body);
      assert.equal(refused.json().code, 'TENANT_REQUEST_FAILED');
      assert.equal(refused.json().http_status, 401);

      // Nothing listens there any more.
      await tenant.close();
      const gone = await admin('GET', `/orgs/${org.slug}/workspaces`);
      assert.equal(gone.statusCode, 502, gone.body);
      assert.equal(gone.json().code, 'TENANT_UNREACHABLE');
      assert.equal(gone.json().http_status, null);
    });
  });

  // ---------------------------------------------------------------------------------------------------------------
  describe('DELETE /admin/tenants/:slug: the delete cascade', () => {
    const orgExists = async (id: string) => (await cp.db.selectFrom('organizations').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;

    it('checks 26–28: {} and a wrong confirm → 400 with the org untouched; the slug → 200 with its steps; a repeat → 404', async () => {
      const org = await cp.createOrg(owner);
      const before = provisioner.deprovisioned.length;
      const empty = await admin('DELETE', `/tenants/${org.slug}`, {});
      assert.equal(empty.statusCode, 400, empty.body);
      assert.deepEqual(empty.json().fields, ['confirm']);
      const wrong = await admin('DELETE', `/tenants/${org.slug}`, { confirm: 'wrong' });
      assert.equal(wrong.statusCode, 400);
      assert.deepEqual(wrong.json().fields, ['confirm']);
      assert.ok(await orgExists(org.id), 'the org still exists');
      assert.equal(provisioner.deprovisioned.length, before, 'nothing was stopped');
      assert.equal(terminated.includes(org.id), false);

      const res = await admin('DELETE', `/tenants/${org.slug}`, { confirm: org.slug });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), {
        slug: org.slug,
        deleted: true,
        steps: [
          { step: 'workspaces', outcome: 'done', detail: '2 workspace(s) terminated' },
          { step: 'tenant', outcome: 'done', detail: 'stopped and removed by the recording provisioner' },
          { step: 'rows', outcome: 'done' },
        ],
      });
      assert.ok(terminated.includes(org.id));
      assert.equal(provisioner.deprovisioned.at(-1)?.orgId, org.id);
      assert.equal(await orgExists(org.id), false);
      const purge = await cp.db.selectFrom('org_purges').selectAll().where('org_id', '=', org.id).executeTakeFirstOrThrow();
      assert.equal(purge.last_step, 'rows');
      assert.equal(purge.purged_by, 'cp-admin');
      const job = await cp.db.selectFrom('org_purge_jobs').selectAll().where('org_id', '=', org.id).executeTakeFirstOrThrow();
      assert.equal(job.last_step, 'rows');
      assert.ok(job.finished_at);
      assert.equal(job.lease_until, null);

      const again = await admin('DELETE', `/tenants/${org.slug}`, { confirm: org.slug });
      assert.equal(again.statusCode, 404);
      assert.equal(again.json().code, 'ORG_NOT_FOUND');
    });

    it('resumable: a failed step keeps the org (503); the next delete finishes what is left, never redoing a step', async () => {
      const org = await cp.createOrg(owner);
      provisioner.refuseDeprovision = 'tenant process did not exit';
      try {
        const failed = await admin('DELETE', `/tenants/${org.slug}`, { confirm: org.slug });
        assert.equal(failed.statusCode, 503, failed.body);
        assert.equal(failed.json().code, 'TENANT_DEPROVISION_FAILED');
        assert.equal(failed.json().step, 'tenant');
      } finally {
        provisioner.refuseDeprovision = null;
      }
      assert.ok(await orgExists(org.id));
      const job = await cp.db.selectFrom('org_purge_jobs').selectAll().where('org_id', '=', org.id).executeTakeFirstOrThrow();
      assert.deepEqual([job.last_step, job.lease_until, job.finished_at], ['workspaces', null, null]);
      assert.match(job.last_error ?? '', /^tenant: tenant process did not exit/);
      const terminations = terminated.filter((id) => id === org.id).length;

      const res = await admin('DELETE', `/tenants/${org.slug}`, { confirm: org.slug });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(
        res.json().steps.map((s: Json) => [s['step'], s['outcome']]),
        [
          ['workspaces', 'already_done'],
          ['tenant', 'done'],
          ['rows', 'done'],
        ],
      );
      assert.equal(terminated.filter((id) => id === org.id).length, terminations, 'the workspaces were not terminated twice');
      assert.equal(await orgExists(org.id), false);
    });

    it('a workspaces step that fails keeps the org and its tenant (503), nothing deprovisioned', async () => {
      const org = await cp.createOrg(owner);
      const deprovisions = provisioner.deprovisioned.length;
      failWorkspaces = 'workspace runner unavailable';
      try {
        const res = await admin('DELETE', `/tenants/${org.slug}`, { confirm: org.slug });
        assert.equal(res.statusCode, 503);
        assert.equal(res.json().step, 'workspaces');
      } finally {
        failWorkspaces = null;
      }
      assert.equal(provisioner.deprovisioned.length, deprovisions);
      assert.ok(await orgExists(org.id));
    });

    it('a delete a dead CP left holding its lease is taken over once the lease has expired, from its last step', async () => {
      const org = await cp.createOrg(owner);
      await cp.db
        .insertInto('org_purge_jobs')
        .values({ org_id: org.id, slug: org.slug, requested_by: 'cp-admin', last_step: 'tenant', lease_until: new Date(Date.now() + 3_600_000) })
        .execute();
      const held = await admin('DELETE', `/tenants/${org.slug}`, { confirm: org.slug });
      assert.equal(held.statusCode, 409, held.body);
      assert.equal(held.json().code, 'PURGE_IN_PROGRESS');
      await cp.db.updateTable('org_purge_jobs').set({ lease_until: new Date(Date.now() - 1000) }).where('org_id', '=', org.id).execute();
      const deprovisions = provisioner.deprovisioned.length;
      const res = await admin('DELETE', `/tenants/${org.slug}`, { confirm: org.slug });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(
        res.json().steps.map((s: Json) => s['outcome']),
        ['already_done', 'already_done', 'done'],
      );
      assert.equal(provisioner.deprovisioned.length, deprovisions, 'the tenant step was not redone');
    });

    it('409 PURGE_IN_PROGRESS while another delete of the org runs (admin or owner); the owner delete runs the same cascade (204)', async () => {
      const org = await cp.createOrg(owner);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      provisioner.whileDeprovisioning = async (r) => {
        if (r.orgId !== org.id) return;
        entered();
        await gate;
      };
      try {
        const first = admin('DELETE', `/tenants/${org.slug}`, { confirm: org.slug });
        await inside;
        const second = await admin('DELETE', `/tenants/${org.slug}`, { confirm: org.slug });
        assert.equal(second.statusCode, 409, second.body);
        assert.equal(second.json().code, 'PURGE_IN_PROGRESS');
        const byOwner = await cp.app.inject({ method: 'DELETE', url: `/api/v1/orgs/${org.slug}`, headers: cp.as(owner) });
        assert.equal(byOwner.statusCode, 409, byOwner.body);
        release();
        assert.equal((await first).statusCode, 200);
      } finally {
        provisioner.whileDeprovisioning = null;
        release();
      }

      const mine = await cp.createOrg(owner);
      const res = await cp.app.inject({ method: 'DELETE', url: `/api/v1/orgs/${mine.slug}`, headers: cp.as(owner) });
      assert.equal(res.statusCode, 204, res.body);
      assert.ok(terminated.includes(mine.id), 'the owner delete terminated the workspaces too');
      const job = await cp.db.selectFrom('org_purge_jobs').selectAll().where('org_id', '=', mine.id).executeTakeFirstOrThrow();
      assert.equal(job.last_step, 'rows');
      assert.equal(job.requested_by, `session:${owner.userId}`);
    });
  });

  // ---------------------------------------------------------------------------------------------------------------
  describe('POST /admin/tenants/:slug/scrub-artifacts', () => {
    it('check 29: no or a wrong confirm → 400; a live org → 409; a deleted org’s slug → 200 naming what was removed', async () => {
      const org = await cp.createOrg(owner);
      provisioner.artifacts.set(org.slug, [`database tenant_${org.slug}`, `directory tenants/${org.slug}`]);
      for (const body of [{}, { confirm: 'other-slug' }]) {
        const res = await admin('POST', `/tenants/${org.slug}/scrub-artifacts`, body);
        assert.equal(res.statusCode, 400, res.body);
        assert.deepEqual(res.json().fields, ['confirm']);
      }
      const live = await admin('POST', `/tenants/${org.slug}/scrub-artifacts`, { confirm: org.slug });
      assert.equal(live.statusCode, 409);
      assert.equal(live.json().code, 'TENANT_STILL_LIVE');
      assert.equal(provisioner.scrubbed.includes(org.slug), false, 'the provisioner was not asked');

      assert.equal((await admin('DELETE', `/tenants/${org.slug}`, { confirm: org.slug })).statusCode, 200);
      const res = await admin('POST', `/tenants/${org.slug}/scrub-artifacts`, { confirm: org.slug });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), { slug: org.slug, removed: [`database tenant_${org.slug}`, `directory tenants/${org.slug}`] });
      const again = await admin('POST', `/tenants/${org.slug}/scrub-artifacts`, { confirm: org.slug });
      assert.deepEqual(again.json(), { slug: org.slug, removed: [] });
    });
  });

  // ---------------------------------------------------------------------------------------------------------------
  describe('GET /admin/tenants/:slug/diagnostics', () => {
    it('the instance row, the provisioner’s process view and the newest 20 boot events, newest first; 404 unknown', async () => {
      const org = await cp.createOrg(owner);
      for (let i = 0; i < 25; i++) await cp.db.insertInto('org_instance_boot_events').values({ org_id: org.id, stage: `stage-${i}`, detail: i % 2 ? `detail ${i}` : null }).execute();
      const empty = await admin('GET', `/tenants/${org.slug}/diagnostics`);
      assert.equal(empty.statusCode, 200, empty.body);
      const body = empty.json();
      assert.equal(body.slug, org.slug);
      assert.equal(body.org_id, org.id);
      assert.deepEqual(body.instance, { status: 'provisioning', stage: 'launching', url: null, last_error: null, restarts: 0, started_at: null });
      assert.equal(body.process, null);
      assert.equal(body.boot_events.length, 20);
      assert.deepEqual(body.boot_events.slice(0, 2).map((e: Json) => [e['stage'], e['detail']]), [
        ['stage-24', null],
        ['stage-23', 'detail 23'],
      ]);
      const proc = {
        backend: 'recording',
        running: true,
        pid: 1234,
        url: 'http://127.0.0.1:1',
        uptime_seconds: 12,
        rss_bytes: 1_000_000,
        restarts: 1,
        last_exit: { code: 1, signal: null, at: new Date().toISOString() },
        database: `tenant_${org.slug}`,
        migration_version: '202611260101',
        recent_log_lines: ['listening'],
      };
      provisioner.diagnosticsOf.set(org.id, proc);
      assert.deepEqual((await admin('GET', `/tenants/${org.slug}/diagnostics`)).json().process, proc);
      assert.equal((await admin('GET', `/tenants/${uniqueSlug('nope')}/diagnostics`)).statusCode, 404);
    });
  });

  // ---------------------------------------------------------------------------------------------------------------
  describe('POST /admin/tenants/:slug/redeploy', () => {
    it('dry run does nothing; a redeploy answers the provisioner’s result; strict body; 404 unknown', async () => {
      const org = await cp.createOrg(owner);
      const count = provisioner.redeployed.length;
      const dry = await admin('POST', `/tenants/${org.slug}/redeploy`, { dry_run: true, target_tag: 'staging-abc1234' });
      assert.equal(dry.statusCode, 200, dry.body);
      assert.deepEqual(dry.json(), { slug: org.slug, dry_run: true, would: 'restart' });
      assert.equal(provisioner.redeployed.length, count);
      provisioner.redeployResults.set(org.slug, { ok: true, healthz_ok: true, pid: 777 });
      const res = await admin('POST', `/tenants/${org.slug}/redeploy`, {});
      assert.deepEqual(res.json(), { slug: org.slug, ok: true, healthz_ok: true, pid: 777 });
      provisioner.redeployResults.set(org.slug, new Error('exited during boot'));
      const failed = await admin('POST', `/tenants/${org.slug}/redeploy`, {});
      assert.equal(failed.statusCode, 200);
      assert.deepEqual(failed.json(), { slug: org.slug, ok: false, healthz_ok: false, pid: null, error: 'exited during boot' });
      const strict = await admin('POST', `/tenants/${org.slug}/redeploy`, { dry_run: true, reboot: true });
      assert.equal(strict.statusCode, 400);
      assert.deepEqual(strict.json().fields, ['reboot']);
      assert.equal((await admin('POST', `/tenants/${uniqueSlug('nope')}/redeploy`, {})).statusCode, 404);
    });
  });

  // ---------------------------------------------------------------------------------------------------------------
  describe('POST /admin/tenants/redeploy-fleet', () => {
    async function runningOrgs(n: number, prefix = 'flt'): Promise<string[]> {
      const slugs: string[] = [];
      for (let i = 0; i < n; i++) {
        const org = await cp.createOrg(owner, { slug: uniqueSlug(prefix) });
        await markRunning(org, 'http://127.0.0.1:9');
        slugs.push(org.slug);
      }
      return slugs;
    }

    it('check 30: {}, confirm:false and only_slugs:[] → 400 naming the field; batch_size out of range → 400', async () => {
      for (const [body, field] of [
        [{}, 'confirm'],
        [{ confirm: false }, 'confirm'],
        [{ confirm: true, only_slugs: [] }, 'only_slugs'],
        [{ confirm: true, batch_size: 0 }, 'batch_size'],
        [{ confirm: true, batch_size: 51 }, 'batch_size'],
        [{ confirm: true, soak_seconds: 601 }, 'soak_seconds'],
      ] as const) {
        const res = await admin('POST', '/tenants/redeploy-fleet', body);
        assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
        assert.ok(res.json().fields.includes(field), res.body);
      }
    });

    it('check 31: a dry run lists every running tenant as DryRun, canary first, never an ephemeral slug; nothing redeployed', async () => {
      const [canary, ...rest] = await runningOrgs(4);
      const [ephemeral] = await runningOrgs(1, 'e2e');
      const [rtEphemeral] = await runningOrgs(1, 'rt-e2e');
      const notRunning = await cp.createOrg(owner);
      const count = provisioner.redeployed.length;
      const res = await admin('POST', '/tenants/redeploy-fleet', { confirm: true, dry_run: true, target_tag: 'x', canary_slug: canary, batch_size: 2 });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.ok, true);
      assert.equal(body.dry_run, true);
      const slugs = body.results.map((r: Json) => r['slug']);
      assert.equal(slugs[0], canary);
      for (const s of rest) assert.ok(slugs.includes(s), s);
      for (const s of [ephemeral, rtEphemeral, notRunning.slug]) assert.equal(slugs.includes(s), false, s);
      assert.equal(slugs.some((s: string) => s.startsWith('e2e-') || s.startsWith('rt-e2e-')), false);
      for (const r of body.results) {
        assert.equal(r.status, 'DryRun');
        assert.equal(r.ssm_status, 'DryRun');
        assert.equal(r.healthz_ok, null);
      }
      assert.deepEqual(body.results[0], { slug: canary, phase: 'canary', status: 'DryRun', ssm_status: 'DryRun', healthz_ok: null });
      assert.match(body.results[1].phase, /^batch-1$/);
      assert.equal(provisioner.redeployed.length, count);
    });

    it('canary first, then batches in order; all healthy → 200 ok', async () => {
      const slugs = await runningOrgs(5);
      const start = provisioner.redeployed.length;
      const res = await admin('POST', '/tenants/redeploy-fleet', { confirm: true, canary_slug: slugs[2], only_slugs: slugs, batch_size: 2 });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.ok, true);
      assert.deepEqual(
        body.results.map((r: Json) => [r['slug'], r['phase'], r['status'], r['healthz_ok']]),
        [
          [slugs[2], 'canary', 'Success', true],
          [slugs[0], 'batch-1', 'Success', true],
          [slugs[1], 'batch-1', 'Success', true],
          [slugs[3], 'batch-2', 'Success', true],
          [slugs[4], 'batch-2', 'Success', true],
        ],
      );
      assert.equal(provisioner.redeployed.slice(start)[0]?.slug, slugs[2], 'the canary went first');
      assert.equal(provisioner.redeployed.length - start, 5);
    });

    it('a canary that fails its health check stops the rollout: 500, the rest skipped, none of them redeployed', async () => {
      const slugs = await runningOrgs(3);
      provisioner.redeployResults.set(slugs[0]!, { ok: true, healthz_ok: false, pid: 1 });
      const start = provisioner.redeployed.length;
      const res = await admin('POST', '/tenants/redeploy-fleet', { confirm: true, canary_slug: slugs[0], only_slugs: slugs });
      assert.equal(res.statusCode, 500, res.body);
      const body = res.json();
      assert.equal(body.ok, false);
      assert.deepEqual(body.results[0], {
        slug: slugs[0],
        phase: 'canary',
        status: 'Failed',
        ssm_status: 'Failed',
        healthz_ok: false,
        error: 'the tenant did not answer /health after the restart',
      });
      assert.deepEqual(
        body.results.slice(1).map((r: Json) => [r['slug'], r['phase'], r['status']]),
        [
          [slugs[1], 'skipped', 'Skipped'],
          [slugs[2], 'skipped', 'Skipped'],
        ],
      );
      assert.equal(provisioner.redeployed.length - start, 1);
    });

    it('a batch with more failures than max_stragglers halts the rollout; within the limit it goes on (500 either way)', async () => {
      const slugs = await runningOrgs(6);
      provisioner.redeployResults.set(slugs[0]!, new Error('boom'));
      provisioner.redeployResults.set(slugs[1]!, { ok: false, healthz_ok: false, pid: null, error: 'exited' });
      const halted = await admin('POST', '/tenants/redeploy-fleet', { confirm: true, only_slugs: slugs, batch_size: 2, max_stragglers: 1 });
      assert.equal(halted.statusCode, 500, halted.body);
      assert.deepEqual(
        halted.json().results.map((r: Json) => [r['slug'], r['phase'], r['status'], r['error'] ?? null]),
        [
          [slugs[0], 'batch-1', 'Failed', 'boom'],
          [slugs[1], 'batch-1', 'Failed', 'exited'],
          [slugs[2], 'skipped', 'Skipped', 'batch-1 had 2 failure(s), more than max_stragglers (1): rollout halted'],
          [slugs[3], 'skipped', 'Skipped', 'batch-1 had 2 failure(s), more than max_stragglers (1): rollout halted'],
          [slugs[4], 'skipped', 'Skipped', 'batch-1 had 2 failure(s), more than max_stragglers (1): rollout halted'],
          [slugs[5], 'skipped', 'Skipped', 'batch-1 had 2 failure(s), more than max_stragglers (1): rollout halted'],
        ],
      );
      const tolerated = await admin('POST', '/tenants/redeploy-fleet', { confirm: true, only_slugs: slugs, batch_size: 2, max_stragglers: 2 });
      assert.equal(tolerated.statusCode, 500);
      assert.deepEqual(
        tolerated.json().results.map((r: Json) => r['status']),
        ['Failed', 'Failed', 'Success', 'Success', 'Success', 'Success'],
      );
    });

    it('a second rollout while one runs → 409 CONFLICT; a dry run is still answered', async () => {
      const [slug] = await runningOrgs(1);
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      provisioner.whileRedeploying = async (r) => {
        if (r.slug !== slug) return;
        entered();
        await gate;
      };
      try {
        const first = admin('POST', '/tenants/redeploy-fleet', { confirm: true, only_slugs: [slug] });
        await inside;
        const second = await admin('POST', '/tenants/redeploy-fleet', { confirm: true, only_slugs: [slug] });
        assert.equal(second.statusCode, 409, second.body);
        assert.equal(second.json().code, 'CONFLICT');
        assert.equal((await admin('POST', '/tenants/redeploy-fleet', { confirm: true, dry_run: true, only_slugs: [slug] })).statusCode, 200);
        release();
        assert.equal((await first).statusCode, 200);
      } finally {
        provisioner.whileRedeploying = null;
        release();
      }
      assert.equal((await admin('POST', '/tenants/redeploy-fleet', { confirm: true, only_slugs: [slug] })).statusCode, 200, 'free again');
    });

    it('only_slugs naming a tenant that is not running is reported Skipped, not redeployed; an unknown canary → 400', async () => {
      const [running] = await runningOrgs(1);
      const idle = await cp.createOrg(owner);
      const res = await admin('POST', '/tenants/redeploy-fleet', { confirm: true, only_slugs: [running, idle.slug] });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(
        res.json().results.map((r: Json) => [r['slug'], r['status']]),
        [
          [idle.slug, 'Skipped'],
          [running, 'Success'],
        ],
      );
      const canary = await admin('POST', '/tenants/redeploy-fleet', { confirm: true, canary_slug: idle.slug, only_slugs: [running] });
      assert.equal(canary.statusCode, 400);
      assert.deepEqual(canary.json().fields, ['canary_slug']);
    });
  });

  // ---------------------------------------------------------------------------------------------------------------
  describe('POST /admin/workspaces/:id/env (through the real tenant)', () => {
    let org: TestOrg;
    let tenant: TestTenant;
    let token: string;
    let wsId: string;
    before(async () => {
      org = await cp.createOrg(owner);
      ({ tenant, token } = await provisionRealTenant(org));
      wsId = await tenantWorkspace(tenant, org, token);
    });
    const env = (body: Record<string, unknown>, id = wsId) => admin('POST', `/workspaces/${id}/env`, { org_slug: org.slug, ...body });

    it('check 32: {env:{}} → 400; without org_slug → 400 naming it', async () => {
      const empty = await env({ env: {} });
      assert.equal(empty.statusCode, 400, empty.body);
      assert.deepEqual(empty.json().fields, ['env']);
      const noOrg = await admin('POST', `/workspaces/${wsId}/env`, { env: { LOG_LEVEL: 'debug' } });
      assert.equal(noOrg.statusCode, 400);
      assert.deepEqual(noOrg.json().fields, ['org_slug']);
    });

    it('check 33: a credential-looking name → 400 naming it, nothing set; with force → 200 and set at the tenant', async () => {
      const guarded = await env({ env: { GITHUB_TOKEN: 'x', LOG_LEVEL: 'debug', DB_PASSWORD: 'y' } });
      assert.equal(guarded.statusCode, 400, guarded.body);
      assert.deepEqual(guarded.json().keys, ['DB_PASSWORD', 'GITHUB_TOKEN']);
      assert.match(guarded.json().error, /DB_PASSWORD, GITHUB_TOKEN/);
      assert.deepEqual(await tenantSecretKeys(tenant, org, token, wsId), [], 'nothing was set');
      const lower = await env({ env: { api_key: 'x' }, force: true });
      assert.equal(lower.statusCode, 400, 'names are upper case, as the tenant takes them');
      const forced = await env({ env: { GITHUB_TOKEN: 'ghp_x' }, force: true });
      assert.equal(forced.statusCode, 200, forced.body);
      assert.deepEqual(forced.json().applied_keys, ['GITHUB_TOKEN']);
      assert.ok((await tenantSecretKeys(tenant, org, token, wsId)).includes('GITHUB_TOKEN'));
    });

    it('platform-owned names are refused even with force: ADMIN_TOKEN, MOLECULE_ADMIN_TOKEN, PATH, NODE_OPTIONS', async () => {
      for (const name of ['ADMIN_TOKEN', 'MOLECULE_ADMIN_TOKEN', 'PATH', 'NODE_OPTIONS']) {
        const res = await env({ env: { [name]: 'x' }, force: true });
        assert.equal(res.statusCode, 400, `${name}: ${res.body}`);
        assert.deepEqual(res.json().keys, [name]);
        assert.match(res.json().error, /owned by the platform/);
      }
    });

    it('check 34: {env:{LOG_LEVEL}} → 200 applied_keys [LOG_LEVEL], container_restarted a boolean; merge:false replaces the rest', async () => {
      const res = await env({ env: { LOG_LEVEL: 'debug' } });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.deepEqual(body.applied_keys, ['LOG_LEVEL']);
      assert.equal(body.ok, true);
      assert.equal(body.workspace_id, wsId);
      assert.equal(typeof body.container_restarted, 'boolean');
      // This tenant runs no workspace processes (WORKSPACE_PROVISIONER=none): set, but nothing to restart.
      assert.equal(body.container_restarted, false);
      assert.ok(body.env_keys_after.includes('LOG_LEVEL'));
      const replaced = await env({ env: { FEATURE_FLAG: 'on' }, merge: false });
      assert.equal(replaced.statusCode, 200, replaced.body);
      assert.deepEqual(replaced.json().removed_keys.sort(), ['GITHUB_TOKEN', 'LOG_LEVEL'].filter((k) => body.env_keys_after.includes(k)).sort());
      assert.deepEqual(replaced.json().env_keys_after, ['FEATURE_FLAG']);
      assert.deepEqual(await tenantSecretKeys(tenant, org, token, wsId), ['FEATURE_FLAG']);
    });

    it('an external workspace is not restarted (the tenant says noop); unknown workspace or org → 404; a failing tenant → 502', async () => {
      const unknownWs = await env({ env: { LOG_LEVEL: 'x' } }, '00000000-0000-4000-8000-000000000000');
      assert.equal(unknownWs.statusCode, 404, unknownWs.body);
      assert.equal(unknownWs.json().code, 'WORKSPACE_NOT_FOUND');
      const unknownOrg = await admin('POST', `/workspaces/${wsId}/env`, { env: { LOG_LEVEL: 'x' }, org_slug: uniqueSlug('nope') });
      assert.equal(unknownOrg.statusCode, 404);
      assert.equal(unknownOrg.json().code, 'ORG_NOT_FOUND');

      const broken = await cp.createOrg(owner);
      await tokens.mint(broken.id);
      const server = await countingServer(500);
      try {
        await markRunning(broken, server.url);
        const res = await admin('POST', `/workspaces/${wsId}/env`, { env: { LOG_LEVEL: 'x' }, org_slug: broken.slug });
        assert.equal(res.statusCode, 502, res.body);
        assert.equal(res.json().code, 'TENANT_REQUEST_FAILED');
        assert.equal(res.json().http_status, 500);
      } finally {
        await server.close();
      }
    });
  });

  // ---------------------------------------------------------------------------------------------------------------
  describe('GET|PUT /admin/workspaces/:id/llm-billing-mode (through the real tenant)', () => {
    let org: TestOrg;
    let wsId: string;
    before(async () => {
      org = await cp.createOrg(owner);
      const { tenant, token } = await provisionRealTenant(org);
      wsId = await tenantWorkspace(tenant, org, token);
    });

    it('check 35: GET without org_slug → 400 naming it', async () => {
      const res = await admin('GET', `/workspaces/${wsId}/llm-billing-mode`);
      assert.equal(res.statusCode, 400, res.body);
      assert.deepEqual(res.json().fields, ['org_slug']);
    });

    it('check 36: PUT {mode:"free"} and {} → 400 with no tenant call; ?org_slug=<unknown> → 404', async () => {
      const watched = await cp.createOrg(owner);
      await tokens.mint(watched.id);
      const server = await countingServer(200);
      try {
        await markRunning(watched, server.url);
        for (const body of [{ mode: 'free' }, {}]) {
          const res = await admin('PUT', `/workspaces/${wsId}/llm-billing-mode?org_slug=${watched.slug}`, body);
          assert.equal(res.statusCode, 400, res.body);
          assert.deepEqual(res.json().fields, ['mode']);
        }
        assert.equal(server.hits(), 0, 'the tenant was never called');
      } finally {
        await server.close();
      }
      const unknown = await admin('PUT', `/workspaces/${wsId}/llm-billing-mode?org_slug=${uniqueSlug('nope')}`, { mode: 'byok' });
      assert.equal(unknown.statusCode, 404);
      assert.equal(unknown.json().code, 'ORG_NOT_FOUND');
    });

    it('proxies the tenant: PUT byok → the resolved view; GET agrees; null clears; an unknown workspace → 404', async () => {
      const put = await admin('PUT', `/workspaces/${wsId}/llm-billing-mode?org_slug=${org.slug}`, { mode: 'byok' });
      assert.equal(put.statusCode, 200, put.body);
      assert.equal(put.json().workspace_id, wsId);
      assert.equal(put.json().resolved_mode, 'byok');
      assert.equal(put.json().source, 'workspace_override');
      const get = await admin('GET', `/workspaces/${wsId}/llm-billing-mode?org_slug=${org.slug}`);
      assert.deepEqual(get.json(), put.json());
      const cleared = await admin('PUT', `/workspaces/${wsId}/llm-billing-mode?org_slug=${org.slug}`, { mode: null });
      assert.equal(cleared.statusCode, 200, cleared.body);
      assert.equal(cleared.json().workspace_override, null);
      const unknown = await admin('GET', `/workspaces/00000000-0000-4000-8000-000000000000/llm-billing-mode?org_slug=${org.slug}`);
      assert.equal(unknown.statusCode, 404, unknown.body);
      assert.equal(unknown.json().code, 'WORKSPACE_NOT_FOUND');
    });
  });
});

// The `none` provisioner: nothing runs tenants, so nothing that needs one may change anything.
forEachDatabase('control plane: fleet routes without a tenant provisioner', (kind: DbKind) => {
  let cp: TestControlPlane;
  let tokens: TenantAdminTokens;
  before(async () => {
    cp = await startTestControlPlane(kind, { env: { SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64') } });
    tokens = new TenantAdminTokens(cp.db, SecretCipher.fromConfig(cp.config));
  });
  after(() => cp?.close());
  const admin = (method: string, path: string, payload?: unknown) =>
    cp.app.inject({ method: method as 'GET', url: `/api/v1/admin${path}`, headers: cp.admin(), ...(payload !== undefined ? { payload: payload as object } : {}) });

  it('rotate → 503 PROVISIONER_UNAVAILABLE with the token unchanged; redeploy → 503 (a dry run still answers); fleet → 503 (dry run 200)', async () => {
    const org = await cp.createOrg(await cp.signup());
    const token = await tokens.mint(org.id);
    await cp.db.updateTable('org_instances').set({ status: 'running', url: 'http://127.0.0.1:9' }).where('org_id', '=', org.id).execute();
    const rotate = await admin('POST', `/orgs/${org.slug}/admin-token/rotate`);
    assert.equal(rotate.statusCode, 503, rotate.body);
    assert.equal(rotate.json().code, 'PROVISIONER_UNAVAILABLE');
    assert.equal(await tokens.reveal(org.id), token, 'nothing changed');
    const redeploy = await admin('POST', `/tenants/${org.slug}/redeploy`, {});
    assert.equal(redeploy.statusCode, 503);
    assert.equal((await admin('POST', `/tenants/${org.slug}/redeploy`, { dry_run: true })).statusCode, 200);
    const fleet = await admin('POST', '/tenants/redeploy-fleet', { confirm: true });
    assert.equal(fleet.statusCode, 503);
    const dry = await admin('POST', '/tenants/redeploy-fleet', { confirm: true, dry_run: true });
    assert.equal(dry.statusCode, 200, dry.body);
    assert.deepEqual(dry.json().results.map((r: Json) => r['slug']), [org.slug]);
  });

  it('a tenant that does not answer within TENANT_CALL_TIMEOUT_MS → 502 TENANT_UNREACHABLE (reason: timeout)', async () => {
    const slow = await startTestControlPlane(kind, { env: { SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64'), TENANT_CALL_TIMEOUT_MS: '300' } });
    const sockets = new Set<import('node:net').Socket>();
    // Accepts the connection, reads the request, never answers.
    const silent = http.createServer(() => undefined);
    silent.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const org = await slow.createOrg(await slow.signup());
      await new TenantAdminTokens(slow.db, SecretCipher.fromConfig(slow.config)).mint(org.id);
      await slow.db
        .updateTable('org_instances')
        .set({ status: 'running', url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}` })
        .where('org_id', '=', org.id)
        .execute();
      const started = Date.now();
      const res = await slow.app.inject({ method: 'GET', url: `/api/v1/admin/orgs/${org.slug}/workspaces`, headers: slow.admin() });
      assert.equal(res.statusCode, 502, res.body);
      assert.equal(res.json().code, 'TENANT_UNREACHABLE');
      assert.equal(res.json().reason, 'timeout');
      assert.ok(Date.now() - started < 10_000, 'abandoned at the deadline, not left hanging');
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
      await slow.close();
    }
  });

  it('delete works (nothing to stop) and scrubbing a deleted slug removes nothing', async () => {
    const org = await cp.createOrg(await cp.signup());
    const res = await admin('DELETE', `/tenants/${org.slug}`, { confirm: org.slug });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().steps[0], { step: 'workspaces', outcome: 'done', detail: '0 workspace(s) terminated' }, 'the CP’s workspace runner had none of this org');
    const scrub = await admin('POST', `/tenants/${org.slug}/scrub-artifacts`, { confirm: org.slug });
    assert.deepEqual(scrub.json(), { slug: org.slug, removed: [] });
  });
});
