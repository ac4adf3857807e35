import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { hashCredential, isWellFormed, mintCredential } from '../src/core/credentials/format.js';
import { newId } from '../src/core/ids.js';
import { publicUrlOf } from '../src/control-plane/config.js';
import type { MemberRole } from '../src/control-plane/db/schema.js';
import { forEachDatabase } from './harness.js';
import { startTestControlPlane, type TestControlPlane, type TestOrg, type TestUser } from './cp-harness.js';

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

forEachDatabase('control plane: members and invitations', (kind) => {
  let cp: TestControlPlane;
  before(async () => {
    cp = await startTestControlPlane(kind);
  });
  after(() => cp.close());

  function call(method: Method, url: string, user?: TestUser, payload?: unknown) {
    return cp.app.inject({ method, url, headers: user ? cp.as(user) : {}, ...(payload !== undefined ? { payload: payload as object } : {}) });
  }

  async function invite(inviter: TestUser, slug: string, body: Record<string, unknown> = {}, prefix = '/api/v1') {
    const res = await call('POST', `${prefix}/orgs/${slug}/members/invitations`, inviter, body);
    assert.equal(res.statusCode, 201, res.body);
    return res.json() as { id: string; invite_token: string; role: MemberRole; email: string | null; prefix: string; expires_at: string };
  }

  /** Brings `user` into the org with `role`, the way a client would: an email-bound invitation, then accept (with a verified address). */
  async function addMember(org: TestOrg, owner: TestUser, user: TestUser, role: MemberRole) {
    const { email_verified_at } = await cp.db.selectFrom('users').select('email_verified_at').where('id', '=', user.userId).executeTakeFirstOrThrow();
    if (email_verified_at === null) await cp.verifyEmail(user);
    const inv = await invite(owner, org.slug, { email: user.email, role });
    const res = await call('POST', '/api/v1/invitations/accept', user, { token: inv.invite_token });
    assert.equal(res.statusCode, 200, res.body);
  }

  async function roleOf(org: TestOrg, userId: string): Promise<MemberRole | null> {
    const row = await cp.db.selectFrom('org_members').select('role').where('org_id', '=', org.id).where('user_id', '=', userId).executeTakeFirst();
    return row?.role ?? null;
  }

  async function ownerCount(org: TestOrg): Promise<number> {
    const rows = await cp.db.selectFrom('org_members').select('user_id').where('org_id', '=', org.id).where('role', '=', 'owner').execute();
    return rows.length;
  }

  /** Everything the membership routes can change, to prove a refused request changed nothing. */
  async function membershipState(): Promise<string> {
    const members = await cp.db.selectFrom('org_members').selectAll().orderBy('org_id').orderBy('user_id').execute();
    const invitations = await cp.db.selectFrom('org_invitations').selectAll().orderBy('id').execute();
    return JSON.stringify({ members, invitations });
  }

  /** The successful mutations' audit events: written in the mutation's own transaction, so present at once. */
  async function auditEvents(actor: string, route: string) {
    return cp.db
      .selectFrom('audit_events')
      .select(['method', 'route', 'path', 'status'])
      .where('actor', '=', actor)
      .where('route', '=', route)
      .where('status', '<', 300)
      .where('method', '<>', 'GET')
      .orderBy('seq')
      .execute();
  }

  it('the issue’s flow: a second user is invited, accepts, sees the org; the owner removes them and they lose access', async () => {
    const owner = await cp.signup({ name: 'Olive Owner' });
    const bob = await cp.signup({ email: `bob-${Date.now()}@example.com`, name: 'Bob', verifyEmail: true });
    const org = await cp.createOrg(owner);

    const created = await call('POST', `/api/v1/orgs/${org.slug}/members/invitations`, owner, { email: bob.email.toUpperCase() });
    assert.equal(created.statusCode, 201, created.body);
    const inv = created.json();
    assert.deepEqual(Object.keys(inv).sort(), ['accept_url', 'created_at', 'email', 'expires_at', 'id', 'invite_token', 'invited_by', 'org_slug', 'prefix', 'role']);
    assert.match(inv.id, /^inv_[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.equal(inv.org_slug, org.slug);
    assert.equal(inv.role, 'member');
    assert.equal(inv.email, bob.email, 'stored lower-cased');
    assert.equal(inv.invited_by, owner.userId);
    assert.equal(isWellFormed('invitation', inv.invite_token), true);
    assert.match(inv.invite_token, /^moli_/);
    assert.equal(inv.prefix, inv.invite_token.slice(0, 13));
    assert.equal(inv.accept_url, `${publicUrlOf(cp.config)}/api/v1/invitations/accept`);
    const ttlHours = (Date.parse(inv.expires_at) - Date.parse(inv.created_at)) / 3600_000;
    assert.ok(Math.abs(ttlHours - 168) < 0.01, `default lifetime is 7 days, got ${ttlHours}h`);

    // At rest: the sha256 and the prefix only.
    const row = await cp.db.selectFrom('org_invitations').selectAll().where('id', '=', inv.id).executeTakeFirstOrThrow();
    assert.equal(row.token_hash, hashCredential(inv.invite_token));
    assert.equal(row.prefix, inv.prefix);
    assert.equal(JSON.stringify(row).includes(inv.invite_token), false);
    assert.deepEqual(await auditEvents(`session:${owner.userId}`, '/api/v1/orgs/:slug/members/invitations'), [
      { method: 'POST', route: '/api/v1/orgs/:slug/members/invitations', path: `/api/v1/orgs/${org.slug}/members/invitations`, status: 201 },
    ]);

    // Before accepting, Bob sees nothing.
    assert.equal((await call('GET', `/api/v1/orgs/${org.slug}`, bob)).statusCode, 404);
    assert.deepEqual((await call('GET', '/api/v1/orgs', bob)).json(), []);

    const accepted = await call('POST', '/api/v1/invitations/accept', bob, { token: inv.invite_token });
    assert.equal(accepted.statusCode, 200, accepted.body);
    assert.equal(accepted.json().role, 'member');
    assert.equal(accepted.json().organization.id, org.id);
    assert.equal(accepted.json().organization.slug, org.slug);
    assert.equal(accepted.json().organization.role, 'member');
    const used = await cp.db.selectFrom('org_invitations').select(['accepted_at', 'accepted_by']).where('id', '=', inv.id).executeTakeFirstOrThrow();
    assert.equal(used.accepted_by, bob.userId);
    assert.ok(used.accepted_at instanceof Date);
    assert.deepEqual(await auditEvents(`session:${bob.userId}`, '/api/v1/invitations/accept'), [
      { method: 'POST', route: '/api/v1/invitations/accept', path: '/api/v1/invitations/accept', status: 200 },
    ]);

    const orgs = await call('GET', '/api/v1/orgs', bob);
    assert.equal(orgs.statusCode, 200);
    assert.deepEqual(orgs.json().map((o: { slug: string; role: string }) => [o.slug, o.role]), [[org.slug, 'member']]);
    const member = await call('GET', `/cp/auth/tenant-member?slug=${org.slug}`, bob);
    assert.equal(member.statusCode, 200);
    assert.deepEqual(member.json(), { member: true, user_id: bob.userId, role: 'member', org_id: org.id, slug: org.slug });

    const list = await call('GET', `/api/v1/orgs/${org.slug}/members`, bob);
    assert.equal(list.statusCode, 200, list.body);
    const body = list.json();
    assert.equal(body.count, 2);
    assert.equal(body.members[0].user_id, owner.userId);
    assert.equal(body.members[0].role, 'owner');
    assert.equal(body.members[0].email, owner.email);
    assert.equal(body.members[0].name, 'Olive Owner');
    assert.equal(body.members[0].invited_by, null);
    assert.deepEqual(Object.keys(body.members[1]).sort(), ['email', 'invited_by', 'joined_at', 'name', 'role', 'user_id']);
    assert.equal(body.members[1].user_id, bob.userId);
    assert.equal(body.members[1].role, 'member');
    assert.equal(body.members[1].email, bob.email);
    assert.equal(body.members[1].name, 'Bob');
    assert.equal(body.members[1].invited_by, owner.userId);
    assert.ok(Date.parse(body.members[1].joined_at) >= Date.parse(body.members[0].joined_at));

    const removed = await call('DELETE', `/api/v1/orgs/${org.slug}/members/${bob.userId}`, owner);
    assert.equal(removed.statusCode, 204, removed.body);
    assert.equal(removed.body, '');
    assert.deepEqual(await auditEvents(`session:${owner.userId}`, '/api/v1/orgs/:slug/members/:user_id'), [
      { method: 'DELETE', route: '/api/v1/orgs/:slug/members/:user_id', path: `/api/v1/orgs/${org.slug}/members/${bob.userId}`, status: 204 },
    ]);

    const gone = await call('GET', `/api/v1/orgs/${org.slug}`, bob);
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.json().code, 'ORG_NOT_FOUND');
    assert.deepEqual((await call('GET', `/cp/auth/tenant-member?slug=${org.slug}`, bob)).json(), { member: false });
    assert.deepEqual((await call('GET', '/api/v1/orgs', bob)).json(), []);
    assert.equal((await call('GET', `/api/v1/orgs/${org.slug}/members`, bob)).statusCode, 404);
    // The used token does not let them back in.
    const again = await call('POST', '/api/v1/invitations/accept', bob, { token: inv.invite_token });
    assert.equal(again.statusCode, 404);
    assert.equal(again.json().code, 'INVITATION_NOT_FOUND');
    assert.equal(await roleOf(org, bob.userId), null);
  });

  it('the /cp alias serves the same routes with the same bodies, plus deprecation headers', async () => {
    const owner = await cp.signup();
    const carol = await cp.signup();
    const org = await cp.createOrg(owner);
    const inv = await invite(owner, org.slug, { role: 'admin', expires_in_hours: 2 }, '/cp');
    assert.equal(inv.role, 'admin');
    assert.equal(inv.email, null);

    const pending = await call('GET', `/cp/orgs/${org.slug}/members/invitations`, owner);
    assert.equal(pending.statusCode, 200);
    assert.ok(pending.headers['deprecation'], 'the alias says it is deprecated');
    assert.equal(pending.headers['link'], `</api/v1/orgs/${org.slug}/members/invitations>; rel="successor-version"`);
    assert.deepEqual(pending.json(), (await call('GET', `/api/v1/orgs/${org.slug}/members/invitations`, owner)).json());

    const accepted = await call('POST', '/cp/invitations/accept', carol, { token: inv.invite_token });
    assert.equal(accepted.statusCode, 200, accepted.body);
    assert.equal(accepted.json().role, 'admin');
    const viaAlias = await call('GET', `/cp/orgs/${org.slug}/members`, carol);
    assert.equal(viaAlias.statusCode, 200);
    assert.deepEqual(viaAlias.json(), (await call('GET', `/api/v1/orgs/${org.slug}/members`, carol)).json());

    const patched = await call('PATCH', `/cp/orgs/${org.slug}/members/${carol.userId}`, owner, { role: 'member' });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.equal(patched.json().role, 'member');
    assert.ok(patched.headers['sunset']);
    const left = await call('DELETE', `/cp/orgs/${org.slug}/members/${carol.userId}`, carol);
    assert.equal(left.statusCode, 204, left.body);
    assert.equal(await roleOf(org, carol.userId), null);
  });

  it('lists pending invitations only, never a token or hash; revoking makes the token useless', async () => {
    const owner = await cp.signup();
    const dave = await cp.signup();
    const org = await cp.createOrg(owner);
    const other = await cp.createOrg(owner);
    const a = await invite(owner, org.slug, { email: 'someone@example.com' });
    const b = await invite(owner, org.slug, { role: 'admin' });
    const expired = await invite(owner, org.slug);
    await cp.db.updateTable('org_invitations').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', expired.id).execute();
    const used = await invite(owner, org.slug);
    assert.equal((await call('POST', '/api/v1/invitations/accept', dave, { token: used.invite_token })).statusCode, 200);
    const otherOrgs = await invite(owner, other.slug);

    const list = await call('GET', `/api/v1/orgs/${org.slug}/members/invitations`, owner);
    assert.equal(list.statusCode, 200, list.body);
    assert.equal(list.json().count, 2);
    assert.deepEqual(
      list.json().invitations.map((i: { id: string; role: string; email: string | null; prefix: string }) => [i.id, i.role, i.email, i.prefix]),
      [
        [a.id, 'member', 'someone@example.com', a.prefix],
        [b.id, 'admin', null, b.prefix],
      ],
    );
    for (const token of [a.invite_token, b.invite_token]) {
      assert.equal(list.body.includes(token), false);
      assert.equal(list.body.includes(hashCredential(token)), false);
    }
    assert.equal(list.body.includes('token_hash'), false);

    // Another org's invitation, an unknown id, a used or expired one: 404, nothing changes.
    const state = await membershipState();
    for (const id of [otherOrgs.id, newId('invitation'), used.id, expired.id]) {
      const res = await call('DELETE', `/api/v1/orgs/${org.slug}/members/invitations/${id}`, owner);
      assert.equal(res.statusCode, 404, `${id}: ${res.body}`);
      assert.equal(res.json().code, 'INVITATION_NOT_FOUND');
    }
    assert.equal(await membershipState(), state);

    const revoked = await call('DELETE', `/api/v1/orgs/${org.slug}/members/invitations/${b.id}`, owner);
    assert.equal(revoked.statusCode, 200, revoked.body);
    assert.deepEqual(revoked.json(), { revoked: b.id });
    assert.deepEqual(await auditEvents(`session:${owner.userId}`, '/api/v1/orgs/:slug/members/invitations/:id'), [
      { method: 'DELETE', route: '/api/v1/orgs/:slug/members/invitations/:id', path: `/api/v1/orgs/${org.slug}/members/invitations/${b.id}`, status: 200 },
    ]);
    const again = await call('DELETE', `/api/v1/orgs/${org.slug}/members/invitations/${b.id}`, owner);
    assert.equal(again.statusCode, 404);
    const after = await call('GET', `/api/v1/orgs/${org.slug}/members/invitations`, owner);
    assert.deepEqual(after.json().invitations.map((i: { id: string }) => i.id), [a.id]);

    const eve = await cp.signup();
    const refused = await call('POST', '/api/v1/invitations/accept', eve, { token: b.invite_token });
    assert.equal(refused.statusCode, 404);
    assert.equal(refused.json().code, 'INVITATION_NOT_FOUND');
    assert.equal(await roleOf(org, eve.userId), null);
  });

  it('every unusable token gets the same 404: malformed, bad checksum, unknown, expired, revoked, used, bound to another email', async () => {
    const owner = await cp.signup();
    const frank = await cp.signup();
    const org = await cp.createOrg(owner);
    const expired = await invite(owner, org.slug);
    await cp.db.updateTable('org_invitations').set({ expires_at: new Date(Date.now() - 1) }).where('id', '=', expired.id).execute();
    const revoked = await invite(owner, org.slug);
    assert.equal((await call('DELETE', `/api/v1/orgs/${org.slug}/members/invitations/${revoked.id}`, owner)).statusCode, 200);
    const used = await invite(owner, org.slug);
    const helper = await cp.signup();
    assert.equal((await call('POST', '/api/v1/invitations/accept', helper, { token: used.invite_token })).statusCode, 200);
    const bound = await invite(owner, org.slug, { email: 'someone-else@example.com' });
    const good = mintCredential('invitation').plaintext;
    const badChecksum = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A');

    const state = await membershipState();
    const bodies = new Set<string>();
    for (const token of ['nope', 'moli_short', badChecksum, good, mintCredential('session').plaintext, expired.invite_token, revoked.invite_token, used.invite_token, bound.invite_token]) {
      const res = await call('POST', '/api/v1/invitations/accept', frank, { token });
      assert.equal(res.statusCode, 404, `${token}: ${res.body}`);
      const { request_id: _requestId, ...rest } = res.json();
      bodies.add(JSON.stringify(rest));
    }
    assert.deepEqual([...bodies], [JSON.stringify({ error: 'invitation not found, expired or already used', code: 'INVITATION_NOT_FOUND' })]);
    assert.equal(await membershipState(), state);
    assert.deepEqual((await call('GET', '/api/v1/orgs', frank)).json(), []);
  });

  it('an email-bound invitation works only for that email (case-insensitive), and stays usable after a refusal', async () => {
    const owner = await cp.signup();
    const grace = await cp.signup({ email: `grace-${Date.now()}@example.com`, verifyEmail: true });
    const mallory = await cp.signup();
    const org = await cp.createOrg(owner);
    const inv = await invite(owner, org.slug, { email: grace.email.replace('grace', 'GRACE'), role: 'admin' });
    assert.equal(inv.email, grace.email);

    const refused = await call('POST', '/api/v1/invitations/accept', mallory, { token: inv.invite_token });
    assert.equal(refused.statusCode, 404);
    assert.equal(refused.json().code, 'INVITATION_NOT_FOUND');
    assert.equal(await roleOf(org, mallory.userId), null);
    const row = await cp.db.selectFrom('org_invitations').select(['accepted_at', 'accepted_by']).where('id', '=', inv.id).executeTakeFirstOrThrow();
    assert.deepEqual(row, { accepted_at: null, accepted_by: null });

    const ok = await call('POST', '/api/v1/invitations/accept', grace, { token: inv.invite_token });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().role, 'admin');
    assert.equal(await roleOf(org, grace.userId), 'admin');
  });

  it('a token is single use, also when two users accept it at the same moment', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    for (let round = 0; round < 3; round++) {
      const inv = await invite(owner, org.slug);
      const [u1, u2] = [await cp.signup(), await cp.signup()];
      const results = await Promise.all([u1, u2].map((u) => call('POST', '/api/v1/invitations/accept', u, { token: inv.invite_token })));
      assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 404], results.map((r) => r.body).join(' | '));
      const loser = results.find((r) => r.statusCode === 404)!;
      assert.equal(loser.json().code, 'INVITATION_NOT_FOUND');
      const joined = [await roleOf(org, u1.userId), await roleOf(org, u2.userId)];
      assert.deepEqual(joined.filter((r) => r !== null), ['member'], 'exactly one of them joined');
      const row = await cp.db.selectFrom('org_invitations').select('accepted_by').where('id', '=', inv.id).executeTakeFirstOrThrow();
      const winner = results[0]!.statusCode === 200 ? u1 : u2;
      assert.equal(row.accepted_by, winner.userId);
    }
  });

  it('a member accepting another invitation gets 409 ALREADY_MEMBER and the invitation stays usable', async () => {
    const owner = await cp.signup();
    const heidi = await cp.signup();
    const ivan = await cp.signup();
    const org = await cp.createOrg(owner);
    await addMember(org, owner, heidi, 'member');
    const open = await invite(owner, org.slug, { role: 'admin' });

    const res = await call('POST', '/api/v1/invitations/accept', heidi, { token: open.invite_token });
    assert.equal(res.statusCode, 409);
    assert.equal(res.json().code, 'ALREADY_MEMBER');
    assert.equal(await roleOf(org, heidi.userId), 'member', 'the role is not changed by accepting');
    const ok = await call('POST', '/api/v1/invitations/accept', ivan, { token: open.invite_token });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(await roleOf(org, ivan.userId), 'admin');
  });

  it('inviting: admins may invite members and admins, only owners invite owners; members may not invite; existing members are 409', async () => {
    const owner = await cp.signup();
    const admin = await cp.signup();
    const member = await cp.signup();
    const org = await cp.createOrg(owner);
    await addMember(org, owner, admin, 'admin');
    await addMember(org, owner, member, 'member');

    assert.equal((await invite(admin, org.slug, { role: 'admin' })).role, 'admin');
    assert.equal((await invite(admin, org.slug)).role, 'member');
    const state = await membershipState();
    const asAdmin = await call('POST', `/api/v1/orgs/${org.slug}/members/invitations`, admin, { role: 'owner' });
    assert.equal(asAdmin.statusCode, 403);
    assert.equal(asAdmin.json().code, 'ROLE_FORBIDDEN');
    assert.match(asAdmin.json().error, /only an org owner can invite an owner/);
    const asMember = await call('POST', `/api/v1/orgs/${org.slug}/members/invitations`, member, {});
    assert.equal(asMember.statusCode, 403);
    assert.equal(asMember.json().code, 'ROLE_FORBIDDEN');
    const memberList = await call('GET', `/api/v1/orgs/${org.slug}/members/invitations`, member);
    assert.equal(memberList.statusCode, 403);
    const existing = await call('POST', `/api/v1/orgs/${org.slug}/members/invitations`, owner, { email: member.email.toUpperCase() });
    assert.equal(existing.statusCode, 409);
    assert.equal(existing.json().code, 'ALREADY_MEMBER');
    assert.equal(existing.json().field, 'email');
    assert.equal(await membershipState(), state);

    const ownerInvite = await invite(owner, org.slug, { role: 'owner', expires_in_hours: 1 });
    assert.ok(Math.abs(Date.parse(ownerInvite.expires_at) - (Date.now() + 3600_000)) < 60_000, 'expires_in_hours is honoured');
    const judy = await cp.signup();
    const ok = await call('POST', '/api/v1/invitations/accept', judy, { token: ownerInvite.invite_token });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().organization.role, 'owner');
    assert.equal(await ownerCount(org), 2);
  });

  it('caps pending invitations per org (expired and used ones do not count)', async () => {
    const owner = await cp.signup();
    const org = await cp.createOrg(owner);
    const rows = (n: number, expiresAt: Date) =>
      Array.from({ length: n }, () => {
        const m = mintCredential('invitation');
        return { id: newId('invitation'), org_id: org.id, token_hash: m.hash, prefix: m.displayPrefix, email: null, role: 'member' as const, invited_by: owner.userId, expires_at: expiresAt };
      });
    await cp.db.insertInto('org_invitations').values(rows(5, new Date(Date.now() - 1000))).execute();
    await cp.db.insertInto('org_invitations').values(rows(99, new Date(Date.now() + 3600_000))).execute();
    await invite(owner, org.slug); // the 100th pending one

    const state = await membershipState();
    const res = await call('POST', `/api/v1/orgs/${org.slug}/members/invitations`, owner, {});
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.json().code, 'INVITATION_LIMIT');
    assert.equal(res.json().limit, 100);
    assert.match(res.json().error, /100 pending invitations.*revoke some/);
    assert.equal(await membershipState(), state);
  });

  /** A fresh org created by `creator`, with `actorRole` and `targetRole` members added (the creator is an owner). */
  async function rolesFixture(creator: TestUser, actorRole: MemberRole, targetRole: MemberRole, users: { actor: TestUser; target: TestUser }) {
    const org = await cp.createOrg(creator);
    const actor = actorRole === 'owner' ? creator : users.actor;
    if (actor !== creator) await addMember(org, creator, actor, actorRole);
    await addMember(org, creator, users.target, targetRole);
    return { org, actor, target: users.target };
  }

  it('role changes follow the rules table (owner / admin / member acting on owner / admin / member)', async () => {
    const creator = await cp.signup();
    const users = { actor: await cp.signup(), target: await cp.signup() };
    const table: Array<[MemberRole, MemberRole, MemberRole, number]> = [
      // actor, target's role, new role, expected status
      ['owner', 'owner', 'admin', 200],
      ['owner', 'admin', 'member', 200],
      ['owner', 'member', 'owner', 200],
      ['owner', 'member', 'admin', 200],
      ['admin', 'owner', 'admin', 403],
      ['admin', 'owner', 'member', 403],
      ['admin', 'admin', 'member', 200],
      ['admin', 'member', 'admin', 200],
      ['admin', 'member', 'owner', 403],
      ['admin', 'admin', 'owner', 403],
      ['member', 'owner', 'member', 403],
      ['member', 'admin', 'member', 403],
      ['member', 'member', 'admin', 403],
    ];
    for (const [actorRole, targetRole, newRole, expected] of table) {
      const { org, actor, target } = await rolesFixture(creator, actorRole, targetRole, users);
      const state = await membershipState();
      const res = await call('PATCH', `/api/v1/orgs/${org.slug}/members/${target.userId}`, actor, { role: newRole });
      const label = `${actorRole} sets ${targetRole} → ${newRole}`;
      assert.equal(res.statusCode, expected, `${label}: ${res.body}`);
      if (expected === 200) {
        assert.equal(res.json().user_id, target.userId, label);
        assert.equal(res.json().role, newRole, label);
        assert.equal(res.json().email, target.email, label);
        assert.equal(await roleOf(org, target.userId), newRole, label);
      } else {
        assert.equal(res.json().code, 'ROLE_FORBIDDEN', label);
        assert.equal(await membershipState(), state, `${label}: nothing changed`);
      }
    }
    // A member cannot promote themselves either.
    const { org, actor } = await rolesFixture(creator, 'member', 'member', users);
    const self = await call('PATCH', `/api/v1/orgs/${org.slug}/members/${actor.userId}`, actor, { role: 'admin' });
    assert.equal(self.statusCode, 403);
    assert.equal(await roleOf(org, actor.userId), 'member');
  });

  it('removals follow the rules table, and every member may leave', async () => {
    const creator = await cp.signup();
    const users = { actor: await cp.signup(), target: await cp.signup() };
    const table: Array<[MemberRole, MemberRole, number]> = [
      ['owner', 'owner', 204],
      ['owner', 'admin', 204],
      ['owner', 'member', 204],
      ['admin', 'owner', 403],
      ['admin', 'admin', 204],
      ['admin', 'member', 204],
      ['member', 'owner', 403],
      ['member', 'admin', 403],
      ['member', 'member', 403],
    ];
    for (const [actorRole, targetRole, expected] of table) {
      const { org, actor, target } = await rolesFixture(creator, actorRole, targetRole, users);
      const state = await membershipState();
      const res = await call('DELETE', `/api/v1/orgs/${org.slug}/members/${target.userId}`, actor);
      const label = `${actorRole} removes ${targetRole}`;
      assert.equal(res.statusCode, expected, `${label}: ${res.body}`);
      if (expected === 204) {
        assert.equal(await roleOf(org, target.userId), null, label);
        assert.equal((await call('GET', `/api/v1/orgs/${org.slug}`, target)).statusCode, 404, label);
      } else {
        assert.equal(res.json().code, 'ROLE_FORBIDDEN', label);
        assert.equal(await membershipState(), state, `${label}: nothing changed`);
      }
    }
    for (const role of ['member', 'admin', 'owner'] as const) {
      const { org, target } = await rolesFixture(creator, 'owner', role, users);
      const res = await call('DELETE', `/api/v1/orgs/${org.slug}/members/${target.userId}`, target);
      assert.equal(res.statusCode, 204, `${role} leaves: ${res.body}`);
      assert.equal(await roleOf(org, target.userId), null);
      assert.deepEqual((await call('GET', `/cp/auth/tenant-member?slug=${org.slug}`, target)).json(), { member: false });
    }
  });

  it('an unknown member is 404 MEMBER_NOT_FOUND; a non-member gets 404 ORG_NOT_FOUND on every org route', async () => {
    const owner = await cp.signup();
    const outsider = await cp.signup();
    const org = await cp.createOrg(owner);
    const inv = await invite(owner, org.slug);
    const state = await membershipState();
    for (const [method, userId] of [['PATCH', outsider.userId], ['DELETE', outsider.userId], ['PATCH', newId('user')], ['DELETE', 'e2e-runner:nobody']] as const) {
      const res = await call(method, `/api/v1/orgs/${org.slug}/members/${encodeURIComponent(userId)}`, owner, method === 'PATCH' ? { role: 'admin' } : undefined);
      assert.equal(res.statusCode, 404, `${method} ${userId}: ${res.body}`);
      assert.equal(res.json().code, 'MEMBER_NOT_FOUND');
    }
    const routes: Array<[Method, string, unknown]> = [
      ['GET', `/api/v1/orgs/${org.slug}/members`, undefined],
      ['POST', `/api/v1/orgs/${org.slug}/members/invitations`, {}],
      ['GET', `/api/v1/orgs/${org.slug}/members/invitations`, undefined],
      ['DELETE', `/api/v1/orgs/${org.slug}/members/invitations/${inv.id}`, undefined],
      ['PATCH', `/api/v1/orgs/${org.slug}/members/${owner.userId}`, { role: 'member' }],
      ['DELETE', `/api/v1/orgs/${org.slug}/members/${owner.userId}`, undefined],
      ['GET', '/api/v1/orgs/no-such-org/members', undefined],
    ];
    for (const [method, url, payload] of routes) {
      const res = await call(method, url, outsider, payload);
      assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`);
      assert.equal(res.json().code, 'ORG_NOT_FOUND');
      const anonymous = await call(method, url, undefined, payload);
      assert.equal(anonymous.statusCode, 401, `${method} ${url} without a session`);
    }
    assert.equal(await membershipState(), state);
    assert.equal((await call('POST', '/api/v1/invitations/accept', undefined, { token: inv.invite_token })).statusCode, 401);
  });

  it('the last owner can be neither demoted nor removed; with a second owner both work', async () => {
    const owner = await cp.signup();
    const other = await cp.signup();
    const org = await cp.createOrg(owner);
    await addMember(org, owner, other, 'admin');
    const state = await membershipState();
    const demote = await call('PATCH', `/api/v1/orgs/${org.slug}/members/${owner.userId}`, owner, { role: 'admin' });
    assert.equal(demote.statusCode, 409);
    assert.equal(demote.json().code, 'LAST_OWNER');
    const leave = await call('DELETE', `/api/v1/orgs/${org.slug}/members/${owner.userId}`, owner);
    assert.equal(leave.statusCode, 409);
    assert.equal(leave.json().code, 'LAST_OWNER');
    assert.equal(await membershipState(), state);
    // Setting an owner to owner is a no-op, not a demotion.
    const same = await call('PATCH', `/api/v1/orgs/${org.slug}/members/${owner.userId}`, owner, { role: 'owner' });
    assert.equal(same.statusCode, 200);
    assert.equal(same.json().role, 'owner');

    assert.equal((await call('PATCH', `/api/v1/orgs/${org.slug}/members/${other.userId}`, owner, { role: 'owner' })).statusCode, 200);
    const stepDown = await call('PATCH', `/api/v1/orgs/${org.slug}/members/${owner.userId}`, owner, { role: 'member' });
    assert.equal(stepDown.statusCode, 200, stepDown.body);
    assert.equal(stepDown.json().role, 'member');
    // Now `other` is the last owner.
    const otherLeaves = await call('DELETE', `/api/v1/orgs/${org.slug}/members/${other.userId}`, other);
    assert.equal(otherLeaves.statusCode, 409);
    assert.equal(otherLeaves.json().code, 'LAST_OWNER');
    assert.equal((await call('DELETE', `/api/v1/orgs/${org.slug}/members/${owner.userId}`, owner)).statusCode, 204);
    assert.equal(await ownerCount(org), 1);
  });

  it('two owners leaving, stepping down or removing each other at the same moment never leave zero owners', async () => {
    const creator = await cp.signup();
    const second = await cp.signup();
    const scenarios: Array<{ name: string; requests: (org: TestOrg) => Array<Promise<{ statusCode: number; body: string }>>; statuses: number[] }> = [
      {
        name: 'both leave',
        requests: (org) => [call('DELETE', `/api/v1/orgs/${org.slug}/members/${creator.userId}`, creator), call('DELETE', `/api/v1/orgs/${org.slug}/members/${second.userId}`, second)],
        statuses: [204, 409],
      },
      {
        name: 'both step down',
        requests: (org) => [
          call('PATCH', `/api/v1/orgs/${org.slug}/members/${creator.userId}`, creator, { role: 'admin' }),
          call('PATCH', `/api/v1/orgs/${org.slug}/members/${second.userId}`, second, { role: 'member' }),
        ],
        statuses: [200, 409],
      },
      {
        // The loser is no longer an owner (403) by the time its own change runs.
        name: 'each demotes the other',
        requests: (org) => [
          call('PATCH', `/api/v1/orgs/${org.slug}/members/${second.userId}`, creator, { role: 'member' }),
          call('PATCH', `/api/v1/orgs/${org.slug}/members/${creator.userId}`, second, { role: 'member' }),
        ],
        statuses: [200, 403],
      },
      {
        // The loser is no longer a member at all (404) by the time its own removal runs.
        name: 'each removes the other',
        requests: (org) => [call('DELETE', `/api/v1/orgs/${org.slug}/members/${second.userId}`, creator), call('DELETE', `/api/v1/orgs/${org.slug}/members/${creator.userId}`, second)],
        statuses: [204, 404],
      },
    ];
    for (const scenario of scenarios) {
      for (let round = 0; round < 3; round++) {
        const org = await cp.createOrg(creator);
        await addMember(org, creator, second, 'owner');
        const results = await Promise.all(scenario.requests(org));
        assert.deepEqual(results.map((r) => r.statusCode).sort(), scenario.statuses, `${scenario.name}: ${results.map((r) => r.body).join(' | ')}`);
        assert.equal(await ownerCount(org), 1, `${scenario.name}: exactly one owner remains`);
      }
    }
  });

  it('removing or demoting someone revokes the pending invitations they could no longer issue', async () => {
    const owner = await cp.signup();
    const co = await cp.signup();
    const adm = await cp.signup();
    const org = await cp.createOrg(owner);
    await addMember(org, owner, co, 'owner');
    await addMember(org, owner, adm, 'admin');
    const coOwnerInvite = await invite(co, org.slug, { role: 'owner' });
    const coMemberInvite = await invite(co, org.slug, { role: 'member' });
    const admInvite = await invite(adm, org.slug, { role: 'admin' });

    assert.equal((await call('PATCH', `/api/v1/orgs/${org.slug}/members/${co.userId}`, owner, { role: 'admin' })).statusCode, 200);
    assert.equal((await call('DELETE', `/api/v1/orgs/${org.slug}/members/${adm.userId}`, owner)).statusCode, 204);
    const pending = await call('GET', `/api/v1/orgs/${org.slug}/members/invitations`, owner);
    assert.deepEqual(pending.json().invitations.map((i: { id: string }) => i.id), [coMemberInvite.id]);

    // The removed admin cannot walk back in on their own invitation.
    const back = await call('POST', '/api/v1/invitations/accept', adm, { token: admInvite.invite_token });
    assert.equal(back.statusCode, 404);
    const stranger = await cp.signup();
    assert.equal((await call('POST', '/api/v1/invitations/accept', stranger, { token: coOwnerInvite.invite_token })).statusCode, 404);
    assert.equal((await call('POST', '/api/v1/invitations/accept', stranger, { token: coMemberInvite.invite_token })).statusCode, 200);
  });

  it('bad input on every body and param is a 400 naming the field, and changes nothing', async () => {
    const owner = await cp.signup();
    const kim = await cp.signup();
    const org = await cp.createOrg(owner);
    await addMember(org, owner, kim, 'member');
    const inv = await invite(owner, org.slug);
    const base = `/api/v1/orgs/${org.slug}/members`;
    const cases: Array<[Method, string, unknown, string]> = [
      ['POST', `${base}/invitations`, { role: 'member', team: 'x' }, 'team'],
      ['POST', `${base}/invitations`, { role: 'superuser' }, 'role'],
      ['POST', `${base}/invitations`, { role: 7 }, 'role'],
      ['POST', `${base}/invitations`, { email: 'not-an-email' }, 'email'],
      ['POST', `${base}/invitations`, { email: 42 }, 'email'],
      ['POST', `${base}/invitations`, { email: `${'a'.repeat(250)}@example.com` }, 'email'],
      ['POST', `${base}/invitations`, { expires_in_hours: 0 }, 'expires_in_hours'],
      ['POST', `${base}/invitations`, { expires_in_hours: 721 }, 'expires_in_hours'],
      ['POST', `${base}/invitations`, { expires_in_hours: 1.5 }, 'expires_in_hours'],
      ['POST', `${base}/invitations`, { expires_in_hours: '24' }, 'expires_in_hours'],
      ['POST', `/api/v1/orgs/Bad_Slug/members/invitations`, {}, 'slug'],
      ['GET', `/api/v1/orgs/x/members`, undefined, 'slug'],
      ['GET', `/api/v1/orgs/Bad_Slug/members/invitations`, undefined, 'slug'],
      ['DELETE', `${base}/invitations/inv_123`, undefined, 'id'],
      ['DELETE', `${base}/invitations/${newId('user')}`, undefined, 'id'],
      ['PATCH', `${base}/${kim.userId}`, {}, 'role'],
      ['PATCH', `${base}/${kim.userId}`, { role: 'boss' }, 'role'],
      ['PATCH', `${base}/${kim.userId}`, { role: 'admin', note: 'x' }, 'note'],
      ['PATCH', `${base}/bad%20id`, { role: 'admin' }, 'user_id'],
      ['PATCH', `${base}/bad%00id`, { role: 'admin' }, 'user_id'],
      ['DELETE', `${base}/bad%09id`, undefined, 'user_id'],
      ['DELETE', `${base}/bad%20id`, undefined, 'user_id'],
      ['POST', '/api/v1/invitations/accept', {}, 'token'],
      ['POST', '/api/v1/invitations/accept', { token: 5 }, 'token'],
      ['POST', '/api/v1/invitations/accept', { token: '' }, 'token'],
      ['POST', '/api/v1/invitations/accept', { token: 'x'.repeat(257) }, 'token'],
      ['POST', '/api/v1/invitations/accept', { token: inv.invite_token, org: org.slug }, 'org'],
    ];
    const state = await membershipState();
    for (const [method, url, payload, field] of cases) {
      const res = await call(method, url, owner, payload);
      const label = `${method} ${url} ${JSON.stringify(payload)}`;
      assert.equal(res.statusCode, 400, `${label}: ${res.body}`);
      const body = res.json();
      assert.equal(body.code, 'VALIDATION_FAILED', label);
      assert.ok(body.fields.includes(field), `${label} names ${field}: ${res.body}`);
      assert.ok(body.error.includes(field), `${label}: the message names ${field}: ${body.error}`);
    }
    const badRole = await call('PATCH', `${base}/${kim.userId}`, owner, { role: 'boss' });
    assert.equal(badRole.json().error, 'role must be one of owner, admin, member');
    const notJson = await cp.app.inject({ method: 'POST', url: `${base}/invitations`, headers: { ...cp.as(owner), 'content-type': 'application/json' }, payload: '{"role":' });
    assert.equal(notJson.statusCode, 400);
    assert.equal(notJson.json().code, 'INVALID_JSON');
    assert.equal(await membershipState(), state);
    // The token was in the refused accept above; it is still unused.
    assert.equal((await call('POST', '/api/v1/invitations/accept', await cp.signup(), { token: inv.invite_token })).statusCode, 200);
  });
});
