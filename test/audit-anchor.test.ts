/**
 * The audit anchor end to end (issue 9 item 3; SECURITY.md "Audit anchor"): a tenant listening on loopback, pointed at
 * a real control plane that holds its org (instance row + a minted tenant admin token), reports its chain head; the
 * chain is then rewound — and later rewritten — directly in the tenant's database, where its own verification
 * cannot notice, and GET /audit/verify says so by holding it to the CP's anchor. Plus the boot events around it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startTestControlPlane, type TestControlPlane, type TestOrg, type TestUser } from './cp-harness.js';
import { forEachDatabase, startTestTenant, type TestTenant } from './harness.js';

async function until<T>(what: string, probe: () => T | null | undefined | false | Promise<T | null | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Anchor {
  count: number;
  head_hash: string;
  reported_at: string;
}

forEachDatabase('audit anchor at the control plane', (kind) => {
  let cp: TestControlPlane;
  let owner: TestUser;

  before(async () => {
    cp = await startTestControlPlane(kind, { listen: true });
    owner = await cp.signup();
  });
  after(() => cp.close());

  /** A CP org as the provisioner leaves it (instance row, minted token) and a tenant of it, listening. */
  async function provisionedTenant(env: Record<string, string> = {}): Promise<{ org: TestOrg; token: string; t: TestTenant }> {
    const org = await cp.createOrg(owner);
    const token = await cp.mintTenantAdminToken(org.id);
    const t = await startTestTenant(kind, {
      listen: true,
      env: { CP_UPSTREAM_URL: cp.url, MOLECULE_ORG_ID: org.id, MOLECULE_ORG_SLUG: org.slug, ADMIN_TOKEN: token, AUDIT_ANCHOR_INTERVAL_SECONDS: '1', ...env },
    });
    return { org, token, t };
  }

  const anchorAtCp = async (org: TestOrg, token: string): Promise<Anchor | null> => {
    const res = await cp.app.inject({ method: 'GET', url: '/cp/tenants/audit-anchor', headers: { authorization: `Bearer ${token}`, 'x-molecule-org-id': org.id } });
    return res.statusCode === 200 ? (res.json() as Anchor) : null;
  };
  const bootEvents = async (org: TestOrg) =>
    (await cp.app.inject({ method: 'GET', url: `/api/v1/admin/tenants/${org.slug}/boot-events?limit=50`, headers: cp.admin() })).json().events as Array<{ stage: string; detail: string | null }>;
  const anchorHistory = async (org: TestOrg) =>
    (await cp.app.inject({ method: 'GET', url: `/api/v1/admin/tenants/${org.slug}/audit-anchors?limit=100`, headers: cp.admin() })).json().anchors as Array<Anchor & { reason: string }>;
  const localHead = async (t: TestTenant) => {
    const row = await t.db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
    return { count: Number(row.seq), hash: row.hash };
  };
  /** Authenticated requests over real HTTP: each one is an audit event. */
  const activity = async (t: TestTenant, n: number) => {
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${t.url}/workspaces`, { headers: t.admin() });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    }
  };
  const verify = async (t: TestTenant) => {
    const res = await fetch(`${t.url}/audit/verify`, { headers: t.admin() });
    assert.equal(res.status, 200);
    return (await res.json()) as Record<string, unknown> & { anchor: Record<string, unknown> };
  };

  describe('a clean tenant', () => {
    let org: TestOrg;
    let token: string;
    let t: TestTenant;
    before(async () => {
      ({ org, token, t } = await provisionedTenant());
    });

    it('says `listening` with the URL it really listens on (the readiness signal)', async () => {
      const events = await until('the listening boot event', async () => ((await bootEvents(org)).some((e) => e.stage === 'listening') ? bootEvents(org) : null));
      assert.equal(events.find((e) => e.stage === 'listening')?.detail, `url=${t.url}`);
    });

    it('reports its chain head when it changes, and verifies ok:true against the anchor', async () => {
      await activity(t, 6);
      // Written behind: wait until the rows are in and the CP holds exactly this head.
      const anchored = await until('the CP to anchor the current head', async () => {
        const [a, head] = [await anchorAtCp(org, token), await localHead(t)];
        return a && head.count >= 6 && a.count === head.count && a.head_hash === head.hash ? a : null;
      });
      const body = await verify(t);
      assert.equal(body['ok'], true, JSON.stringify(body));
      assert.ok((body['count'] as number) >= anchored.count);
      assert.deepEqual(body.anchor, { checked: true, count: anchored.count, head_hash: anchored.head_hash, reported_at: anchored.reported_at });
    });

    it('at shutdown says `stopping` and reports its final head (`shutdown`), after the audit writer flushed', async () => {
      await activity(t, 2);
      await t.close();
      const events = await bootEvents(org);
      assert.equal(events[0]?.stage, 'stopping');
      const newest = (await anchorHistory(org))[0];
      assert.equal(newest?.reason, 'shutdown');
      const anchor = await anchorAtCp(org, token);
      assert.equal(anchor?.count, newest?.count);
    });
  });

  describe('a tenant whose chain is rewound, then rewritten, in its own database', () => {
    let org: TestOrg;
    let token: string;
    let t: TestTenant;
    let anchored: Anchor;
    before(async () => {
      ({ org, token, t } = await provisionedTenant());
      await activity(t, 8);
      anchored = await until('the CP to anchor the current head', async () => {
        const [a, head] = [await anchorAtCp(org, token), await localHead(t)];
        return a && head.count >= 8 && a.count === head.count && a.head_hash === head.hash ? a : null;
      });
    });
    after(() => t.close());

    it('rewound (newest rows deleted, audit_head moved back): its own check passes, the anchor says `behind anchor`', async () => {
      const keep = anchored.count - 3;
      // One transaction holding the head, so no buffered event is appended halfway through.
      await t.db.transaction().execute(async (tx) => {
        await sql`select seq from audit_head where id = 1 for update`.execute(tx);
        await tx.deleteFrom('audit_events').where('seq', '>', keep).execute();
        const row = await tx.selectFrom('audit_events').select('hash').where('seq', '=', keep).executeTakeFirstOrThrow();
        await tx.updateTable('audit_head').set({ seq: keep, hash: row.hash }).where('id', '=', 1).execute();
      });
      const body = await verify(t);
      assert.equal(body['ok'], false, JSON.stringify(body));
      assert.equal(body['reason'], 'behind anchor');
      assert.equal(body['anchored_count'], anchored.count);
      assert.equal(body['anchored_hash'], anchored.head_hash);
      assert.ok((body['count'] as number) < anchored.count, JSON.stringify(body));
      assert.equal(body['broken_at'], (body['count'] as number) + 1);
      assert.deepEqual(body.anchor, { checked: true, count: anchored.count, head_hash: anchored.head_hash, reported_at: anchored.reported_at });
    });

    it('its next report of the shorter chain is recorded at the CP (409 to the tenant) and does not lower the anchor', async () => {
      await until('the rewound head to reach the CP', async () => (await anchorHistory(org)).some((a) => a.count < anchored.count));
      const anchor = await anchorAtCp(org, token);
      assert.deepEqual([anchor?.count, anchor?.head_hash], [anchored.count, anchored.head_hash]);
    });

    it('grown past the anchor again with other rows: `diverged from anchor`, and the tenant does not anchor the rewritten chain', async () => {
      await activity(t, 6);
      await until('the chain to outgrow the anchor', async () => (await localHead(t)).count > anchored.count + 1);
      const body = await verify(t);
      assert.equal(body['ok'], false, JSON.stringify(body));
      assert.equal(body['reason'], 'diverged from anchor');
      assert.equal(body['broken_at'], anchored.count);
      assert.equal(typeof body['event_id'], 'string');
      assert.equal(body['anchored_count'], anchored.count);
      const anchor = await anchorAtCp(org, token);
      assert.deepEqual([anchor?.count, anchor?.head_hash], [anchored.count, anchored.head_hash]);
    });
  });

  describe('a tenant whose control plane cannot be reached', () => {
    let t: TestTenant;
    before(async () => {
      const org = await cp.createOrg(owner);
      const token = await cp.mintTenantAdminToken(org.id);
      // Port 1 on loopback: refused at once. In process (not listening), so it sends no boot events.
      t = await startTestTenant(kind, { env: { CP_UPSTREAM_URL: 'http://127.0.0.1:1', MOLECULE_ORG_ID: org.id, ADMIN_TOKEN: token } });
    });
    after(() => t.close());

    it('keeps the local result and says the anchor was not checked, and why', async () => {
      await t.app.inject({ method: 'GET', url: '/workspaces', headers: t.admin() });
      const res = await t.app.inject({ method: 'GET', url: '/audit/verify', headers: t.admin() });
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.ok, true, res.body);
      assert.equal(body.anchor.checked, false);
      assert.match(body.anchor.reason, /control plane unreachable/);
    });
  });
});
