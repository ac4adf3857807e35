/**
 * The control plane's shared security suite (STYLE.md, Tests: "A shared security suite every protected route
 * runs"; DESIGN.md §4 "Control plane tiers"; reference-control-plane.md §3 and §7 checks 2, 10, 19–24, 50–54).
 *
 * Every CP route, under both `/api/v1` and the deprecated `/cp` alias, on both databases, gets the checks of its
 * tier: real tenant credentials (an org API key, a workspace token, the tenant ADMIN_TOKEN — minted by a real
 * tenant) are refused everywhere; the session tier and the billing pages refuse no cookie, bad, unknown, expired
 * and signed-out cookies, the CP admin bearer and cross-site writes; a member of another org gets 404 on every org
 * route and a member whose role is too small gets 403, the org unchanged; the admin tier refuses everything but
 * its bearer (never a session, even an owner's, and every bearer when CP_ADMIN_API_TOKEN is unset). Each tier has
 * a positive control, so the suite cannot pass by refusing everything. Then: a datastore outage is 503
 * `platform_unavailable` (never 401), bad bodies are 4xx naming the field and change nothing, `/cp/*` says it is
 * deprecated and `/api/v1/*` does not, and no response carries a session cookie, a tenant credential, the CP
 * admin token or a password.
 *
 * The route list is the app's own `routeCatalog`: a route with no fixture in test/support/cp-fixtures.ts, or a
 * fixture whose route is gone, fails the coverage test by name. Expected error strings are the wire contract,
 * written out literally so a change to src/core/errors.ts cannot silently change the test.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { mintCredential } from '../src/core/credentials/format.js';
import { canonicalScope, PARTNER_SCOPES } from '../src/control-plane/partner-keys/scopes.js';
import { PROVISION_BODY_LIMIT } from '../src/control-plane/workspaces/routes/provision.js';
import { startTestControlPlane, type TestControlPlane, type TestControlPlaneOptions, type TestUser } from './cp-harness.js';
import { forEachDatabase, startTestTenant, type DbKind, type TestTenant } from './harness.js';
import {
  buildWorld,
  classify,
  cookieValue,
  CP_ROUTE_FIXTURES,
  expireSession,
  OPEN_ROUTES,
  PAGE_ROUTES,
  PREFIXES,
  PUBLIC_PAGE_ROUTES,
  routeKey,
  type CpWorld,
  type OrgRole,
  type Prepared,
  type Reply,
  type RouteFixture,
  provisionHeaders,
  type Tier,
} from './support/cp-fixtures.js';
import { startTestOidcProvider, type TestOidcProvider } from './support/oidc-provider.js';

// ---------------------------------------------------------------------------------------------------------------
// The routes, from the fixture table (checked against the live catalog by the coverage test)
// ---------------------------------------------------------------------------------------------------------------

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface RouteSpec {
  key: string;
  method: Method;
  /** The path without its prefix (pages: the full path). */
  path: string;
  tier: Tier;
  fx: RouteFixture;
  /** Where it is mounted: under both prefixes, or (a page) at its own path only. */
  prefixes: readonly string[];
}

function specOf(key: string, fx: RouteFixture): RouteSpec {
  const [method, path] = key.split(' ') as [Method, string];
  if (PAGE_ROUTES.has(key)) return { key, method, path, tier: 'page', fx, prefixes: [''] };
  if (PUBLIC_PAGE_ROUTES.has(key)) return { key, method, path, tier: 'public-page', fx, prefixes: [''] };
  const c = classify(method, `${PREFIXES[0]}${path}`);
  assert.ok(c, `fixture ${key} is classifiable`);
  return { key, method, path, tier: c.tier, fx, prefixes: PREFIXES };
}

const SPECS: readonly RouteSpec[] = Object.entries(CP_ROUTE_FIXTURES).map(([key, fx]) => specOf(key, fx));
const byTier = (...tiers: Tier[]) => SPECS.filter((s) => tiers.includes(s.tier));
/** A browser page (HTML answers, urlencoded forms), with a session or without. */
const isPage = (s: RouteSpec) => s.tier === 'page' || s.tier === 'public-page';
const UNSAFE_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

const ROLE_RANK: Record<OrgRole, number> = { member: 0, admin: 1, owner: 2 };

/** The three tenant credential classes, minted by a real tenant in `before`. */
const TENANT_CREDENTIALS = [
  ['an org API key (mola_)', 'orgKey'],
  ['a workspace token (molw_)', 'workspaceToken'],
  ['the tenant ADMIN_TOKEN (molt_)', 'tenantAdminToken'],
] as const;
type TenantCredentials = Record<(typeof TENANT_CREDENTIALS)[number][1], string>;

/** Any string that looks like more of a credential than its 13-character display prefix. */
const PLAINTEXT_RE = /mol[awtsiv]_[0-9A-Za-z]{9,}|mol_pk_live_[0-9A-Za-z]{5,}/;

/** Tables whose row counts bad input and cross-site writes must leave alone. */
const COUNTED_TABLES = [
  'organizations',
  'org_members',
  'users',
  'user_identities',
  'sessions',
  'org_invitations',
  'org_instances',
  'credit_ledger',
  'invoices',
  'billing_sessions',
  'email_verifications',
  'org_instance_boot_events',
  'tenant_audit_anchors',
  'runtime_image_pins',
  'cp_workspace_instances',
  'partner_api_keys',
  'device_authorizations',
] as const;

const CROSS_SITE_ORIGIN = 'https://evil.example';

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

