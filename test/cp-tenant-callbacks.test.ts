/**
 * The CP's tenant callbacks (reference §2.6; §7 checks 48, 49): config, boot events, audit anchors, and the admin
 * views of them — in process, on both databases. Auth of every route is also in the shared suite (cp-security).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { mintCredential } from '../src/core/credentials/format.js';
import { startTestControlPlane, type TestControlPlane, type TestOrg, type TestUser } from './cp-harness.js';
import { forEachDatabase } from './harness.js';
import { RecordingProvisioner } from './support/recording-provisioner.js';

const hex = () => randomBytes(32).toString('hex');

forEachDatabase('CP tenant callbacks', (kind) => {
  let cp: TestControlPlane;
  let owner: TestUser;
  const provisioner = new RecordingProvisioner();

  before(async () => {
    cp = await startTestControlPlane(kind, { provisioner, env: { PROVISION_SHARED_SECRET: `pss-${hex()}` } });
    owner = await cp.signup();
  });
  after(() => cp.close());

  async function provisioned(): Promise<{ org: TestOrg; token: string; as: Record<string, string> }> {
    const org = await cp.createOrg(owner);
    const token = await cp.mintTenantAdminToken(org.id);
    return { org, token, as: { authorization: `Bearer ${token}`, 'x-molecule-org-id': org.id } };
  }
  const get = (url: string, headers: Record<string, string>) => cp.app.inject({ method: 'GET', url, headers });
  const post = (url: string, headers: Record<string, string>, payload: unknown) => cp.app.inject({ method: 'POST', url, headers, payload: payload as object });

  describe('GET /cp/tenants/config', () => {
    it('is a flat string map of what this CP really serves: its URL and the provision secret (check 48, without the LLM keys we do not serve)', async () => {
      const { as } = await provisioned();
      for (const prefix of ['/cp', '/api/v1']) {
        const res = await get(`${prefix}/tenants/config`, as);
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json(), { MOLECULE_CP_URL: 'http://localhost:8080', MOLECULE_CP_SHARED_SECRET: cp.config.PROVISION_SHARED_SECRET });
      }
    });

    it('a wrong token, or the right one with another org’s X-Molecule-Org-Id → 401', async () => {
      const a = await provisioned();
      const b = await provisioned();
      const wrong = await get('/cp/tenants/config', { ...a.as, authorization: `Bearer ${mintCredential('tenantAdminToken').plaintext}` });
      assert.equal(wrong.statusCode, 401);
      assert.equal(wrong.json().code, 'INVALID_ADMIN_AUTH');
      const crossed = await get('/cp/tenants/config', { ...a.as, 'x-molecule-org-id': b.org.id });
      assert.equal(crossed.statusCode, 401);
      assert.equal(crossed.json().code, 'INVALID_ADMIN_AUTH');
    });
  });

  describe('POST /cp/tenants/boot-event', () => {
    it('a token the CP does not hold yet → 401; once minted → 202, recorded and handed to the provisioner (check 49)', async () => {
      const org = await cp.createOrg(owner);
      const early = mintCredential('tenantAdminToken').plaintext;
      const refused = await post('/cp/tenants/boot-event', { authorization: `Bearer ${early}`, 'x-molecule-org-id': org.id }, { stage: 'booting' });
      assert.equal(refused.statusCode, 401, refused.body);
      const token = await cp.mintTenantAdminToken(org.id);
      const res = await post('/cp/tenants/boot-event', { authorization: `Bearer ${token}`, 'x-molecule-org-id': org.id }, { stage: 'listening', url: 'http://127.0.0.1:4567' });
      assert.equal(res.statusCode, 202, res.body);
      assert.deepEqual(res.json(), { ok: true });
      assert.deepEqual(provisioner.bootEvents.at(-1), { orgId: org.id, event: { stage: 'listening', detail: undefined, url: 'http://127.0.0.1:4567' } });
      const rows = await cp.db.selectFrom('org_instance_boot_events').select(['stage', 'detail']).where('org_id', '=', org.id).execute();
      assert.deepEqual(rows, [{ stage: 'listening', detail: 'url=http://127.0.0.1:4567' }]);
    });

    it('refuses an unknown field, a bad stage, an oversized detail and a non-http URL, naming the field; nothing recorded', async () => {
      const { org, as } = await provisioned();
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ stage: 'booting', extra: 1 }, 'extra'],
        [{ stage: 'Booting' }, 'stage'],
        [{ stage: 'a'.repeat(33) }, 'stage'],
        [{ stage: 'booting', detail: 'x'.repeat(1001) }, 'detail'],
        [{ stage: 'listening', url: 'ftp://127.0.0.1/' }, 'url'],
        [{ stage: 'listening', url: `http://${'a'.repeat(200)}` }, 'url'],
      ];
      for (const [body, field] of cases) {
        const res = await post('/cp/tenants/boot-event', as, body);
        assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
        assert.ok((res.json().fields as string[]).includes(field), `${field}: ${res.body}`);
      }
      const rows = await cp.db.selectFrom('org_instance_boot_events').select('id').where('org_id', '=', org.id).execute();
      assert.equal(rows.length, 0);
    });

    it('keeps the newest 200 events per org; the admin view lists them newest first, and 404s an unknown slug', async () => {
      const { org, as } = await provisioned();
      const base = new Date(Date.now() - 3600_000);
      // 199 old events written directly, then two through the API: the oldest one must go.
      await cp.db
        .insertInto('org_instance_boot_events')
        .values(Array.from({ length: 199 }, (_, i) => ({ org_id: org.id, stage: `old_${i}`, detail: null, at: new Date(base.getTime() + i) })))
        .execute();
      for (const stage of ['booting', 'listening']) assert.equal((await post('/api/v1/tenants/boot-event', as, { stage })).statusCode, 202);
      const stages = (await cp.db.selectFrom('org_instance_boot_events').select('stage').where('org_id', '=', org.id).orderBy('id').execute()).map((r) => r.stage);
      assert.equal(stages.length, 200);
      assert.equal(stages[0], 'old_1', 'the oldest event went');
      assert.equal(stages.at(-1), 'listening');
      const view = await get(`/api/v1/admin/tenants/${org.slug}/boot-events?limit=3`, cp.admin());
      assert.equal(view.statusCode, 200, view.body);
      const body = view.json();
      assert.equal(body.slug, org.slug);
      assert.deepEqual(body.events.map((e: { stage: string }) => e.stage), ['listening', 'booting', 'old_198']);
      assert.ok(!Number.isNaN(Date.parse(body.events[0].at)));
      const defaults = await get(`/api/v1/admin/tenants/${org.slug}/boot-events`, cp.admin());
      assert.equal(defaults.json().events.length, 50);
      for (const limit of ['0', '501', 'x']) assert.equal((await get(`/api/v1/admin/tenants/${org.slug}/boot-events?limit=${limit}`, cp.admin())).statusCode, 400);
      const missing = await get('/api/v1/admin/tenants/no-such-org-here/boot-events', cp.admin());
      assert.equal(missing.statusCode, 404);
      assert.equal(missing.json().code, 'ORG_NOT_FOUND');
    });
  });

  describe('audit anchors', () => {
    it('records a report (201), does not duplicate an identical one (200), and answers the anchor', async () => {
      const { org, as } = await provisioned();
      assert.equal((await get('/cp/tenants/audit-anchor', as)).json().code, 'AUDIT_ANCHOR_NOT_FOUND');
      const h = hex();
      const first = await post('/cp/tenants/audit-anchor', as, { count: 5, head_hash: h, reason: 'boot' });
      assert.equal(first.statusCode, 201, first.body);
      assert.deepEqual([first.json().count, first.json().head_hash], [5, h]);
      const again = await post('/cp/tenants/audit-anchor', as, { count: 5, head_hash: h, reason: 'periodic' });
      assert.equal(again.statusCode, 200, again.body);
      assert.deepEqual(again.json(), first.json());
      const latest = await get('/cp/tenants/audit-anchor', as);
      assert.equal(latest.statusCode, 200);
      assert.deepEqual(latest.json(), first.json());
      const rows = await cp.db.selectFrom('tenant_audit_anchors').select('id').where('org_id', '=', org.id).execute();
      assert.equal(rows.length, 1);
    });

    it('a shorter chain (or another head at the same length) is recorded but 409 AUDIT_ANCHOR_REGRESSION, and never lowers the anchor', async () => {
      const { org, as } = await provisioned();
      const [h10, h7, h10b, h12] = [hex(), hex(), hex(), hex()];
      assert.equal((await post('/cp/tenants/audit-anchor', as, { count: 10, head_hash: h10, reason: 'periodic' })).statusCode, 201);
      const rewound = await post('/cp/tenants/audit-anchor', as, { count: 7, head_hash: h7, reason: 'boot' });
      assert.equal(rewound.statusCode, 409, rewound.body);
      const body = rewound.json();
      assert.equal(body.code, 'AUDIT_ANCHOR_REGRESSION');
      assert.equal(body.error, 'the reported audit chain is behind or diverges from its last anchor');
      assert.deepEqual([body.count, body.head_hash, body.anchored_count, body.anchored_hash], [7, h7, 10, h10]);
      // Reported again: still loud, not stored twice.
      assert.equal((await post('/cp/tenants/audit-anchor', as, { count: 7, head_hash: h7, reason: 'periodic' })).statusCode, 409);
      // Same length, another head: rewritten.
      assert.equal((await post('/cp/tenants/audit-anchor', as, { count: 10, head_hash: h10b, reason: 'periodic' })).statusCode, 409);
      const anchor = (await get('/cp/tenants/audit-anchor', as)).json();
      assert.deepEqual([anchor.count, anchor.head_hash], [10, h10], 'the anchor is still the longest chain reported');
      assert.equal((await post('/cp/tenants/audit-anchor', as, { count: 12, head_hash: h12, reason: 'shutdown' })).statusCode, 201);
      const history = await get(`/api/v1/admin/tenants/${org.slug}/audit-anchors`, cp.admin());
      assert.equal(history.statusCode, 200, history.body);
      assert.deepEqual(
        history.json().anchors.map((a: { count: number; reason: string }) => [a.count, a.reason]),
        [
          [12, 'shutdown'],
          [10, 'periodic'],
          [7, 'boot'],
          [10, 'periodic'],
        ],
      );
      assert.equal((await get('/api/v1/admin/tenants/no-such-org-here/audit-anchors', cp.admin())).statusCode, 404);
    });

    it('an empty chain reports the genesis head; the genesis head with rows, or another head with none, is 400 naming head_hash', async () => {
      const { org, as } = await provisioned();
      const bad: Array<Record<string, unknown>> = [
        { count: 0, head_hash: hex(), reason: 'boot' },
        { count: 3, head_hash: '0'.repeat(64), reason: 'boot' },
        { count: 3, head_hash: 'A'.repeat(64), reason: 'boot' },
        { count: -1, head_hash: hex(), reason: 'boot' },
        { count: 3, head_hash: hex(), reason: 'whenever' },
        { count: 3, head_hash: hex(), reason: 'boot', extra: true },
      ];
      for (const b of bad) assert.equal((await post('/cp/tenants/audit-anchor', as, b)).statusCode, 400, JSON.stringify(b));
      assert.equal((await cp.db.selectFrom('tenant_audit_anchors').select('id').where('org_id', '=', org.id).execute()).length, 0);
      assert.equal((await post('/cp/tenants/audit-anchor', as, { count: 0, head_hash: '0'.repeat(64), reason: 'boot' })).statusCode, 201);
    });

    it('one org’s token never reads or writes another org’s anchors', async () => {
      const a = await provisioned();
      const b = await provisioned();
      assert.equal((await post('/cp/tenants/audit-anchor', a.as, { count: 3, head_hash: hex(), reason: 'boot' })).statusCode, 201);
      assert.equal((await get('/cp/tenants/audit-anchor', { authorization: `Bearer ${b.token}` })).json().code, 'AUDIT_ANCHOR_NOT_FOUND');
    });
  });
});
