/**
 * The shared security suite (STYLE.md, Tests: "A shared security suite every protected route runs"; Unkey's
 * `runCommonRouteTests`). Every protected tenant route gets the same checks — no credential, wrong credential,
 * wrong tier, revoked, expired, another org's id, another workspace's token, missing role, workspace binding,
 * datastore outage — plus a positive control so the suite cannot pass by rejecting everything.
 *
 * The route table below is checked against `app.routeCatalog` at run time: a new route with no case here, or a
 * case whose route is gone, fails the suite, so nothing can be mounted without passing through it.
 *
 * Expected error strings are the wire contract (spec/reference-tenant.md §2–§3, DESIGN.md §4), written out
 * literally rather than read from src/core/errors.ts, so a change to the table cannot silently change the test.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { AuditEvent } from '../src/core/audit/query.js';
import { mintCredential } from '../src/core/credentials/format.js';
import { newUuid } from '../src/core/ids.js';
import { FakeControlPlane } from './support/fake-control-plane.js';
import {
  forEachDatabase,
  startTestTenant,
  type CreatedWorkspaceBody,
  type MintedKeyBody,
  type TestTenant,
} from './harness.js';

// ---------------------------------------------------------------------------------------------------------------
// The route table
// ---------------------------------------------------------------------------------------------------------------

type Role = 'reader' | 'editor' | 'admin';
const ROLE_ORDER: readonly Role[] = ['reader', 'editor', 'admin'];
const rank = (r: Role) => ROLE_ORDER.indexOf(r);

/**
 * 'admin': the admin chain (DESIGN.md §4). 'workspace': the admin chain or that workspace's own token.
 * 'admin-bound': the admin chain, with a workspace-bound key confined to the `:id` it names.
 */
type AuthKind = 'admin' | 'workspace' | 'admin-bound';
type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Shared fixtures, created once per tenant. Negative checks point at them; they must never reach a handler. */
interface Fixtures {
  wsA: CreatedWorkspaceBody;
  wsB: CreatedWorkspaceBody;
  /**
   * A second token of workspace A, the one DELETE /workspaces/A/tokens/:tokenId names: were a bad credential ever
   * let through, it would revoke this one, not the token the other checks present as "A's own".
   */
  wsAExtraTokenId: string;
  /** A channel of workspace A (reads of it reach their handler). */
  channelA: string;
  /**
   * The workspace DELETE /workspaces/:id names ("workspace A" for that route): were a bad credential ever let
   * through, it would remove this one, not the A every other route's checks depend on.
   */
  wsDelete: CreatedWorkspaceBody;
  /** A pending approval of workspace A, for the read routes' negative checks (GET is harmless). */
  approvalA: string;
  /** An org key the org-token routes (`/org/tokens/:id…`) name in negative checks. */
  targetKey: MintedKeyBody;
  keys: Record<Role, MintedKeyBody>;
  /** This tenant's org id (MOLECULE_ORG_ID): what /orgs/:id/… routes name. */
  orgId: string;
  /** A key bound to workspace B only (role admin, so only the binding can stop it). */
  boundToB: MintedKeyBody;
  revoked: MintedKeyBody;
  expired: MintedKeyBody;
  /** Well-formed (right prefix, length and checksum) but never stored. */
  unknownOrgKey: string;
  /** A live key whose row says it belongs to another org (a database carried over from another tenant). */
  foreignOrgKey: MintedKeyBody;
  /** `mcp_session` cookies: an org member's (verified by the stub CP), another org's member's, and a malformed one. */
  memberCookie: string;
  otherOrgCookie: string;
  malformedCookie: string;
}

/** Fresh data for a positive control, so a mutating check never depends on (or damages) another test's data. */
interface Fresh {
  params: Record<string, string>;
  /** The fresh workspace's own token, for the "own token reaches the handler" control on workspace routes. */
  ownToken?: string;
}

interface RouteCase {
  method: Method;
  /** The route pattern exactly as registered (what `routeCatalog[].url` says). */
  route: string;
  auth: AuthKind;
  /** The declared least role; pinned against the catalog so a silent downgrade fails the suite. */
  minRole: Role;
  /** Whether a workspace-bound key is refused outright (SCOPE_EXCEEDED); pinned against the catalog. */
  orgWide: boolean;
  /** Path params for the negative checks, from the shared fixtures. */
  params?: (fx: Fixtures) => Record<string, string>;
  /** A valid body, so a rejection can only come from auth (auth runs before the body is parsed anyway). */
  body?: () => Record<string, unknown>;
  /** Fresh path params for the positive control. */
  fresh?: (t: TestTenant) => Promise<Fresh>;
  /** What the handler answers when it is reached with a sufficient credential. */
  okStatus: number;
  /**
   * A query string for every check. Event streams never end, so their positive control sends a resume point the
   * handler refuses (400 after auth has passed) instead of opening a stream that `inject` would wait on forever;
   * streaming itself is covered over real HTTP in test/events.test.ts.
   */
  query?: string;
  /**
   * What a workspace outside a bound key's binding answers, when the route says it in its own words (the reference's
   * bundle export answers every not-found with 404 `bundle not found`). Default: WORKSPACE_NOT_FOUND.
   */
  hiddenAs?: [code: string, message: string];
  /**
   * What the workspace's own token gets when the handler refuses that class by design (a workspace token never decides
   * an approval: 403 APPROVAL_DECIDER_FORBIDDEN). Default: it reaches the handler like any sufficient credential.
   */
  ownTokenRefused?: [status: number, code: string];
  /** The code of a handler-level refusal (`okStatus` ≥ 400) once auth has passed. Default: VALIDATION_FAILED. */
  okCode?: string;
  /** What the workspace's own token gets from the handler, when it differs from `okStatus` (secrets/values). */
  ownTokenStatus?: number;
}

const workspaceA = (fx: Fixtures) => ({ id: fx.wsA.id, tokenId: fx.wsAExtraTokenId });
const workspaceToDelete = (fx: Fixtures) => ({ id: fx.wsDelete.id });
const targetKey = (fx: Fixtures) => ({ id: fx.targetKey.id });
const freshKey = async (t: TestTenant): Promise<Fresh> => ({ params: { id: (await t.mintKey({ name: 'security-fresh' })).id } });
const freshWorkspace = async (t: TestTenant): Promise<Fresh> => {
  const w = await t.createWorkspace();
  return { params: { id: w.id, tokenId: w.token_id }, ownToken: w.auth_token };
};
const wsName = () => ({ name: `sec-${randomBytes(4).toString('hex')}` });
/** Mutating negative checks name a channel that never exists on workspace A: were a bad credential let through, nothing changes. */
const NEVER_CHANNEL = '00000000-0000-4000-8000-00000000c4a1';
const workspaceAChannel = (fx: Fixtures) => ({ id: fx.wsA.id, channelId: NEVER_CHANNEL });
/** Reads name workspace A's fixture channel (the slug-header check expects them to reach the handler's 200). */
const workspaceAFixtureChannel = (fx: Fixtures) => ({ id: fx.wsA.id, channelId: fx.channelA });
/** A fresh workspace with a webhook channel at loopback's discard port (allowed in this suite only): a test send stays on the host. */
const freshChannel = async (t: TestTenant): Promise<Fresh> => {
  const w = await t.createWorkspace();
  const res = await t.app.inject({
    method: 'POST',
    url: `/workspaces/${w.id}/channels`,
    headers: t.admin(),
    payload: { type: 'webhook', config: { url: 'http://127.0.0.1:9/security', secret: 'security-signing-secret' }, events: ['SECURITY_FIXTURE_ONLY'] },
  });
  if (res.statusCode !== 201) throw new Error(`fresh channel: ${res.statusCode} ${res.body}`);
  return { params: { id: w.id, channelId: (res.json() as { id: string }).id }, ownToken: w.auth_token };
};
const channelBody = () => ({ type: 'webhook', config: { url: 'http://127.0.0.1:9/security', secret: 'security-signing-secret' }, events: ['SECURITY_FIXTURE_ONLY'] });
/**
 * External workspaces run no process, so lifecycle verbs reach a real outcome in this in-process suite (which runs
 * without a provisioner): restart is a no-op, pause and resume change the status.
 */
