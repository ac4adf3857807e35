/**
 * Partner API keys (issue 12; reference-control-plane.md §3.6 and §7 checks 57–58; DESIGN.md §4): minting and its
 * bounds, the verification chain and its wire answers, scopes → routes, partner and org confinement, the per-key rate
 * limit, self-revocation, the "never mint wider than yourself" rule, audit attribution and `last_used_at` written
 * behind — in-process, on both databases. The multi-process parts (two CP replicas on one Redis, the seed's flows over
 * the real binaries) are in cp-partner-keys-replicas.test.ts and partner-flows-e2e.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashCredential, isWellFormed, mintCredential } from '../src/core/credentials/format.js';
import { PARTNER_SCOPES } from '../src/control-plane/partner-keys/scopes.js';
import { partnerKey, startTestControlPlane, uniqueSlug, type TestControlPlane, type TestPartnerKey } from './cp-harness.js';
import { forEachDatabase } from './harness.js';
import { until } from './support/platform.js';
import { RecordingProvisioner } from './support/recording-provisioner.js';

type Inject = Awaited<ReturnType<TestControlPlane['app']['inject']>>;

function assertError(res: Inject, status: number, code: string, error?: string): Record<string, unknown> {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body}`);
  const body = res.json() as Record<string, unknown>;
  assert.equal(body['code'], code, res.body);
  if (error !== undefined) assert.equal(body['error'], error, res.body);
  assert.equal(body['request_id'], res.headers['x-request-id']);
  return body;
}

forEachDatabase('control plane: partner API keys', (kind) => {
  let cp: TestControlPlane;
  const provisioner = new RecordingProvisioner();
  before(async () => {
    cp = await startTestControlPlane(kind, { provisioner });
  });
  after(() => cp.close());

  const get = (url: string, key: string) => cp.app.inject({ method: 'GET', url, headers: partnerKey(key) });
  const post = (url: string, key: string, payload: Record<string, unknown>) => cp.app.inject({ method: 'POST', url, headers: partnerKey(key), payload });
  const del = (url: string, key: string) => cp.app.inject({ method: 'DELETE', url, headers: partnerKey(key) });
  const partner = () => `partner-${uniqueSlug('p')}`;

  describe('minting', () => {
    it('the CP admin mints a key: 201 with the key once (mol_pk_live_, checksummed), stored as sha256 with a 16-char prefix; reads never show it', async () => {
      const pid = partner();
      const res = await cp.app.inject({
        method: 'POST',
        url: '/api/v1/admin/partner-keys',
        headers: cp.admin(),
        payload: { name: 'Reseller CI', partner_id: pid, scopes: ['orgs:create', 'orgs:list'], org_id: null, expires_in_days: 30, rate_limit: 120 },
      });
      assert.equal(res.statusCode, 201, res.body);
      const minted = res.json() as TestPartnerKey & { created_by: string; created_at: string; revoked_at: null; last_used_at: null; name: string };
      assert.match(minted.key, /^mol_pk_live_[0-9A-Za-z]{49}$/);
      assert.ok(isWellFormed('partnerKey', minted.key), 'the checksum verifies offline');
      assert.match(minted.id, /^pak_[0-9A-HJKMNP-TV-Z]{26}$/);
      assert.equal(minted.key_prefix, minted.key.slice(0, 16));
      assert.equal(minted.key_prefix.length, 16);
      assert.deepEqual(
        { name: minted.name, partner_id: minted.partner_id, org_id: minted.org_id, scopes: minted.scopes, rate_limit: minted.rate_limit, created_by: minted.created_by, revoked_at: minted.revoked_at, last_used_at: minted.last_used_at },
        { name: 'Reseller CI', partner_id: pid, org_id: null, scopes: ['orgs:create', 'orgs:list'], rate_limit: 120, created_by: 'cp-admin', revoked_at: null, last_used_at: null },
      );
      const expires = new Date(minted.expires_at!).getTime() - Date.now();
      assert.ok(expires > 29.9 * 86_400_000 && expires <= 30 * 86_400_000, `expires in 30 days: ${minted.expires_at}`);
      const row = await cp.db.selectFrom('partner_api_keys').selectAll().where('id', '=', minted.id).executeTakeFirstOrThrow();
      assert.equal(row.key_hash, hashCredential(minted.key));
      assert.ok(!JSON.stringify(row).includes(minted.key), 'the plaintext is stored nowhere');

      const list = await cp.app.inject({ method: 'GET', url: `/api/v1/admin/partner-keys?partner_id=${pid}`, headers: cp.admin() });
      assert.equal(list.statusCode, 200, list.body);
      assert.deepEqual((list.json() as Array<{ id: string }>).map((k) => k.id), [minted.id]);
      const one = await cp.app.inject({ method: 'GET', url: `/api/v1/admin/partner-keys/${minted.id}`, headers: cp.admin() });
      assert.equal(one.statusCode, 200, one.body);
      for (const body of [list.body, one.body]) {
        assert.ok(!body.includes(minted.key), 'a read never carries the key');
        assert.ok(!/mol_pk_live_[0-9A-Za-z]{5,}/.test(body), 'nor more of it than the 16-char prefix');
      }
      assert.equal((one.json() as { key?: string }).key, undefined);
    });

    it('an unknown scope → 400 listing the valid ones; partner_id missing, bounds on expiry, rate limit and name → 400 naming the field; nothing minted', async () => {
      const before = await cp.db.selectFrom('partner_api_keys').select(cp.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
      const mint = (payload: Record<string, unknown>) => cp.app.inject({ method: 'POST', url: '/api/v1/admin/partner-keys', headers: cp.admin(), payload });
      const unknown = assertError(await mint({ name: 'k', partner_id: 'p1', scopes: ['orgs:create', 'orgs:destroy'] }), 400, 'VALIDATION_FAILED');
      assert.match(String(unknown['error']), /unknown scope "orgs:destroy"/);
      for (const s of PARTNER_SCOPES) assert.ok(String(unknown['error']).includes(s), `the message lists ${s}`);
      assert.deepEqual(unknown['valid_scopes'], [...PARTNER_SCOPES]);
      assert.deepEqual(unknown['fields'], ['scopes']);
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ name: 'k', scopes: ['orgs:create'] }, 'partner_id'],
        [{ name: 'k', partner_id: 'p1', scopes: ['orgs:create'], expires_in_days: 0 }, 'expires_in_days'],
        [{ name: 'k', partner_id: 'p1', scopes: ['orgs:create'], expires_in_days: 3651 }, 'expires_in_days'],
        [{ name: 'k', partner_id: 'p1', scopes: ['orgs:create'], rate_limit: 0 }, 'rate_limit'],
        [{ name: 'k', partner_id: 'p1', scopes: ['orgs:create'], rate_limit: 100_001 }, 'rate_limit'],
        [{ name: '   ', partner_id: 'p1', scopes: ['orgs:create'] }, 'name'],
        [{ name: 'k\u0000', partner_id: 'p1', scopes: ['orgs:create'] }, 'name'],
        [{ name: 'k', partner_id: 'Not A Partner!', scopes: ['orgs:create'] }, 'partner_id'],
        [{ name: 'k', partner_id: 'p1', scopes: [] }, 'scopes'],
        [{ name: 'k', partner_id: 'p1', scopes: ['orgs:create'], org_id: 'not-a-uuid' }, 'org_id'],
      ];
      for (const [payload, field] of cases) {
        const body = assertError(await mint(payload), 400, 'VALIDATION_FAILED');
        assert.ok(String(body['error']).includes(field), `${JSON.stringify(payload)}: the message names ${field}: ${String(body['error'])}`);
      }
      const afterCount = await cp.db.selectFrom('partner_api_keys').select(cp.db.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
      assert.equal(Number(afterCount.n), Number(before.n), 'nothing was minted');
    });

    it('binding at mint: an org that is not the partner’s → 404, nothing minted', async () => {
      const owner = await cp.signup();
      const sessionOrg = await cp.createOrg(owner);
      const res = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/partner-keys', headers: cp.admin(), payload: { name: 'k', partner_id: partner(), scopes: ['orgs:read'], org_id: sessionOrg.id } });
      assertError(res, 404, 'ORG_NOT_FOUND');
    });
  });

  describe('verification failures (reference §3.6 wire strings)', () => {
    it('a bad checksum, a made-up key and an unknown well-formed key → 401 {"error":"invalid API key"}; the checksum is rejected without a lookup', async () => {
      const real = await cp.mintPartnerKey({ scopes: ['orgs:list'] });
      const last = real.key.at(-1) === 'A' ? 'B' : 'A';
      for (const key of [real.key.slice(0, -1) + last, 'mol_pk_live_' + 'a'.repeat(32), mintCredential('partnerKey').plaintext]) {
        assertError(await get('/api/v1/orgs', key), 401, 'INVALID_API_KEY', 'invalid API key');
      }
      // Offline: with the database gone, a bad checksum is still 401 (no query was needed), a well-formed key 503.
    });

    it('an expired key → 401 {"error":"API key expired"}; a revoked key → 401 invalid API key on the very next request', async () => {
      const k = await cp.mintPartnerKey({ scopes: ['orgs:list'], expires_in_days: 1 });
      assert.equal((await get('/api/v1/orgs', k.key)).statusCode, 200);
      await cp.db.updateTable('partner_api_keys').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', k.id).execute();
      assertError(await get('/api/v1/orgs', k.key), 401, 'API_KEY_EXPIRED', 'API key expired');

      const r = await cp.mintPartnerKey({ scopes: ['orgs:list'] });
      assert.equal((await get('/api/v1/orgs', r.key)).statusCode, 200);
      const revoke = await cp.app.inject({ method: 'DELETE', url: `/api/v1/admin/partner-keys/${r.id}`, headers: cp.admin() });
      assert.equal(revoke.statusCode, 204, revoke.body);
      assertError(await get('/api/v1/orgs', r.key), 401, 'INVALID_API_KEY', 'invalid API key');
      const shown = await cp.app.inject({ method: 'GET', url: `/api/v1/admin/partner-keys/${r.id}`, headers: cp.admin() });
      assert.ok((shown.json() as { revoked_at: string | null }).revoked_at, 'the key reads as revoked');
      const again = await cp.app.inject({ method: 'DELETE', url: `/api/v1/admin/partner-keys/${r.id}`, headers: cp.admin() });
      assert.equal(again.statusCode, 204, 'revoking twice changes nothing');
    });

    it('a partner key on a route that takes none → 401 PARTNER_KEY_NOT_ACCEPTED (session and admin tiers), whatever it holds', async () => {
      const all = await cp.mintPartnerKey({ scopes: [...PARTNER_SCOPES] });
      assertError(await get('/api/v1/auth/me', all.key), 401, 'PARTNER_KEY_NOT_ACCEPTED');
      assertError(await get('/api/v1/admin/orgs', all.key), 401, 'PARTNER_KEY_NOT_ACCEPTED');
      assertError(await get('/api/v1/admin/audit', all.key), 401, 'PARTNER_KEY_NOT_ACCEPTED');
      assertError(await get('/cp/billing/invoices', all.key), 401, 'PARTNER_KEY_NOT_ACCEPTED');
    });
  });

  describe('the seed flow, scopes and confinement', () => {
    it('orgs:create + orgs:list: create (seed body and answer), poll status by id and slug, list, get; delete refused 403 naming orgs:delete', async () => {
      const k = await cp.mintPartnerKey({ partner_id: partner(), scopes: ['orgs:create', 'orgs:list'] });
      for (const prefix of ['/api/v1', '/cp']) {
        const slug = uniqueSlug('seed');
        const created = await post(`${prefix}/orgs`, k.key, { name: 'Customer Co', slug, plan: 'pro' });
        assert.equal(created.statusCode, 201, created.body);
        const org = created.json() as { id: string; slug: string; status: string; created_at: string; plan: string; role?: string };
        assert.equal(org.slug, slug);
        assert.equal(org.status, 'provisioning', 'a partner’s paid org starts provisioning at once (invoiced to the partner)');
        assert.equal(org.plan, 'pro');
        assert.match(org.id, /^[0-9a-f-]{36}$/);
        assert.ok(!Number.isNaN(Date.parse(org.created_at)));
        assert.equal(org.role, undefined, 'a partner has no member role');
        if (prefix === '/cp') assert.match(String(created.headers['deprecation']), /^(true|@\d+)$/);
        assert.deepEqual(provisioner.provisioned.at(-1), { orgId: org.id, slug, provider: 'local' });
        const row = await cp.db.selectFrom('organizations').select(['partner_id']).where('id', '=', org.id).executeTakeFirstOrThrow();
        assert.equal(row.partner_id, k.partner_id);
        assert.equal((await cp.db.selectFrom('org_members').selectAll().where('org_id', '=', org.id).execute()).length, 0, 'no member rows');

        for (const ref of [org.id, slug]) {
          const status = await get(`${prefix}/orgs/${ref}/status`, k.key);
          assert.equal(status.statusCode, 200, status.body);
          const s = status.json() as { id: string; slug: string; status: string; provisioning: { status: string; progress: number } };
          assert.deepEqual([s.id, s.slug, s.status, s.provisioning.status], [org.id, slug, 'provisioning', 'provisioning']);
        }
        // The tenant comes up (what the provisioner records): the poll reads running.
        await cp.db.updateTable('organizations').set({ status: 'running' }).where('id', '=', org.id).execute();
        await cp.db.updateTable('org_instances').set({ status: 'running', stage: 'ready', progress: 100, eta_seconds: 0, url: 'http://127.0.0.1:9' }).where('org_id', '=', org.id).execute();
        const running = (await get(`${prefix}/orgs/${org.id}/status`, k.key)).json() as { status: string; provisioning: { status: string; url?: string } };
        assert.equal(running.status, 'running');
        assert.equal(running.provisioning.status, 'running');
        assert.match(String(running.provisioning.url), new RegExp(`^http://${slug}\\.localhost(:\\d+)?$`), 'the tenant’s URL through the edge');

        const listed = await get(`${prefix}/orgs`, k.key);
        assert.equal(listed.statusCode, 200, listed.body);
        assert.ok((listed.json() as Array<{ id: string }>).some((o) => o.id === org.id));
        assert.equal((await get(`${prefix}/orgs/${slug}`, k.key)).statusCode, 200);

        const refused = assertError(await del(`${prefix}/orgs/${slug}`, k.key), 403, 'SCOPE_MISSING', 'this API key lacks the scope orgs:delete');
        assert.equal(refused['required_scope'], 'orgs:delete');
        assert.equal((await cp.db.selectFrom('organizations').select('id').where('id', '=', org.id).executeTakeFirst())?.id, org.id, 'the org is still there');
      }
    });

    it('a seed plan name outside the catalogue → 400 listing the valid plans; a missing scope on create → 403 naming orgs:create', async () => {
      const k = await cp.mintPartnerKey({ partner_id: partner(), scopes: ['orgs:create', 'orgs:read'] });
      const bad = assertError(await post('/cp/orgs', k.key, { name: 'X', slug: uniqueSlug('bad'), plan: 'standard' }), 400, 'VALIDATION_FAILED');
      assert.match(String(bad['error']), /plan.*free, starter, pro/);
      const readOnly = await cp.mintPartnerKey({ partner_id: partner(), scopes: ['orgs:read'] });
      assertError(await post('/cp/orgs', readOnly.key, { name: 'X', slug: uniqueSlug('ro') }), 403, 'SCOPE_MISSING', 'this API key lacks the scope orgs:create');
    });

    it('a partner sees only its own orgs (another partner’s, a session user’s → 404); an org-bound key only its org', async () => {
      const pa = partner();
      const a = await cp.mintPartnerKey({ partner_id: pa, scopes: [...PARTNER_SCOPES] });
      const b = await cp.mintPartnerKey({ partner_id: partner(), scopes: [...PARTNER_SCOPES] });
      const orgA1 = await cp.createPartnerOrg(a.key);
      const orgA2 = await cp.createPartnerOrg(a.key);
      const orgB = await cp.createPartnerOrg(b.key);
      const owner = await cp.signup();
      const sessionOrg = await cp.createOrg(owner);
      const bound = await cp.mintPartnerKey({ partner_id: pa, scopes: [...PARTNER_SCOPES], org_id: orgA1.id });

      const listA = (await get('/api/v1/orgs', a.key)).json() as Array<{ id: string }>;
      assert.deepEqual(listA.map((o) => o.id).sort(), [orgA1.id, orgA2.id].sort());
      assert.deepEqual(((await get('/api/v1/orgs', bound.key)).json() as Array<{ id: string }>).map((o) => o.id), [orgA1.id]);
      assert.ok(!listA.some((o) => o.id === sessionOrg.id || o.id === orgB.id), 'no other partner’s or user’s org');

      for (const [key, target] of [
        [a.key, orgB],
        [a.key, sessionOrg],
        [bound.key, orgA2],
        [bound.key, orgB],
      ] as const) {
        for (const [method, path] of [
          ['GET', `/api/v1/orgs/${target.slug}`],
          ['GET', `/api/v1/orgs/${target.id}/status`],
          ['GET', `/api/v1/orgs/${target.slug}/status`],
          ['GET', `/api/v1/orgs/${target.slug}/provision-status`],
          ['GET', `/api/v1/orgs/${target.slug}/export`],
          ['GET', `/api/v1/orgs/${target.slug}/usage`],
          ['DELETE', `/api/v1/orgs/${target.slug}`],
        ] as const) {
          assertError(await cp.app.inject({ method, url: path, headers: partnerKey(key) }), 404, 'ORG_NOT_FOUND');
        }
        assertError(await post(`/api/v1/orgs/${target.slug}/workspaces`, key, { name: 'w' }), 404, 'ORG_NOT_FOUND');
        assertError(await post('/api/v1/billing/topup', key, { org_slug: target.slug, credits: 100 }), 404, 'ORG_NOT_FOUND');
        assert.ok(await cp.db.selectFrom('organizations').select('id').where('id', '=', target.id).executeTakeFirst(), 'the target org is untouched');
      }
      // A bound key creates no org (a new org would be outside its binding).
      const boundCreate = assertError(await post('/api/v1/orgs', bound.key, { slug: uniqueSlug('bound'), name: 'Outside the binding' }), 403, 'SCOPE_MISSING');
      assert.match(String(boundCreate['error']), /bound to org .*: it cannot create orgs/);
      // A session user does not see the partner's orgs either.
      assertError(await cp.app.inject({ method: 'GET', url: `/api/v1/orgs/${orgA1.slug}`, headers: cp.as(owner) }), 404, 'ORG_NOT_FOUND');
      // Positive controls: the key's own orgs answer.
      assert.equal((await get(`/api/v1/orgs/${orgA1.slug}/usage`, bound.key)).statusCode, 200);
      assert.equal((await get(`/api/v1/orgs/${orgA2.slug}/export`, a.key)).statusCode, 200);
      const usage = (await get(`/api/v1/orgs/${orgA1.slug}/usage`, a.key)).json() as { plan: string; credits_balance: number };
      assert.equal(usage.plan, 'free');
      assert.equal(usage.credits_balance, 500);
    });

    it('orgs:delete runs the delete cascade on the partner’s org: 204, nothing left', async () => {
      const k = await cp.mintPartnerKey({ partner_id: partner(), scopes: ['orgs:create', 'orgs:delete'] });
      const org = await cp.createPartnerOrg(k.key);
      const res = await del(`/api/v1/orgs/${org.slug}`, k.key);
      assert.equal(res.statusCode, 204, res.body);
      assert.equal(await cp.db.selectFrom('organizations').select('id').where('id', '=', org.id).executeTakeFirst(), undefined);
      assert.equal(await cp.db.selectFrom('org_instances').select('org_id').where('org_id', '=', org.id).executeTakeFirst(), undefined);
      assertError(await del(`/api/v1/orgs/${org.slug}`, k.key), 404, 'ORG_NOT_FOUND');
    });

    it('billing:manage opens and confirms a top-up on the partner’s org; billing:read reads usage and the session', async () => {
      const k = await cp.mintPartnerKey({ partner_id: partner(), scopes: ['orgs:create', 'billing:manage'] });
      const org = await cp.createPartnerOrg(k.key);
      const opened = await post('/api/v1/billing/topup', k.key, { org_slug: org.slug, credits: 250 });
      assert.equal(opened.statusCode, 200, opened.body);
      const sessionId = (opened.json() as { id: string }).id;
      const confirmed = await post(`/api/v1/billing/sessions/${sessionId}/confirm`, k.key, {});
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      const reader = await cp.mintPartnerKey({ partner_id: k.partner_id, scopes: ['billing:read'] });
      const usage = (await get(`/api/v1/orgs/${org.slug}/usage`, reader.key)).json() as { credits_balance: number; credits_granted_this_period: number };
      assert.equal(usage.credits_balance, 750);
      assert.equal(usage.credits_granted_this_period, 750);
      assert.equal((await get(`/api/v1/billing/sessions/${sessionId}`, reader.key)).statusCode, 200);
      assertError(await post('/api/v1/billing/topup', reader.key, { org_slug: org.slug, credits: 100 }), 403, 'SCOPE_MISSING', 'this API key lacks the scope billing:manage');
    });
  });

  describe('keys managing keys', () => {
    it('a key revokes itself with its own bearer (no admin:keys): 204, then 401; it cannot revoke another key without admin:keys', async () => {
      const pid = partner();
      const self = await cp.mintPartnerKey({ partner_id: pid, scopes: ['orgs:read'] });
      const other = await cp.mintPartnerKey({ partner_id: pid, scopes: ['orgs:read'] });
      assertError(await del(`/cp/admin/partner-keys/${other.id}`, self.key), 403, 'SCOPE_MISSING', 'this API key lacks the scope admin:keys');
      assert.equal((await get(`/api/v1/admin/partner-keys/${self.id}`, self.key)).statusCode, 200, 'a key reads itself');
      const res = await del(`/cp/admin/partner-keys/${self.id}`, self.key);
      assert.equal(res.statusCode, 204, res.body);
      assert.match(String(res.headers['deprecation']), /^(true|@\d+)$/);
      assertError(await get('/api/v1/orgs', self.key), 401, 'INVALID_API_KEY', 'invalid API key');
      assert.equal((await get('/api/v1/orgs', other.key)).statusCode, 200, 'the other key lives on');
    });

    it('admin:keys mints only for its own partner and never wider (scopes, org binding, expiry, rate limit); sees and revokes only its partner’s keys', async () => {
      const pid = partner();
      const orgKeyOwner = await cp.mintPartnerKey({ partner_id: pid, scopes: ['orgs:create'] });
      const org = await cp.createPartnerOrg(orgKeyOwner.key);
      const admin = await cp.mintPartnerKey({ partner_id: pid, scopes: ['admin:keys', 'orgs:read', 'orgs:create'], expires_in_days: 10, rate_limit: 100 });
      const mint = (payload: Record<string, unknown>) => post('/api/v1/admin/partner-keys', admin.key, { name: 'child', ...payload });

      const child = await mint({ scopes: ['orgs:list'], org_id: org.id, expires_in_days: 5, rate_limit: 50 });
      assert.equal(child.statusCode, 201, child.body);
      const c = child.json() as TestPartnerKey & { created_by: string };
      assert.equal(c.partner_id, pid);
      assert.equal(c.created_by, `partner-key:${admin.key_prefix}`);
      const inherits = (await mint({ scopes: ['orgs:read'] })).json() as TestPartnerKey;
      assert.equal(inherits.expires_at, admin.expires_at, 'no expiry asked: the minter’s');
      assert.equal(inherits.rate_limit, 60);

      const wider: Array<[Record<string, unknown>, string]> = [
        [{ scopes: ['orgs:delete'] }, 'scopes'],
        [{ scopes: ['orgs:read'], partner_id: 'someone-else' }, 'partner_id'],
        [{ scopes: ['orgs:read'], expires_in_days: 11 }, 'expires_in_days'],
        [{ scopes: ['orgs:read'], rate_limit: 101 }, 'rate_limit'],
      ];
      for (const [payload, field] of wider) assert.equal(assertError(await mint(payload), 403, 'KEY_TOO_WIDE')['field'], field, JSON.stringify(payload));
      // A bound admin:keys key mints only keys bound to its org.
      const boundAdmin = (await mint({ scopes: ['admin:keys', 'orgs:read'], org_id: org.id })).json() as TestPartnerKey;
      assert.equal(assertError(await post('/api/v1/admin/partner-keys', boundAdmin.key, { name: 'x', scopes: ['orgs:read'] }), 403, 'KEY_TOO_WIDE')['field'], 'org_id');
      // Another partner's org: 404 (not the partner's), whatever the scopes.
      const stranger = await cp.mintPartnerKey({ partner_id: partner(), scopes: ['orgs:create', 'admin:keys'] });
      const strangersOrg = await cp.createPartnerOrg(stranger.key);
      assertError(await mint({ scopes: ['orgs:read'], org_id: strangersOrg.id }), 404, 'ORG_NOT_FOUND');

      // Visibility: its partner's keys only, whatever partner_id the query names; another partner's key is 404.
      const listed = (await get(`/api/v1/admin/partner-keys?partner_id=${stranger.partner_id}&limit=500`, admin.key)).json() as Array<{ id: string; partner_id: string }>;
      assert.ok(listed.length >= 4 && listed.every((k) => k.partner_id === pid), JSON.stringify(listed));
      const boundList = (await get('/api/v1/admin/partner-keys', boundAdmin.key)).json() as Array<{ id: string; org_id: string }>;
      assert.ok(boundList.every((k) => k.org_id === org.id), 'a bound key sees only keys bound to its org');
      assertError(await get(`/api/v1/admin/partner-keys/${stranger.id}`, admin.key), 404, 'NOT_FOUND');
      assertError(await del(`/api/v1/admin/partner-keys/${stranger.id}`, admin.key), 404, 'NOT_FOUND');
      assert.equal((await get('/api/v1/orgs', stranger.key)).statusCode, 403, 'the stranger’s key still authenticates (no orgs:read): untouched');
      // It revokes a key of its partner.
      assert.equal((await del(`/api/v1/admin/partner-keys/${c.id}`, admin.key)).statusCode, 204);
      assertError(await get('/api/v1/orgs', c.key), 401, 'INVALID_API_KEY');
    });
  });

  describe('rate limits', () => {
    it('past its rate_limit a key gets 429 {"error":"rate limit exceeded","retry_after"} with Retry-After and X-RateLimit-*; other keys and sessions are unaffected', async () => {
      const k = await cp.mintPartnerKey({ partner_id: partner(), scopes: ['orgs:list'], rate_limit: 3 });
      const other = await cp.mintPartnerKey({ partner_id: k.partner_id, scopes: ['orgs:list'], rate_limit: 3 });
      for (let i = 0; i < 3; i++) {
        const ok = await get('/api/v1/orgs', k.key);
        assert.equal(ok.statusCode, 200, ok.body);
        assert.equal(ok.headers['x-ratelimit-limit'], '3');
        assert.equal(ok.headers['x-ratelimit-remaining'], String(2 - i));
      }
      const limited = await get('/api/v1/orgs', k.key);
      const body = assertError(limited, 429, 'RATE_LIMITED', 'rate limit exceeded');
      const retryAfter = Number(body['retry_after']);
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, `retry_after ${body['retry_after']}`);
      assert.equal(limited.headers['retry-after'], String(retryAfter));
      assert.equal(limited.headers['x-ratelimit-remaining'], '0');
      assert.equal((await get('/api/v1/orgs', other.key)).statusCode, 200, 'another key has its own budget');
      const owner = await cp.signup();
      for (let i = 0; i < 5; i++) assert.equal((await cp.app.inject({ method: 'GET', url: '/api/v1/orgs', headers: cp.as(owner) })).statusCode, 200, 'session traffic is not limited by the key');
    });
  });

  describe('audit', () => {
    it('every call is attributed partner-key:<prefix> with its credential id and partner_id (refusals too); the chain verifies; last_used_at is written behind', async () => {
      const k = await cp.mintPartnerKey({ partner_id: partner(), scopes: ['orgs:create', 'orgs:read'] });
      assert.equal(k.last_used_at, null);
      const org = await cp.createPartnerOrg(k.key);
      await get(`/api/v1/orgs/${org.id}/status`, k.key);
      await del(`/api/v1/orgs/${org.slug}`, k.key);
      const rows = await until(
        'the audit rows of the key',
        async () => {
          const r = await cp.db.selectFrom('audit_events').selectAll().where('credential_id', '=', k.id).orderBy('seq').execute();
          return r.length >= 3 ? r : undefined;
        },
        30_000,
        50,
      );
      for (const r of rows) {
        assert.equal(r.actor, `partner-key:${k.key_prefix}`);
        assert.equal(r.credential_class, 'partner-key');
        assert.equal(r.partner_id, k.partner_id);
      }
      assert.deepEqual(rows.map((r) => `${r.method} ${r.route} ${r.status}`), ['POST /api/v1/orgs 201', 'GET /api/v1/orgs/:slug/status 200', 'DELETE /api/v1/orgs/:slug 403']);
      const verify = await cp.app.inject({ method: 'GET', url: '/api/v1/admin/audit/verify', headers: cp.admin() });
      assert.equal(verify.statusCode, 200, verify.body);
      assert.equal((verify.json() as { ok: boolean }).ok, true, verify.body);
      const listed = await cp.app.inject({ method: 'GET', url: `/api/v1/admin/audit?credential_id=${k.id}`, headers: cp.admin() });
      const events = (listed.json() as { events: Array<{ partner_id?: string; line: string }> }).events;
      assert.ok(events.length >= 3 && events.every((e) => e.partner_id === k.partner_id), listed.body);
      await until(
        'last_used_at written behind',
        async () => (await cp.db.selectFrom('partner_api_keys').select('last_used_at').where('id', '=', k.id).executeTakeFirstOrThrow()).last_used_at ?? undefined,
        30_000,
        50,
      );
    });
  });
});

describe('partner keys during a datastore outage', () => {
  it('a well-formed key → 503 platform_unavailable (never 401); a bad checksum → 401 without touching the database', async () => {
    const cp = await startTestControlPlane('pglite');
    try {
      const k = await cp.mintPartnerKey({ scopes: ['orgs:list'] });
      await cp.db.destroy();
      const res = await cp.app.inject({ method: 'GET', url: '/api/v1/orgs', headers: partnerKey(k.key) });
      assertError(res, 503, 'platform_unavailable');
      const bad = k.key.slice(0, -1) + (k.key.at(-1) === 'A' ? 'B' : 'A');
      assertError(await cp.app.inject({ method: 'GET', url: '/api/v1/orgs', headers: partnerKey(bad) }), 401, 'INVALID_API_KEY', 'invalid API key');
    } finally {
      await cp.close().catch(() => undefined);
    }
  });
});
