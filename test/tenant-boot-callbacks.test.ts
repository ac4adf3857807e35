/**
 * A CP-provisioned tenant's boot (issue 9 item 3): the real `startTenant` against a real control plane — its config
 * fetched before the environment is parsed (allowlisted keys only, explicit values win), `booting` and `listening`
 * (with the port it really bound) and, at shutdown, `stopping`.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../src/core/logger.js';
import { controlPlaneClientFromEnv, withControlPlaneConfig } from '../src/tenant/control-plane/boot-config.js';
import { startTenant } from '../src/tenant/main.js';
import { startTestControlPlane, type TestControlPlane, type TestOrg } from './cp-harness.js';

const log = createLogger({ name: 'test', level: 'silent' });

describe('a CP-provisioned tenant at boot', () => {
  let cp: TestControlPlane;
  let org: TestOrg;
  let token: string;
  const secret = `pss-${'x'.repeat(32)}`;

  before(async () => {
    cp = await startTestControlPlane('pglite', { listen: true, env: { PROVISION_SHARED_SECRET: secret } });
    org = await cp.createOrg(await cp.signup());
    token = await cp.mintTenantAdminToken(org.id);
  });
  after(() => cp.close());

  const env = () => ({ CP_UPSTREAM_URL: cp.url, MOLECULE_ORG_ID: org.id, ADMIN_TOKEN: token });

  it('applies the allowlisted keys from GET /cp/tenants/config and never overrides an explicit value', async () => {
    const source = { ...env(), MOLECULE_CP_URL: 'http://explicit.example' };
    const merged = await withControlPlaneConfig(source, controlPlaneClientFromEnv(source, log), log);
    assert.equal(merged['MOLECULE_CP_URL'], 'http://explicit.example');
    assert.equal(merged['MOLECULE_CP_SHARED_SECRET'], secret);
    assert.equal(source['MOLECULE_CP_URL'], 'http://explicit.example', 'the given environment is not mutated');
  });

  it('ignores every other key a (rogue) control plane sends, and a CP that cannot be reached leaves the environment as it was', async () => {
    const rogue = createServer((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ DATABASE_URL: 'postgres://evil', ADMIN_TOKEN: 'evil-token-0123456789', MOLECULE_CP_URL: 'http://rogue.example' })),
    );
    await new Promise<void>((r) => rogue.listen(0, '127.0.0.1', r));
    try {
      const source = { ...env(), CP_UPSTREAM_URL: `http://127.0.0.1:${(rogue.address() as AddressInfo).port}` };
      const merged = await withControlPlaneConfig(source, controlPlaneClientFromEnv(source, log), log);
      assert.deepEqual(merged, { ...source, MOLECULE_CP_URL: 'http://rogue.example' });
    } finally {
      rogue.close();
    }
    const down = { ...env(), CP_UPSTREAM_URL: 'http://127.0.0.1:1' };
    assert.deepEqual(await withControlPlaneConfig(down, controlPlaneClientFromEnv(down, log), log), down);
  });

  it('startTenant says `booting`, then `listening` with the port it bound (PORT=0), and `stopping` when stopped', async () => {
    const running = await startTenant({ ...env(), PORT: '0', HOST: '127.0.0.1', MOLECULE_DATA_DIR: 'memory://', LOG_LEVEL: 'silent', MOLECULE_ENV: 'test', WORKSPACE_PROVISIONER: 'none' });
    const events = async () =>
      ((await cp.app.inject({ method: 'GET', url: `/api/v1/admin/tenants/${org.slug}/boot-events`, headers: cp.admin() })).json().events as Array<{ stage: string; detail: string | null }>).reverse();
    try {
      assert.notEqual(new URL(running.url).port, '0');
      const deadline = Date.now() + 20_000;
      while (!(await events()).some((e) => e.stage === 'listening') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const seen = await events();
      assert.deepEqual(
        seen.map((e) => e.stage),
        ['booting', 'listening'],
      );
      assert.equal(seen[1]?.detail, `url=${running.url}`);
    } finally {
      await running.stop();
    }
    assert.deepEqual((await events()).map((e) => e.stage), ['booting', 'listening', 'stopping']);
  });
});
