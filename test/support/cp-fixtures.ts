/**
 * The control plane's route fixtures for the shared security suite (test/cp-security.test.ts).
 *
 * Every route the control plane serves is classified by its path (the prefix stripped: `/admin/…` is the admin
 * tier, the lists below name the public routes and the browser pages, everything else is the session tier) and
 * has one entry in CP_ROUTE_FIXTURES: the path params, query and a VALID body of its negative checks (so a
 * refused request can only have been refused by auth or membership, never by validation), the least org role it
 * needs, and a positive control. A route with no entry fails the suite's coverage test, listed by name: add it here.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { runtimeDigest } from '../../src/core/compute/runtime-launcher.js';
import { hashCredential, mintCredential } from '../../src/core/credentials/format.js';
import { PARTNER_SCOPES, type PartnerScope } from '../../src/control-plane/partner-keys/scopes.js';
import { cookieFrom, uniqueSlug, type TestControlPlane, type TestOrg, type TestPartnerKey, type TestUser } from '../cp-harness.js';

export type Tier = 'public' | 'session' | 'admin' | 'page' | 'public-page' | 'tenant' | 'provision';
export type OrgRole = 'member' | 'admin' | 'owner';

/** The stable prefix and the deprecated alias every tier but `pages` is mounted under. */
export const PREFIXES = ['/api/v1', '/cp'] as const;
export type Prefix = (typeof PREFIXES)[number];

/** Routes outside every tier on purpose: probes, the API document and the web console's static pages and assets. */
export const OPEN_ROUTES: ReadonlySet<string> = new Set([
  'GET /health',
  'GET /metrics',
  'GET /openapi.json',
  'GET /',
  'GET /signin',
  'GET /signup',
  'GET /terms',
  'GET /orgs',
  'GET /orgs/*',
  'GET /invitations/accept',
  'GET /device',
  'GET /_console/:file',
]);

/** Routes (prefix stripped) that take no credential. Everything under a prefix not listed here, nor `/admin/…`, is session. */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set([
  'POST /auth/signup',
  'POST /auth/login',
  'GET /auth/login',
  'GET /auth/signup',
  'GET /auth/callback',
  'GET /orgs/:slug/instance',
  'GET /billing/plans',
  'POST /auth/device/code',
  'POST /auth/device/token',
]);

/** Browser pages outside the prefixes (their full path); each authenticates the cookie itself. */
export const PAGE_ROUTES: ReadonlySet<string> = new Set([
  'GET /billing/confirm/:id',
  'POST /billing/confirm/:id',
  'GET /billing/portal/:id',
  'POST /billing/portal/:id',
  'GET /auth/confirm-email',
  'POST /auth/confirm-email',
  'GET /device/form',
  'POST /device',
]);

/** Browser pages outside the prefixes that take no session (the device page's sign-in form, which makes one). */
export const PUBLIC_PAGE_ROUTES: ReadonlySet<string> = new Set(['POST /device/sign-in']);

export const routeKey = (method: string, path: string) => `${method} ${path}`;

/** The tier a catalog entry belongs to by its path, and the path without its prefix; null when unclassifiable. */
export function classify(method: string, url: string): { tier: Tier; prefix: Prefix | ''; path: string } | null {
  for (const prefix of PREFIXES) {
    if (!url.startsWith(`${prefix}/`)) continue;
    const path = url.slice(prefix.length);
    if (path.startsWith('/admin/')) return { tier: 'admin', prefix, path };
    // The tenant callbacks (tenant admin token) and the provisioning API (provision secret + X-Molecule-Admin-Token).
    if (path.startsWith('/tenants/')) return { tier: 'tenant', prefix, path };
    if (path.startsWith('/workspaces/')) return { tier: 'provision', prefix, path };
    if (PUBLIC_ROUTES.has(routeKey(method, path))) return { tier: 'public', prefix, path };
    return { tier: 'session', prefix, path };
  }
  if (PAGE_ROUTES.has(routeKey(method, url))) return { tier: 'page', prefix: '', path: url };
  if (PUBLIC_PAGE_ROUTES.has(routeKey(method, url))) return { tier: 'public-page', prefix: '', path: url };
  return null;
}

/**
 * The shared data of one control plane: org A (owner, an org admin, two plain members, a pending invitation and
 * pending billing sessions), and an outsider who owns org B and is a member of nothing else. Negative checks point
 * at A; they must never reach a handler.
 */
export interface CpWorld {
  cp: TestControlPlane;
  owner: TestUser;
  orgAdmin: TestUser;
  member: TestUser;
  /** A plain member of A that member-management routes name in negative checks (never `member` itself). */
  target: TestUser;
  /** Owns org B; a member of nothing else. */
  outsider: TestUser;
  org: TestOrg;
  outsiderOrg: TestOrg;
  /**
   * Org D, set up like A (owner, org admin, member): DELETE /orgs/:slug's negative checks name it, so were one let
   * through it would delete D, not the org every other check depends on.
   */
  doomedOrg: TestOrg;
  /**
   * The owner's live email verification token (from the link sign-up logged): the verification routes' negative
   * checks send it, so one let through would verify the owner and use the link up.
   */
  ownerVerificationToken: string;
  /**
   * A pending device authorization's user code: the approval page's negative checks name it, so one let through
   * would decide it (and the page's positive control, which looks it up, would then fail).
   */
  deviceUserCode: string;
  /** Starts a fresh device authorization (POST /auth/device/code). */
  freshDeviceCode(): Promise<{ device_code: string; user_code: string }>;
  /** A device code the owner has approved, ready to be exchanged once. */
  approvedDeviceCode(): Promise<string>;
  /** A pending open invitation to A (its token is a secret: only its mint response may carry it). */
  invitation: { id: string; token: string };
  /** A's tenant admin token (molt_…), as its provisioner would have minted it: the tenant tier's credential for A. */
  tenantToken: string;
  /** B's tenant admin token: a valid token, of another org. */
  outsiderTenantToken: string;
  /** A pending checkout of A (to the starter plan) and a pending portal session of A. */
  checkoutSessionId: string;
  portalSessionId: string;
  /**
   * The provisioning API's credentials and data (only when the CP has PROVISION_SHARED_SECRET): A's and B's tenant
   * admin tokens (their instance rows carry `tenantUrl`), a promoted pin for `runtime`, and a workspace of A's that
   * the CP runs (negative checks name it; were one let through, it would stop or be read).
   */
  provision: ProvisionWorld | null;
  /** Partner API keys and the partners' orgs (the partner tier's data). */
  partner: PartnerWorld;
  /** Every user made for this world (and by positive controls), for the "no password in a response" check. */
  users: TestUser[];
  /** Every invite token made for this world. */
  inviteTokens: string[];
  /** Every verification token of the world's users (secrets: no response may carry one). */
  verificationTokens(): string[];
  /** Signs a fresh user up (terms accepted) and remembers them in `users`. */
  newUser(): Promise<TestUser>;
  /** Signs `user` in again: a second, independent session cookie of the same user. */
  login(user: TestUser): Promise<string>;
  /** A fresh user, placed in A with `role`. */
  addMember(role: OrgRole): Promise<TestUser>;
  /** A fresh pending open invitation to A, made by its owner. */
  invite(): Promise<{ id: string; token: string }>;
  /** A fresh org of the owner's with a pending top-up session: confirming or cancelling it touches nothing shared. */
  freshTopup(): Promise<{ slug: string; sessionId: string }>;
}

