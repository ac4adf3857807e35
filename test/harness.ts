/**
 * The one parameterised harness: every integration suite runs on the embedded PGlite and on a real PostgreSQL.
 * PostgreSQL is optional on a laptop (skipped, loudly) and mandatory under CI=true (the suite fails).
 */
import { randomBytes } from 'node:crypto';
import { describe } from 'node:test';
import type { Kysely } from 'kysely';
import pg from 'pg';
import { mintCredential } from '../src/core/credentials/format.js';
import type { App } from '../src/core/http/app.js';
import { createLogger } from '../src/core/logger.js';
import { newUuid } from '../src/core/ids.js';
import { MemoryRateLimiter } from '../src/core/rate-limit.js';
import { buildTenantApp } from '../src/tenant/app.js';
import type { SessionVerifier } from '../src/tenant/auth/session-verifier.js';
import { loadTenantConfig, type TenantConfig } from '../src/tenant/config.js';
import { openTenantDatabase } from '../src/tenant/database.js';
import type { TenantSchema } from '../src/tenant/db/schema.js';
import { agentUidRange } from './support/agent-uids.js';

export type DbKind = 'pglite' | 'postgres';

export const POSTGRES_ADMIN_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function probePostgres(): Promise<string | null> {
  const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (err) {
    return (err as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const postgresProblem = await probePostgres();
if (postgresProblem && process.env['CI'] === 'true') {
  throw new Error(`PostgreSQL is mandatory under CI=true but ${POSTGRES_ADMIN_URL} is not reachable: ${postgresProblem}`);
}

/** Declares the same suite once per database. Inside, `kind` says which one is running. */
export function forEachDatabase(name: string, body: (kind: DbKind) => void): void {
  for (const kind of ['pglite', 'postgres'] as const) {
    const skip = kind === 'postgres' && postgresProblem ? `PostgreSQL not reachable (${postgresProblem})` : false;
    describe(`${name} [${kind}]`, { skip }, () => body(kind));
  }
}

/** A fresh, empty database on the server: one per suite, dropped afterwards. */
export async function createScratchDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `molecule_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
}

export interface TestTenant {
  kind: DbKind;
  app: App;
  /** The loopback URL when started with `listen: true`, else ''. */
  url: string;
  db: Kysely<TenantSchema>;
  config: TenantConfig;
  adminToken: string;
  orgId: string;
  orgSlug: string;
  /** Headers for an admin-token call, with the org routing header. */
  admin(): Record<string, string>;
  /** Headers for a bearer call with the org routing header. */
  as(bearer: string): Record<string, string>;
  /** Mints an org key with ADMIN_TOKEN; returns the mint response body. */
  mintKey(body?: Record<string, unknown>): Promise<MintedKeyBody>;
  /** Creates a workspace with ADMIN_TOKEN; returns the create response body. */
  createWorkspace(body?: Record<string, unknown>): Promise<CreatedWorkspaceBody>;
  close(): Promise<void>;
}

export interface MintedKeyBody {
  id: string;
  name: string | null;
  prefix: string;
  auth_token: string;
  role: string;
  workspace_ids: string[] | null;
  expires_at: string | null;
  created_by: string;
  created_at: string;
  warning: string;
}

export interface CreatedWorkspaceBody {
  id: string;
  name: string;
  status: string;
  auth_token: string;
  token_id: string;
  parent_id: string | null;
}

export interface TestTenantOptions {
  env?: Record<string, string | undefined>;
  sessionVerifier?: SessionVerifier | null;
  /** Use no ADMIN_TOKEN at all (bootstrap and tier-3 tests). */
  withoutAdminToken?: boolean;
  /** Listen on a loopback port (real HTTP; needed for workspace runtimes to call back). */
  listen?: boolean;
}

/** A tenant app (in-process, `app.inject`) on its own fresh database of the given kind. */
export async function startTestTenant(kind: DbKind, opts: TestTenantOptions = {}): Promise<TestTenant> {
  const scratch = kind === 'postgres' ? await createScratchDatabase() : null;
  // A suite may bring the token (a tenant of a real control-plane org uses the one the CP minted for it).
  const adminToken = opts.env?.['ADMIN_TOKEN'] ?? mintCredential('tenantAdminToken').plaintext;
  const generatedOrgId = newUuid();
  const generatedSlug = `org-${randomBytes(3).toString('hex')}`;
  const config = loadTenantConfig({
    ADMIN_TOKEN: opts.withoutAdminToken ? undefined : adminToken,
    MOLECULE_ORG_ID: generatedOrgId,
    MOLECULE_ORG_SLUG: generatedSlug,
    MOLECULE_DATA_DIR: 'memory://',
    DATABASE_URL: scratch?.url,
    LOG_LEVEL: 'silent',
    MOLECULE_ENV: 'test',
    // High by default so suites can mint freely; the rate-limit test sets its own.
    ORG_TOKEN_MINT_LIMIT: '100000',
    // In-process suites (app.inject) keep workspaces as records; lifecycle suites ask for `local` and listen.
    WORKSPACE_PROVISIONER: 'none',
    ...agentUidRange(),
    ...opts.env,
  });
  // A suite may name the org itself (a tenant of a real control-plane org); the routing helpers follow it.
  const orgId = config.MOLECULE_ORG_ID ?? generatedOrgId;
  const orgSlug = config.MOLECULE_ORG_SLUG ?? generatedSlug;
  const database = await openTenantDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MOLECULE_DATA_DIR, poolSize: 5 });
  const logger = createLogger({ name: 'test-tenant', level: config.LOG_LEVEL });
  const app = await buildTenantApp({
    config,
    db: database.db,
    logger,
    rateLimiter: new MemoryRateLimiter(),
    ...(opts.sessionVerifier !== undefined ? { sessionVerifier: opts.sessionVerifier } : {}),
  });
  await app.ready();
  let url = '';
  if (opts.listen) {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  }
  const routing = { 'x-molecule-org-id': orgId };
  const t: TestTenant = {
    kind,
    app,
    url,
    db: database.db,
    config,
    adminToken,
    orgId,
    orgSlug,
    admin: () => ({ ...routing, authorization: `Bearer ${adminToken}` }),
    as: (bearer) => ({ ...routing, authorization: `Bearer ${bearer}` }),
    async mintKey(body = {}) {
      const res = await app.inject({ method: 'POST', url: '/org/tokens', headers: t.admin(), payload: body });
      if (res.statusCode !== 200) throw new Error(`mintKey failed: ${res.statusCode} ${res.body}`);
      return res.json() as MintedKeyBody;
    },
    async createWorkspace(body = {}) {
      const res = await app.inject({
        method: 'POST',
        url: '/workspaces',
        headers: t.admin(),
        payload: { name: `ws-${randomBytes(4).toString('hex')}`, ...body },
      });
      if (res.statusCode !== 201) throw new Error(`createWorkspace failed: ${res.statusCode} ${res.body}`);
      return res.json() as CreatedWorkspaceBody;
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
  return t;
}
