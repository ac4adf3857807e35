import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { EmbeddedPostgresServer } from '../core/db/embedded-server.js';
import { freePort } from '../core/net.js';
import type { RunningControlPlane } from '../control-plane/main.js';

/**
 * `npm start` (`molecule-platform up`, DESIGN.md §8): the whole platform on one machine — one embedded PostgreSQL
 * server (or DATABASE_URL), the control plane with its edge on http://localhost:<PORT>, and a demo org `acme` whose
 * tenant the local-process provisioner runs — then prints what a new user needs, once: the URLs, the CP admin
 * token, the org id and slug, the demo owner's sign-in, a freshly minted Org API Key and the first curl calls.
 *
 * The next start reuses everything (data, tokens, the demo owner); the previous start's demo key is revoked, since the
 * terminal that showed it is gone. Ctrl-C stops every process it started: tenants (and their workspaces), the CP,
 * the database server.
 */

export const DEMO_SLUG = 'acme';
const DEMO_EMAIL = 'owner@acme.example';
const STATE_FILE = 'up.json';

interface UpState {
  version: 2;
  /** Sealed under the CP key (the launcher's own secrets are never kept in plaintext). */
  cpAdminTokenSealed?: string;
  provisionSecretSealed?: string;
  demoPasswordSealed?: string;
  demoUserId?: string;
  demoKeyId?: string;
}

export interface UpHandle {
  stop(): Promise<void>;
  logger: RunningControlPlane['logger'];
}

function readState(file: string): UpState {
  if (!existsSync(file)) return { version: 2 };
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<UpState>;
    return parsed.version === 2 ? (parsed as UpState) : { version: 2 };
  } catch {
    return { version: 2 };
  }
}

export async function up(): Promise<UpHandle> {
  const { SecretCipher } = await import('../core/crypto/cipher.js');
  const { sealed, unsealed } = await import('../control-plane/provisioning/sealed.js');
  const dataDir = path.resolve(process.env['MOLECULE_DATA_DIR'] ?? './.molecule');
  // Missing parents are made with the usual mode: only the data directory itself is private. (A parent made 0700 would
  // shut out the embedded PostgreSQL server's own OS user, which walks down to its cluster when run as root.)
  mkdirSync(path.dirname(dataDir), { recursive: true });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const statePath = path.join(dataDir, STATE_FILE);
  const state = readState(statePath);
  // PORT=0 (tests): pick the port now, so the printed URLs and the CP's public URL agree.
  const port = process.env['PORT'] === '0' ? await freePort() : Number(process.env['PORT'] ?? 8080);
  const cipher = SecretCipher.fromConfig({
    SECRETS_ENCRYPTION_KEY: process.env['SECRETS_ENCRYPTION_KEY'],
    SECRETS_ENCRYPTION_KEYS_PREVIOUS: process.env['SECRETS_ENCRYPTION_KEYS_PREVIOUS'],
    MOLECULE_DATA_DIR: path.join(dataDir, 'cp'),
    MOLECULE_ENV: process.env['MOLECULE_ENV'] ?? 'development',
  });
  const remembered = (field: keyof UpState, aad: string, make: () => string): string => {
    const value = state[field];
    if (typeof value === 'string') {
      try {
        return unsealed(cipher, value, aad);
      } catch {
        // sealed under a key that is gone: make a new one
      }
    }
    const fresh = make();
    (state as unknown as Record<string, string>)[field] = sealed(cipher, fresh, aad);
    return fresh;
  };
  const cpAdminToken = process.env['CP_ADMIN_API_TOKEN'] ?? remembered('cpAdminTokenSealed', 'up:cp-admin-token', () => `cpadm_${randomBytes(24).toString('base64url')}`);
  const provisionSecret = process.env['PROVISION_SHARED_SECRET'] ?? remembered('provisionSecretSealed', 'up:provision-secret', () => randomBytes(24).toString('base64url'));
  const demoPassword = remembered('demoPasswordSealed', 'up:demo-password', () => `acme-${randomBytes(9).toString('base64url')}`);

  let databaseUrl = process.env['DATABASE_URL'];
  let tenantServerUrl = process.env['TENANT_DATABASE_URL'] ?? databaseUrl;
  let pgServer: EmbeddedPostgresServer | undefined;
  if (!databaseUrl) {
    const { EmbeddedPostgresServer } = await import('../core/db/embedded-server.js');
    pgServer = await EmbeddedPostgresServer.start({ dataDir });
    databaseUrl = await pgServer.ensureDatabase('molecule_cp');
    tenantServerUrl = pgServer.adminUrl;
  }
  const { startControlPlane } = await import('../control-plane/main.js');
  let cp: RunningControlPlane;
  try {
    cp = await startControlPlane({
      ...process.env,
      PORT: String(port),
      MOLECULE_DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      TENANT_DATABASE_URL: tenantServerUrl,
      TENANT_PROVISIONER: 'local-process',
      CP_ADMIN_API_TOKEN: cpAdminToken,
      PROVISION_SHARED_SECRET: provisionSecret,
    });
  } catch (err) {
    await pgServer?.stop();
    throw err;
  }
  const server = pgServer;
  const handle: UpHandle = {
    logger: cp.logger,
    // Tenants first (the CP stops them), then the CP, then the database they all write to.
    async stop() {
      try {
        await cp.stop();
      } finally {
        await server?.stop();
      }
    },
  };
  try {
    await prepareDemo(cp, state, { port, cpAdminToken, demoPassword, statePath, server, dataDir });
  } catch (err) {
    await handle.stop().catch(() => undefined);
    throw err;
  }
  return handle;
}