export interface ProvisionWorld {
  secret: string;
  tokenA: string;
  tokenB: string;
  tenantUrl: string;
  runtime: string;
  workspaceId: string;
  instanceId: string;
  /** Every workspace token handed to a provisioned runtime (secrets: no response may carry one). */
  workspaceTokens: string[];
  /** A valid provision body for org A (a fresh workspace id unless given). */
  body(workspaceId?: string): Record<string, unknown>;
  /** Provisions a fresh workspace of A's through the API; its ids. */
  provisionFresh(): Promise<{ workspaceId: string; instanceId: string }>;
}

/**
 * The partner tier's data: partner P with org PA (what negative checks target), PD (what DELETE names) and PB (the org a
 * bound key is confined to), a key of P holding every scope, a key of P bound to PB, and partner Q's key. Negative
 * checks point at PA (or at `targetKeyId`, a key of P); they must never reach a handler.
 */
export interface PartnerWorld {
  partnerId: string;
  org: TestOrg;
  doomedOrg: TestOrg;
  boundOrg: TestOrg;
  /** P's key with every scope, bound to no org. */
  key: TestPartnerKey;
  /** P's key with every scope, bound to PB. */
  boundKey: TestPartnerKey;
  /** Partner Q's key with every scope. */
  otherKey: TestPartnerKey;
  /** A key of P's (unbound) that the key routes' negative checks name. */
  targetKeyId: string;
  /** A pending checkout of PA. */
  checkoutSessionId: string;
  /** Every partner key plaintext made for this world (secrets outside their mint response). */
  keys: string[];
  /** Mints a key of P (every scope unless given) with the CP admin bearer. */
  mint(body?: Record<string, unknown>): Promise<TestPartnerKey>;
  /** A fresh org of P's (made with P's key). */
  freshOrg(): Promise<TestOrg>;
  /** A fresh org of P's with a pending top-up session. */
  freshTopup(): Promise<{ slug: string; sessionId: string }>;
}

/** How the partner tier calls a route that takes partner keys. */
export interface PartnerFixture {
  /** The route's `partnerScope` (any one grants it), checked against the app's catalog. */
  scopes: readonly PartnerScope[];
  /** The self-revoke/self-read rule (`partnerSelf`). */
  self?: boolean;
  params?: (w: CpWorld) => Record<string, string>;
  query?: (w: CpWorld) => string;
  body?: (w: CpWorld) => Record<string, unknown>;
  /** The route names an org or a key: another partner's key, and a key bound to another org, get this 404 code. */
  confined?: string;
  ok: { status: number; code?: string; prepare?: (w: CpWorld) => Promise<Prepared> };
}

/** The headers of the provisioning tier: the provision secret and a tenant admin token. */
export const provisionHeaders = (secret: string, token: string) => ({ authorization: `Bearer ${secret}`, 'x-molecule-admin-token': token });

/** What a positive control sends, beyond the fixture's own params, query and body. */
export interface Prepared {
  params?: Record<string, string>;
  query?: string;
  body?: Record<string, unknown>;
  /** The session that sends it (session and page tiers); defaults to the least sufficient role. */
  user?: TestUser;
}

export interface Reply {
  statusCode: number;
  body: string;
  headers: Record<string, string | string[] | number | undefined>;
}

export interface RouteFixture {
  /** Path params of the negative checks (valid values: validation must never be what refuses them). */
  params?: (w: CpWorld) => Record<string, string>;
  /** Query string (with `?`) of every request. */
  query?: (w: CpWorld) => string;
  /** A valid body (pages: the form's fields); called afresh for every request (unique slugs, emails). */
  body?: (w: CpWorld) => Record<string, unknown>;
  /** Extra request headers every request carries (never a credential). */
  headers?: (w: CpWorld) => Record<string, string>;
  /**
   * Session and page routes naming an org (in the path, query or body, or through a billing session): the least
   * member role the handler requires for the fixture's request.
   */
  minRole?: OrgRole;
  /** A different, documented answer for a non-member than 404 ORG_NOT_FOUND: an error code, or a success body to check. */
  nonMember?: { status: number; code?: string; check?: (res: Reply) => void };
  /** The positive control: the right credential reaches the handler and gets `status` (and `code`, for a handler's refusal). */
  ok: { status: number; code?: string; prepare?: (w: CpWorld) => Promise<Prepared> };
  /** A GET whose body legitimately differs between two identical calls (timestamps, the audit trail itself). */
  volatile?: boolean;
  /** Page form fields that take free text (a password): no value is "outside its choices" for the bad-input checks. */
  freeText?: readonly string[];
  /** Its successful response carries a freshly minted credential (shown once): exempt from the plaintext check. */
  mints?: boolean;
  /** The route never reads the datastore (an outage cannot change its answer). */
  datastoreFree?: boolean;
  /**
   * The session the bad-input and cross-site checks send (default: the owner, who may do anything), chosen so that
   * a request let through would change something those checks look at.
   */
  probeAs?: (w: CpWorld) => TestUser;
  /** The route takes partner keys (its `partnerScope`): the partner tier's checks. */
  partner?: PartnerFixture;
}