const secretKey = () => `SEC_${randomBytes(4).toString('hex').toUpperCase()}`;
/** Negative checks name a secret that does not exist: were a bad credential let through, nothing could be deleted. */
const workspaceASecret = (fx: Fixtures) => ({ id: fx.wsA.id, key: 'NEVER_SET' });
const freshWorkspaceSecret = async (t: TestTenant): Promise<Fresh> => {
  const fresh = await freshWorkspace(t);
  const key = secretKey();
  const res = await t.app.inject({ method: 'POST', url: `/workspaces/${fresh.params['id']}/secrets`, headers: t.admin(), payload: { key, value: 'v' } });
  if (res.statusCode !== 200) throw new Error(`secret fixture failed: ${res.body}`);
  return { params: { id: fresh.params['id']!, key }, ...(fresh.ownToken ? { ownToken: fresh.ownToken } : {}) };
};
const freshGlobalSecret = (prefix: string) => async (t: TestTenant): Promise<Fresh> => {
  const key = secretKey();
  const res = await t.app.inject({ method: 'POST', url: `${prefix}`, headers: t.admin(), payload: { key, value: 'v' } });
  if (res.statusCode !== 200) throw new Error(`global secret fixture failed: ${res.body}`);
  return { params: { key } };
};
const secretBody = () => ({ key: secretKey(), value: 'security-suite' });
/** A small bundle with a skill, a prompt and a sub-workspace: a positive control creates two workspaces. */
const bundleBody = () => ({
  name: `sec-bundle-${randomBytes(4).toString('hex')}`,
  system_prompt: 'security suite',
  prompts: { 'config.yaml': 'runtime: claude-code\n' },
  skills: [{ id: 'probe', files: { 'SKILL.md': '---\ndescription: probe\n---\n' } }],
  sub_workspaces: [{ name: 'child' }],
});
const freshExternal = async (t: TestTenant): Promise<Fresh> => {
  const w = await t.createWorkspace({ external: true });
  return { params: { id: w.id }, ownToken: w.auth_token };
};
/** An external workspace marked online (a registered agent, in this provisioner-less suite): hibernate reaches 200. */
const freshOnlineExternal = async (t: TestTenant): Promise<Fresh> => {
  const fresh = await freshExternal(t);
  await t.db.updateTable('workspaces').set({ status: 'online' }).where('id', '=', fresh.params['id']!).execute();
  return fresh;
};
const freshPausedExternal = async (t: TestTenant): Promise<Fresh> => {
  const fresh = await freshExternal(t);
  const res = await t.app.inject({ method: 'POST', url: `/workspaces/${fresh.params['id']}/pause`, headers: t.admin() });
  if (res.statusCode !== 200) throw new Error(`pause fixture failed: ${res.body}`);
  return fresh;
};

/** Templates: negative checks name one that does not exist (nothing to replace or delete); positives import a fresh one. */
const templateFiles = () => ({ 'config.yaml': 'name: Security suite\ncommand: sleep 1\n', 'notes.md': 'x' });
const freshTemplate = async (t: TestTenant): Promise<Fresh> => {
  const name = `sec-tpl-${randomBytes(4).toString('hex')}`;
  const res = await t.app.inject({ method: 'POST', url: '/templates/import', headers: t.admin(), payload: { name, files: templateFiles() } });
  if (res.statusCode !== 201) throw new Error(`template fixture failed: ${res.body}`);
  return { params: { id: (res.json() as { id: string }).id } };
};
const neverTemplate = () => ({ id: 'sec-never-imported' });

/** Plugins: negative checks name one never installed in A (nothing to remove); the positive installs a fresh one. */
const workspaceAPlugin = (fx: Fixtures) => ({ id: fx.wsA.id, name: 'sec-never-installed' });
const freshWorkspacePlugin = async (t: TestTenant): Promise<Fresh> => {
  const fresh = await freshWorkspace(t);
  const res = await t.app.inject({ method: 'POST', url: `/workspaces/${fresh.params['id']}/plugins`, headers: t.admin(), payload: { source: 'local://hello-skill' } });
  if (res.statusCode !== 200) throw new Error(`plugin fixture failed: ${res.body}`);
  return { params: { id: fresh.params['id']!, name: 'hello-skill' }, ...(fresh.ownToken ? { ownToken: fresh.ownToken } : {}) };
};
const thisOrg = (fx: Fixtures) => ({ id: fx.orgId });
const freshThisOrg = async (t: TestTenant): Promise<Fresh> => ({ params: { id: t.orgId } });
/** Approvals: negative checks name one that never existed; positives get a fresh one, asked for by the workspace's own token. */
const NEVER_APPROVAL = 'apr_01ARZ3NDEKTSV4RRFFQ69G5FAV';
const workspaceAApproval = (fx: Fixtures) => ({ id: fx.wsA.id, approvalId: NEVER_APPROVAL });
const neverApproval = () => ({ approvalId: NEVER_APPROVAL });
const freshApproval = async (t: TestTenant): Promise<Fresh> => {
  const fresh = await freshWorkspace(t);
  const res = await t.app.inject({ method: 'POST', url: `/workspaces/${fresh.params['id']}/approvals`, headers: t.as(fresh.ownToken!), payload: { action: 'security-suite' } });
  if (res.statusCode !== 201) throw new Error(`approval fixture failed: ${res.body}`);
  return { params: { id: fresh.params['id']!, approvalId: (res.json() as { approval_id: string }).approval_id }, ownToken: fresh.ownToken! };
};