interface DemoOptions {
  port: number;
  cpAdminToken: string;
  demoPassword: string;
  statePath: string;
  server: EmbeddedPostgresServer | undefined;
  dataDir: string;
}

async function prepareDemo(cp: RunningControlPlane, state: UpState, o: DemoOptions): Promise<void> {
  const cpUrl = `http://localhost:${o.port}`;
  const admin = { authorization: `Bearer ${o.cpAdminToken}`, 'content-type': 'application/json' };
  const call = async (method: string, url: string, headers: Record<string, string>, body?: unknown) => {
    const res = await cp.app.inject({ method: method as 'GET', url, headers, ...(body !== undefined ? { payload: JSON.stringify(body) } : {}) });
    return { status: res.statusCode, json: () => res.json() as Record<string, unknown>, text: res.body };
  };

  // The demo owner: a real account (password sign-in), its address taken as verified — the launcher owns this database.
  if (!state.demoUserId || !(await cp.db.selectFrom('users').select('id').where('id', '=', state.demoUserId).executeTakeFirst())) {
    const existing = await cp.db.selectFrom('users').select('id').where('email', '=', DEMO_EMAIL).executeTakeFirst();
    if (existing) {
      state.demoUserId = existing.id;
    } else {
      const res = await call('POST', '/api/v1/auth/signup', { 'content-type': 'application/json' }, { email: DEMO_EMAIL, password: o.demoPassword, name: 'Acme Owner' });
      if (res.status !== 201 && res.status !== 200) throw new Error(`could not create the demo owner: ${res.status} ${res.text}`);
      const user = await cp.db.selectFrom('users').select('id').where('email', '=', DEMO_EMAIL).executeTakeFirstOrThrow();
      state.demoUserId = user.id;
    }
  }
  await cp.db.updateTable('users').set({ email_verified_at: new Date() }).where('id', '=', state.demoUserId).where('email_verified_at', 'is', null).execute();

  // The demo org, provisioned by the local-process provisioner like any other.
  const org = await cp.db.selectFrom('organizations').select(['id', 'status']).where('slug', '=', DEMO_SLUG).executeTakeFirst();
  if (!org) {
    const res = await call('POST', '/api/v1/admin/orgs', admin, { slug: DEMO_SLUG, name: 'Acme', owner_user_id: state.demoUserId });
    if (res.status !== 201) throw new Error(`could not create the demo org: ${res.status} ${res.text}`);
  } else if (org.status === 'failed') {
    await call('POST', `/api/v1/admin/orgs/${DEMO_SLUG}/reprovision`, admin);
  }
  const instance = await waitRunning(cp);
  const orgId = instance.orgId;

  // A fresh demo key, minted on the tenant with its admin token (as the printed curl lines do), the old one revoked.
  const { TenantAdminTokens } = await import('../control-plane/provisioning/admin-tokens.js');
  const tenantAdmin = await new TenantAdminTokens(cp.db, cp.cipher).reveal(orgId);
  if (!tenantAdmin) throw new Error('the demo org has no tenant admin token');
  const tenantHeaders = { authorization: `Bearer ${tenantAdmin}`, 'x-molecule-org-id': orgId, 'content-type': 'application/json' };
  if (state.demoKeyId) await fetch(`${instance.url}/org/tokens/${state.demoKeyId}`, { method: 'DELETE', headers: tenantHeaders }).then((r) => r.body?.cancel());
  // The org key policy (set in the console) binds the demo key too: it gets the longest lifetime the policy allows.
  const policy = await fetch(`${instance.url}/org/settings/key-policy`, { headers: tenantHeaders }).then(async (r) => (r.ok ? ((await r.json()) as { max_lifetime_days: number | null; require_expiry: boolean }) : null));
  const lifetimeDays = policy?.max_lifetime_days ?? (policy?.require_expiry ? 30 : null);
  const expiresAt = lifetimeDays === null ? null : new Date(Date.now() + lifetimeDays * 24 * 3600_000 - 60_000).toISOString();
  const minted = await fetch(`${instance.url}/org/tokens`, { method: 'POST', headers: tenantHeaders, body: JSON.stringify({ name: 'npm start demo key', expires_at: expiresAt }) });
  if (minted.status !== 200 && minted.status !== 201) throw new Error(`could not mint the demo key: ${minted.status} ${await minted.text()}`);
  const key = (await minted.json()) as { id: string; auth_token: string };
  state.demoKeyId = key.id;
  writeFileSync(o.statePath, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });

  const tenantUrl = `http://${DEMO_SLUG}.localhost:${o.port}`;
  const where = o.server ? `the embedded PostgreSQL server (${path.join(o.dataDir, 'pg')}, port ${o.server.port})` : 'DATABASE_URL';
  process.stdout.write(`
Molecule Platform is running on ${where}.

  Control plane   ${cpUrl}          (API: /api/v1, OpenAPI: ${cpUrl}/openapi.json)
  Org tenant      ${tenantUrl}     (its own process and database; OpenAPI: ${tenantUrl}/openapi.json)
  CP admin token  ${o.cpAdminToken}
  Org id          ${orgId}
  Org slug        ${DEMO_SLUG}
  Demo owner      ${DEMO_EMAIL}
  Demo password   ${o.demoPassword}
  Org API key     ${key.auth_token}   (shown once; id ${key.id})

Getting started (copy and paste into a shell):
  export CP=${cpUrl} TENANT=${tenantUrl} ORG=${orgId} CP_ADMIN=${o.cpAdminToken} KEY=${key.auth_token}
  # the tenant's admin token, fetched through the CP admin API
  export TENANT_ADMIN=$(curl -s $CP/api/v1/admin/orgs/${DEMO_SLUG}/admin-token -H "Authorization: Bearer $CP_ADMIN" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).admin_token')
  # mint an Org API Key with it (the key is in the response, shown once)
  curl -s -X POST $TENANT/org/tokens -H "Authorization: Bearer $TENANT_ADMIN" -H "X-Molecule-Org-Id: $ORG" -H 'Content-Type: application/json' -d '{"name":"my-first-key"}'
  # the public instance lookup
  curl -s $CP/api/v1/orgs/${DEMO_SLUG}/instance
  # list workspaces with the key and the org header
  curl -s $TENANT/workspaces -H "Authorization: Bearer $KEY" -H "X-Molecule-Org-Id: $ORG"
  # create one (it runs: watch it go online with the list above)
  curl -s -X POST $TENANT/workspaces -H "Authorization: Bearer $KEY" -H "X-Molecule-Org-Id: $ORG" -H 'Content-Type: application/json' -d '{"name":"my-agent"}'
  # revoke the key: the next request with it is refused
  curl -s -X DELETE $TENANT/org/tokens/${key.id} -H "Authorization: Bearer $KEY" -H "X-Molecule-Org-Id: $ORG"
  curl -s -o /dev/null -w '%{http_code}\\n' $TENANT/workspaces -H "Authorization: Bearer $KEY" -H "X-Molecule-Org-Id: $ORG"

A second org of your own (sign in as the demo owner; it gets its own tenant at http://<slug>.localhost:${o.port}):
  curl -s -c jar -X POST $CP/api/v1/auth/login -H 'Content-Type: application/json' -d '{"email":"${DEMO_EMAIL}","password":"${o.demoPassword}"}'
  curl -s -b jar -X POST $CP/api/v1/auth/accept-terms
  curl -s -b jar -X POST $CP/api/v1/orgs -H 'Content-Type: application/json' -d '{"slug":"globex","name":"Globex"}'
  curl -s -b jar $CP/api/v1/orgs/globex/provision-status

Stop with Ctrl-C.
`);
}

/** Waits until the demo org's tenant runs (first start: provisioning; later starts: the restart of its process). */
async function waitRunning(cp: RunningControlPlane): Promise<{ orgId: string; url: string }> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const row = await cp.db
      .selectFrom('organizations as o')
      .innerJoin('org_instances as i', 'i.org_id', 'o.id')
      .select(['o.id as orgId', 'i.status as status', 'i.url as url', 'i.last_error as lastError', 'i.message as message'])
      .where('o.slug', '=', DEMO_SLUG)
      .executeTakeFirst();
    if (row?.status === 'running' && row.url) return { orgId: row.orgId, url: row.url };
    if (row?.status === 'failed') throw new Error(`the demo org's tenant failed to start: ${row.lastError ?? row.message}`);
    if (Date.now() > deadline) throw new Error(`the demo org's tenant is not running after 300 s: ${row?.message ?? 'no instance'}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