const slugOfA = (w: CpWorld) => ({ slug: w.org.slug });
const slugOfPA = (w: CpWorld) => ({ slug: w.partner.org.slug });
/** A fresh user (unverified, as sign-up leaves everyone) and the token of the link sign-up logged for them. */
const freshUnverified = async (w: CpWorld) => {
  const user = await w.newUser();
  return { user, token: w.cp.verificationToken(user.email) };
};
/** A fresh org owned by the owner: positive controls of destructive routes act on it, never on A. */
const freshOwnedOrg = async (w: CpWorld): Promise<Prepared> => ({ params: { slug: (await w.cp.createOrg(w.owner)).slug }, user: w.owner });
const freshEmail = () => `sec-${randomBytes(5).toString('hex')}@example.com`;
const freshPassword = () => `pw-${randomBytes(10).toString('hex')}`;
/** A destructive admin call's params and matching confirm body for `slug`. */
const confirmFresh = (slug: string): Prepared => ({ params: { slug }, body: { confirm: slug } });
/** A well-formed workspace id no tenant has (the CP keeps no index of tenants' workspaces). */
const UNKNOWN_WORKSPACE_ID = '00000000-0000-4000-8000-000000000000';
/** Audit anchor reports that always lengthen A's chain, so each one a handler accepts is a new anchor (201). */
let anchorCount = 1000;
const nextAnchorReport = () => ({ count: ++anchorCount, head_hash: randomBytes(32).toString('hex'), reason: 'periodic' });
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** Well-formed (base64url, 32 bytes) and never issued. */
const UNISSUED_DEVICE_CODE = randomBytes(32).toString('base64url');
/** The CP's public origin: what a browser on its pages sends as Origin. */
export const publicOrigin = (w: CpWorld) => new URL(w.cp.config.PUBLIC_URL ?? `http://localhost:${w.cp.config.PORT}`).origin;
/** An OpenID Connect callback whose state matches its browser-binding cookie, but was never issued. */
const UNISSUED_STATE = `state-${randomBytes(12).toString('hex')}`;