const ROUTE_CASES: readonly RouteCase[] = [
  // Approvals.
  { method: 'GET', route: '/approvals/pending', auth: 'admin', minRole: 'reader', orgWide: false, okStatus: 200 },
  { method: 'GET', route: '/requests/pending', auth: 'admin', minRole: 'reader', orgWide: false, query: '?kind=approval', okStatus: 200 },
  { method: 'GET', route: '/approvals/:approvalId', auth: 'admin', minRole: 'reader', orgWide: false, params: (fx) => ({ approvalId: fx.approvalA }), fresh: freshApproval, okStatus: 200 },
  { method: 'POST', route: '/approvals/:approvalId/decide', auth: 'admin', minRole: 'editor', orgWide: false, params: neverApproval, body: () => ({ decision: 'denied' }), fresh: freshApproval, okStatus: 200 },
  { method: 'POST', route: '/workspaces/:id/approvals', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceA, body: () => ({ action: 'security-suite' }), fresh: freshWorkspace, okStatus: 201 },
  { method: 'GET', route: '/workspaces/:id/approvals', auth: 'workspace', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  {
    method: 'POST',
    route: '/workspaces/:id/approvals/:approvalId/decide',
    auth: 'workspace',
    minRole: 'editor',
    orgWide: false,
    params: workspaceAApproval,
    body: () => ({ decision: 'denied' }),
    fresh: freshApproval,
    okStatus: 200,
    ownTokenRefused: [403, 'APPROVAL_DECIDER_FORBIDDEN'],
  },
  { method: 'POST', route: '/workspaces/:id/approvals/:approvalId/withdraw', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceAApproval, fresh: freshApproval, okStatus: 200 },
  // Admin chain: templates.
  { method: 'GET', route: '/templates', auth: 'admin', minRole: 'reader', orgWide: false, okStatus: 200 },
  { method: 'GET', route: '/templates/:id', auth: 'admin', minRole: 'reader', orgWide: false, params: () => ({ id: 'shell-agent' }), fresh: async () => ({ params: { id: 'shell-agent' } }), okStatus: 200 },
  {
    method: 'POST',
    route: '/templates/import',
    auth: 'admin',
    minRole: 'admin',
    orgWide: true,
    body: () => ({ name: `sec-tpl-${randomBytes(4).toString('hex')}`, files: templateFiles() }),
    okStatus: 201,
  },
  {
    method: 'PUT',
    route: '/templates/:id',
    auth: 'admin',
    minRole: 'admin',
    orgWide: true,
    params: neverTemplate,
    body: () => ({ name: 'sec-replaced', files: templateFiles() }),
    fresh: freshTemplate,
    okStatus: 200,
  },
  { method: 'DELETE', route: '/templates/:id', auth: 'admin', minRole: 'admin', orgWide: true, params: neverTemplate, fresh: freshTemplate, okStatus: 200 },
  { method: 'POST', route: '/admin/templates/refresh', auth: 'admin', minRole: 'admin', orgWide: true, okStatus: 200 },
  {
    method: 'PATCH',
    route: '/workspaces/:id/template',
    auth: 'admin-bound',
    minRole: 'admin',
    orgWide: false,
    params: workspaceA,
    body: () => ({ template: 'shell-agent' }),
    fresh: freshWorkspace,
    okStatus: 200,
  },
  // Admin chain: org keys.
  { method: 'POST', route: '/org/tokens', auth: 'admin', minRole: 'admin', orgWide: false, body: () => ({ name: 'security-suite', role: 'reader' }), okStatus: 200 },
  { method: 'GET', route: '/org/tokens', auth: 'admin', minRole: 'reader', orgWide: false, okStatus: 200 },
  { method: 'GET', route: '/org/settings/key-policy', auth: 'admin', minRole: 'reader', orgWide: true, okStatus: 200 },
  { method: 'PUT', route: '/org/settings/key-policy', auth: 'admin', minRole: 'admin', orgWide: true, body: () => ({ max_lifetime_days: null, require_expiry: false }), okStatus: 200 },
  { method: 'DELETE', route: '/org/tokens/:id', auth: 'admin', minRole: 'admin', orgWide: false, params: targetKey, fresh: freshKey, okStatus: 200 },
  {
    method: 'POST',
    route: '/org/tokens/:id/rotate',
    auth: 'admin',
    minRole: 'admin',
    orgWide: false,
    params: targetKey,
    body: () => ({ grace_seconds: 0 }),
    fresh: freshKey,
    okStatus: 200,
  },
  // Admin chain: workspace collection.
  { method: 'POST', route: '/workspaces', auth: 'admin', minRole: 'editor', orgWide: true, body: wsName, okStatus: 201 },
  { method: 'GET', route: '/workspaces', auth: 'admin', minRole: 'reader', orgWide: false, okStatus: 200 },
  // Admin chain: org templates, import and export. The import body is a fresh one-workspace org each time (a 201).
  { method: 'GET', route: '/org/templates', auth: 'admin', minRole: 'reader', orgWide: false, okStatus: 200 },
  {
    method: 'POST',
    route: '/org/import',
    auth: 'admin',
    minRole: 'admin',
    orgWide: true,
    body: () => ({ template: { name: 'security-suite', workspaces: [{ name: `sec-org-${randomBytes(4).toString('hex')}` }] } }),
    okStatus: 201,
  },
  { method: 'GET', route: '/org/export', auth: 'admin', minRole: 'reader', orgWide: true, okStatus: 200 },
  // Plugins: the catalog and the org allowlist on the admin chain; a workspace's plugins on the workspace tier.
  { method: 'GET', route: '/plugins', auth: 'admin', minRole: 'reader', orgWide: false, okStatus: 200 },
  { method: 'GET', route: '/orgs/:id/plugins/allowlist', auth: 'admin', minRole: 'reader', orgWide: true, params: thisOrg, fresh: freshThisOrg, okStatus: 200 },
  {
    method: 'PUT',
    route: '/orgs/:id/plugins/allowlist',
    auth: 'admin',
    minRole: 'admin',
    orgWide: true,
    params: thisOrg,
    fresh: freshThisOrg,
    body: () => ({ plugins: [], enabled_by: 'security-suite' }),
    okStatus: 200,
  },
  { method: 'GET', route: '/workspaces/:id/plugins', auth: 'workspace', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  {
    method: 'POST',
    route: '/workspaces/:id/plugins',
    auth: 'workspace',
    minRole: 'editor',
    orgWide: false,
    params: workspaceA,
    body: () => ({ source: 'local://hello-skill' }),
    fresh: freshWorkspace,
    okStatus: 200,
  },
  { method: 'DELETE', route: '/workspaces/:id/plugins/:name', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceAPlugin, fresh: freshWorkspacePlugin, okStatus: 200 },
  // Admin chain: audit.
  { method: 'GET', route: '/audit', auth: 'admin', minRole: 'admin', orgWide: true, okStatus: 200 },
  { method: 'GET', route: '/audit/verify', auth: 'admin', minRole: 'admin', orgWide: true, okStatus: 200 },
  { method: 'GET', route: '/audit/export', auth: 'admin', minRole: 'admin', orgWide: true, okStatus: 200 },
  // Admin chain bound to :id.
  { method: 'DELETE', route: '/workspaces/:id', auth: 'admin-bound', minRole: 'editor', orgWide: false, params: workspaceToDelete, fresh: freshWorkspace, okStatus: 200 },
  { method: 'GET', route: '/workspaces/:id/logs', auth: 'admin-bound', minRole: 'admin', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  // Secrets.
  { method: 'GET', route: '/workspaces/:id/secrets', auth: 'workspace', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  { method: 'POST', route: '/workspaces/:id/secrets', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceA, body: secretBody, fresh: freshWorkspace, okStatus: 200 },
  { method: 'PUT', route: '/workspaces/:id/secrets', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceA, body: secretBody, fresh: freshWorkspace, okStatus: 200 },
  { method: 'DELETE', route: '/workspaces/:id/secrets/:key', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceASecret, fresh: freshWorkspaceSecret, okStatus: 200 },
  { method: 'GET', route: '/settings/secrets', auth: 'admin', minRole: 'reader', orgWide: true, okStatus: 200 },
  { method: 'POST', route: '/settings/secrets', auth: 'admin', minRole: 'admin', orgWide: true, body: secretBody, okStatus: 200 },
  { method: 'PUT', route: '/settings/secrets', auth: 'admin', minRole: 'admin', orgWide: true, body: secretBody, okStatus: 200 },
  { method: 'DELETE', route: '/settings/secrets/:key', auth: 'admin', minRole: 'admin', orgWide: true, params: () => ({ key: 'NEVER_SET' }), fresh: freshGlobalSecret('/settings/secrets'), okStatus: 200 },
  { method: 'GET', route: '/admin/secrets', auth: 'admin', minRole: 'reader', orgWide: true, okStatus: 200 },
  { method: 'POST', route: '/admin/secrets', auth: 'admin', minRole: 'admin', orgWide: true, body: secretBody, okStatus: 200 },
  { method: 'PUT', route: '/admin/secrets', auth: 'admin', minRole: 'admin', orgWide: true, body: secretBody, okStatus: 200 },
  { method: 'DELETE', route: '/admin/secrets/:key', auth: 'admin', minRole: 'admin', orgWide: true, params: () => ({ key: 'NEVER_SET' }), fresh: freshGlobalSecret('/admin/secrets'), okStatus: 200 },
  // Bundles: export is bound to :id (a reader's read); import creates workspaces org-wide (an editor's write).
  {
    method: 'GET',
    route: '/bundles/export/:id',
    auth: 'admin-bound',
    minRole: 'reader',
    orgWide: false,
    params: workspaceA,
    fresh: freshWorkspace,
    okStatus: 200,
    hiddenAs: ['BUNDLE_NOT_FOUND', 'bundle not found'],
  },
  { method: 'POST', route: '/bundles/import', auth: 'admin', minRole: 'editor', orgWide: true, body: bundleBody, okStatus: 201 },
  // Events.
  { method: 'GET', route: '/events', auth: 'admin', minRole: 'reader', orgWide: true, okStatus: 200 },
  { method: 'GET', route: '/events/:id', auth: 'admin-bound', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  { method: 'GET', route: '/events/stream', auth: 'admin', minRole: 'reader', orgWide: false, query: '?last_event_id=not-an-id', okStatus: 400 },
  {
    method: 'GET',
    route: '/workspaces/:id/events/stream',
    auth: 'workspace',
    minRole: 'reader',
    orgWide: false,
    params: workspaceA,
    fresh: freshWorkspace,
    query: '?last_event_id=not-an-id',
    okStatus: 400,
  },
  // Budgets and billing mode.
  { method: 'GET', route: '/workspaces/:id/budget', auth: 'workspace', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  { method: 'PATCH', route: '/workspaces/:id/budget', auth: 'admin-bound', minRole: 'editor', orgWide: false, params: workspaceA, body: () => ({ budget_limits: { daily: 100 } }), fresh: freshWorkspace, okStatus: 200 },
  { method: 'GET', route: '/admin/workspaces/:id/llm-billing-mode', auth: 'admin-bound', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  { method: 'PUT', route: '/admin/workspaces/:id/llm-billing-mode', auth: 'admin-bound', minRole: 'editor', orgWide: false, params: workspaceA, body: () => ({ mode: 'byok' }), fresh: freshWorkspace, okStatus: 200 },
  // Channels (admin chain, confined to the bound workspace).
  { method: 'GET', route: '/workspaces/:id/channels', auth: 'admin-bound', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  { method: 'POST', route: '/workspaces/:id/channels', auth: 'admin-bound', minRole: 'editor', orgWide: false, params: workspaceA, body: channelBody, fresh: freshWorkspace, okStatus: 201 },
  { method: 'PATCH', route: '/workspaces/:id/channels/:channelId', auth: 'admin-bound', minRole: 'editor', orgWide: false, params: workspaceAChannel, body: () => ({ enabled: false }), fresh: freshChannel, okStatus: 200 },
  { method: 'DELETE', route: '/workspaces/:id/channels/:channelId', auth: 'admin-bound', minRole: 'editor', orgWide: false, params: workspaceAChannel, fresh: freshChannel, okStatus: 200 },
  { method: 'POST', route: '/workspaces/:id/channels/:channelId/test', auth: 'admin-bound', minRole: 'editor', orgWide: false, params: workspaceAChannel, fresh: freshChannel, okStatus: 200 },
  { method: 'GET', route: '/workspaces/:id/channels/:channelId/deliveries', auth: 'admin-bound', minRole: 'reader', orgWide: false, params: workspaceAFixtureChannel, fresh: freshChannel, okStatus: 200 },
  // Workspace routes.
  { method: 'GET', route: '/workspaces/:id', auth: 'workspace', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  { method: 'GET', route: '/workspaces/:id/tokens', auth: 'workspace', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  {
    method: 'POST',
    route: '/workspaces/:id/tokens',
    auth: 'workspace',
    minRole: 'editor',
    orgWide: false,
    params: workspaceA,
    body: () => ({}),
    // A fresh workspace each time: the 50-live-tokens cap must not turn a positive control into a 429.
    fresh: freshWorkspace,
    okStatus: 201,
  },
  { method: 'PATCH', route: '/workspaces/:id', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceA, body: () => ({ role: 'reviewer' }), fresh: freshWorkspace, okStatus: 200 },
  { method: 'POST', route: '/workspaces/:id/restart', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceA, fresh: freshExternal, okStatus: 200 },
  { method: 'POST', route: '/workspaces/:id/pause', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceA, fresh: freshExternal, okStatus: 200 },
  { method: 'POST', route: '/workspaces/:id/resume', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceA, fresh: freshPausedExternal, okStatus: 200 },
  // Issue 11 items 6–7: the rest of the reference's tenant route catalogue.
  { method: 'GET', route: '/admin/liveness', auth: 'admin', minRole: 'reader', orgWide: true, okStatus: 200 },
  { method: 'PUT', route: '/canvas/viewport', auth: 'admin', minRole: 'editor', orgWide: false, body: () => ({ x: 1, y: 2, zoom: 1.5 }), okStatus: 200 },
  { method: 'POST', route: '/admin/workspaces/:id/tokens', auth: 'admin-bound', minRole: 'admin', orgWide: false, params: workspaceA, body: () => ({}), fresh: freshWorkspace, okStatus: 201 },
  { method: 'POST', route: '/admin/workspaces/:id/revoke-auth-tokens', auth: 'admin-bound', minRole: 'admin', orgWide: false, params: workspaceToDelete, fresh: freshWorkspace, okStatus: 200 },
  // This suite runs without a provisioner: the handler's own answer is 503 PROVISIONER_UNAVAILABLE (202 in test/catalogue.test.ts).
  { method: 'POST', route: '/admin/workspaces/:id/restart', auth: 'admin-bound', minRole: 'admin', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 503, okCode: 'PROVISIONER_UNAVAILABLE' },
  { method: 'GET', route: '/workspaces/:id/state', auth: 'workspace', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  { method: 'POST', route: '/workspaces/:id/hibernate', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceA, fresh: freshOnlineExternal, okStatus: 200 },
  { method: 'GET', route: '/workspaces/:id/model', auth: 'workspace', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  { method: 'PUT', route: '/workspaces/:id/model', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceA, body: () => ({ model: 'anthropic:claude-sonnet' }), fresh: freshWorkspace, okStatus: 200 },
  { method: 'GET', route: '/workspaces/:id/provider', auth: 'workspace', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 410, okCode: 'ENDPOINT_GONE' },
  { method: 'PUT', route: '/workspaces/:id/provider', auth: 'workspace', minRole: 'editor', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 410, okCode: 'ENDPOINT_GONE' },
  // Only the workspace's own token reads the values: the admin chain passes the tier and is refused by the handler.
  {
    method: 'GET',
    route: '/workspaces/:id/secrets/values',
    auth: 'workspace',
    minRole: 'reader',
    orgWide: false,
    params: workspaceA,
    fresh: freshWorkspace,
    okStatus: 403,
    okCode: 'WORKSPACE_TOKEN_REQUIRED',
    ownTokenStatus: 200,
  },
  { method: 'GET', route: '/workspaces/:id/audit', auth: 'workspace', minRole: 'reader', orgWide: false, params: workspaceA, fresh: freshWorkspace, okStatus: 200 },
  {
    method: 'DELETE',
    route: '/workspaces/:id/tokens/:tokenId',
    auth: 'workspace',
    minRole: 'editor',
    orgWide: false,
    params: workspaceA,
    fresh: freshWorkspace,
    okStatus: 200,
  },
];

/** Routes that are deliberately open: probes and the API document. Everything else must be in ROUTE_CASES. */
// GET and DELETE /mcp serve nothing to anyone: the stateless MCP endpoint answers 405 (test/mcp.test.ts).
const OPEN_ROUTES: ReadonlySet<string> = new Set([
  'GET /health',
  'GET /metrics',
  'GET /openapi.json',
  'GET /buildinfo',
  'GET /org/identity',
  'GET /mcp',
  'DELETE /mcp',
  // The web console's static pages and assets (no org data; the page's API calls authenticate).
  'GET /',
  'GET /app',
  'GET /app/*',
  'GET /_console/:file',
]);

/**
 * Routes outside the tiers that authenticate in the handler (the runtime's own calls, TenantGuard-allowlisted):
 * their own suite is test/registry.test.ts (only the named workspace's own live token; org keys and ADMIN_TOKEN
 * refused). They count as covered here.
 */
// GET /auth/self and POST /mcp accept every credential class, each as itself (a workspace token included, where the
// admin tier refuses it): their own suites are test/auth-self.test.ts and test/mcp.test.ts (no credential, wrong,
// revoked, expired, another org, cookies ignored by /mcp).
const SELF_AUTHENTICATED_ROUTES: ReadonlySet<string> = new Set(['POST /registry/register', 'POST /registry/heartbeat', 'GET /ws', 'GET /auth/self', 'POST /mcp']);

/** The responses that may carry a plaintext credential: the mint responses, and only on success. */
// POST /org/import shows each new workspace's first token once, as POST /workspaces does.
const MINT_ROUTES: ReadonlySet<string> = new Set([
  'POST /org/tokens',
  'POST /org/tokens/:id/rotate',
  'POST /workspaces',
  'POST /workspaces/:id/tokens',
  'POST /admin/workspaces/:id/tokens',
  'POST /org/import',
]);

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

const routeKey = (method: string, route: string) => `${method} ${route}`;

function fill(route: string, params: Record<string, string>): string {
  return route.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no value for :${name} in ${route}`);
    return encodeURIComponent(value);
  });
}

interface Reply {
  statusCode: number;
  body: string;
  headers: Record<string, string | string[] | number | undefined>;
}

interface Recorded {
  key: string;
  url: string;
  status: number;
  body: string;
}

type JsonObject = Record<string, unknown>;

function jsonOf(res: Reply): JsonObject {
  try {
    return JSON.parse(res.body) as JsonObject;
  } catch {
    assert.fail(`expected a JSON body, got ${res.statusCode} ${JSON.stringify(res.body.slice(0, 200))}`);
  }
}

/** Status and the whole error envelope: message, code, and a request id that matches the header. */
function assertError(res: Reply, status: number, code: string, error?: string): JsonObject {
  assert.equal(res.statusCode, status, `expected ${status} ${code}, got ${res.statusCode}: ${res.body}`);
  const body = jsonOf(res);
  assert.equal(body['code'], code, `body: ${res.body}`);
  if (error !== undefined) assert.equal(body['error'], error, `body: ${res.body}`);
  else assert.equal(typeof body['error'], 'string');
  assert.equal(typeof body['request_id'], 'string');
  assert.ok((body['request_id'] as string).length > 0, 'request_id is not empty');
  assert.equal(body['request_id'], res.headers['x-request-id'], 'request_id matches X-Request-Id');
  return body;
}

/** TenantGuard's "wrong org": 404 with nothing at all in the body (a probe learns nothing). */
function assertEmpty404(res: Reply) {
  assert.equal(res.statusCode, 404, `expected an empty 404, got ${res.statusCode}: ${res.body}`);
  assert.equal(res.body, '');
}

/** The message a route answers when no credential (or no bearer at all) is presented. */
function missingAuth(auth: AuthKind): [string, string] {
  return auth === 'workspace' ? ['WORKSPACE_AUTH_REQUIRED', 'missing workspace auth token'] : ['ADMIN_AUTH_REQUIRED', 'admin auth required'];
}

/** The one collapsed answer for a bearer that is present but not acceptable (no enumeration). */
function invalidAuth(auth: AuthKind): [string, string] {
  return auth === 'workspace' ? ['INVALID_WORKSPACE_AUTH', 'invalid workspace auth token'] : ['INVALID_ADMIN_AUTH', 'invalid admin auth token'];
}

/** Any string that looks like more of a credential than its 13-character display prefix. */
const PLAINTEXT_RE = /mol[awt]_[0-9A-Za-z]{9,}/;

/** Walks a JSON value; names every `auth_token`/`token_hash` field and every over-long credential-looking string. */
function credentialLeaks(value: unknown, path = '$'): string[] {
  if (typeof value === 'string') return PLAINTEXT_RE.test(value) ? [`${path} = ${value.slice(0, 20)}…`] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => credentialLeaks(v, `${path}[${i}]`));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [
      ...(k === 'auth_token' || k === 'token_hash' ? [`${path}.${k} is present`] : []),
      ...credentialLeaks(v, `${path}.${k}`),
    ]);
  }
  return [];
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The wire shape, from the route's own schema (the SDK's type). */
type AuditEventBody = AuditEvent;

interface DeadKeys {
  revoked: MintedKeyBody;
  expired: MintedKeyBody;
}

/** A key revoked through the API, and a key whose expiry has passed. */
async function deadKeys(tenant: TestTenant): Promise<DeadKeys> {
  const revoked = await tenant.mintKey({ name: 'sec-revoked' });
  const revoke = await tenant.app.inject({ method: 'DELETE', url: `/org/tokens/${revoked.id}`, headers: tenant.admin() });
  assert.equal(revoke.statusCode, 200, `fixture revoke: ${revoke.body}`);

  // Minted live (the API refuses a past expiry), then aged in the database: no sleeping in tests.
  const expired = await tenant.mintKey({ name: 'sec-expired', expires_at: new Date(Date.now() + 2000).toISOString() });
  await tenant.db.updateTable('org_api_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', expired.id).execute();
  return { revoked, expired };
}

// ---------------------------------------------------------------------------------------------------------------
// The suite, per database
// ---------------------------------------------------------------------------------------------------------------

forEachDatabase('security suite', (kind) => {
  let t: TestTenant;
  let fx: Fixtures;
  /** A real HTTP server answering tier 1's membership question, so the session tier runs on every route too. */
  const cp = new FakeControlPlane();
  /** Every response this suite saw, for the "no credential ever leaks" checks at the end. */
  const recorded: Recorded[] = [];

  async function send(
    c: Pick<RouteCase, 'method' | 'route'>,
    url: string,
    headers: Record<string, string>,
    payload?: JsonObject,
    tenant: TestTenant = t,
  ): Promise<Reply> {
    const res = await tenant.app.inject({ method: c.method, url, headers, ...(payload !== undefined ? { payload } : {}) });
    recorded.push({ key: routeKey(c.method, c.route), url, status: res.statusCode, body: res.body });
    return res;
  }

  const routing = () => ({ 'x-molecule-org-id': t.orgId });
  const withAuthorization = (authorization: string) => ({ ...routing(), authorization });

  /** Sends the case's request (shared fixtures, valid body) with the given headers. */
  function call(c: RouteCase, headers: Record<string, string>): Promise<Reply> {
    return send(c, fill(c.route, c.params ? c.params(fx) : {}) + (c.query ?? ''), headers, c.body?.());
  }

  before(async () => {
    await cp.start();
    t = await startTestTenant(kind, { env: { CP_UPSTREAM_URL: cp.url, CHANNEL_ALLOWED_NETWORKS: '127.0.0.1' } });
    const member = mintCredential('session').plaintext;
    const otherOrgMember = mintCredential('session').plaintext;
    cp.members.set(member, { user_id: 'user_sec_member', role: 'member', org_id: t.orgId });
    cp.members.set(otherOrgMember, { user_id: 'user_sec_other', role: 'owner', org_id: newUuid() });
    const [wsA, wsB, wsDelete] = [await t.createWorkspace(), await t.createWorkspace(), await t.createWorkspace()];
    const extra = await t.app.inject({ method: 'POST', url: `/workspaces/${wsA.id}/tokens`, headers: t.admin(), payload: {} });
    assert.equal(extra.statusCode, 201, `fixture workspace token: ${extra.body}`);
    const wsAExtraTokenId = (JSON.parse(extra.body) as { id: string }).id;
    const asked = await t.app.inject({ method: 'POST', url: `/workspaces/${wsA.id}/approvals`, headers: t.as(wsA.auth_token), payload: { action: 'security-fixture' } });
    assert.equal(asked.statusCode, 201, `fixture approval: ${asked.body}`);
    const approvalA = (JSON.parse(asked.body) as { approval_id: string }).approval_id;
    const channel = await t.app.inject({ method: 'POST', url: `/workspaces/${wsA.id}/channels`, headers: t.admin(), payload: channelBody() });
    assert.equal(channel.statusCode, 201, `fixture channel: ${channel.body}`);
    const channelA = (JSON.parse(channel.body) as { id: string }).id;
    const keys = {
      reader: await t.mintKey({ name: 'sec-reader', role: 'reader' }),
      editor: await t.mintKey({ name: 'sec-editor', role: 'editor' }),
      admin: await t.mintKey({ name: 'sec-admin', role: 'admin' }),
    };
    const boundToB = await t.mintKey({ name: 'sec-bound-b', workspace_ids: [wsB.id] });
    const targetKey = await t.mintKey({ name: 'sec-target' });

    const { revoked, expired } = await deadKeys(t);
    const foreignOrgKey = await t.mintKey({ name: 'sec-foreign-org' });
    await t.db.updateTable('org_api_tokens').set({ org_id: newUuid() }).where('id', '=', foreignOrgKey.id).execute();

    fx = {
      wsA, wsB, wsAExtraTokenId, channelA, wsDelete, approvalA, targetKey, keys, boundToB, revoked, expired, foreignOrgKey,
      orgId: t.orgId,
      unknownOrgKey: mintCredential('orgKey').plaintext,
      memberCookie: `mcp_session=${member}`,
      otherOrgCookie: `mcp_session=${otherOrgMember}`,
      // A session whose checksum does not match: refused offline, never sent to the CP.
      malformedCookie: `mcp_session=${member.slice(0, -1)}${member.endsWith('0') ? '1' : '0'}`,
    };
  });

  after(async () => {
    await t?.close();
    await cp.stop();
  });

  describe('route table', () => {
    it('every protected route in routeCatalog has a case, and every case a route', () => {
      const catalog = t.app.routeCatalog.map((r) => routeKey(r.method, r.url));
      const protectedRoutes = catalog.filter((k) => !OPEN_ROUTES.has(k) && !SELF_AUTHENTICATED_ROUTES.has(k));
      const cases = ROUTE_CASES.map((c) => routeKey(c.method, c.route));
      assert.deepEqual(
        protectedRoutes.filter((k) => !cases.includes(k)),
        [],
        'protected routes with no security case: add them to ROUTE_CASES in test/security.test.ts',
      );
      assert.deepEqual(
        cases.filter((k) => !catalog.includes(k)),
        [],
        'security cases whose route is not registered',
      );
      assert.equal(new Set(cases).size, cases.length, 'no route has two cases');
      for (const open of OPEN_ROUTES) assert.ok(catalog.includes(open), `open route ${open} is registered`);
    });

    it('each case pins the catalog’s declared minRole and orgWide; open routes declare no role', () => {
      for (const entry of t.app.routeCatalog) {
        const key = routeKey(entry.method, entry.url);
        if (OPEN_ROUTES.has(key)) {
          assert.equal(entry.minRole, undefined, `${key} is open and declares no role`);
          continue;
        }
        const c = ROUTE_CASES.find((x) => routeKey(x.method, x.route) === key);
        if (!c) continue; // reported by the coverage test
        assert.equal(entry.minRole, c.minRole, `${key} minRole`);
        assert.equal(entry.orgWide, c.orgWide, `${key} orgWide`);
      }
    });

    it('no mutating route admits a reader', () => {
      for (const c of ROUTE_CASES) if (c.method !== 'GET') assert.notEqual(c.minRole, 'reader', `${c.method} ${c.route}`);
    });
  });

  for (const c of ROUTE_CASES) {
    const name = `${c.method} ${c.route}`;
    const [missingCode, missingMessage] = missingAuth(c.auth);
    const [invalidCode, invalidMessage] = invalidAuth(c.auth);

    describe(name, () => {
      // --- no credential / wrong credential ---------------------------------------------------------------------
      it(`${name}: no credential → 401 "${missingMessage}"`, async () => {
        assertError(await call(c, routing()), 401, missingCode, missingMessage);
      });

      it(`${name}: unknown well-formed org key → 401 "${invalidMessage}"`, async () => {
        assertError(await call(c, t.as(fx.unknownOrgKey)), 401, invalidCode, invalidMessage);
      });

      it(`${name}: an org key whose row names another org → 401 "${invalidMessage}" (as if unknown)`, async () => {
        assertError(await call(c, t.as(fx.foreignOrgKey.auth_token)), 401, invalidCode, invalidMessage);
      });

      it(`${name}: garbage bearer → 401 "${invalidMessage}"`, async () => {
        assertError(await call(c, withAuthorization('Bearer nope')), 401, invalidCode, invalidMessage);
      });

      it(`${name}: lower-case "bearer" scheme with ADMIN_TOKEN → 401 "${missingMessage}" (not a bearer at all)`, async () => {
        assertError(await call(c, withAuthorization(`bearer ${t.adminToken}`)), 401, missingCode, missingMessage);
      });

      // --- session cookie (tier 1) ---------------------------------------------------------------------------
      it(`${name}: a malformed mcp_session cookie → 401 "${missingMessage}"`, async () => {
        assertError(await call(c, { ...routing(), cookie: fx.malformedCookie }), 401, missingCode, missingMessage);
      });

      it(`${name}: another org's member's session → 401 "${missingMessage}"`, async () => {
        assertError(await call(c, { ...routing(), cookie: fx.otherOrgCookie }), 401, missingCode, missingMessage);
      });

      if (c.method !== 'GET') {
        it(`${name}: an org member's session from a foreign Origin → 403 ORIGIN_FORBIDDEN`, async () => {
          assertError(await call(c, { ...routing(), cookie: fx.memberCookie, origin: 'https://evil.example' }), 403, 'ORIGIN_FORBIDDEN');
        });
      }

      // --- wrong tier -----------------------------------------------------------------------------------------
      if (c.auth !== 'workspace') {
        it(`${name}: a workspace token while ADMIN_TOKEN is set → 401 "invalid admin auth token" (wrong tier)`, async () => {
          // The named workspace's own token: even on DELETE /workspaces/:id it is not an admin credential.
          const token = c.auth === 'admin-bound' ? fx.wsDelete.auth_token : fx.wsA.auth_token;
          assertError(await call(c, t.as(token)), 401, 'INVALID_ADMIN_AUTH', 'invalid admin auth token');
        });
      }

      // --- revoked / expired ----------------------------------------------------------------------------------
      it(`${name}: revoked org key → 401 "${invalidMessage}"`, async () => {
        assertError(await call(c, t.as(fx.revoked.auth_token)), 401, invalidCode, invalidMessage);
      });

      it(`${name}: expired org key → 401 "${invalidMessage}"`, async () => {
        assertError(await call(c, t.as(fx.expired.auth_token)), 401, invalidCode, invalidMessage);
      });

      // --- TenantGuard ----------------------------------------------------------------------------------------
      it(`${name}: another org's id with a valid credential → 404, empty body`, async () => {
        let other = newUuid();
        while (other === t.orgId) other = newUuid();
        assertEmpty404(await call(c, { 'x-molecule-org-id': other, authorization: `Bearer ${t.adminToken}` }));
      });

      it(`${name}: missing routing header → 400 TENANT_ORG_HEADER_REQUIRED`, async () => {
        const body = assertError(await call(c, { authorization: `Bearer ${t.adminToken}` }), 400, 'TENANT_ORG_HEADER_REQUIRED');
        assert.equal(body['required_header'], 'X-Molecule-Org-Id');
      });

      it(`${name}: another org's slug → 404, empty body`, async () => {
        assertEmpty404(await call(c, { 'x-molecule-org-slug': `${t.orgSlug}-other`, authorization: `Bearer ${t.adminToken}` }));
      });

      if (c.method === 'GET') {
        it(`${name}: the org slug header is accepted instead of the id → ${c.okStatus}`, async () => {
          const res = await call(c, { 'x-molecule-org-slug': t.orgSlug, authorization: `Bearer ${t.adminToken}` });
          assert.equal(res.statusCode, c.okStatus, res.body);
        });
      } else {
        // Not reaching a mutating handler with shared fixtures: passing the guard shows as auth's own 401.
        it(`${name}: the org slug header is accepted instead of the id (passes the guard to auth → 401)`, async () => {
          assertError(await call(c, { 'x-molecule-org-slug': t.orgSlug }), 401, missingCode, missingMessage);
        });
      }

      // --- another workspace's token --------------------------------------------------------------------------
      if (c.auth === 'workspace') {
        it(`${name}: workspace B's token on workspace A → 401 "invalid workspace auth token"`, async () => {
          assertError(await call(c, t.as(fx.wsB.auth_token)), 401, 'INVALID_WORKSPACE_AUTH', 'invalid workspace auth token');
        });
      }

      // --- missing role ---------------------------------------------------------------------------------------
      const tooWeak = ROLE_ORDER.filter((r) => rank(r) < rank(c.minRole) || (r === 'reader' && c.method !== 'GET'));
      for (const role of tooWeak) {
        it(`${name}: ${role} key → 403 ROLE_FORBIDDEN`, async () => {
          const body = assertError(await call(c, t.as(fx.keys[role].auth_token)), 403, 'ROLE_FORBIDDEN');
          assert.equal(body['role'], role);
          assert.equal(body['required_role'], c.minRole);
        });
      }

      // --- workspace binding ----------------------------------------------------------------------------------
      if (c.auth === 'workspace' || c.auth === 'admin-bound') {
        const [hiddenCode, hiddenMessage] = c.hiddenAs ?? ['WORKSPACE_NOT_FOUND', 'workspace not found'];
        it(`${name}: key bound to workspace B, on another workspace → 404 ${hiddenCode}`, async () => {
          assertError(await call(c, t.as(fx.boundToB.auth_token)), 404, hiddenCode, hiddenMessage);
        });
      }
      if (c.orgWide) {
        it(`${name}: key bound to workspace B on an org-wide route → 403 SCOPE_EXCEEDED`, async () => {
          const entry = t.app.routeCatalog.find((r) => r.method === c.method && r.url === c.route);
          assert.equal(entry?.orgWide, true, 'the catalog marks this route orgWide');
          assertError(await call(c, t.as(fx.boundToB.auth_token)), 403, 'SCOPE_EXCEEDED');
        });
      }

      // --- positive controls ----------------------------------------------------------------------------------
      async function reachesHandler(credential: (fresh: Fresh) => string | Record<string, string>, okStatus = c.okStatus) {
        const fresh = c.fresh ? await c.fresh(t) : { params: {} };
        const given = credential(fresh);
        const headers = typeof given === 'string' ? t.as(given) : { ...routing(), ...given };
        const res = await send(c, fill(c.route, fresh.params) + (c.query ?? ''), headers, c.body?.());
        assert.equal(res.statusCode, okStatus, `expected the handler's ${okStatus}, got ${res.statusCode}: ${res.body}`);
        if (okStatus < 400 && String(res.headers['content-type']).startsWith('application/json')) {
          assert.equal(jsonOf(res)['code'], undefined, 'a success body, not an error');
        } else if (okStatus >= 400) {
          // A handler-level refusal, after auth passed: never an auth error.
          assert.equal(jsonOf(res)['code'], c.okCode ?? 'VALIDATION_FAILED', res.body);
        }
      }

      it(`${name}: ${/^[aeiou]/.test(c.minRole) ? 'an' : 'a'} ${c.minRole} key (the least sufficient role) reaches the handler → ${c.okStatus}`, async () => {
        await reachesHandler(() => fx.keys[c.minRole].auth_token);
      });

      it(`${name}: an org member's session from the tenant's own origin reaches the handler → ${c.okStatus}`, async () => {
        await reachesHandler(() => ({ cookie: fx.memberCookie, host: 'tenant.example:8443', origin: 'https://tenant.example:8443' }));
      });

      if (c.auth === 'workspace') {
        if (c.ownTokenRefused) {
          const [status, code] = c.ownTokenRefused;
          it(`${name}: the workspace's own token is refused by the handler → ${status} ${code}`, async () => {
            const fresh = await c.fresh!(t);
            const res = await send(c, fill(c.route, fresh.params) + (c.query ?? ''), t.as(fresh.ownToken!), c.body?.());
            assert.equal(res.statusCode, status, res.body);
            assert.equal(jsonOf(res)['code'], code);
          });
        } else {
          it(`${name}: the workspace's own token reaches the handler → ${c.ownTokenStatus ?? c.okStatus}`, async () => {
            await reachesHandler((fresh) => {
              assert.ok(fresh.ownToken, 'workspace cases create a fresh workspace');
              return fresh.ownToken;
            }, c.ownTokenStatus ?? c.okStatus);
          });
        }
      }
    });
  }

  describe('workspace-bound keys stay inside their binding', () => {
    it('a key bound to B reaches B (control for the 404s above)', async () => {
      const c = { method: 'GET', route: '/workspaces/:id' } as const;
      const res = await send(c, `/workspaces/${fx.wsB.id}`, t.as(fx.boundToB.auth_token));
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(jsonOf(res)['id'], fx.wsB.id);
    });

    it('a key bound to B lists only B in GET /workspaces', async () => {
      const c = { method: 'GET', route: '/workspaces' } as const;
      const res = await send(c, '/workspaces', t.as(fx.boundToB.auth_token));
      assert.equal(res.statusCode, 200, res.body);
      const ids = (JSON.parse(res.body) as { id: string }[]).map((w) => w.id);
      assert.deepEqual(ids, [fx.wsB.id]);
    });
  });

  // Issue 7, item 4: `?cascade=true` and `?confirm=true` reach descendants; a bound credential may do that only when
  // it can see every one of them. Otherwise the answer is the 404 of a workspace outside its scope, naming nothing.
  describe('subtree actions stay inside the binding (cascade, confirm)', () => {
    let parent: CreatedWorkspaceBody;
    let child: CreatedWorkspaceBody;
    let boundToParent: MintedKeyBody;
    let boundToBoth: MintedKeyBody;

    before(async () => {
      // External workspaces: the lifecycle verbs change their status without processes (this suite has no provisioner).
      parent = await t.createWorkspace({ name: `sec-parent-${randomBytes(3).toString('hex')}`, external: true });
      child = await t.createWorkspace({ name: `sec-child-${randomBytes(3).toString('hex')}`, external: true, parent_id: parent.id });
      boundToParent = await t.mintKey({ name: 'sec-bound-parent', role: 'editor', workspace_ids: [parent.id] });
      boundToBoth = await t.mintKey({ name: 'sec-bound-subtree', role: 'editor', workspace_ids: [parent.id, child.id] });
    });

    const statusOf = async (id: string) => (await t.db.selectFrom('workspaces').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status;

    function assertHidden(res: Reply, what: string) {
      const body = assertError(res, 404, 'WORKSPACE_NOT_FOUND', 'workspace not found');
      assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'request_id'], `${what}: no context fields`);
      assert.equal(res.body.includes(child.id), false, `${what} does not disclose the child's id`);
      assert.equal(res.body.includes(child.name), false, `${what} does not disclose the child's name`);
    }

    const attempts: ReadonlyArray<[Method, string, string]> = [
      ['POST', '/workspaces/:id/pause', '?cascade=true'],
      ['POST', '/workspaces/:id/pause', ''],
      ['POST', '/workspaces/:id/restart', '?cascade=true'],
      ['DELETE', '/workspaces/:id', '?confirm=true'],
      ['DELETE', '/workspaces/:id', ''],
    ];

    it('the parent’s own token and a key bound to the parent alone → 404 naming nothing; nothing changes', async () => {
      for (const [method, route, query] of attempts) {
        const url = `/workspaces/${parent.id}${route.slice('/workspaces/:id'.length)}${query}`;
        assertHidden(await send({ method, route }, url, t.as(boundToParent.auth_token)), `bound key ${method} ${url}`);
        if (method === 'POST') assertHidden(await send({ method, route }, url, t.as(parent.auth_token)), `parent token ${method} ${url}`);
      }
      assert.deepEqual([await statusOf(parent.id), await statusOf(child.id)], ['awaiting_agent', 'awaiting_agent']);
    });

    it('resume?cascade=true on a paused subtree → 404 for the parent-only credentials; still paused', async () => {
      const paused = await send({ method: 'POST', route: '/workspaces/:id/pause' }, `/workspaces/${parent.id}/pause?cascade=true`, t.admin());
      assert.equal(paused.statusCode, 200, paused.body);
      for (const query of ['?cascade=true', '']) {
        const url = `/workspaces/${parent.id}/resume${query}`;
        for (const bearer of [boundToParent.auth_token, parent.auth_token]) {
          assertHidden(await send({ method: 'POST', route: '/workspaces/:id/resume' }, url, t.as(bearer)), `resume${query}`);
        }
      }
      assert.deepEqual([await statusOf(parent.id), await statusOf(child.id)], ['paused', 'paused']);
    });

    it('a key bound to the parent and its child acts on the whole subtree (control)', async () => {
      const resumed = await send({ method: 'POST', route: '/workspaces/:id/resume' }, `/workspaces/${parent.id}/resume?cascade=true`, t.as(boundToBoth.auth_token));
      assert.equal(resumed.statusCode, 200, resumed.body);
      assert.deepEqual(jsonOf(resumed), { status: 'provisioning', resumed_count: 2 });
      const removed = await send({ method: 'DELETE', route: '/workspaces/:id' }, `/workspaces/${parent.id}?confirm=true`, t.as(boundToBoth.auth_token));
      assert.equal(removed.statusCode, 200, removed.body);
      assert.deepEqual(jsonOf(removed), { status: 'removed', id: parent.id, cascade_deleted: 1 });
      assert.deepEqual([await statusOf(parent.id), await statusOf(child.id)], ['removed', 'removed']);
    });
  });

  // Its own tenant: these checks read the audit trail back, so no other describe's traffic may be in it.
  describe('audit attribution', () => {
    let a: TestTenant;
    let ws: CreatedWorkspaceBody;
    let dead: DeadKeys;
    let someKeyId: string;

    before(async () => {
      a = await startTestTenant(kind);
      ws = await a.createWorkspace();
      someKeyId = (await a.mintKey({ name: 'sec-audit-target' })).id;
      dead = await deadKeys(a);
    });

    after(async () => {
      await a?.close();
    });

    async function auditEvents(query: string): Promise<AuditEventBody[]> {
      const res = await send({ method: 'GET', route: '/audit' }, `/audit?${query}`, a.admin(), undefined, a);
      assert.equal(res.statusCode, 200, res.body);
      return (jsonOf(res)['events'] as AuditEventBody[]) ?? [];
    }

    it('a request with an org key is attributed to org-token:<prefix>, rendered as the seed’s line', async () => {
      const key = await a.mintKey({ name: 'sec-audit', role: 'reader' });
      assert.equal(key.prefix.length, 13);
      assert.equal(key.prefix, key.auth_token.slice(0, 13));
      const res = await send({ method: 'GET', route: '/org/tokens' }, '/org/tokens', a.as(key.auth_token), undefined, a);
      assert.equal(res.statusCode, 200, res.body);

      const event = await waitFor('the audit event of GET /org/tokens', async () =>
        (await auditEvents(`credential_id=${key.id}`)).find((e) => e.method === 'GET' && e.path === '/org/tokens'),
      );
      assert.equal(event.actor, `org-token:${key.prefix}`);
      assert.equal(event.credential_class, 'org-token');
      assert.equal(event.credential_id, key.id);
      assert.equal(event.route, '/org/tokens');
      assert.equal(event.status, 200);
      assert.match(event.line, /^org-token:mola_[0-9A-Za-z]{8} GET \/org\/tokens 200 \d+ms$/);
      assert.equal(event.line, `org-token:${key.prefix} GET /org/tokens 200 ${event.duration_ms}ms`);
    });

    it('a forbidden (403) request is still attributed to the credential that made it', async () => {
      const key = await a.mintKey({ name: 'sec-audit-403', role: 'reader' });
      const res = await send({ method: 'POST', route: '/org/tokens' }, '/org/tokens', a.as(key.auth_token), {}, a);
      assertError(res, 403, 'ROLE_FORBIDDEN');
      const event = await waitFor('the audit event of the 403', async () =>
        (await auditEvents(`credential_id=${key.id}`)).find((e) => e.method === 'POST' && e.path === '/org/tokens'),
      );
      assert.equal(event.actor, `org-token:${key.prefix}`);
      assert.equal(event.status, 403);
    });

    it('rejected (401) requests, on every protected route, produce no audit event', async () => {
      const rejected = [
        { 'x-molecule-org-id': a.orgId },
        { 'x-molecule-org-id': a.orgId, authorization: 'Bearer nope' },
        a.as(mintCredential('orgKey').plaintext),
        a.as(dead.revoked.auth_token),
        a.as(dead.expired.auth_token),
      ];
      for (const c of ROUTE_CASES) {
        const url = fill(c.route, { id: c.route.startsWith('/org/tokens') ? someKeyId : ws.id, tokenId: ws.token_id, key: 'NEVER_SET', name: 'sec-never-installed', approvalId: NEVER_APPROVAL, channelId: NEVER_CHANNEL }) + (c.query ?? '');
        for (const headers of rejected) {
          const res = await send(c, url, headers, c.body?.(), a);
          assert.equal(res.statusCode, 401, `${c.method} ${c.route}: ${res.body}`);
        }
      }
      // Events are written behind, in order: once a later marker request is visible, a 401 would be too.
      const marker = await a.mintKey({ name: 'sec-audit-marker', role: 'reader' });
      assert.equal((await send({ method: 'GET', route: '/org/tokens' }, '/org/tokens', a.as(marker.auth_token), undefined, a)).statusCode, 200);
      await waitFor('the marker event', async () => (await auditEvents(`credential_id=${marker.id}`))[0]);

      assert.deepEqual(await auditEvents('status=401'), [], 'no 401 was audited');
      assert.deepEqual(await auditEvents(`credential_id=${dead.revoked.id}`), [], 'the revoked key has no events');
      assert.deepEqual(await auditEvents(`credential_id=${dead.expired.id}`), [], 'the expired key has no events');
    });

    // Last in this block on purpose: while the bug it pins exists, it stops this tenant's trail for good.
    it('keeps recording after a GET /audit that found nothing waiting to be written', async () => {
      // Let the write-behind timer (200 ms) drain the buffer, so the next GET /audit flushes an empty one.
      await new Promise((r) => setTimeout(r, 500));
      await auditEvents('limit=1');
      const key = await a.mintKey({ name: 'sec-audit-after-idle', role: 'reader' });
      const res = await send({ method: 'GET', route: '/workspaces' }, '/workspaces', a.as(key.auth_token), undefined, a);
      assert.equal(res.statusCode, 200, res.body);
      const event = await waitFor('the audit event of a read made after an idle GET /audit', async () =>
        (await auditEvents(`credential_id=${key.id}`)).find((e) => e.path === '/workspaces'),
      );
      assert.equal(event.actor, `org-token:${key.prefix}`);
    });
  });

  describe('tier 1 never asks the CP about a malformed session', () => {
    it('the stub CP saw member and other-org sessions, and not one malformed value', () => {
      // Session lookups only: the tenant also asks this CP for its audit anchor (GET /audit/verify), by its own token.
      const lookups = cp.calls.filter((call) => call.path === '/cp/auth/tenant-member');
      const sent = lookups.map((call) => call.cookie);
      assert.ok(sent.includes(fx.memberCookie) && sent.includes(fx.otherOrgCookie), 'the session checks did reach the CP');
      assert.equal(cp.calls.filter((call) => call.cookie === fx.malformedCookie).length, 0);
      assert.ok(lookups.every((call) => call.orgId === t.orgId), 'always asked about this org');
    });
  });

  // Reference §3.8(c), §7 check 60: the tenant's /cp/* proxy (mounted: this tenant has CP_UPSTREAM_URL) forwards only
  // its allowlist; every credential class, even with the org header, gets 404 elsewhere and the CP sees nothing.
  describe('the /cp/* proxy forwards nothing outside its allowlist', () => {
    it('/cp/admin/*, /cp/tenants/*, /cp/workspaces/*, /cp/internal/*, /cp/orgsabc → 404 with any credential; no CP call', async () => {
      const start = cp.calls.length;
      const credentials = [{}, withAuthorization(`Bearer ${t.adminToken}`), { ...routing(), cookie: fx.memberCookie }];
      for (const path of ['/cp/admin/orgs', '/cp/tenants/config', '/cp/workspaces/provision', '/cp/internal/usage', '/cp/orgsabc']) {
        for (const headers of credentials) {
          const res = await t.app.inject({ method: 'GET', url: path, headers });
          assert.equal(res.statusCode, 404, `${path}: ${res.body}`);
          assert.equal(res.json().code, 'ROUTE_NOT_FOUND');
        }
      }
      assert.equal(cp.calls.length, start);
    });
  });

  // Issue 7, item 6: the key a rotation retires keeps working until its grace ends but manages no keys.
  describe('a retiring key manages no keys', () => {
    it('mint, rotate and revoke with the old key of a rotation → 403 KEY_RETIRING; a read still works', async () => {
      const old = await t.mintKey({ name: 'sec-retiring' });
      const rotated = await send({ method: 'POST', route: '/org/tokens/:id/rotate' }, `/org/tokens/${old.id}/rotate`, t.admin(), { grace_seconds: 600 });
      assert.equal(rotated.statusCode, 200, rotated.body);
      const replacementId = jsonOf(rotated)['id'] as string;
      const attempts: Array<[Method, string, string, JsonObject | undefined]> = [
        ['POST', '/org/tokens', '/org/tokens', { name: 'sec-from-retiring' }],
        ['POST', '/org/tokens/:id/rotate', `/org/tokens/${replacementId}/rotate`, { grace_seconds: 0 }],
        ['DELETE', '/org/tokens/:id', `/org/tokens/${replacementId}`, undefined],
      ];
      for (const [method, route, url, payload] of attempts) {
        const body = assertError(await send({ method, route }, url, t.as(old.auth_token), payload), 403, 'KEY_RETIRING');
        assert.equal(body['replaced_by'], replacementId);
      }
      const read = await send({ method: 'GET', route: '/org/tokens' }, '/org/tokens', t.as(old.auth_token));
      assert.equal(read.statusCode, 200, read.body);
    });
  });

  describe('credentials never in responses', () => {
    it('GET /org/tokens carries no auth_token, no token_hash, nothing longer than a 13-char prefix', async () => {
      const res = await send({ method: 'GET', route: '/org/tokens' }, '/org/tokens', t.admin());
      assert.equal(res.statusCode, 200, res.body);
      const body = jsonOf(res);
      assert.ok((body['tokens'] as unknown[]).length >= 5, 'the fixtures are listed');
      assert.deepEqual(credentialLeaks(body), []);
      for (const k of body['tokens'] as { prefix: string }[]) assert.match(k.prefix, /^mola_[0-9A-Za-z]{8}$/);
      assert.equal(res.body.includes(fx.keys.admin.auth_token), false);
    });

    it('GET /workspaces/:id/tokens carries no auth_token, no token_hash, nothing longer than a 13-char prefix', async () => {
      const res = await send({ method: 'GET', route: '/workspaces/:id/tokens' }, `/workspaces/${fx.wsA.id}/tokens`, t.admin());
      assert.equal(res.statusCode, 200, res.body);
      const body = jsonOf(res);
      assert.ok((body['tokens'] as unknown[]).length >= 1, 'workspace A’s first token is listed');
      assert.deepEqual(credentialLeaks(body), []);
      for (const k of body['tokens'] as { prefix: string }[]) assert.match(k.prefix, /^molw_[0-9A-Za-z]{8}$/);
      assert.equal(res.body.includes(fx.wsA.auth_token), false);
    });

    it('no response in this suite carried a token_hash', () => {
      assert.ok(recorded.length > 100, `the suite recorded its responses (${recorded.length})`);
      const offenders = recorded.filter((r) => r.body.includes('token_hash')).map((r) => `${r.key} ${r.status}`);
      assert.deepEqual(offenders, []);
    });

    it('no response but a successful mint carried a plaintext credential', () => {
      const offenders = recorded
        .filter((r) => !(MINT_ROUTES.has(r.key) && r.status >= 200 && r.status < 300))
        .filter((r) => PLAINTEXT_RE.test(r.body))
        .map((r) => `${r.key} ${r.status}`);
      assert.deepEqual(offenders, []);
      const adminToken = t.adminToken;
      assert.deepEqual(recorded.filter((r) => r.body.includes(adminToken)).map((r) => r.key), [], 'ADMIN_TOKEN is never echoed');
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Datastore outage: its own tenant, whose database is destroyed underneath it
// ---------------------------------------------------------------------------------------------------------------

forEachDatabase('security suite: datastore outage', (kind) => {
  let o: TestTenant;
  let orgKey: MintedKeyBody;
  let ws: CreatedWorkspaceBody;

  before(async () => {
    o = await startTestTenant(kind);
    ws = await o.createWorkspace();
    orgKey = await o.mintKey({ name: 'sec-outage' });
    // The outage: every query from here on fails (pool ended / embedded database closed).
    await o.db.destroy();
  });

  after(async () => {
    // Closing a tenant whose database is already gone may fail; the harness still drops its scratch database.
    await o?.close().catch(() => undefined);
  });

  for (const c of ROUTE_CASES) {
    const name = `${c.method} ${c.route}`;
    const params = () => ({ id: c.route.startsWith('/org/tokens') ? orgKey.id : ws.id, tokenId: ws.token_id, key: 'NEVER_SET', name: 'sec-never-installed', approvalId: NEVER_APPROVAL, channelId: NEVER_CHANNEL });
    const bearers: [string, () => string][] = [['a well-formed org key', () => orgKey.auth_token]];
    if (c.auth === 'workspace') bearers.push(['the workspace’s own token', () => ws.auth_token]);

    for (const [label, bearer] of bearers) {
      it(`${name}: datastore outage with ${label} → 503 platform_unavailable (never 401)`, async () => {
        const res = await o.app.inject({
          method: c.method,
          url: fill(c.route, params()) + (c.query ?? ''),
          headers: o.as(bearer()),
          ...(c.body ? { payload: c.body() } : {}),
        });
        assert.notEqual(res.statusCode, 401, `an outage must not look like bad credentials: ${res.body}`);
        assertError(res, 503, 'platform_unavailable');
      });
    }
  }

  // ADMIN_TOKEN is checked without a query, so the outage first shows in the handler. A client must still be
  // told "retry" (503 platform_unavailable, DESIGN.md §4), not a generic 500.
  it(
    'GET /workspaces: datastore outage behind ADMIN_TOKEN (no lookup in auth) → 503 platform_unavailable',
    async () => {
      const res = await o.app.inject({ method: 'GET', url: '/workspaces', headers: o.admin() });
      assertError(res, 503, 'platform_unavailable');
    },
  );
});
