/**
 * Control-plane test harness: a CP app (in-process, `app.inject`, or listening on loopback) on its own fresh
 * database of the given kind, plus helpers that sign users up and create orgs the way a client would.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { App } from '../src/core/http/app.js';
import { createLogger } from '../src/core/logger.js';
import { mintCredential } from '../src/core/credentials/format.js';
import { newId } from '../src/core/ids.js';
import { MemoryRateLimiter } from '../src/core/rate-limit.js';
import { buildControlPlaneApp, controlPlaneCipher } from '../src/control-plane/app.js';
import { TenantAdminTokens } from '../src/control-plane/provisioning/admin-tokens.js';
import { WorkspaceRunner } from '../src/control-plane/workspaces/runner.js';
import { loadControlPlaneConfig, type ControlPlaneConfig } from '../src/control-plane/config.js';
import { openControlPlaneDatabase } from '../src/control-plane/database.js';
import type { ControlPlaneSchema } from '../src/control-plane/db/schema.js';
import type { TenantProvisioner } from '../src/control-plane/provisioning/provisioner.js';
import { createScratchDatabase, type DbKind } from './harness.js';
import { agentUidRange } from './support/agent-uids.js';

export interface TestUser {
  userId: string;
  email: string;
  password: string;
  /** The `mcp_session=…` pair, ready for a Cookie header. */
  cookie: string;
}

export interface TestOrg {
  id: string;
  slug: string;
  name: string;
  status: string;
  [key: string]: unknown;
}

export interface TestControlPlane {
  kind: DbKind;
  app: App;
  /** The loopback URL when started with `listen: true`, else ''. */
  url: string;
  db: Kysely<ControlPlaneSchema>;
  config: ControlPlaneConfig;
  adminToken: string;
  /** The app's workspace runner (the runtimes POST /workspaces/provision starts); closed with the app. */
  workspaces: WorkspaceRunner;
  /** Headers carrying the CP admin bearer. */
  admin(): Record<string, string>;
  /** Headers carrying a user's session cookie. */
  as(user: TestUser): Record<string, string>;
  /**
   * Signs a new user up (fresh email unless given) and, unless told otherwise, accepts the terms. `verifyEmail`
   * also verifies the address through the link sign-up wrote to the log.
   */
  signup(opts?: { email?: string; password?: string; name?: string; acceptTerms?: boolean; verifyEmail?: boolean }): Promise<TestUser>;
  /** Every line the CP logged, parsed (the log mailer's messages among them), oldest first. */
  logs(): Array<Record<string, unknown>>;
  /** The token of the newest email verification link the log mailer wrote for `email`; throws when there is none. */
  verificationToken(email: string): string;
  /** Verifies the user's address as a user would: the newest logged link's token, sent to POST /auth/verify-email. */
  verifyEmail(user: TestUser): Promise<void>;
  /**
   * Gives an org a tenant the way a tenant provisioner would (its instance row, with `url` when given) and mints its
   * admin token (molt_…) with the CP's own keyring; returns the plaintext token.
   */
  mintTenantAdminToken(orgId: string, opts?: { url?: string }): Promise<string>;
  /** Creates an org owned by the user (fresh slug unless given); returns the 201 body. */
  createOrg(owner: TestUser, body?: Record<string, unknown>): Promise<TestOrg>;
  /** Mints a partner key with the CP admin bearer (partner `partner-test` unless the body names one); returns the 201 body. */
  mintPartnerKey(body: Record<string, unknown>): Promise<TestPartnerKey>;
  /** Creates an org with a partner key (fresh slug unless given); returns the 201 body. */
  createPartnerOrg(key: string, body?: Record<string, unknown>): Promise<TestOrg>;
  close(): Promise<void>;
}

export interface TestPartnerKey {
  id: string;
  key: string;
  key_prefix: string;
  partner_id: string;
  org_id: string | null;
  scopes: string[];
  rate_limit: number;
  expires_at: string | null;
  [key: string]: unknown;
}

/** Headers carrying a partner key. */
export const partnerKey = (key: string) => ({ authorization: `Bearer ${key}` });

export interface TestControlPlaneOptions {
  env?: Record<string, string | undefined>;
  listen?: boolean;
  provisioner?: TenantProvisioner;
  /** The delete cascade's `workspaces` step (ControlPlaneDeps.terminateOrgWorkspaces). */
  terminateOrgWorkspaces?: (orgId: string) => Promise<number>;
}