export const CP_ROUTE_FIXTURES: Record<string, RouteFixture> = {
  // --- public ---------------------------------------------------------------------------------------------------
  'POST /auth/signup': { body: () => ({ email: freshEmail(), password: freshPassword() }), ok: { status: 201 } },
  'POST /auth/login': {
    // Negative checks send a wrong password (a public route: a tenant credential must not turn it into a sign-in).
    body: (w) => ({ email: w.owner.email, password: 'not-the-owners-password' }),
    ok: { status: 200, prepare: async (w) => ({ body: { email: w.owner.email, password: w.owner.password } }) },
  },
  // A real provider is configured (the suite starts one), so these redirect to it. Beginning a sign-in is limited to
  // 60 per client per minute: the suite sends about 36 per control plane.
  'GET /auth/login': { query: () => '?return_to=%2Forgs', ok: { status: 302 } },
  'GET /auth/signup': { query: () => '?return_to=%2Forgs', ok: { status: 302 } },
  // Reaching the handler (no credential needed) means the state is looked up: unknown → 400 naming `state`.
  'GET /auth/callback': {
    query: () => `?state=${UNISSUED_STATE}&code=code-never-issued`,
    headers: () => ({ cookie: `mcp_oidc_state=${UNISSUED_STATE}` }),
    ok: { status: 400, code: 'VALIDATION_FAILED' },
  },
  'GET /orgs/:slug/instance': { params: slugOfA, ok: { status: 200 } },
  // Device authorization (RFC 8628) for the CLI. Negative checks poll a code nobody issued (expired_token); the
  // positive control exchanges one the owner approved, and its answer carries the new session (shown once).
  'POST /auth/device/code': { body: () => ({ client_name: 'cli:security-suite' }), ok: { status: 200 } },
  'POST /auth/device/token': {
    body: () => ({ device_code: UNISSUED_DEVICE_CODE, grant_type: DEVICE_GRANT }),
    mints: true,
    ok: { status: 200, prepare: async (w) => ({ body: { device_code: await w.approvedDeviceCode(), grant_type: DEVICE_GRANT } }) },
  },
  'GET /billing/plans': { datastoreFree: true, ok: { status: 200 } },

  // --- session: identity ----------------------------------------------------------------------------------------
  // The console's device approval page (RFC 8628): looks a pending code up, then decides it. Negative checks name
  // the world's pending code, so one let through would decide it (and the no-JS page's positive control would fail).
  'GET /auth/device/pending': { query: (w) => `?user_code=${w.deviceUserCode}`, ok: { status: 200 } },
  'POST /auth/device/approve': {
    body: (w) => ({ user_code: w.deviceUserCode, decision: 'approve' }),
    ok: { status: 200, prepare: async (w) => ({ body: { user_code: (await w.freshDeviceCode()).user_code, decision: 'approve' } }) },
  },
  'GET /auth/me': { ok: { status: 200 } },
  // Its own user: a positive control signs that session out.
  'POST /auth/signout': { ok: { status: 200, prepare: async (w) => ({ user: await w.newUser() }) } },
  'GET /auth/terms-status': { ok: { status: 200 } },
  'POST /auth/accept-terms': { body: () => ({}), ok: { status: 200 } },
  'GET /auth/tenant-member': {
    query: (w) => `?slug=${w.org.slug}`,
    minRole: 'member',
    // Tenants ask this for any cookie: a non-member is told "no", the same as for an unknown org (reference §3.1).
    nonMember: { status: 200, check: (res) => assert.deepEqual(JSON.parse(res.body), { member: false }) },
    ok: { status: 200 },
  },
  // A verified user gets 409: positive controls send a fresh, unverified user.
  'POST /auth/verify-email/request': { body: () => ({}), ok: { status: 202, prepare: async (w) => ({ user: (await freshUnverified(w)).user }) } },
  'POST /auth/verify-email': {
    body: (w) => ({ token: w.ownerVerificationToken }),
    ok: {
      status: 200,
      prepare: async (w) => {
        const { user, token } = await freshUnverified(w);
        return { user, body: { token } };
      },
    },
  },

  // --- session: orgs --------------------------------------------------------------------------------------------
  'POST /orgs': {
    body: () => ({ slug: uniqueSlug('sec'), name: 'Security suite org' }),
    ok: { status: 201 },
    partner: { scopes: ['orgs:create'], body: () => ({ slug: uniqueSlug('sec-pk'), name: 'Partner org', plan: 'pro' }), ok: { status: 201 } },
  },
  'GET /orgs': { ok: { status: 200 }, partner: { scopes: ['orgs:read'], ok: { status: 200 } } },
  'GET /orgs/:slug': { params: slugOfA, minRole: 'member', ok: { status: 200 }, partner: { scopes: ['orgs:read'], params: slugOfPA, confined: 'ORG_NOT_FOUND', ok: { status: 200 } } },
  'DELETE /orgs/:slug': {
    params: (w) => ({ slug: w.doomedOrg.slug }),
    minRole: 'owner',
    ok: { status: 204, prepare: freshOwnedOrg },
    partner: {
      scopes: ['orgs:delete'],
      params: (w) => ({ slug: w.partner.doomedOrg.slug }),
      confined: 'ORG_NOT_FOUND',
      ok: { status: 204, prepare: async (w) => ({ params: { slug: (await w.partner.freshOrg()).slug } }) },
    },
  },
  'GET /orgs/:slug/export': { params: slugOfA, minRole: 'member', volatile: true, ok: { status: 200 }, partner: { scopes: ['orgs:export'], params: slugOfPA, confined: 'ORG_NOT_FOUND', ok: { status: 200 } } },
  'GET /orgs/:slug/provision-status': {
    params: slugOfA,
    minRole: 'member',
    ok: { status: 200 },
    partner: { scopes: ['provision:status'], params: slugOfPA, confined: 'ORG_NOT_FOUND', ok: { status: 200 } },
  },
  // By id here (the slug form is the same route): the seed polls by org id.
  'GET /orgs/:slug/status': {
    params: (w) => ({ slug: w.org.id }),
    minRole: 'member',
    ok: { status: 200 },
    partner: { scopes: ['provision:status', 'orgs:read', 'orgs:create'], params: (w) => ({ slug: w.partner.org.id }), confined: 'ORG_NOT_FOUND', ok: { status: 200 } },
  },
  'GET /orgs/:slug/usage': { params: slugOfA, minRole: 'admin', ok: { status: 200 }, partner: { scopes: ['billing:read'], params: slugOfPA, confined: 'ORG_NOT_FOUND', ok: { status: 200 } } },
  // The suite's orgs have no running tenant (its CP provisions none): the handler looks for one and answers 503.
  // test/partner-flows-e2e.test.ts creates workspaces on real tenants.
  'POST /orgs/:slug/workspaces': {
    params: slugOfA,
    minRole: 'admin',
    body: () => ({ name: 'security-suite-ws', external: true }),
    mints: true,
    ok: { status: 503, code: 'TENANT_NOT_READY' },
    partner: { scopes: ['workspaces:create'], params: slugOfPA, confined: 'ORG_NOT_FOUND', ok: { status: 503, code: 'TENANT_NOT_READY' } },
  },

  // --- session: members -----------------------------------------------------------------------------------------
  'GET /orgs/:slug/members': { params: slugOfA, minRole: 'member', ok: { status: 200 } },
  'POST /orgs/:slug/members/invitations': {
    params: slugOfA,
    minRole: 'admin',
    body: () => ({ email: freshEmail(), role: 'member' }),
    mints: true,
    ok: { status: 201 },
  },
  'GET /orgs/:slug/members/invitations': { params: slugOfA, minRole: 'admin', ok: { status: 200 } },
  'DELETE /orgs/:slug/members/invitations/:id': {
    params: (w) => ({ slug: w.org.slug, id: w.invitation.id }),
    minRole: 'admin',
    ok: { status: 200, prepare: async (w) => ({ params: { slug: w.org.slug, id: (await w.invite()).id } }) },
  },
  // Any signed-in user with a live token (not org-scoped by the path). The shared token is A's pending invitation:
  // a request let through would make its sender a member of A.
  'POST /invitations/accept': {
    body: (w) => ({ token: w.invitation.token }),
    probeAs: (w) => w.outsider,
    ok: { status: 200, prepare: async (w) => ({ user: await w.newUser(), body: { token: (await w.invite()).token } }) },
  },
  'PATCH /orgs/:slug/members/:user_id': {
    params: (w) => ({ slug: w.org.slug, user_id: w.target.userId }),
    minRole: 'admin',
    body: () => ({ role: 'admin' }),
    ok: { status: 200, prepare: async (w) => ({ params: { slug: w.org.slug, user_id: (await w.addMember('member')).userId } }) },
  },
  // Removing someone else needs an admin; leaving needs only membership (the positive control: a member leaves).
  'DELETE /orgs/:slug/members/:user_id': {
    params: (w) => ({ slug: w.org.slug, user_id: w.target.userId }),
    minRole: 'admin',
    ok: {
      status: 204,
      prepare: async (w) => {
        const leaving = await w.addMember('member');
        return { user: leaving, params: { slug: w.org.slug, user_id: leaving.userId } };
      },
    },
  },

  // --- session: billing -----------------------------------------------------------------------------------------
  'GET /billing/invoices': { query: (w) => `?org_slug=${w.org.slug}`, minRole: 'admin', ok: { status: 200 } },
  'POST /billing/checkout': {
    body: (w) => ({ org_slug: w.org.slug, plan: 'pro', success_url: '/orgs', cancel_url: '/orgs' }),
    minRole: 'admin',
    ok: { status: 200 },
    partner: { scopes: ['billing:manage'], body: (w) => ({ org_slug: w.partner.org.slug, plan: 'pro', success_url: '/orgs', cancel_url: '/orgs' }), confined: 'ORG_NOT_FOUND', ok: { status: 200 } },
  },
  'POST /billing/portal': {
    body: (w) => ({ org_slug: w.org.slug, return_url: '/orgs' }),
    minRole: 'admin',
    ok: { status: 200 },
    partner: { scopes: ['billing:manage'], body: (w) => ({ org_slug: w.partner.org.slug, return_url: '/orgs' }), confined: 'ORG_NOT_FOUND', ok: { status: 200 } },
  },
  'POST /billing/topup': {
    body: (w) => ({ org_slug: w.org.slug, credits: 100 }),
    minRole: 'admin',
    ok: { status: 200 },
    partner: { scopes: ['billing:manage'], body: (w) => ({ org_slug: w.partner.org.slug, credits: 100 }), confined: 'ORG_NOT_FOUND', ok: { status: 200 } },
  },
  // Billing sessions are reached by id: another org's (or an unknown) session is 404 either way.
  'GET /billing/sessions/:id': {
    params: (w) => ({ id: w.checkoutSessionId }),
    minRole: 'member',
    nonMember: { status: 404, code: 'BILLING_SESSION_NOT_FOUND' },
    ok: { status: 200 },
    partner: { scopes: ['billing:manage', 'billing:read'], params: (w) => ({ id: w.partner.checkoutSessionId }), confined: 'BILLING_SESSION_NOT_FOUND', ok: { status: 200 } },
  },
  'POST /billing/sessions/:id/confirm': {
    params: (w) => ({ id: w.checkoutSessionId }),
    body: () => ({}),
    minRole: 'owner',
    nonMember: { status: 404, code: 'BILLING_SESSION_NOT_FOUND' },
    ok: { status: 200, prepare: async (w) => ({ params: { id: (await w.freshTopup()).sessionId } }) },
    partner: {
      scopes: ['billing:manage'],
      params: (w) => ({ id: w.partner.checkoutSessionId }),
      body: () => ({}),
      confined: 'BILLING_SESSION_NOT_FOUND',
      ok: { status: 200, prepare: async (w) => ({ params: { id: (await w.partner.freshTopup()).sessionId } }) },
    },
  },
  'POST /billing/sessions/:id/cancel': {
    params: (w) => ({ id: w.checkoutSessionId }),
    body: () => ({}),
    minRole: 'owner',
    nonMember: { status: 404, code: 'BILLING_SESSION_NOT_FOUND' },
    ok: { status: 200, prepare: async (w) => ({ params: { id: (await w.freshTopup()).sessionId } }) },
    partner: {
      scopes: ['billing:manage'],
      params: (w) => ({ id: w.partner.checkoutSessionId }),
      body: () => ({}),
      confined: 'BILLING_SESSION_NOT_FOUND',
      ok: { status: 200, prepare: async (w) => ({ params: { id: (await w.partner.freshTopup()).sessionId } }) },
    },
  },

  // --- pages (HTML; forms are application/x-www-form-urlencoded) --------------------------------------------------
  'GET /billing/confirm/:id': {
    params: (w) => ({ id: w.checkoutSessionId }),
    minRole: 'member',
    nonMember: { status: 404, code: 'BILLING_SESSION_NOT_FOUND' },
    ok: { status: 200 },
  },
  'POST /billing/confirm/:id': {
    params: (w) => ({ id: w.checkoutSessionId }),
    body: () => ({ decision: 'confirm' }),
    minRole: 'owner',
    nonMember: { status: 404, code: 'BILLING_SESSION_NOT_FOUND' },
    ok: { status: 303, prepare: async (w) => ({ params: { id: (await w.freshTopup()).sessionId } }) },
  },
  'GET /billing/portal/:id': {
    params: (w) => ({ id: w.portalSessionId }),
    minRole: 'admin',
    nonMember: { status: 404, code: 'BILLING_SESSION_NOT_FOUND' },
    ok: { status: 200 },
  },
  'POST /billing/portal/:id': {
    params: (w) => ({ id: w.portalSessionId }),
    body: () => ({ plan: 'pro' }),
    minRole: 'admin',
    nonMember: { status: 404, code: 'BILLING_SESSION_NOT_FOUND' },
    ok: { status: 303 },
  },

  // The email verification link's page: GET shows the confirm form (changes nothing), its POST verifies.
  'GET /auth/confirm-email': { query: (w) => `?token=${w.ownerVerificationToken}`, ok: { status: 200 } },
  'POST /auth/confirm-email': {
    query: (w) => `?token=${w.ownerVerificationToken}`,
    body: () => ({}),
    ok: {
      status: 200,
      prepare: async (w) => {
        const { user, token } = await freshUnverified(w);
        return { user, query: `?token=${token}` };
      },
    },
  },

  // The device authorization approval page (RFC 8628): GET looks a code up, POST decides it. The form is refused
  // without the CP's own Origin (every request here carries it, so only the credential can be what refuses).
  'GET /device/form': { query: (w) => `?user_code=${w.deviceUserCode}`, ok: { status: 200 } },
  'POST /device': {
    body: (w) => ({ user_code: w.deviceUserCode, decision: 'approve' }),
    headers: (w) => ({ origin: publicOrigin(w) }),
    ok: { status: 200, prepare: async (w) => ({ body: { user_code: (await w.freshDeviceCode()).user_code, decision: 'approve' } }) },
  },
  // Its sign-in form (public: it makes the session). The negative body's password is wrong.
  'POST /device/sign-in': {
    body: (w) => ({ email: w.owner.email, password: 'not-the-owner-password' }),
    headers: (w) => ({ origin: publicOrigin(w) }),
    freeText: ['password'],
    ok: {
      status: 303,
      prepare: async (w) => {
        const user = await w.newUser();
        return { body: { email: user.email, password: user.password } };
      },
    },
  },

  // --- admin ----------------------------------------------------------------------------------------------------
  'GET /admin/orgs': { query: () => '?limit=500', ok: { status: 200 } },
  'POST /admin/orgs': { body: (w) => ({ slug: uniqueSlug('sec-adm'), name: 'Admin-made org', owner_user_id: w.outsider.userId }), ok: { status: 201 } },
  // The trail grows with every request: two calls never read the same.
  // Org A waits in `provisioning` (the suite's recording provisioner): a retry is accepted.
  'POST /admin/orgs/:slug/reprovision': { params: (w) => ({ slug: w.org.slug }), ok: { status: 202 } },
  'GET /admin/audit': { query: () => '?limit=5', volatile: true, ok: { status: 200 } },
  'GET /admin/audit/verify': { volatile: true, ok: { status: 200 } },
  'GET /admin/audit/export': { volatile: true, ok: { status: 200 } },

  // --- admin: partner keys (also a partner key with admin:keys; a key may read and revoke itself) ------------------
  'POST /admin/partner-keys': {
    body: (w) => ({ name: 'security suite key', partner_id: w.partner.partnerId, scopes: ['orgs:read'] }),
    mints: true,
    ok: { status: 201 },
    partner: { scopes: ['admin:keys'], body: () => ({ name: 'minted by a key', scopes: ['orgs:read'] }), ok: { status: 201 } },
  },
  'GET /admin/partner-keys': { query: () => '?limit=500', ok: { status: 200 }, partner: { scopes: ['admin:keys'], ok: { status: 200 } } },
  'GET /admin/partner-keys/:id': {
    params: (w) => ({ id: w.partner.targetKeyId }),
    ok: { status: 200 },
    partner: { scopes: ['admin:keys'], self: true, params: (w) => ({ id: w.partner.targetKeyId }), confined: 'NOT_FOUND', ok: { status: 200 } },
  },
  // Negative checks name a live key of P's: one let through would revoke it. Positive controls revoke a fresh key.
  'DELETE /admin/partner-keys/:id': {
    params: (w) => ({ id: w.partner.targetKeyId }),
    ok: { status: 204, prepare: async (w) => ({ params: { id: (await w.partner.mint({ scopes: ['orgs:read'] })).id } }) },
    partner: {
      scopes: ['admin:keys'],
      self: true,
      params: (w) => ({ id: w.partner.targetKeyId }),
      confined: 'NOT_FOUND',
      ok: { status: 204, prepare: async (w) => ({ params: { id: (await w.partner.mint({ scopes: ['orgs:read'] })).id } }) },
    },
  },

  // --- admin: fleet (src/control-plane/fleet) -------------------------------------------------------------------
  // The suite's orgs have no running tenant and its CP no tenant provisioner (`none`): the routes that need one reach
  // their handler and answer its documented refusal. test/cp-fleet.test.ts drives them against a real tenant.
  // A's tenant admin token exists (the tenant-tier world minted it): the CP admin's reveal is a credential by design.
  'GET /admin/orgs/:slug/admin-token': { params: slugOfA, mints: true, volatile: true, ok: { status: 200 } },
  'POST /admin/orgs/:slug/admin-token/rotate': { params: slugOfA, ok: { status: 503, code: 'PROVISIONER_UNAVAILABLE' } },
  'GET /admin/orgs/:slug/workspaces': { params: slugOfA, ok: { status: 503, code: 'TENANT_NOT_READY' } },
  // Negative checks name D (a request let through would delete D, not A); positive controls delete a fresh org.
  'DELETE /admin/tenants/:slug': {
    params: (w) => ({ slug: w.doomedOrg.slug }),
    body: (w) => ({ confirm: w.doomedOrg.slug }),
    ok: { status: 200, prepare: async (w) => confirmFresh((await w.cp.createOrg(w.owner)).slug) },
  },
  // A live org's slug is refused (409) — what a request let through would meet; positive controls scrub a slug no org holds.
  'POST /admin/tenants/:slug/scrub-artifacts': {
    params: slugOfA,
    body: (w) => ({ confirm: w.org.slug }),
    ok: { status: 200, prepare: async () => confirmFresh(uniqueSlug('gone')) },
  },
  'GET /admin/tenants/:slug/diagnostics': { params: slugOfA, ok: { status: 200 } },
  'POST /admin/tenants/:slug/redeploy': { params: slugOfA, body: () => ({ dry_run: true }), ok: { status: 200 } },
  'POST /admin/tenants/redeploy-fleet': { body: () => ({ confirm: true, dry_run: true }), ok: { status: 200 } },
  'POST /admin/workspaces/:id/env': {
    params: () => ({ id: UNKNOWN_WORKSPACE_ID }),
    body: (w) => ({ env: { LOG_LEVEL: 'debug' }, org_slug: w.org.slug }),
    ok: { status: 503, code: 'TENANT_NOT_READY' },
  },
  'GET /admin/workspaces/:id/llm-billing-mode': {
    params: () => ({ id: UNKNOWN_WORKSPACE_ID }),
    query: (w) => `?org_slug=${w.org.slug}`,
    ok: { status: 503, code: 'TENANT_NOT_READY' },
  },
  'PUT /admin/workspaces/:id/llm-billing-mode': {
    params: () => ({ id: UNKNOWN_WORKSPACE_ID }),
    query: (w) => `?org_slug=${w.org.slug}`,
    body: () => ({ mode: 'byok' }),
    ok: { status: 503, code: 'TENANT_NOT_READY' },
  },
  // What tenants reported: the suite's own tenant-tier requests add to both.
  'GET /admin/tenants/:slug/boot-events': { params: slugOfA, query: () => '?limit=10', volatile: true, ok: { status: 200 } },
  'GET /admin/tenants/:slug/audit-anchors': { params: slugOfA, query: () => '?limit=10', volatile: true, ok: { status: 200 } },

  // --- tenant (A's tenant admin token; the principal is A) ------------------------------------------------------
  'GET /tenants/config': { ok: { status: 200 } },
  'POST /tenants/boot-event': { body: () => ({ stage: 'booting', detail: 'security suite' }), ok: { status: 202 } },
  'POST /tenants/audit-anchor': { body: nextAnchorReport, ok: { status: 201 } },
  // Raised by every accepted report above.
  'GET /tenants/audit-anchor': { volatile: true, ok: { status: 200 } },
  'GET /admin/runtime-image': { ok: { status: 200 } },
  // Promoting the build the CP can run (what the world already pinned) again: idempotent, touches nothing else.
  'POST /admin/runtime-image/promote': { body: (w) => ({ template: w.provision?.runtime ?? 'sec-runtime', digest: availableDigest(w) }), volatile: true, ok: { status: 200 } },

  // --- provision (provision secret + X-Molecule-Admin-Token) -------------------------------------------------------
  // Negative checks name A's running workspace; a request let through would start, stop or read it.
  'POST /workspaces/provision': { body: (w) => provisionOf(w).body(), ok: { status: 201 } },
  'DELETE /workspaces/:workspace_id': {
    params: (w) => ({ workspace_id: provisionOf(w).workspaceId }),
    query: (w) => `?instance_id=${provisionOf(w).instanceId}`,
    ok: {
      status: 200,
      prepare: async (w) => {
        const fresh = await provisionOf(w).provisionFresh();
        return { params: { workspace_id: fresh.workspaceId }, query: `?instance_id=${fresh.instanceId}` };
      },
    },
  },
  'GET /workspaces/:workspace_id/status': {
    params: (w) => ({ workspace_id: provisionOf(w).workspaceId }),
    query: (w) => `?instance_id=${provisionOf(w).instanceId}`,
    ok: { status: 200 },
  },
};