function fill(path: string, params: Record<string, string>): string {
  return path.replace(/:([A-Za-z_]+)/g, (_m, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no value for :${name} in ${path}`);
    return encodeURIComponent(value);
  });
}

type JsonObject = Record<string, unknown>;

function jsonOf(res: Reply): JsonObject {
  try {
    return JSON.parse(res.body) as JsonObject;
  } catch {
    assert.fail(`expected a JSON body, got ${res.statusCode} ${JSON.stringify(res.body.slice(0, 200))}`);
  }
}

/** Status and the whole error envelope: code, message when given, and a request id that matches the header. */
function assertError(res: Reply, status: number, code: string, error?: string): JsonObject {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body.slice(0, 500)}`);
  const body = jsonOf(res);
  assert.equal(body['code'], code, `body: ${res.body}`);
  if (error !== undefined) assert.equal(body['error'], error, `body: ${res.body}`);
  else assert.equal(typeof body['error'], 'string');
  assert.equal(typeof body['request_id'], 'string');
  assert.ok((body['request_id'] as string).length > 0, 'request_id is not empty');
  assert.equal(body['request_id'], res.headers['x-request-id'], 'request_id matches X-Request-Id');
  return body;
}

/** What the billing pages title each refusal (they answer HTML, with the API's status). */
const PAGE_TITLES: Record<string, readonly string[]> = {
  SESSION_REQUIRED: ['Sign in required'],
  ORIGIN_FORBIDDEN: ['Request refused'],
  ROLE_FORBIDDEN: ['Not allowed'],
  BILLING_SESSION_NOT_FOUND: ['Billing session not found'],
  VALIDATION_FAILED: ['Invalid request'],
  PAYLOAD_TOO_LARGE: ['Form too large'],
  UNSUPPORTED_MEDIA_TYPE: ['Unsupported form'],
  platform_unavailable: ['Try again shortly'],
};

/** A billing page's refusal: the status, an HTML page with the refusal's title, and a request id. */
function assertPage(res: Reply, status: number, code: string): void {
  assert.equal(res.statusCode, status, `expected a ${status} page (${code}), got ${res.statusCode}: ${res.body.slice(0, 500)}`);
  assert.match(String(res.headers['content-type']), /^text\/html/);
  const titles = PAGE_TITLES[code];
  assert.ok(titles, `a page title for ${code}`);
  assert.ok(
    titles.some((t) => res.body.includes(`<h1>${t}</h1>`)),
    `the page is titled ${titles.map((t) => `"${t}"`).join(' or ')}: ${res.body.slice(-300)}`,
  );
  assert.match(String(res.headers['x-request-id']), /^req_/);
}

/** The provision secret of the suite's control planes (the provisioning tier is mounted only with one). */
const PROVISION_SECRET = `provision-${'5'.repeat(32)}`;

const SESSION_REQUIRED = ['SESSION_REQUIRED', 'not authenticated: sign in first'] as const;
const ADMIN_AUTH_REQUIRED = ['ADMIN_AUTH_REQUIRED', 'admin auth required'] as const;
const INVALID_ADMIN_AUTH = ['INVALID_ADMIN_AUTH', 'invalid admin auth token'] as const;
const INVALID_PROVISION_SECRET = ['INVALID_ADMIN_AUTH', 'invalid provision secret'] as const;
const INVALID_TENANT_TOKEN = ['INVALID_ADMIN_AUTH', 'invalid tenant admin token'] as const;
const TENANT_CREDENTIAL_REJECTED = [
  'TENANT_CREDENTIAL_REJECTED',
  'tenant credentials (org API keys, workspace tokens, tenant admin tokens) are not accepted by the control plane; use them at your tenant',
] as const;

/** A refusal on a session route (JSON envelope) or a page (HTML with the same status); the JSON body when there is one. */
function assertRefused(s: RouteSpec, res: Reply, status: number, code: string, message?: string): JsonObject | null {
  if (isPage(s)) {
    assertPage(res, status, code);
    return null;
  }
  return assertError(res, status, code, message);
}

/** The handler's own answer: the expected status; a success body is not an error, a handler's refusal has its code. */
function assertReached(res: Reply, fx: RouteFixture, what: string) {
  const status = fx.ok.status;
  assert.equal(res.statusCode, status, `${what}: expected the handler's ${status}, got ${res.statusCode}: ${res.body.slice(0, 500)}`);
  if (fx.ok.code) {
    assert.equal(jsonOf(res)['code'], fx.ok.code, res.body);
  } else if (String(res.headers['content-type'] ?? '').startsWith('application/json') && res.body !== '') {
    assert.equal(jsonOf(res)['code'], undefined, 'a success body, not an error');
  }
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const cookie = (pair: string) => ({ cookie: pair });

/** A page's form fields, urlencoded as a browser sends them. */
const formOf = (fields: Record<string, unknown>) => new URLSearchParams(Object.entries(fields).map(([k, v]): [string, string] => [k, String(v)])).toString();

/** Headers for one request: the fixture's own, then the credential's; two cookie headers become one. */
function mergeHeaders(base: Record<string, string>, extra: Record<string, string>): Record<string, string> {
  const out = { ...base, ...extra };
  if (base['cookie'] && extra['cookie']) out['cookie'] = `${base['cookie']}; ${extra['cookie']}`;
  return out;
}

interface Recorded {
  method: string;
  url: string;
  status: number;
  body: string;
  headers: Reply['headers'];
}

/** One OpenAPI/JSON schema node, as much of it as bad-input generation reads. */
interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  maxLength?: number;
  $ref?: string;
}

interface OpenApiDoc {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>>;
  components?: { schemas?: Record<string, JsonSchema> };
}

function resolve(doc: OpenApiDoc, s: JsonSchema): JsonSchema {
  if (!s.$ref) return s;
  const name = s.$ref.replace(/^#\/components\/schemas\//, '');
  const target = doc.components?.schemas?.[name];
  assert.ok(target, `schema ${s.$ref} resolves`);
  return resolve(doc, target);
}

/** A route's documented JSON body (from /api/v1's entry: the /cp alias is the same route, undocumented). */
function bodySchemaOf(doc: OpenApiDoc, s: RouteSpec): JsonSchema | undefined {
  const path = `${PREFIXES[0]}${s.path}`.replace(/:([A-Za-z_]+)/g, '{$1}');
  const schema = doc.paths[path]?.[s.method.toLowerCase()]?.requestBody?.content?.['application/json']?.schema;
  return schema ? resolve(doc, schema) : undefined;
}

/** The JSON types a schema accepts, or null when it accepts anything. `integer` counts as `number`. */
function acceptedTypes(doc: OpenApiDoc, node: JsonSchema): Set<string> | null {
  const s = resolve(doc, node);
  const union = s.anyOf ?? s.oneOf;
  if (union) {
    const all = new Set<string>();
    for (const branch of union) {
      const t = acceptedTypes(doc, branch);
      if (!t) return null;
      for (const x of t) all.add(x);
    }
    return all;
  }
  const jsonType = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
  if (s.const !== undefined) return new Set([jsonType(s.const)]);
  if (s.enum) return new Set(s.enum.map(jsonType));
  if (s.type) return new Set([s.type].flat().map((t) => (t === 'integer' ? 'number' : t)));
  return null;
}

/** A value of a JSON type the schema refuses, or undefined when it accepts every type. */
function wrongTypeValue(doc: OpenApiDoc, s: JsonSchema): unknown {
  const accepted = acceptedTypes(doc, s);
  if (!accepted) return undefined;
  const candidates: [string, unknown][] = [
    ['number', 12345],
    ['boolean', true],
    ['object', { nested: 'object' }],
    ['array', ['an', 'array']],
    ['string', 'a-string'],
  ];
  return candidates.find(([type]) => !accepted.has(type))?.[1];
}

/** A 400 that names `field`: in `fields` and in the message (JSON), or in the page's message (HTML). */
function assertNamesField(s: RouteSpec, res: Reply, field: string, what: string) {
  assert.equal(res.statusCode, 400, `${what}: expected 400 naming "${field}", got ${res.statusCode}: ${res.body.slice(0, 300)}`);
  if (isPage(s)) {
    assertPage(res, 400, 'VALIDATION_FAILED');
    assert.ok(res.body.includes(field), `${what}: the page names "${field}"`);
    return;
  }
  const body = assertError(res, 400, 'VALIDATION_FAILED');
  assert.ok(Array.isArray(body['fields']) && (body['fields'] as unknown[]).includes(field), `${what}: fields ${JSON.stringify(body['fields'])} name "${field}"`);
  assert.ok(String(body['error']).includes(field), `${what}: the message names "${field}": ${String(body['error'])}`);
}

// ---------------------------------------------------------------------------------------------------------------
// The suite, per database
// ---------------------------------------------------------------------------------------------------------------

forEachDatabase('control-plane security suite', (kind: DbKind) => {
  let tenant: TestTenant;
  let creds: TenantCredentials;
  /** A real OpenID provider, so the sign-in routes reach their handlers' real work (and an outage shows there). */
  let oidc: TestOidcProvider;
  let cp: TestControlPlane;
  let w: CpWorld;
  /** Every response the suite saw, on every control plane, for the header and leak checks at the end. */
  const recorded: Recorded[] = [];
  /** Every secret the suite handled: none may ever appear in a response body. */
  const secrets = new Map<string, string>();
  const keep = (label: string, value: string) => secrets.set(value, label);

  const oidcEnv = (): TestControlPlaneOptions['env'] => ({
    OIDC_ISSUER_URL: oidc.issuer,
    OIDC_CLIENT_ID: oidc.clientId,
    OIDC_CLIENT_SECRET: oidc.clientSecret,
    PROVISION_SHARED_SECRET: PROVISION_SECRET,
  });

  async function send(
    target: TestControlPlane,
    method: string,
    url: string,
    headers: Record<string, string>,
    payload?: unknown,
    raw?: { body: string; contentType: string },
  ): Promise<Reply> {
    const res = await target.app.inject({
      method: method as Method,
      url,
      headers: raw ? { ...headers, 'content-type': raw.contentType } : headers,
      ...(raw ? { payload: raw.body } : payload !== undefined ? { payload: payload as object } : {}),
    });
    recorded.push({ method, url, status: res.statusCode, body: res.body, headers: res.headers });
    // A password that worked, and every session cookie ever set, is a secret from here on.
    if (res.statusCode < 300 && payload && typeof payload === 'object' && typeof (payload as JsonObject)['password'] === 'string') {
      keep('a password', (payload as JsonObject)['password'] as string);
    }
    for (const c of [res.headers['set-cookie'] ?? []].flat()) {
      const pair = String(c).split(';')[0]!;
      if (pair.startsWith('mcp_session=') && cookieValue(pair) !== '') keep('a session cookie', cookieValue(pair));
    }
    return res;
  }

  function urlOf(s: RouteSpec, prefix: string, world: CpWorld, over: Prepared = {}): string {
    return `${prefix}${fill(s.path, over.params ?? s.fx.params?.(world) ?? {})}${over.query ?? s.fx.query?.(world) ?? ''}`;
  }

  /** Sends a route's request: JSON for the API, a urlencoded form for a page. */
  function sendRoute(target: TestControlPlane, s: RouteSpec, url: string, headers: Record<string, string>, body: Record<string, unknown> | undefined, world: CpWorld) {
    const all = mergeHeaders(s.fx.headers?.(world) ?? {}, headers);
    if (isPage(s) && body !== undefined) {
      return send(target, s.method, url, all, undefined, { body: formOf(body), contentType: 'application/x-www-form-urlencoded' });
    }
    return send(target, s.method, url, all, body);
  }

  /** The fixture's own request (valid params and body) with the given credential headers. */
  function call(s: RouteSpec, prefix: string, headers: Record<string, string>, world: CpWorld = w, target: TestControlPlane = cp): Promise<Reply> {
    return sendRoute(target, s, urlOf(s, prefix, world), headers, s.fx.body?.(world), world);
  }

  function keepWorld(world: CpWorld) {
    for (const u of world.users) {
      keep(`${u.email}'s password`, u.password);
      keep(`${u.email}'s session cookie`, cookieValue(u.cookie));
    }
    for (const t of world.inviteTokens) keep('an invite token', t);
    for (const t of world.verificationTokens()) keep('an email verification token', t);
    keep('the CP admin token', world.cp.adminToken);
    keep("A's tenant admin token", world.tenantToken);
    keep("B's tenant admin token", world.outsiderTenantToken);
    for (const k of world.partner.keys) keep('a partner key', k);
    if (world.provision) {
      keep('the provision secret', world.provision.secret);
      keep("org A's tenant admin token", world.provision.tokenA);
      keep("org B's tenant admin token", world.provision.tokenB);
      for (const t of world.provision.workspaceTokens) keep('a provisioned workspace token', t);
    }
  }

  /** The user a positive control sends as: the least sufficient org role, else the owner. */
  function leastSufficient(s: RouteSpec): TestUser {
    if (s.fx.minRole === 'member') return w.member;
    if (s.fx.minRole === 'admin') return w.orgAdmin;
    return w.owner;
  }

  /** The provisioning tier's credentials of a world: the provision secret and org A's tenant admin token. */
  function provisionCredential(world: CpWorld): Record<string, string> {
    assert.ok(world.provision, 'the control plane has a provision secret');
    return provisionHeaders(world.provision.secret, world.provision.tokenA);
  }

  /** The credential a route's tier accepts (the CP admin bearer, nothing, the org's tenant admin token, the provision pair, or a session). */
  function rightCredential(s: RouteSpec, user: TestUser, target: TestControlPlane = cp, world: CpWorld = w): Record<string, string> {
    if (s.tier === 'admin') return bearer(target.adminToken);
    if (s.tier === 'tenant') return { ...bearer(world.tenantToken), 'x-molecule-org-id': world.org.id };
    if (s.tier === 'provision') return provisionCredential(world);
    if (s.tier === 'public' || s.tier === 'public-page') return {};
    return cookie(user.cookie);
  }

  /** Sends the positive control of a route on a prefix: fresh data if the fixture prepares it, the right credential. */
  async function positive(s: RouteSpec, prefix: string, prepared?: Prepared): Promise<Reply> {
    const p = prepared ?? (s.fx.ok.prepare ? await s.fx.ok.prepare(w) : {});
    return sendRoute(cp, s, urlOf(s, prefix, w, p), rightCredential(s, p.user ?? leastSufficient(s)), p.body ?? s.fx.body?.(w), w);
  }

  /** One org with everything hanging off it, to prove a refused request changed nothing. */
  async function orgSnapshot(orgId: string) {
    const [org, members, invitations, instance, ledger, invoices, billing] = await Promise.all([
      cp.db.selectFrom('organizations').selectAll().where('id', '=', orgId).executeTakeFirst(),
      cp.db.selectFrom('org_members').select(['user_id', 'role', 'invited_by']).where('org_id', '=', orgId).orderBy('user_id').execute(),
      cp.db.selectFrom('org_invitations').selectAll().where('org_id', '=', orgId).orderBy('id').execute(),
      cp.db.selectFrom('org_instances').selectAll().where('org_id', '=', orgId).executeTakeFirst(),
      cp.db.selectFrom('credit_ledger').select('id').where('org_id', '=', orgId).orderBy('id').execute(),
      cp.db.selectFrom('invoices').select(['id', 'status']).where('org_id', '=', orgId).orderBy('id').execute(),
      cp.db.selectFrom('billing_sessions').select(['id', 'status', 'completed_at']).where('org_id', '=', orgId).orderBy('id').execute(),
    ]);
    assert.ok(org, `org ${orgId} exists`);
    return { org, members, invitations, instance, ledger, invoices, billing };
  }

  /** The orgs negative checks point at: A, and D (which DELETE /orgs/:slug names). */
  const targetedOrgs = async () => ({
    a: await orgSnapshot(w.org.id),
    d: await orgSnapshot(w.doomedOrg.id),
    pa: await orgSnapshot(w.partner.org.id),
    pd: await orgSnapshot(w.partner.doomedOrg.id),
    keys: await cp.db.selectFrom('partner_api_keys').select(['id', 'revoked_at']).orderBy('id').execute(),
  });

  /** Row counts of every table a request could add to or remove from, and how many sessions are live. */
  async function rowCounts(): Promise<Record<string, number>> {
    const selects = COUNTED_TABLES.map((t) => `(select count(*) from ${t}) as ${t}`).join(', ');
    const live = `(select count(*) from sessions where revoked_at is null) as live_sessions`;
    const { rows } = await sql.raw<Record<string, string | number>>(`select ${selects}, ${live}`).execute(cp.db);
    return Object.fromEntries(Object.entries(rows[0]!).map(([k, v]) => [k, Number(v)]));
  }

  /** Runs the sends, then proves that no row appeared or went and that the targeted orgs are exactly as they were. */
  async function unchanged(run: () => Promise<void>) {
    const [counts, orgs] = [await rowCounts(), await targetedOrgs()];
    await run();
    assert.deepEqual(await rowCounts(), counts, 'no row appeared or went');
    assert.deepEqual(await targetedOrgs(), orgs, 'the targeted orgs are unchanged');
  }

  /** A session of the owner's, aged past its expiry: only that makes it unusable. One per check, never shared. */
  async function expiredOwnerCookie(): Promise<string> {
    const c = await w.login(w.owner);
    await expireSession(cp, c);
    keep("the owner's expired session cookie", cookieValue(c));
    return c;
  }

  /** A session of the owner's, signed out: only that makes it unusable. One per check, never shared. */
  async function signedOutOwnerCookie(): Promise<string> {
    const c = await w.login(w.owner);
    const out = await cp.app.inject({ method: 'POST', url: '/api/v1/auth/signout', headers: cookie(c) });
    assert.equal(out.statusCode, 200, `fixture sign-out: ${out.body}`);
    keep("the owner's signed-out session cookie", cookieValue(c));
    return c;
  }

  before(async () => {
    tenant = await startTestTenant(kind);
    creds = {
      orgKey: (await tenant.mintKey({ name: 'cp-security' })).auth_token,
      workspaceToken: (await tenant.createWorkspace()).auth_token,
      tenantAdminToken: tenant.adminToken,
    };
    for (const [label, k] of TENANT_CREDENTIALS) keep(label, creds[k]);
    oidc = await startTestOidcProvider({ redirectUris: PREFIXES.map((p) => `http://localhost:8080${p}/auth/callback`) });
    cp = await startTestControlPlane(kind, { env: oidcEnv() });
    w = await buildWorld(cp);
  });

  after(async () => {
    await cp?.close();
    await oidc?.close();
    await tenant?.close();
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('route table', () => {
    it('every CP route is classified and has a fixture, and every fixture a route', () => {
      const unclassified: string[] = [];
      const missing: string[] = [];
      const seen = new Set<string>();
      for (const r of cp.app.routeCatalog) {
        const key = routeKey(r.method, r.url);
        if (OPEN_ROUTES.has(key)) continue;
        const c = classify(r.method, r.url);
        if (!c) {
          unclassified.push(key);
          continue;
        }
        const fixtureKey = routeKey(r.method, c.path);
        seen.add(fixtureKey);
        if (!CP_ROUTE_FIXTURES[fixtureKey]) missing.push(key);
      }
      assert.deepEqual(unclassified, [], 'routes outside /api/v1 and /cp that are neither open nor a known page: add them to PAGE_ROUTES in test/support/cp-fixtures.ts');
      assert.deepEqual(missing, [], 'routes with no security fixture: add them to CP_ROUTE_FIXTURES in test/support/cp-fixtures.ts');
      assert.deepEqual(
        SPECS.map((s) => s.key).filter((k) => !seen.has(k)),
        [],
        'security fixtures whose route is not registered',
      );
      for (const open of OPEN_ROUTES) assert.ok(cp.app.routeCatalog.some((r) => routeKey(r.method, r.url) === open), `open route ${open} is registered`);
    });

    it('every API route is mounted under both /api/v1 and the /cp alias', () => {
      const keys = new Set(cp.app.routeCatalog.map((r) => routeKey(r.method, r.url)));
      const notTwice = byTier('public', 'session', 'admin', 'tenant', 'provision').flatMap((s) =>
        PREFIXES.filter((p) => !keys.has(routeKey(s.method, `${p}${s.path}`))).map((p) => `${s.method} ${p}${s.path}`),
      );
      assert.deepEqual(notTwice, []);
    });

    it('every API route with a JSON body has a valid body in its fixture, and only those', () => {
      const doc = cp.app.swagger() as unknown as OpenApiDoc;
      const mismatched = byTier('public', 'session', 'admin', 'tenant', 'provision').filter((s) => (bodySchemaOf(doc, s) !== undefined) !== (s.fx.body !== undefined));
      assert.deepEqual(mismatched.map((s) => s.key), []);
      assert.ok(byTier('public', 'session', 'admin').filter((s) => s.fx.body).length >= 10, 'the bad-input checks cover the body routes');
    });

    it('every route that takes partner keys (its partnerScope) has a partner fixture with the same scopes, and no other route has one', () => {
      const problems: string[] = [];
      const seen = new Set<string>();
      for (const r of cp.app.routeCatalog) {
        const c = classify(r.method, r.url);
        if (!c || c.prefix !== PREFIXES[0]) continue;
        const key = routeKey(r.method, c.path);
        const fx = CP_ROUTE_FIXTURES[key];
        const declared = r.partnerScope === undefined ? undefined : [r.partnerScope].flat();
        if (declared) seen.add(key);
        if (JSON.stringify(declared) !== JSON.stringify(fx?.partner?.scopes)) problems.push(`${key}: route ${JSON.stringify(declared)}, fixture ${JSON.stringify(fx?.partner?.scopes)}`);
      }
      assert.deepEqual(problems, []);
      assert.ok(seen.size >= 15, `the partner tier covers the partner routes (${seen.size})`);
    });

    it('the role checks include routes for admins and for owners only', () => {
      for (const need of ['admin', 'owner'] as const) assert.ok(byTier('session', 'page').some((s) => s.fx.minRole === need), need);
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  // Session tier and the billing pages (both authenticate the mcp_session cookie)
  // -------------------------------------------------------------------------------------------------------------
  for (const s of byTier('session', 'page')) {
    for (const prefix of s.prefixes) {
      const name = `${s.method} ${prefix}${s.path}`;
      const page = s.tier === 'page';
      describe(`${name} [${s.tier}]`, () => {
        it(`${name}: no credential → 401 SESSION_REQUIRED`, async () => {
          assertRefused(s, await call(s, prefix, {}), 401, ...SESSION_REQUIRED);
        });

        for (const [label, k] of TENANT_CREDENTIALS) {
          it(`${name}: ${label} as a bearer → 401 ${page ? 'SESSION_REQUIRED' : 'TENANT_CREDENTIAL_REJECTED'}`, async () => {
            const res = await call(s, prefix, bearer(creds[k]));
            if (page) assertPage(res, 401, 'SESSION_REQUIRED');
            else assertError(res, 401, ...TENANT_CREDENTIAL_REJECTED);
          });
          it(`${name}: ${label} as the mcp_session cookie → 401 SESSION_REQUIRED`, async () => {
            assertRefused(s, await call(s, prefix, cookie(`mcp_session=${creds[k]}`)), 401, 'SESSION_REQUIRED');
          });
        }

        it(`${name}: the CP admin bearer → 401 SESSION_REQUIRED (an admin token is not a session)`, async () => {
          assertRefused(s, await call(s, prefix, bearer(cp.adminToken)), 401, 'SESSION_REQUIRED');
        });

        it(`${name}: a garbage session cookie → 401 SESSION_REQUIRED`, async () => {
          assertRefused(s, await call(s, prefix, cookie('mcp_session=garbage')), 401, 'SESSION_REQUIRED');
        });

        it(`${name}: a well-formed but unknown session cookie → 401 SESSION_REQUIRED`, async () => {
          assertRefused(s, await call(s, prefix, cookie(`mcp_session=${mintCredential('session').plaintext}`)), 401, 'SESSION_REQUIRED');
        });

        it(`${name}: the owner's expired session cookie → 401 SESSION_REQUIRED`, async () => {
          assertRefused(s, await call(s, prefix, cookie(await expiredOwnerCookie())), 401, 'SESSION_REQUIRED');
        });

        it(`${name}: the owner's signed-out session cookie → 401 SESSION_REQUIRED`, async () => {
          assertRefused(s, await call(s, prefix, cookie(await signedOutOwnerCookie())), 401, 'SESSION_REQUIRED');
        });

        if (UNSAFE_METHODS.has(s.method)) {
          it(`${name}: a cross-site Origin with a valid session → 403 ORIGIN_FORBIDDEN, nothing changed`, async () => {
            const user = s.fx.probeAs?.(w) ?? w.owner;
            await unchanged(async () => {
              const res = await call(s, prefix, { ...cookie(user.cookie), origin: CROSS_SITE_ORIGIN });
              assertRefused(s, res, 403, 'ORIGIN_FORBIDDEN');
              if (!page) assert.match(String(jsonOf(res)['error']), /evil\.example/);
            });
          });
        }

        const need = s.fx.minRole;
        if (need) {
          const nm = s.fx.nonMember;
          it(`${name}: a member of another org → ${nm ? `${nm.status}${nm.code ? ` ${nm.code}` : ''}` : '404 ORG_NOT_FOUND'}, the targeted orgs unchanged`, async () => {
            await unchanged(async () => {
              const res = await call(s, prefix, cookie(w.outsider.cookie));
              if (nm?.code) assertRefused(s, res, nm.status, nm.code);
              else if (nm) assert.equal(res.statusCode, nm.status, res.body);
              else assertRefused(s, res, 404, 'ORG_NOT_FOUND', 'org not found');
              nm?.check?.(res);
            });
          });

          for (const role of (['member', 'admin'] as const).filter((r) => ROLE_RANK[r] < ROLE_RANK[need])) {
            it(`${name}: an org ${role} (below ${need}) → 403 ROLE_FORBIDDEN, the targeted orgs unchanged`, async () => {
              await unchanged(async () => {
                const user = role === 'member' ? w.member : w.orgAdmin;
                const body = assertRefused(s, await call(s, prefix, cookie(user.cookie)), 403, 'ROLE_FORBIDDEN');
                if (body) {
                  assert.equal(body['role'], role);
                  assert.equal(body['required_role'], need);
                }
              });
            });
          }
        }

        it(`${name}: positive control — ${need ? `an org ${need}` : 'a signed-in user'} reaches the handler → ${s.fx.ok.status}`, async () => {
          assertReached(await positive(s, prefix), s.fx, name);
        });
      });
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Admin tier
  // -------------------------------------------------------------------------------------------------------------
  for (const s of byTier('admin')) {
    for (const prefix of s.prefixes) {
      const name = `${s.method} ${prefix}${s.path}`;
      describe(`${name} [admin]`, () => {
        it(`${name}: no credential → 401 ADMIN_AUTH_REQUIRED`, async () => {
          assertError(await call(s, prefix, {}), 401, ...ADMIN_AUTH_REQUIRED);
        });

        it(`${name}: a wrong bearer → 401 INVALID_ADMIN_AUTH`, async () => {
          assertError(await call(s, prefix, bearer('cp-admin-not-the-token-0123456789')), 401, ...INVALID_ADMIN_AUTH);
        });

        it(`${name}: the admin token with one character more, or one less → 401 INVALID_ADMIN_AUTH`, async () => {
          assertError(await call(s, prefix, bearer(`${cp.adminToken}0`)), 401, ...INVALID_ADMIN_AUTH);
          assertError(await call(s, prefix, bearer(cp.adminToken.slice(0, -1))), 401, ...INVALID_ADMIN_AUTH);
        });

        it(`${name}: an org owner's valid session cookie → 401 ADMIN_AUTH_REQUIRED (a session never passes)`, async () => {
          assertError(await call(s, prefix, cookie(w.owner.cookie)), 401, ...ADMIN_AUTH_REQUIRED);
        });

        it(`${name}: an org owner's valid session cookie with a wrong bearer → 401 INVALID_ADMIN_AUTH`, async () => {
          assertError(await call(s, prefix, { ...cookie(w.owner.cookie), ...bearer('nope') }), 401, ...INVALID_ADMIN_AUTH);
        });

        for (const [label, k] of TENANT_CREDENTIALS) {
          it(`${name}: ${label} → 401 TENANT_CREDENTIAL_REJECTED`, async () => {
            assertError(await call(s, prefix, bearer(creds[k])), 401, ...TENANT_CREDENTIAL_REJECTED);
          });
        }

        it(`${name}: positive control — the CP admin bearer reaches the handler → ${s.fx.ok.status}`, async () => {
          assertReached(await positive(s, prefix), s.fx, name);
        });
      });
    }
  }


  // -------------------------------------------------------------------------------------------------------------
  // Partner keys (issue 12): on the routes that name a partnerScope, beside the tier's own credential
  // -------------------------------------------------------------------------------------------------------------
  const PARTNER_SPECS = SPECS.filter((s) => s.fx.partner);

  /** A partner route's request with a partner key: the partner fixture's params, query and body. */
  function callPartner(s: RouteSpec, prefix: string, key: string, over: Prepared = {}, target: TestControlPlane = cp, world: CpWorld = w): Promise<Reply> {
    const px = s.fx.partner!;
    const params = over.params ?? px.params?.(world) ?? s.fx.params?.(world) ?? {};
    const query = over.query ?? px.query?.(world) ?? s.fx.query?.(world) ?? '';
    const body = over.body ?? px.body?.(world) ?? s.fx.body?.(world);
    return send(target, s.method, `${prefix}${fill(s.path, params)}${query}`, { ...(s.fx.headers?.(world) ?? {}), ...bearer(key) }, body);
  }

  for (const s of PARTNER_SPECS) {
    const px = s.fx.partner!;
    for (const prefix of s.prefixes) {
      const name = `${s.method} ${prefix}${s.path}`;
      describe(`${name} [partner key: ${px.scopes.join(' | ')}]`, () => {
        it(`${name}: a key with a bad checksum, a made-up key, an unknown well-formed key → 401 invalid API key, nothing changed`, async () => {
          const real = w.partner.key.key;
          const flipped = real.slice(0, -1) + (real.at(-1) === 'A' ? 'B' : 'A');
          await unchanged(async () => {
            for (const k of [flipped, 'mol_pk_live_' + 'a'.repeat(32), mintCredential('partnerKey').plaintext, 'mol_pk_test_' + 'a'.repeat(49)]) {
              assertError(await callPartner(s, prefix, k), 401, 'INVALID_API_KEY', 'invalid API key');
            }
          });
        });

        it(`${name}: a revoked key → 401 invalid API key; an expired key → 401 API key expired; nothing changed`, async () => {
          const revoked = await w.partner.mint();
          keep('a revoked partner key', revoked.key);
          assert.equal((await cp.app.inject({ method: 'DELETE', url: `/api/v1/admin/partner-keys/${revoked.id}`, headers: cp.admin() })).statusCode, 204);
          const expired = await w.partner.mint({ expires_in_days: 1 });
          keep('an expired partner key', expired.key);
          await cp.db.updateTable('partner_api_keys').set({ expires_at: new Date(Date.now() - 60_000) }).where('id', '=', expired.id).execute();
          await unchanged(async () => {
            assertError(await callPartner(s, prefix, revoked.key), 401, 'INVALID_API_KEY', 'invalid API key');
            assertError(await callPartner(s, prefix, expired.key), 401, 'API_KEY_EXPIRED', 'API key expired');
          });
        });

        it(`${name}: a live key without ${px.scopes.join(' or ')} → 403 naming the scope, nothing changed`, async () => {
          const without = PARTNER_SCOPES.filter((x) => !px.scopes.some((need) => canonicalScope(need) === canonicalScope(x)));
          const k = await w.partner.mint({ scopes: without });
          keep('a partner key', k.key);
          await unchanged(async () => {
            const body = assertError(await callPartner(s, prefix, k.key), 403, 'SCOPE_MISSING', `this API key lacks the scope ${px.scopes.join(' or ')}`);
            assert.equal(body['required_scope'], px.scopes[0]);
          });
        });

        if (px.confined) {
          it(`${name}: another partner's key (every scope) → 404 ${px.confined}, nothing changed`, async () => {
            await unchanged(async () => {
              assertError(await callPartner(s, prefix, w.partner.otherKey.key), 404, px.confined!);
            });
          });
          it(`${name}: the partner's key bound to another of its orgs → 404 ${px.confined}, nothing changed`, async () => {
            await unchanged(async () => {
              assertError(await callPartner(s, prefix, w.partner.boundKey.key), 404, px.confined!);
            });
          });
        }

        it(`${name}: positive control — the partner's key reaches the handler → ${px.ok.status}${px.ok.code ? ` ${px.ok.code}` : ''}`, async () => {
          const prepared = px.ok.prepare ? await px.ok.prepare(w) : {};
          const res = await callPartner(s, prefix, w.partner.key.key, prepared);
          assert.equal(res.statusCode, px.ok.status, `${name}: ${res.body.slice(0, 500)}`);
          if (px.ok.code) assert.equal(jsonOf(res)['code'], px.ok.code, res.body);
          else if (res.body !== '') assert.equal(jsonOf(res)['code'], undefined, 'a success body, not an error');
        });
      });
    }
  }

  describe('partner keys on the routes that take none', () => {
    const refusing = byTier('session', 'admin').filter((s) => !s.fx.partner);
    for (const s of refusing) {
      for (const prefix of s.prefixes) {
        const name = `${s.method} ${prefix}${s.path}`;
        it(`${name}: a live partner key holding every scope → 401 PARTNER_KEY_NOT_ACCEPTED, nothing changed`, async () => {
          await unchanged(async () => {
            assertError(await call(s, prefix, bearer(w.partner.key.key)), 401, 'PARTNER_KEY_NOT_ACCEPTED', 'partner API keys are not accepted on this route');
          });
        });
      }
    }
    it('the partner tier and this refusal together cover every session and admin route (control)', () => {
      assert.equal(refusing.length + PARTNER_SPECS.filter((s) => s.tier === 'session' || s.tier === 'admin').length, byTier('session', 'admin').length);
      assert.ok(refusing.length > 20);
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  // Tenant tier (the tenant callbacks): only the org's own tenant admin token, for its own org
  // -------------------------------------------------------------------------------------------------------------
  const TENANT_TOKEN_REQUIRED = ['ADMIN_AUTH_REQUIRED', 'tenant admin token required: Authorization: Bearer <ADMIN_TOKEN>'] as const;

  for (const s of byTier('tenant')) {
    for (const prefix of s.prefixes) {
      const name = `${s.method} ${prefix}${s.path}`;
      const orgA = () => ({ 'x-molecule-org-id': w.org.id });
      /** A refused request changes nothing (a POST let through would add a boot event or an anchor). */
      const refused = async (headers: Record<string, string>, expected: readonly [string, string]) => {
        await unchanged(async () => {
          assertError(await call(s, prefix, headers), 401, ...expected);
        });
      };
      describe(`${name} [tenant]`, () => {
        it(`${name}: no bearer → 401 ADMIN_AUTH_REQUIRED, nothing changed`, async () => {
          await refused(orgA(), TENANT_TOKEN_REQUIRED);
        });

        it(`${name}: a garbage bearer → 401 INVALID_ADMIN_AUTH, nothing changed`, async () => {
          await refused({ ...orgA(), ...bearer('garbage') }, INVALID_TENANT_TOKEN);
        });

        it(`${name}: a well-formed molt_ token the CP never stored → 401 INVALID_ADMIN_AUTH, nothing changed`, async () => {
          await refused({ ...orgA(), ...bearer(mintCredential('tenantAdminToken').plaintext) }, INVALID_TENANT_TOKEN);
        });

        for (const [label, k] of TENANT_CREDENTIALS) {
          it(`${name}: ${label} of a tenant the CP does not know → 401 INVALID_ADMIN_AUTH, nothing changed`, async () => {
            await refused({ ...orgA(), ...bearer(creds[k]) }, INVALID_TENANT_TOKEN);
          });
        }

        it(`${name}: the CP admin bearer → 401 INVALID_ADMIN_AUTH (platform root is not a tenant), nothing changed`, async () => {
          await refused({ ...orgA(), ...bearer(cp.adminToken) }, INVALID_TENANT_TOKEN);
        });

        it(`${name}: the owner's valid session cookie → 401 ADMIN_AUTH_REQUIRED (a session never passes), nothing changed`, async () => {
          await refused({ ...orgA(), ...cookie(w.owner.cookie) }, TENANT_TOKEN_REQUIRED);
        });

        it(`${name}: another org's tenant admin token with this org's X-Molecule-Org-Id → 401 INVALID_ADMIN_AUTH, nothing changed`, async () => {
          await refused({ ...orgA(), ...bearer(w.outsiderTenantToken) }, INVALID_TENANT_TOKEN);
        });

        it(`${name}: this org's token with another org's X-Molecule-Org-Id → 401 INVALID_ADMIN_AUTH, nothing changed`, async () => {
          await refused({ 'x-molecule-org-id': w.outsiderOrg.id, ...bearer(w.tenantToken) }, INVALID_TENANT_TOKEN);
        });

        it(`${name}: positive control — the org's own tenant admin token reaches the handler → ${s.fx.ok.status}`, async () => {
          assertReached(await positive(s, prefix), s.fx, name);
        });
      });
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Provisioning tier (reference §3.3, §3.4; §7 checks 41, 45): the provision secret AND the calling tenant's token
  // -------------------------------------------------------------------------------------------------------------
  /** Whether A's workspace that negative checks name is still running (a refused request left it alone). */
  async function aWorkspaceRunning(): Promise<void> {
    const p = w.provision!;
    const row = await cp.db.selectFrom('cp_workspace_instances').select(['state', 'org_id']).where('instance_id', '=', p.instanceId).executeTakeFirstOrThrow();
    assert.deepEqual(row, { state: 'running', org_id: w.org.id }, "A's workspace is still running");
  }

  for (const s of byTier('provision')) {
    for (const prefix of s.prefixes) {
      const name = `${s.method} ${prefix}${s.path}`;
      describe(`${name} [provision]`, () => {
        const secret = () => w.provision!.secret;
        const tokenA = () => w.provision!.tokenA;

        it(`${name}: no credential → 401 ADMIN_AUTH_REQUIRED; the tenant token alone (no bearer) → 401 ADMIN_AUTH_REQUIRED`, async () => {
          await unchanged(async () => {
            assertError(await call(s, prefix, {}), 401, 'ADMIN_AUTH_REQUIRED');
            assertError(await call(s, prefix, { 'x-molecule-admin-token': tokenA() }), 401, 'ADMIN_AUTH_REQUIRED');
          });
          await aWorkspaceRunning();
        });

        it(`${name}: the right secret without X-Molecule-Admin-Token → 401 ADMIN_AUTH_REQUIRED`, async () => {
          await unchanged(async () => {
            assertError(await call(s, prefix, bearer(secret())), 401, 'ADMIN_AUTH_REQUIRED');
          });
          await aWorkspaceRunning();
        });

        it(`${name}: the right secret with an unknown tenant token (well-formed or not) → 401 INVALID_ADMIN_AUTH`, async () => {
          await unchanged(async () => {
            for (const token of [mintCredential('tenantAdminToken').plaintext, 'garbage', creds.tenantAdminToken]) {
              assertError(await call(s, prefix, provisionHeaders(secret(), token)), 401, ...INVALID_TENANT_TOKEN);
            }
          });
          await aWorkspaceRunning();
        });

        it(`${name}: the right secret with org B's tenant token → 404 (another org's workspace is not found and keeps running)`, async () => {
          await unchanged(async () => {
            const res = await call(s, prefix, provisionHeaders(secret(), w.provision!.tokenB));
            if (s.path === '/workspaces/provision') assertError(res, 404, 'ORG_NOT_FOUND', 'org not found');
            else assertError(res, 404, 'WORKSPACE_NOT_FOUND', 'workspace not found');
          });
          await aWorkspaceRunning();
        });

        it(`${name}: the right secret and token but X-Molecule-Org-Id naming another org → 401 INVALID_ADMIN_AUTH`, async () => {
          await unchanged(async () => {
            assertError(await call(s, prefix, { ...provisionCredential(w), 'x-molecule-org-id': w.outsiderOrg.id }), 401, ...INVALID_TENANT_TOKEN);
          });
        });

        it(`${name}: a wrong secret (or one character more or less) with A's token → 401 INVALID_ADMIN_AUTH`, async () => {
          await unchanged(async () => {
            for (const bad of [`provision-${'6'.repeat(32)}`, `${secret()}0`, secret().slice(0, -1)]) {
              assertError(await call(s, prefix, provisionHeaders(bad, tokenA())), 401, ...INVALID_PROVISION_SECRET);
            }
          });
          await aWorkspaceRunning();
        });

        it(`${name}: the CP admin bearer (with A's token), a tenant credential as the bearer → 401 INVALID_ADMIN_AUTH`, async () => {
          await unchanged(async () => {
            assertError(await call(s, prefix, provisionHeaders(cp.adminToken, tokenA())), 401, ...INVALID_PROVISION_SECRET);
            for (const [, k] of TENANT_CREDENTIALS) assertError(await call(s, prefix, provisionHeaders(creds[k], tokenA())), 401, ...INVALID_PROVISION_SECRET);
          });
          await aWorkspaceRunning();
        });

        it(`${name}: an org owner's session cookie (with A's token) → 401 ADMIN_AUTH_REQUIRED`, async () => {
          await unchanged(async () => {
            assertError(await call(s, prefix, { ...cookie(w.owner.cookie), 'x-molecule-admin-token': tokenA() }), 401, 'ADMIN_AUTH_REQUIRED');
          });
          await aWorkspaceRunning();
        });

        it(`${name}: positive control — the secret and A's token reach the handler → ${s.fx.ok.status}`, async () => {
          assertReached(await positive(s, prefix), s.fx, name);
        });
      });
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Public tier
  // -------------------------------------------------------------------------------------------------------------
  /** Whether two answers are the same answer: status, error code, fields, and (redirects) where they lead. */
  function assertSameAnswer(withCredential: Reply, anonymous: Reply, exact: boolean) {
    assert.equal(withCredential.statusCode, anonymous.statusCode, withCredential.body);
    if (anonymous.statusCode >= 300 && anonymous.statusCode < 400) {
      const target = (r: Reply) => {
        const u = new URL(String(r.headers['location']));
        return `${u.origin}${u.pathname}`;
      };
      assert.equal(target(withCredential), target(anonymous));
      return;
    }
    if (String(anonymous.headers['content-type'] ?? '').startsWith('text/html')) {
      // A page: the same page (its title), whatever the credential.
      const title = (r: Reply) => /<h1>(.*?)<\/h1>/.exec(r.body)?.[1];
      assert.equal(title(withCredential), title(anonymous));
      assert.ok(title(anonymous), 'the page has a title');
      return;
    }
    const [a, b] = [jsonOf(anonymous), jsonOf(withCredential)];
    assert.equal(b['code'], a['code']);
    assert.deepEqual(Object.keys(b).sort(), Object.keys(a).sort());
    if (exact) assert.deepEqual(b, a);
  }

  for (const s of byTier('public', 'public-page')) {
    for (const prefix of s.prefixes) {
      const name = `${s.method} ${prefix}${s.path}`;
      describe(`${name} [${s.tier}]`, () => {
        it(`${name}: positive control — no credential needed → ${s.fx.ok.status}`, async () => {
          assertReached(await positive(s, prefix), s.fx, name);
        });

        for (const [label, k] of TENANT_CREDENTIALS) {
          it(`${name}: ${label} grants nothing extra (the anonymous answer, field for field)`, async () => {
            const anonymous = await call(s, prefix, {});
            const withCredential = await call(s, prefix, bearer(creds[k]));
            assertSameAnswer(withCredential, anonymous, s.method === 'GET' && anonymous.statusCode === 200);
          });
        }

        it(`${name}: the answer carries no admin_token and no mol*_ credential${s.fx.mints ? ' but the one it mints' : ''}, even asked with one`, async () => {
          const minted = await positive(s, prefix);
          for (const res of [minted, await call(s, prefix, bearer(creds.tenantAdminToken))]) {
            assert.equal(res.body.includes('admin_token'), false, res.body);
            // The positive control of a mint route carries its new credential, and nothing else of the kind.
            const body = s.fx.mints && res === minted ? res.body.replace(/"access_token":"mols_[0-9A-Za-z]+"/, '') : res.body;
            assert.equal(PLAINTEXT_RE.test(body), false, res.body);
          }
        });

        if (s.tier === 'public-page' && UNSAFE_METHODS.has(s.method)) {
          it(`${name}: a cross-site Origin, or none at all → 403 ORIGIN_FORBIDDEN, nothing changed (login CSRF)`, async () => {
            const p = s.fx.ok.prepare ? await s.fx.ok.prepare(w) : {};
            await unchanged(async () => {
              for (const origin of [CROSS_SITE_ORIGIN, undefined]) {
                const headers: Record<string, string> = { origin: origin ?? '' };
                if (origin === undefined) delete headers['origin'];
                const url = urlOf(s, prefix, w, p);
                const res = await send(cp, s.method, url, headers, undefined, { body: formOf(p.body ?? s.fx.body?.(w) ?? {}), contentType: 'application/x-www-form-urlencoded' });
                assertPage(res, 403, 'ORIGIN_FORBIDDEN');
                assert.equal(res.headers['set-cookie'], undefined, 'no session for a form of another origin');
              }
            });
          });
        }
      });
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // Bad input on every body
  // -------------------------------------------------------------------------------------------------------------
  /** The credential the route accepts, so only the body can be what is refused. */
  const probeCredential = (s: RouteSpec) => rightCredential(s, s.fx.probeAs?.(w) ?? w.owner);

  for (const s of byTier('public', 'session', 'admin', 'tenant', 'provision').filter((x) => x.fx.body !== undefined)) {
    for (const prefix of s.prefixes) {
      const name = `${s.method} ${prefix}${s.path}`;
      describe(`${name} [bad input]`, () => {
        let doc: OpenApiDoc;
        let schema: JsonSchema;
        before(() => {
          doc = cp.app.swagger() as unknown as OpenApiDoc;
          const found = bodySchemaOf(doc, s);
          assert.ok(found, `${s.key} documents its body`);
          schema = found;
        });

        const url = () => urlOf(s, prefix, w);
        const sendBody = (body: unknown) => sendRoute(cp, s, url(), probeCredential(s), body as Record<string, unknown>, w);
        const sendRaw = (text: string, contentType: string) => send(cp, s.method, url(), mergeHeaders(s.fx.headers?.(w) ?? {}, probeCredential(s)), undefined, { body: text, contentType });

        it(`${name}: the body is strict (additionalProperties: false) and an unknown field → 400 naming it, nothing changed`, async () => {
          assert.equal(schema.additionalProperties, false, 'the documented body refuses unknown fields');
          await unchanged(async () => {
            assertNamesField(s, await sendBody({ ...s.fx.body!(w), unexpected_field: 'x' }), 'unexpected_field', 'unknown field');
          });
        });

        it(`${name}: each required field missing → 400 naming it; all missing → 400 naming them all; nothing changed`, async () => {
          const required = schema.required ?? [];
          await unchanged(async () => {
            for (const field of required) {
              const body = s.fx.body!(w);
              delete body[field];
              assertNamesField(s, await sendBody(body), field, `without ${field}`);
            }
            if (required.length > 0) {
              const res = await sendBody({});
              const body = assertError(res, 400, 'VALIDATION_FAILED');
              assert.deepEqual([...(body['fields'] as string[])].sort(), [...required].sort(), res.body);
            }
          });
        });

        it(`${name}: each field with a value of the wrong type → 400 naming it, nothing changed`, async () => {
          await unchanged(async () => {
            for (const [field, fieldSchema] of Object.entries(schema.properties ?? {})) {
              const wrong = wrongTypeValue(doc, fieldSchema);
              assert.notEqual(wrong, undefined, `${field} declares its type`);
              assertNamesField(s, await sendBody({ ...s.fx.body!(w), [field]: wrong }), field, `${field} = ${JSON.stringify(wrong)}`);
            }
          });
        });

        it(`${name}: each string field oversized → 400 naming it, nothing changed`, async () => {
          await unchanged(async () => {
            for (const [field, fieldSchema] of Object.entries(schema.properties ?? {})) {
              const types = acceptedTypes(doc, fieldSchema);
              if (types && !types.has('string')) continue;
              const limit = resolve(doc, fieldSchema).maxLength;
              const oversized = 'a'.repeat(limit !== undefined ? limit + 1 : 100_000);
              assertNamesField(s, await sendBody({ ...s.fx.body!(w), [field]: oversized }), field, `${field} of ${oversized.length} characters`);
            }
          });
        });

        it(`${name}: not an object (a JSON array, null, a string, a number) → 400 VALIDATION_FAILED, nothing changed`, async () => {
          await unchanged(async () => {
            for (const text of ['[]', 'null', '"text"', '42']) assertError(await sendRaw(text, 'application/json'), 400, 'VALIDATION_FAILED');
          });
        });

        it(`${name}: invalid JSON and prototype-polluting JSON → 400 INVALID_JSON, nothing changed`, async () => {
          await unchanged(async () => {
            const valid = JSON.stringify(s.fx.body!(w));
            for (const text of [valid.slice(0, -1), '{"a":', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}']) {
              assertError(await sendRaw(text, 'application/json'), 400, 'INVALID_JSON');
            }
          });
        });

        it(`${name}: a valid body under a non-JSON content type → 415 UNSUPPORTED_MEDIA_TYPE (text: 400, a string is not an object), nothing changed`, async () => {
          await unchanged(async () => {
            const valid = JSON.stringify(s.fx.body!(w));
            for (const contentType of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml']) {
              assertError(await sendRaw(valid, contentType), 415, 'UNSUPPORTED_MEDIA_TYPE');
            }
            // Only JSON is parsed: text/plain is refused like any other content type.
            assertError(await sendRaw(valid, 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
          });
        });

        // The runtime provisioning route carries a template's files (base64), so its limit is larger.
        const limit = s.path.endsWith('/workspaces/provision') ? PROVISION_BODY_LIMIT : 1024 * 1024;
        it(`${name}: a body over the ${limit / (1024 * 1024)} MiB limit → 413 PAYLOAD_TOO_LARGE, nothing changed`, async () => {
          await unchanged(async () => {
            const body = JSON.stringify({ ...s.fx.body!(w), padding: 'x'.repeat(limit) });
            assertError(await sendRaw(body, 'application/json'), 413, 'PAYLOAD_TOO_LARGE');
          });
        });
      });
    }
  }

  // The pages' forms: every field is a required choice (plan, decision), so each case is known without a schema.
  for (const s of byTier('page', 'public-page').filter((x) => x.fx.body !== undefined)) {
    const name = `${s.method} ${s.path}`;
    describe(`${name} [bad input]`, () => {
      const url = () => urlOf(s, '', w);
      const sendForm = (form: string, contentType = 'application/x-www-form-urlencoded') => send(cp, s.method, url(), probeCredential(s), undefined, { body: form, contentType });

      it(`${name}: an unknown field, a missing field, a value outside its choices, a repeated field → 400 naming it, nothing changed`, async () => {
        await unchanged(async () => {
          assertNamesField(s, await sendForm(formOf({ ...s.fx.body!(w), unexpected_field: 'x' })), 'unexpected_field', 'unknown field');
          for (const field of Object.keys(s.fx.body!(w))) {
            const without = s.fx.body!(w);
            delete without[field];
            assertNamesField(s, await sendForm(formOf(without)), field, `without ${field}`);
            if (!s.fx.freeText?.includes(field)) assertNamesField(s, await sendForm(formOf({ ...s.fx.body!(w), [field]: 'not-a-choice' })), field, `${field}=not-a-choice`);
            assertNamesField(s, await sendForm(`${formOf(s.fx.body!(w))}&${field}=x`), field, `${field} twice`);
          }
        });
      });

      it(`${name}: a form over 4 KiB → 413, a multipart form → 415, nothing changed`, async () => {
        await unchanged(async () => {
          assertPage(await sendForm(`${formOf(s.fx.body!(w))}&padding=${'x'.repeat(5000)}`), 413, 'PAYLOAD_TOO_LARGE');
          assertPage(await sendForm(formOf(s.fx.body!(w)), 'multipart/form-data; boundary=x'), 415, 'UNSUPPORTED_MEDIA_TYPE');
        });
      });
    });
  }

  // -------------------------------------------------------------------------------------------------------------
  // CP_ADMIN_API_TOKEN unset: its own control plane
  // -------------------------------------------------------------------------------------------------------------
  describe('CP_ADMIN_API_TOKEN unset: admin routes stay mounted and refuse every bearer', () => {
    let bare: TestControlPlane;
    let bareWorld: CpWorld;

    before(async () => {
      bare = await startTestControlPlane(kind, { env: { CP_ADMIN_API_TOKEN: undefined } });
      bareWorld = await buildWorld(bare);
      keepWorld(bareWorld);
    });

    after(async () => {
      await bare?.close();
    });

    it('the control plane really has no admin token, and its session tier works (control)', async () => {
      assert.equal(bare.config.CP_ADMIN_API_TOKEN, undefined);
      const res = await send(bare, 'GET', '/api/v1/auth/me', cookie(bareWorld.owner.cookie));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(jsonOf(res)['user_id'], bareWorld.owner.userId);
    });

    it('PROVISION_SHARED_SECRET unset: no provisioning route is mounted — 404 ROUTE_NOT_FOUND, whatever is sent (reference §7 check 41)', async () => {
      assert.equal(bare.config.PROVISION_SHARED_SECRET, undefined);
      assert.equal(bare.app.routeCatalog.filter((r) => /^\/(api\/v1|cp)\/workspaces\//.test(r.url)).length, 0, 'no /workspaces/ route in the catalog');
      const token = await bare.mintTenantAdminToken(bareWorld.org.id, { url: 'http://127.0.0.1:9' });
      for (const s of byTier('provision')) {
        for (const prefix of s.prefixes) {
          for (const headers of [{}, provisionHeaders(PROVISION_SECRET, token), provisionHeaders(bare.adminToken, token)]) {
            // Not recorded: an unmatched /cp path is no alias of anything, so it carries no deprecation headers.
            const url = `${prefix}${fill(s.path, { workspace_id: '00000000-0000-4000-8000-000000000000' })}`;
            const res = await bare.app.inject({ method: s.method, url, headers, ...(s.method === 'POST' ? { payload: {} } : {}) });
            assertError(res, 404, 'ROUTE_NOT_FOUND');
          }
        }
      }
    });

    for (const s of byTier('admin')) {
      for (const prefix of s.prefixes) {
        const name = `${s.method} ${prefix}${s.path}`;
        it(`${name}: no bearer → 401 ADMIN_AUTH_REQUIRED; any bearer (another CP's admin token, a random one) → 401 INVALID_ADMIN_AUTH; a session → 401`, async () => {
          assertError(await call(s, prefix, {}, bareWorld, bare), 401, ...ADMIN_AUTH_REQUIRED);
          for (const token of [bare.adminToken, cp.adminToken, `cp-admin-${'0'.repeat(32)}`, 'x']) {
            assertError(await call(s, prefix, bearer(token), bareWorld, bare), 401, ...INVALID_ADMIN_AUTH);
          }
          assertError(await call(s, prefix, cookie(bareWorld.owner.cookie), bareWorld, bare), 401, ...ADMIN_AUTH_REQUIRED);
        });
      }
    }
  });

  // -------------------------------------------------------------------------------------------------------------
  // Datastore outage: its own control plane, whose database is destroyed underneath it
  // -------------------------------------------------------------------------------------------------------------
  describe('datastore outage: 503 platform_unavailable with a well-formed credential, never 401', () => {
    let down: TestControlPlane;
    let downWorld: CpWorld;

    before(async () => {
      down = await startTestControlPlane(kind, { env: oidcEnv() });
      downWorld = await buildWorld(down);
      keepWorld(downWorld);
      // The outage: every query from here on fails (pool ended / embedded database closed).
      await down.db.destroy();
    });

    after(async () => {
      // Closing a control plane whose database is already gone may fail; the harness still drops its scratch database.
      await down?.close().catch(() => undefined);
    });

    for (const s of SPECS) {
      for (const prefix of s.prefixes) {
        const name = `${s.method} ${prefix}${s.path}`;
        const credential =
          s.tier === 'admin'
            ? 'the CP admin bearer'
            : s.tier === 'public' || s.tier === 'public-page'
              ? 'no credential (a public route)'
              : s.tier === 'tenant'
                ? "the org's tenant admin token"
                : s.tier === 'provision'
                  ? 'the provision secret and a tenant admin token'
                  : "the owner's session cookie";
        const expected = s.fx.datastoreFree ? `${s.fx.ok.status} (it reads no datastore)` : '503 platform_unavailable';
        it(`${name}: outage with ${credential} → ${expected}`, async () => {
          const res = await call(s, prefix, rightCredential(s, downWorld.owner, down, downWorld), downWorld, down);
          assert.notEqual(res.statusCode, 401, `an outage must not look like bad credentials: ${res.body}`);
          if (s.fx.datastoreFree) assert.equal(res.statusCode, s.fx.ok.status, res.body);
          else if (isPage(s)) assertPage(res, 503, 'platform_unavailable');
          else assertError(res, 503, 'platform_unavailable');
        });
        if (s.fx.partner) {
          it(`${name}: outage with a well-formed partner key → 503 platform_unavailable, never 401`, async () => {
            assertError(await callPartner(s, prefix, downWorld.partner.key.key, {}, down, downWorld), 503, 'platform_unavailable');
          });
        }
      }
    }
  });

  // -------------------------------------------------------------------------------------------------------------
  // The deprecated alias
  // -------------------------------------------------------------------------------------------------------------
  describe('the /cp alias', () => {
    it('every /cp/* response carries Deprecation, Sunset (a future HTTP date) and a Link to its /api/v1 successor; no /api/v1/* response does', () => {
      const cpResponses = recorded.filter((r) => r.url.startsWith('/cp/'));
      const apiResponses = recorded.filter((r) => r.url.startsWith('/api/v1/'));
      assert.ok(cpResponses.length > 100 && apiResponses.length > 100, `both prefixes were exercised (${cpResponses.length}, ${apiResponses.length})`);
      const problems: string[] = [];
      for (const r of cpResponses) {
        const path = r.url.split('?')[0]!;
        const deprecation = r.headers['deprecation'];
        const sunset = String(r.headers['sunset'] ?? '');
        const link = r.headers['link'];
        if (typeof deprecation !== 'string' || !/^(true|@\d+)$/.test(deprecation)) problems.push(`${r.method} ${r.url} ${r.status}: Deprecation ${String(deprecation)}`);
        const date = new Date(sunset);
        if (Number.isNaN(date.getTime()) || date.toUTCString() !== sunset || date.getTime() <= Date.now()) problems.push(`${r.method} ${r.url} ${r.status}: Sunset ${sunset}`);
        if (link !== `</api/v1${path.slice('/cp'.length)}>; rel="successor-version"`) problems.push(`${r.method} ${r.url} ${r.status}: Link ${String(link)}`);
      }
      for (const r of apiResponses) {
        for (const h of ['deprecation', 'sunset', 'link']) if (r.headers[h] !== undefined) problems.push(`${r.method} ${r.url} ${r.status}: ${h} ${String(r.headers[h])}`);
      }
      assert.deepEqual(problems.slice(0, 20), []);
    });

    for (const s of byTier('public', 'session', 'admin', 'tenant').filter((x) => x.method === 'GET' && !x.fx.volatile && x.fx.ok.status === 200)) {
      it(`GET ${s.path}: /api/v1 and /cp answer the same body`, async () => {
        const p = s.fx.ok.prepare ? await s.fx.ok.prepare(w) : {};
        const [a, b] = [await positive(s, '/api/v1', p), await positive(s, '/cp', p)];
        assertReached(a, s.fx, `GET /api/v1${s.path}`);
        assertReached(b, s.fx, `GET /cp${s.path}`);
        assert.equal(b.body, a.body);
      });
    }
  });

  // -------------------------------------------------------------------------------------------------------------
  // Secrets never in responses (last: it reads every response the suite recorded)
  // -------------------------------------------------------------------------------------------------------------
  describe('credentials never in responses', () => {
    /** The responses allowed to carry a fresh credential: a mint route's success. */
    const mintSpecs = byTier('public', 'session', 'admin').filter((s) => s.fx.mints);
    const mintPatterns = mintSpecs.map((s) => ({ method: s.method, re: new RegExp(`^(${PREFIXES.join('|')})${s.path.replace(/:[A-Za-z_]+/g, '[^/?]+')}(\\?|$)`) }));
    /**
     * The two responses whose job is to hand over a credential the suite knows: the CP admin's reveal of a tenant admin
     * token (a mint-flagged GET, successful), and a tenant's own config (`MOLECULE_CP_SHARED_SECRET`, reference §2.6).
     */
    const carriesByDesign = (r: Recorded, label: string) =>
      (label.includes('tenant admin token') && r.method === 'GET' && isMint(r)) ||
      (label === 'the provision secret' && r.method === 'GET' && r.status === 200 && /^\/(api\/v1|cp)\/tenants\/config$/.test(r.url));
    const isMint = (r: Recorded) => r.status >= 200 && r.status < 300 && mintPatterns.some((m) => m.method === r.method && m.re.test(r.url));

    it('no response body carries a session cookie, a tenant credential, the CP admin token, a password or a hash', () => {
      keepWorld(w);
      assert.ok(recorded.length > 1000, `the suite recorded its responses (${recorded.length})`);
      assert.ok(secrets.size > 30, `the suite knows its secrets (${secrets.size})`);
      const offenders: string[] = [];
      for (const r of recorded) {
        for (const [value, label] of secrets) if (r.body.includes(value) && !carriesByDesign(r, label)) offenders.push(`${r.method} ${r.url} ${r.status}: ${label}`);
        for (const marker of ['password_hash', 'token_hash', 'scrypt$']) if (r.body.includes(marker)) offenders.push(`${r.method} ${r.url} ${r.status}: ${marker}`);
        if (!isMint(r) && PLAINTEXT_RE.test(r.body)) offenders.push(`${r.method} ${r.url} ${r.status}: a mol*_ credential`);
      }
      assert.deepEqual(offenders.slice(0, 20), []);
    });

    it('the mint exemption is narrow: only successful invitation mints and admin-token reveals carried a token (control)', () => {
      const minted = recorded.filter(isMint);
      assert.ok(minted.length >= 2, 'the invitation mint was exercised on both prefixes');
      // The invitation mint, and the CP admin's reveal of a tenant admin token (GET /admin/orgs/:slug/admin-token): each
      // carries exactly its own credential.
      for (const r of minted) {
        assert.match(
          r.body,
          r.method === 'GET'
            ? /^\{"slug":"[a-z0-9-]+","admin_token":"molt_[0-9A-Za-z]{49}"\}$/
            : /"invite_token":"moli_[0-9A-Za-z]{49}"|"key":"mol_pk_live_[0-9A-Za-z]{49}"|"access_token":"mols_[0-9A-Za-z]{49}"/,
        );
      }
      assert.ok(minted.some((r) => r.url.includes('/admin/partner-keys')), 'the partner key mint was exercised');
    });
  });
});