function cpAgentUidRange(): { WORKSPACE_AGENT_UID_BASE: string; WORKSPACE_AGENT_UID_COUNT: string } {
  const r = agentUidRange();
  return { WORKSPACE_AGENT_UID_BASE: r.AGENT_UID_BASE, WORKSPACE_AGENT_UID_COUNT: r.AGENT_UID_COUNT };
}

export function uniqueSlug(prefix = 'org'): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export function cookieFrom(setCookie: string | string[] | undefined): string {
  const first = [setCookie ?? []].flat().find((c) => c.startsWith('mcp_session='));
  if (!first) throw new Error('no mcp_session cookie was set');
  return first.split(';')[0]!;
}

export async function startTestControlPlane(kind: DbKind, opts: TestControlPlaneOptions = {}): Promise<TestControlPlane> {
  const scratch = kind === 'postgres' ? await createScratchDatabase() : null;
  const adminToken = `cp-admin-${randomBytes(16).toString('hex')}`;
  const config = loadControlPlaneConfig({
    CP_ADMIN_API_TOKEN: adminToken,
    MOLECULE_DATA_DIR: 'memory://',
    DATABASE_URL: scratch?.url,
    // Logged into memory (see `logs()`), not to the console: the log mailer's links are read from there.
    LOG_LEVEL: 'info',
    MOLECULE_ENV: 'test',
    // Cheap hashes keep suites fast; the cost parameter is exercised by the password unit test.
    PASSWORD_HASH_COST: '10',
    // High by default so suites can call freely; rate-limit tests set their own.
    SIGNUP_LIMIT: '100000',
    LOGIN_ATTEMPT_LIMIT: '100000',
    INSTANCE_LOOKUP_LIMIT: '100000',
    ADMIN_AUTH_FAILURE_LIMIT: '100000',
    EMAIL_VERIFICATION_REQUEST_LIMIT: '100000',
    LOGIN_ADDRESS_LIMIT: '100000',
    DEVICE_CODE_LIMIT: '100000',
    DEVICE_TOKEN_POLL_LIMIT: '100000',
    DEVICE_VERIFY_LIMIT: '100000',
    MAX_FREE_ORGS_PER_USER: '50',
    // Its own agent uids: a stop kills every process of a workspace's uid, so no two test processes may share one.
    ...cpAgentUidRange(),
    ...opts.env,
  });
  const database = await openControlPlaneDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MOLECULE_DATA_DIR, poolSize: 5 });
  const logLines: string[] = [];
  const logger = createLogger({ name: 'test-cp', level: config.LOG_LEVEL, destination: { write: (line: string) => void logLines.push(line) } });
  const logs = () => logLines.map((line) => JSON.parse(line) as Record<string, unknown>);
  const cipher = controlPlaneCipher(config, logger);
  const workspaces = WorkspaceRunner.fromConfig(database.db, config, logger);
  const app = await buildControlPlaneApp({
    config,
    db: database.db,
    logger,
    cipher,
    workspaceRunner: workspaces,
    rateLimiter: new MemoryRateLimiter(),
    ...(opts.provisioner ? { provisioner: opts.provisioner } : {}),
    ...(opts.terminateOrgWorkspaces ? { terminateOrgWorkspaces: opts.terminateOrgWorkspaces } : {}),
  });
  await app.ready();
  let url = '';
  if (opts.listen) {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }
  const cp: TestControlPlane = {
    kind,
    app,
    url,
    db: database.db,
    config,
    adminToken,
    workspaces,
    admin: () => ({ authorization: `Bearer ${adminToken}` }),
    as: (user) => ({ cookie: user.cookie }),
    logs,
    verificationToken(email) {
      const line = logs()
        .reverse()
        .find((l) => l['mail'] === 'email-verification' && l['to'] === email.toLowerCase());
      if (!line) throw new Error(`no verification link was logged for ${email}`);
      const token = new URL(String(line['link'])).searchParams.get('token');
      if (!token) throw new Error(`the logged link for ${email} has no token: ${String(line['link'])}`);
      return token;
    },
    async verifyEmail(user) {
      const res = await app.inject({ method: 'POST', url: '/api/v1/auth/verify-email', headers: cp.as(user), payload: { token: cp.verificationToken(user.email) } });
      if (res.statusCode !== 200) throw new Error(`verify-email failed: ${res.statusCode} ${res.body}`);
    },
    async signup(o = {}) {
      const email = o.email ?? `user-${randomBytes(5).toString('hex')}@example.com`;
      const password = o.password ?? `pw-${randomBytes(8).toString('hex')}`;
      const res = await app.inject({ method: 'POST', url: '/api/v1/auth/signup', payload: { email, password, ...(o.name ? { name: o.name } : {}) } });
      if (res.statusCode !== 201) throw new Error(`signup failed: ${res.statusCode} ${res.body}`);
      const user: TestUser = { userId: (res.json() as { user_id: string }).user_id, email, password, cookie: cookieFrom(res.headers['set-cookie']) };
      if (o.acceptTerms !== false) {
        const t = await app.inject({ method: 'POST', url: '/api/v1/auth/accept-terms', headers: cp.as(user), payload: {} });
        if (t.statusCode !== 200) throw new Error(`accept-terms failed: ${t.statusCode} ${t.body}`);
      }
      if (o.verifyEmail) await cp.verifyEmail(user);
      return user;
    },
    async mintTenantAdminToken(orgId, o = {}) {
      await database.db
        .insertInto('org_instances')
        .values({ org_id: orgId, status: 'running', stage: 'ready', progress: 100, message: 'running', eta_seconds: 0, url: o.url ?? null })
        .onConflict((oc) => (o.url !== undefined ? oc.column('org_id').doUpdateSet({ url: o.url }) : oc.column('org_id').doNothing()))
        .execute();
      return new TenantAdminTokens(database.db, cipher).mint(orgId);
    },
    async createOrg(owner, body = {}) {
      const slug = uniqueSlug();
      const res = await app.inject({ method: 'POST', url: '/api/v1/orgs', headers: cp.as(owner), payload: { slug, name: `Org ${slug}`, ...body } });
      if (res.statusCode !== 201) throw new Error(`createOrg failed: ${res.statusCode} ${res.body}`);
      return res.json() as TestOrg;
    },
    async mintPartnerKey(body) {
      // A CP without an admin token (the suite's "unset" checks) mints nowhere through the API: the row is written as the
      // mint route would write it.
      if (!config.CP_ADMIN_API_TOKEN) {
        const minted = mintCredential('partnerKey');
        const days = typeof body['expires_in_days'] === 'number' ? body['expires_in_days'] : null;
        const row = await database.db
          .insertInto('partner_api_keys')
          .values({
            id: newId('partnerKey'),
            name: String(body['name'] ?? 'test key'),
            key_hash: minted.hash,
            key_prefix: minted.displayPrefix,
            partner_id: String(body['partner_id'] ?? 'partner-test'),
            org_id: (body['org_id'] as string | null | undefined) ?? null,
            scopes: body['scopes'] as string[],
            rate_limit: typeof body['rate_limit'] === 'number' ? body['rate_limit'] : 60,
            created_by: 'test-harness',
            expires_at: days === null ? null : new Date(Date.now() + days * 86_400_000),
          })
          .returningAll()
          .executeTakeFirstOrThrow();
        return { ...row, key: minted.plaintext, expires_at: row.expires_at ? new Date(row.expires_at).toISOString() : null } as unknown as TestPartnerKey;
      }
      const res = await app.inject({ method: 'POST', url: '/api/v1/admin/partner-keys', headers: cp.admin(), payload: { name: 'test key', partner_id: 'partner-test', ...body } });
      if (res.statusCode !== 201) throw new Error(`mintPartnerKey failed: ${res.statusCode} ${res.body}`);
      return res.json() as TestPartnerKey;
    },
    async createPartnerOrg(key, body = {}) {
      const slug = uniqueSlug('pk');
      const res = await app.inject({ method: 'POST', url: '/api/v1/orgs', headers: partnerKey(key), payload: { slug, name: `Partner org ${slug}`, ...body } });
      if (res.statusCode !== 201) throw new Error(`createPartnerOrg failed: ${res.statusCode} ${res.body}`);
      return res.json() as TestOrg;
    },
    async close() {
      // The scratch database goes even when closing fails (a suite that destroyed the database under the app).
      try {
        await app.close();
        await database.close();
      } finally {
        await scratch?.drop();
      }
    },
  };
  return cp;
}