function provisionOf(w: CpWorld): ProvisionWorld {
  if (!w.provision) throw new Error('this control plane has no PROVISION_SHARED_SECRET: its world has no provisioning data');
  return w.provision;
}

/** The runtime build the world's CP can run (what GET /admin/runtime-image calls `available`). */
function availableDigest(_w: CpWorld): string {
  return runtimeDigest();
}

/**
 * The provisioning data of a world: tenant admin tokens for A and B (instance rows with a tenant URL), a promoted
 * pin, and one running workspace of A's.
 */
async function buildProvisionWorld(cp: TestControlPlane, org: TestOrg, outsiderOrg: TestOrg): Promise<ProvisionWorld | null> {
  const secret = cp.config.PROVISION_SHARED_SECRET;
  if (!secret) return null;
  // Nothing listens here: the runtimes the suite starts fail to register and keep trying; they are stopped with the CP.
  const tenantUrl = 'http://127.0.0.1:9';
  const tokenA = await cp.mintTenantAdminToken(org.id, { url: tenantUrl });
  const tokenB = await cp.mintTenantAdminToken(outsiderOrg.id, { url: 'http://127.0.0.1:10' });
  const runtime = 'sec-runtime';
  const list = await cp.app.inject({ method: 'GET', url: '/api/v1/admin/runtime-image', headers: cp.admin() });
  if (list.statusCode !== 200) throw new Error(`fixture runtime-image list: ${list.statusCode} ${list.body}`);
  const digest = (list.json() as { available: { digest: string } }).available.digest;
  assert.equal(digest, runtimeDigest(), 'the CP offers this build of the runtime');
  const pin = await cp.app.inject({ method: 'POST', url: '/api/v1/admin/runtime-image/promote', headers: cp.admin(), payload: { template: runtime, digest } });
  if (pin.statusCode !== 200) throw new Error(`fixture promote: ${pin.statusCode} ${pin.body}`);
  const workspaceTokens: string[] = [];
  const body = (workspaceId: string = randomUUID()) => {
    const token = mintCredential('workspaceToken').plaintext;
    workspaceTokens.push(token);
    return { org_id: org.id, workspace_id: workspaceId, runtime, platform_url: tenantUrl, env: { MOLECULE_WORKSPACE_TOKEN: token, HEARTBEAT_INTERVAL_SECONDS: '30' } };
  };
  const provisionFresh = async () => {
    const payload = body();
    const res = await cp.app.inject({ method: 'POST', url: '/api/v1/workspaces/provision', headers: provisionHeaders(secret, tokenA), payload });
    if (res.statusCode !== 201) throw new Error(`fixture provision: ${res.statusCode} ${res.body}`);
    return { workspaceId: String(payload.workspace_id), instanceId: String((res.json() as { instance_id: string }).instance_id) };
  };
  const first = await provisionFresh();
  return { secret, tokenA, tokenB, tenantUrl, runtime, workspaceId: first.workspaceId, instanceId: first.instanceId, workspaceTokens, body, provisionFresh };
}

