/**
 * Partner keys across control-plane replicas (issue 12, items 2 and 5; DESIGN.md §4 "revocation is effective on the
 * next request on every replica", §9 "partner-key limits go through Redis"): two real `molecule-platform cp` processes
 * on one PostgreSQL database and one Redis, as a load balancer would see them.
 *
 * - a key minted on one replica works on the other at once, and the "Done when" script runs alternating
 *   between them: create an org, poll it, list it, refused deletion (403 naming orgs:delete), throttled (429);
 * - the per-key limit is one budget across both replicas (REDIS_URL), independent of other keys;
 * - a revoke on one replica locks the key out on the very next request on the other (no positive cache), and a
 *   self-revoke does the same.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRateLimiter } from '../src/core/rate-limit.js';
import { POSTGRES_ADMIN_URL, createScratchDatabase } from './harness.js';
import { spawnBinary, type Spawned } from './support/binary.js';
import { http, query, within } from './support/platform.js';

const REDIS_URL = process.env['TEST_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

async function redisProblem(): Promise<string | null> {
  try {
    const limiter = await Promise.race([createRateLimiter(REDIS_URL), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('connect timeout')), 2000))]);
    await limiter.close();
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

const postgresProblem = await query(POSTGRES_ADMIN_URL, 'select 1').then(
  () => null,
  (err: Error) => err.message,
);
const redis = await redisProblem();
if ((redis || postgresProblem) && process.env['CI'] === 'true') throw new Error(`PostgreSQL and Redis are mandatory under CI=true: ${postgresProblem ?? ''} ${redis ?? ''}`);
const skip = postgresProblem ? `PostgreSQL not reachable (${postgresProblem})` : redis ? `Redis not reachable (${redis})` : false;

describe('partner keys on two CP replicas sharing PostgreSQL and Redis', { skip }, () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'molecule-pk-replicas-'));
  const adminToken = `cp-admin-${randomBytes(12).toString('hex')}`;
  const replicas: Spawned[] = [];
  const urls: string[] = [];
  let dropScratch: () => Promise<void> = async () => undefined;

  const admin = { authorization: `Bearer ${adminToken}` };
  const withKey = (key: string) => ({ authorization: `Bearer ${key}` });
  const mint = async (on: string, body: Record<string, unknown>) => {
    const res = await http('POST', `${on}/api/v1/admin/partner-keys`, { headers: admin, body: { name: 'replica test', partner_id: 'replica-partner', ...body } });
    assert.equal(res.status, 201, res.text);
    return res.json as { id: string; key: string; key_prefix: string };
  };

  before(async () => {
    const scratch = await createScratchDatabase();
    dropScratch = scratch.drop;
    const env = {
      MOLECULE_DATA_DIR: dataDir,
      DATABASE_URL: scratch.url,
      REDIS_URL,
      CP_ADMIN_API_TOKEN: adminToken,
      // Orgs stay `provisioning`: this file is about the keys, not the tenants (the e2e flows run real tenants).
      TENANT_PROVISIONER: 'none',
      MAIL_TRANSPORT: 'log',
    };
    // One after the other: the first creates the schema and the CP's key file the second then reads.
    for (let i = 0; i < 2; i++) {
      const cp = spawnBinary('cp', env);
      replicas.push(cp);
      urls.push(await cp.listening(120_000));
    }
  });

  after(async () => {
    for (const cp of replicas) {
      if (cp.proc.exitCode === null && cp.proc.signalCode === null) {
        cp.proc.kill('SIGTERM');
        await within(cp.exited, 30_000);
        if (cp.proc.exitCode === null && cp.proc.signalCode === null) cp.proc.kill('SIGKILL');
      }
    }
    await dropScratch().catch(() => undefined);
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('the "Done when" script, alternating replicas: mint (orgs:create + orgs:list), create, poll, list, refused delete (403), throttled (429), locked out on revoke', async () => {
    const [a, b] = urls as [string, string];
    const k = await mint(a, { scopes: ['orgs:create', 'orgs:list'], rate_limit: 8 });
    const slug = `done-${randomBytes(3).toString('hex')}`;
    const created = await http('POST', `${b}/cp/orgs`, { headers: withKey(k.key), body: { name: 'Done When Inc', slug, plan: 'starter' } });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.status, 'provisioning');
    const status = await http('GET', `${a}/cp/orgs/${created.json.id}/status`, { headers: withKey(k.key) });
    assert.equal(status.status, 200, status.text);
    assert.equal(status.json.slug, slug);
    const listed = await http('GET', `${b}/api/v1/orgs`, { headers: withKey(k.key) });
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual((listed.json as Array<{ slug: string }>).map((o) => o.slug), [slug]);
    const refused = await http('DELETE', `${a}/cp/orgs/${slug}`, { headers: withKey(k.key) });
    assert.equal(refused.status, 403, refused.text);
    assert.equal(refused.json.error, 'this API key lacks the scope orgs:delete');
    // 4 requests so far, on both replicas: 4 more fit the key's 8 a minute, the 9th is refused wherever it lands.
    for (let i = 0; i < 4; i++) assert.equal((await http('GET', `${i % 2 ? a : b}/api/v1/orgs`, { headers: withKey(k.key) })).status, 200);
    const throttled = await http('GET', `${a}/api/v1/orgs`, { headers: withKey(k.key) });
    assert.equal(throttled.status, 429, throttled.text);
    assert.equal(throttled.json.error, 'rate limit exceeded');
    assert.ok(Number(throttled.json.retry_after) >= 1);
    assert.equal(throttled.headers['retry-after'], String(throttled.json.retry_after));
    assert.equal(throttled.headers['x-ratelimit-limit'], '8');
    assert.equal((await http('GET', `${b}/api/v1/orgs`, { headers: withKey(k.key) })).status, 429, 'the other replica counts against the same budget');
    const revoke = await http('DELETE', `${b}/api/v1/admin/partner-keys/${k.id}`, { headers: admin });
    assert.equal(revoke.status, 204, revoke.text);
    for (const on of [a, b]) {
      const locked = await http('GET', `${on}/api/v1/orgs`, { headers: withKey(k.key) });
      assert.equal(locked.status, 401, locked.text);
      assert.deepEqual([locked.json.error, locked.json.code], ['invalid API key', 'INVALID_API_KEY']);
    }
  });

  it('a key’s limit is its own: another key of the same partner, on the same replicas, still has its whole budget', async () => {
    const [a, b] = urls as [string, string];
    const busy = await mint(a, { scopes: ['orgs:list'], rate_limit: 3 });
    const quiet = await mint(b, { scopes: ['orgs:list'], rate_limit: 3 });
    for (const on of [a, b, a]) assert.equal((await http('GET', `${on}/api/v1/orgs`, { headers: withKey(busy.key) })).status, 200);
    assert.equal((await http('GET', `${b}/api/v1/orgs`, { headers: withKey(busy.key) })).status, 429);
    for (const on of [b, a, b]) assert.equal((await http('GET', `${on}/api/v1/orgs`, { headers: withKey(quiet.key) })).status, 200);
  });

  it('a revoke on one replica is effective on the very next request on the other, for keys used there a moment before (no positive cache)', async () => {
    const [a, b] = urls as [string, string];
    for (const [revokeOn, useOn] of [
      [a, b],
      [b, a],
    ] as const) {
      const k = await mint(revokeOn, { scopes: ['orgs:list'], rate_limit: 1000 });
      // Warm: the key was just accepted on the other replica, several times.
      for (let i = 0; i < 5; i++) assert.equal((await http('GET', `${useOn}/api/v1/orgs`, { headers: withKey(k.key) })).status, 200);
      assert.equal((await http('DELETE', `${revokeOn}/cp/admin/partner-keys/${k.id}`, { headers: admin })).status, 204);
      const next = await http('GET', `${useOn}/api/v1/orgs`, { headers: withKey(k.key) });
      assert.equal(next.status, 401, `the next request on the other replica: ${next.text}`);
    }
  });

  it('a key revokes itself on one replica with its own bearer (the seed’s step 4); the other replica refuses it next', async () => {
    const [a, b] = urls as [string, string];
    const k = await mint(a, { scopes: ['orgs:list'] });
    assert.equal((await http('GET', `${b}/api/v1/orgs`, { headers: withKey(k.key) })).status, 200);
    const self = await http('DELETE', `${a}/cp/admin/partner-keys/${k.id}`, { headers: withKey(k.key) });
    assert.equal(self.status, 204, self.text);
    assert.match(String(self.headers['deprecation']), /^(true|@\d+)$/);
    assert.equal((await http('GET', `${b}/api/v1/orgs`, { headers: withKey(k.key) })).status, 401);
  });
});
