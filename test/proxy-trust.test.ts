/**
 * TRUST_PROXY (issue 7 item 8): the client address every limit and audit row is keyed on comes from
 * X-Forwarded-For only when the TCP peer is a configured proxy; otherwise the header is ignored, so one client
 * cannot pose as many (dodging per-address limits) or as another (locking them out).
 */
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { loadControlPlaneConfig } from '../src/control-plane/config.js';
import { loadTenantConfig } from '../src/tenant/config.js';
import { ConfigError } from '../src/core/config.js';
import { startTestControlPlane, type TestControlPlane } from './cp-harness.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

const PROXY = '10.20.0.5';

it('TRUST_PROXY takes addresses and CIDRs, refuses anything else, and trusts nobody when unset', () => {
  for (const load of [loadControlPlaneConfig, loadTenantConfig]) {
    assert.deepEqual(load({}).TRUST_PROXY, []);
    assert.deepEqual(load({ TRUST_PROXY: '10.20.0.0/16, 127.0.0.1 ,::1,fd00::/8' }).TRUST_PROXY, ['10.20.0.0/16', '127.0.0.1', '::1', 'fd00::/8']);
    for (const bad of ['10.0.0.0/33', 'proxy.internal', '10.0.0.1/x', '*', '10.0.0.0/8,,']) {
      assert.throws(() => load({ TRUST_PROXY: bad }), (err: unknown) => err instanceof ConfigError && err.problems.some((p) => p.startsWith('TRUST_PROXY:')), bad);
    }
  }
});

forEachDatabase('control plane: X-Forwarded-For is honoured only from a trusted proxy', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind, { env: { TRUST_PROXY: '10.20.0.0/24', LOGIN_ADDRESS_LIMIT: '2' } });
  });
  after(() => cp.close());

  const login = (user: { email: string; password: string }, remoteAddress: string, forwardedFor?: string) =>
    cp.app.inject({
      method: 'POST',
      url: '/api/v1/auth/login',
      payload: { email: user.email, password: user.password },
      remoteAddress,
      headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
    });
  const sessionAddressOf = async (userId: string) =>
    (await cp.db.selectFrom('sessions').select('client_ip').where('user_id', '=', userId).orderBy('created_at', 'desc').executeTakeFirstOrThrow()).client_ip;

  it('from a trusted proxy, the client is the forwarded address: sessions record it and limits are per client', async () => {
    const user = await cp.signup();
    const res = await login(user, PROXY, '198.51.100.7');
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(await sessionAddressOf(user.userId), '198.51.100.7');
    // A chain: the right-most address the trusted proxy saw is the client; what the client wrote before it is not.
    assert.equal((await login(user, PROXY, '6.6.6.6, 198.51.100.8')).statusCode, 200);
    assert.equal(await sessionAddressOf(user.userId), '198.51.100.8');
    // Per-address limit (2): 198.51.100.9 is spent, other clients behind the same proxy are not.
    assert.equal((await login(user, PROXY, '198.51.100.9')).statusCode, 200);
    assert.equal((await login(user, PROXY, '198.51.100.9')).statusCode, 200);
    assert.equal((await login(user, PROXY, '198.51.100.9')).statusCode, 429);
    assert.equal((await login(user, PROXY, '198.51.100.10')).statusCode, 200);
  });

  it('from an untrusted peer, X-Forwarded-For is ignored: the peer is the client, whatever it claims', async () => {
    const user = await cp.signup();
    const peer = '203.0.113.50';
    assert.equal((await login(user, peer, '198.51.100.77')).statusCode, 200);
    assert.equal(await sessionAddressOf(user.userId), peer);
    // Rotating the header does not buy fresh per-address budgets...
    assert.equal((await login(user, peer, '198.51.100.78')).statusCode, 200);
    assert.equal((await login(user, peer, '198.51.100.79')).statusCode, 429);
    // ...and naming someone else's address does not spend theirs.
    assert.equal((await login(user, '203.0.113.51')).statusCode, 200);
  });
});

forEachDatabase('tenant: X-Forwarded-For is honoured only from a trusted proxy', (kind) => {
  let t: TestTenant;
  before(async () => {
    t = await startTestTenant(kind, { env: { TRUST_PROXY: `${PROXY}` } });
  });
  after(() => t.close());

  it('the audit trail records the forwarded client only when the peer is the trusted proxy', async () => {
    const mint = async (remoteAddress: string, forwardedFor: string) => {
      const res = await t.app.inject({ method: 'POST', url: '/org/tokens', headers: { ...t.admin(), 'x-forwarded-for': forwardedFor }, payload: { name: 'proxy-test' }, remoteAddress });
      assert.equal(res.statusCode, 200, res.body);
      const row = await t.db.selectFrom('audit_events').select(['client_ip', 'request_id']).where('request_id', '=', res.headers['x-request-id'] as string).executeTakeFirstOrThrow();
      return row.client_ip;
    };
    assert.equal(await mint(PROXY, '198.51.100.21'), '198.51.100.21');
    assert.equal(await mint('203.0.113.60', '198.51.100.22'), '203.0.113.60');
  });
});