/** The partner tier's data (see PartnerWorld), made through the API with the CP admin bearer and the partners' keys. */
async function buildPartnerWorld(cp: TestControlPlane): Promise<PartnerWorld> {
  const partnerId = `partner-${randomBytes(4).toString('hex')}`;
  const keys: string[] = [];
  const mint = async (body: Record<string, unknown> = {}) => {
    const k = await cp.mintPartnerKey({ partner_id: partnerId, scopes: [...PARTNER_SCOPES], ...body });
    keys.push(k.key);
    return k;
  };
  const key = await mint();
  const freshOrg = () => cp.createPartnerOrg(key.key);
  const [org, doomedOrg, boundOrg] = [await freshOrg(), await freshOrg(), await freshOrg()];
  const boundKey = await mint({ org_id: boundOrg.id });
  const otherKey = await cp.mintPartnerKey({ partner_id: `other-${partnerId}`, scopes: [...PARTNER_SCOPES] });
  keys.push(otherKey.key);
  const targetKeyId = (await mint({ scopes: ['orgs:read'] })).id;
  const post = async (url: string, payload: Record<string, unknown>) => {
    const res = await cp.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${key.key}` }, payload });
    if (res.statusCode !== 200) throw new Error(`fixture POST ${url}: ${res.statusCode} ${res.body}`);
    return res.json() as Record<string, unknown>;
  };
  const checkoutSessionId = String((await post('/api/v1/billing/checkout', { org_slug: org.slug, plan: 'starter', success_url: '/orgs', cancel_url: '/orgs' }))['id']);
  const freshTopup = async () => {
    const { slug } = await freshOrg();
    return { slug, sessionId: String((await post('/api/v1/billing/topup', { org_slug: slug, credits: 100 }))['id']) };
  };
  return { partnerId, org, doomedOrg, boundOrg, key, boundKey, otherKey, targetKeyId, checkoutSessionId, keys, mint, freshOrg, freshTopup };
}

/** A session cookie pair (`mcp_session=…`) → its bare value. */
export const cookieValue = (cookie: string) => cookie.slice(cookie.indexOf('=') + 1);

async function postJson(cp: TestControlPlane, url: string, user: TestUser, payload: Record<string, unknown>, status: number): Promise<Record<string, unknown>> {
  const res = await cp.app.inject({ method: 'POST', url, headers: { cookie: user.cookie }, payload });
  if (res.statusCode !== status) throw new Error(`fixture POST ${url}: ${res.statusCode} ${res.body}`);
  return res.json() as Record<string, unknown>;
}

/**
 * Builds the shared data of one control plane through its own API; members are placed directly (the invitation
 * flow has its own suite, and the negative checks must not depend on it).
 */
export async function buildWorld(cp: TestControlPlane): Promise<CpWorld> {
  const users: TestUser[] = [];
  const inviteTokens: string[] = [];
  const newUser = async () => {
    const u = await cp.signup();
    users.push(u);
    return u;
  };
  const login = async (user: TestUser) => {
    const res = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: user.email, password: user.password } });
    if (res.statusCode !== 200) throw new Error(`login failed: ${res.statusCode} ${res.body}`);
    return cookieFrom(res.headers['set-cookie']);
  };
  const [owner, orgAdmin, member, target, outsider] = [await newUser(), await newUser(), await newUser(), await newUser(), await newUser()];
  const org = await cp.createOrg(owner);
  const outsiderOrg = await cp.createOrg(outsider);
  const doomedOrg = await cp.createOrg(owner);
  const addMember = async (role: OrgRole, user?: TestUser, to: TestOrg = org) => {
    const u = user ?? (await newUser());
    await cp.db.insertInto('org_members').values({ org_id: to.id, user_id: u.userId, role, invited_by: owner.userId }).execute();
    return u;
  };
  await addMember('admin', orgAdmin);
  await addMember('member', member);
  await addMember('member', target);
  await addMember('admin', orgAdmin, doomedOrg);
  await addMember('member', member, doomedOrg);
  const invite = async () => {
    const body = await postJson(cp, `/api/v1/orgs/${org.slug}/members/invitations`, owner, {}, 201);
    const made = { id: String(body['id']), token: String(body['invite_token']) };
    inviteTokens.push(made.token);
    return made;
  };
  const invitation = await invite();
  const ownerVerificationToken = cp.verificationToken(owner.email);
  const checkoutSessionId = String(
    (await postJson(cp, '/api/v1/billing/checkout', owner, { org_slug: org.slug, plan: 'starter', success_url: '/orgs', cancel_url: '/orgs' }, 200))['id'],
  );
  const portalSessionId = String((await postJson(cp, '/api/v1/billing/portal', owner, { org_slug: org.slug, return_url: '/orgs' }, 200))['id']);
  const provision = await buildProvisionWorld(cp, org, outsiderOrg);
  // One tenant admin token per org (a mint replaces the org's previous one): the provisioning world's when it has one.
  const tenantToken = provision?.tokenA ?? (await cp.mintTenantAdminToken(org.id));
  const outsiderTenantToken = provision?.tokenB ?? (await cp.mintTenantAdminToken(outsiderOrg.id));
  // A has reported its audit chain once, so GET /tenants/audit-anchor has an anchor to answer with.
  await cp.db.insertInto('tenant_audit_anchors').values({ org_id: org.id, event_count: 1, head_hash: 'a'.repeat(64), reason: 'boot' }).execute();
  const partner = await buildPartnerWorld(cp);
  const freshDeviceCode = async () => {
    const res = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/device/code', payload: { client_name: 'cli:security-suite' } });
    if (res.statusCode !== 200) throw new Error(`device code failed: ${res.statusCode} ${res.body}`);
    return res.json() as { device_code: string; user_code: string };
  };
  const approvedDeviceCode = async () => {
    const code = await freshDeviceCode();
    const origin = new URL(cp.config.PUBLIC_URL ?? `http://localhost:${cp.config.PORT}`).origin;
    const res = await cp.app.inject({
      method: 'POST',
      url: '/device',
      headers: { cookie: owner.cookie, origin, 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ user_code: code.user_code, decision: 'approve' }).toString(),
    });
    if (res.statusCode !== 200) throw new Error(`device approval failed: ${res.statusCode} ${res.body}`);
    return code.device_code;
  };
  const deviceUserCode = (await freshDeviceCode()).user_code;
  const freshTopup = async () => {
    const { slug } = await cp.createOrg(owner);
    const body = await postJson(cp, '/api/v1/billing/topup', owner, { org_slug: slug, credits: 100 }, 200);
    return { slug, sessionId: String(body['id']) };
  };
  return {
    cp,
    owner,
    orgAdmin,
    member,
    target,
    outsider,
    org,
    outsiderOrg,
    doomedOrg,
    ownerVerificationToken,
    deviceUserCode,
    freshDeviceCode,
    approvedDeviceCode,
    invitation,
    checkoutSessionId,
    portalSessionId,
    tenantToken,
    outsiderTenantToken,
    provision,
    partner,
    users,
    inviteTokens,
    verificationTokens: () => users.map((u) => cp.verificationToken(u.email)),
    newUser,
    login,
    addMember: (role) => addMember(role),
    invite,
    freshTopup,
  };
}

/** Ages the session behind a cookie past its expiry, in the database (no sleeping in tests). */
export async function expireSession(cp: TestControlPlane, cookie: string): Promise<void> {
  const res = await cp.db
    .updateTable('sessions')
    .set({ expires_at: new Date(Date.now() - 60_000) })
    .where('token_hash', '=', hashCredential(cookieValue(cookie)))
    .executeTakeFirst();
  assert.equal(Number(res.numUpdatedRows), 1, 'the session to expire exists');
}
