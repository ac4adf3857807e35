import path from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { auditEventFor } from '../core/audit/request.js';
import { auditDb } from '../core/audit/schema.js';
import { AuditWriter } from '../core/audit/writer.js';
import { SecretCipher } from '../core/crypto/cipher.js';
import { createBaseApp, type App } from '../core/http/app.js';
import { registerConsole } from '../core/http/console.js';
import { Idempotency, IDEMPOTENCY_DESCRIPTION } from '../core/http/idempotency.js';
import { idempotencyDb, KyselyIdempotencyStore } from '../core/http/idempotency-store.js';
import { connectionLimitsOf } from '../core/http/connections.js';
import { MemoryRateLimiter, type RateLimiter } from '../core/rate-limit.js';
import { adminRoutes } from './admin/index.js';
import { fleetRoutes } from './fleet/index.js';
import { ControlPlaneAuthenticator } from './auth/authenticator.js';
import { adminAuthHook, provisionAuthHook, sessionAuthHook, tenantAuthHook } from './auth/hooks.js';
import { passwordWork } from './auth/passwords.js';
import { startSessionSweeper } from './auth/sessions.js';
import { billingRoutes } from './billing/index.js';
import { LedgerBillingProvider } from './billing/ledger.js';
import type { ControlPlaneConfig } from './config.js';
import { publicUrlOf } from './config.js';
import type { ControlPlaneContext } from './context.js';
import type { ControlPlaneSchema } from './db/schema.js';
import { CachingTenantResolver, DatabaseTenantResolver, registerEdge, type TenantResolver } from './edge/index.js';
import { deviceAuthRoutes } from './device-auth/index.js';
import { identityRoutes } from './identity/index.js';
import { createOidcLogin } from './identity/oidc.js';
import { createMailer } from './mail.js';
import { membersRoutes } from './members/index.js';
import { orgRoutes } from './orgs/index.js';
import { PartnerKeyAuthenticator } from './partner-keys/auth.js';
import { partnerKeyRoutes } from './partner-keys/index.js';
import { TenantAdminTokens } from './provisioning/admin-tokens.js';
import { provisioningRoutes } from './provisioning/index.js';
import { PendingTenantProvisioner, type TenantProvisioner } from './provisioning/provisioner.js';
import { deprecationHeaders } from './prefixes.js';
import { tenantRoutes } from './tenants/index.js';
import { terminateOrgWorkspaces, WorkspaceRunner, workspaceRoutes } from './workspaces/index.js';
import { API_PREFIX, LEGACY_PREFIX, type ControlPlaneDomainRoutes, type ControlPlaneRouteRegistrar } from './routes.js';

/** Every domain of the control plane, in the order their routes are registered. */
const DOMAINS: ControlPlaneDomainRoutes[] = [identityRoutes, deviceAuthRoutes, orgRoutes, membersRoutes, billingRoutes, adminRoutes, partnerKeyRoutes, provisioningRoutes, fleetRoutes, tenantRoutes, workspaceRoutes];

export interface ControlPlaneDeps {
  config: ControlPlaneConfig;
  db: Kysely<ControlPlaneSchema>;
  logger: Logger;
  rateLimiter?: RateLimiter;
  provisioner?: TenantProvisioner;
  /** Default: from SECRETS_ENCRYPTION_KEY, else (outside production) a key kept in <MOLECULE_DATA_DIR>/cp/secrets.key. */
  cipher?: SecretCipher;
  /** Where the edge finds an org's tenant. Default: the CP's own organizations + org_instances rows. */
  tenantResolver?: TenantResolver;
  /** The delete cascade's hook into CP-run workspaces (ControlPlaneContext.terminateOrgWorkspaces). */
  terminateOrgWorkspaces?: (orgId: string) => Promise<number>;
  /** Workspace runtimes the CP runs (POST /workspaces/provision). Default: local processes with the CP's own agent sandbox. Closed with the app. */
  workspaceRunner?: WorkspaceRunner;
}

/** TENANT_DOMAIN for the edge's purpose: unset, tenants are `<slug>.localhost` (browsers resolve it to loopback). */
export const DEFAULT_EDGE_TENANT_DOMAIN = 'localhost';

export const CONTROL_PLANE_VERSION = '0.1.0';

export const CONTROL_PLANE_SECURITY_SCHEMES = {
  session: { type: 'apiKey', in: 'cookie', name: 'mcp_session', description: 'Signed-in user (POST /api/v1/auth/login, /auth/signup or OpenID Connect).' },
  cpAdmin: { type: 'http', scheme: 'bearer', description: 'The platform-root CP_ADMIN_API_TOKEN; /api/v1/admin/* only.' },
  tenantAdminToken: { type: 'http', scheme: 'bearer', description: 'A tenant’s admin token (`molt_…`, its ADMIN_TOKEN); /api/v1/tenants/* only, for that tenant’s org.' },
  provisionSecret: { type: 'http', scheme: 'bearer', description: 'PROVISION_SHARED_SECRET; /api/v1/workspaces/* only (not mounted while it is unset). Sent with tenantAdminHeader.' },
  tenantAdminHeader: { type: 'apiKey', in: 'header', name: 'X-Molecule-Admin-Token', description: "The calling tenant's admin token (molt_…): the org every provisioning call acts for." },
  partnerKey: {
    type: 'http',
    scheme: 'bearer',
    description:
      'A partner API key (`mol_pk_live_…`): scoped, optionally bound to one org, expiring, rate-limited per key. Accepted only on the routes that list it, each naming the scope it needs (docs/partners.md).',
  },
};

/** The CP's keyring: its own key file lives beside its embedded database (`<data dir>/cp`), apart from any tenant's. */
export function controlPlaneCipher(config: ControlPlaneConfig, logger?: Logger): SecretCipher {
  const dataDir = config.MOLECULE_DATA_DIR.startsWith('memory://') ? config.MOLECULE_DATA_DIR : path.join(config.MOLECULE_DATA_DIR, 'cp');
  return SecretCipher.fromConfig({ ...config, MOLECULE_DATA_DIR: dataDir }, logger);
}

/**
 * The control plane's composition root. Order matters and reads top to bottom: shared plumbing, audit on every
 * authenticated response, then each tier mounted under `/api/v1` and again under the deprecated `/cp` alias.
 */
export async function buildControlPlaneApp(deps: ControlPlaneDeps): Promise<App> {
  const { config, db, logger } = deps;
  const { app } = await createBaseApp({
    logger,
    title: 'Molecule control plane',
    description:
      'Everything above one org: users and sessions, organizations, members, billing and platform administration. ' +
      `Every path under ${API_PREFIX} is also served under the deprecated ${LEGACY_PREFIX} alias (same body, plus Deprecation, Sunset and Link headers); the alias is not listed here.` +
      IDEMPOTENCY_DESCRIPTION,
    version: CONTROL_PLANE_VERSION,
    securitySchemes: CONTROL_PLANE_SECURITY_SCHEMES,
    serviceName: 'molecule-cp',
    trustProxy: config.TRUST_PROXY,
    connections: connectionLimitsOf(config),
  });
  passwordWork.configure({ maxConcurrent: config.PASSWORD_HASH_CONCURRENCY, maxQueued: config.PASSWORD_HASH_QUEUE_LIMIT });

  const publicUrl = publicUrlOf(config);
  const auth = new ControlPlaneAuthenticator(db, config);
  const auditWriter = new AuditWriter(auditDb(db), logger);
  const rateLimiter = deps.rateLimiter ?? new MemoryRateLimiter();
  const provisioner = deps.provisioner ?? new PendingTenantProvisioner();
  const cipher = deps.cipher ?? controlPlaneCipher(config, logger);
  const oidc = createOidcLogin(config, db, logger);
  const workspaces = deps.workspaceRunner ?? WorkspaceRunner.fromConfig(db, config, logger);
  const partnerKeys = new PartnerKeyAuthenticator(db, rateLimiter, logger);
  const ctx: ControlPlaneContext = { config, db, log: logger, auth, partnerKeys, rateLimiter, auditWriter, provisioner, billing: new LedgerBillingProvider(), cipher, adminTokens: new TenantAdminTokens(db, cipher), oidc, mailer: createMailer(config, logger), publicUrl, workspaces };
  // The delete cascade stops the org's CP-run workspaces first (a test may substitute its own hook).
  ctx.terminateOrgWorkspaces = deps.terminateOrgWorkspaces ?? ((orgId: string) => terminateOrgWorkspaces(workspaces, orgId));

  // Rows left `running` by a CP that died: no runtime outlives its supervisor (it watches its stdin).
  // Never fatal: a CP that boots during a datastore outage still serves, and the next boot reconciles.
  app.addHook('onReady', async () => {
    await workspaces.reconcile().catch((err: unknown) => logger.warn({ err }, 'could not mark the workspace runtimes of an earlier CP process terminated'));
  });
  app.addHook('onResponse', async (request, reply) => {
    if (request.principal && !request.auditWritten) await auditWriter.enqueue(auditEventFor(request, reply.statusCode, reply.elapsedTime));
  });
  // Expired and revoked sessions are deleted a day after they stop working (hourly, in the background).
  const stopSweeper = startSessionSweeper(db, logger);
  app.addHook('onClose', async () => {
    stopSweeper();
    // Every workspace runtime the CP runs stops with it (their rows say so); tenants provision them again.
    await workspaces.close();
    await provisioner.close();
    await oidc?.close();
    await partnerKeys.close();
    await auditWriter.close();
    if (!deps.rateLimiter) await rateLimiter.close();
  });

  // The edge sees every request first: a tenant host or an org routing header is proxied to that org's tenant before
  // any CP route, auth tier or body parser runs (README, "The edge").
  const resolver = deps.tenantResolver ?? new CachingTenantResolver(new DatabaseTenantResolver(db), config.EDGE_ROUTE_CACHE_MS);
  ctx.forgetTenantRoute = (slug) => resolver.forget?.(slug);
  await registerEdge(app, {
    resolver,
    rule: { tenantDomain: config.TENANT_DOMAIN ?? DEFAULT_EDGE_TENANT_DOMAIN, cpHostname: new URL(publicUrl).hostname.toLowerCase() },
    log: logger,
  });

  const mount = (tier: keyof ControlPlaneDomainRoutes) => DOMAINS.flatMap((d) => d[tier] ?? []) as ControlPlaneRouteRegistrar[];
  // Idempotency-Key on every POST (issue 13): attached where routes are mounted, so it runs after each tier's
  // authentication (child scopes' onRequest hooks) and before every handler; the edge's proxied requests never see it.
  const idempotency = new Idempotency({ store: new KyselyIdempotencyStore(idempotencyDb(db)), log: logger });

  for (const prefix of [API_PREFIX, LEGACY_PREFIX]) {
    await app.register(
      async (api) => {
        if (prefix === LEGACY_PREFIX) deprecationHeaders(api as unknown as App, LEGACY_PREFIX, API_PREFIX);
        idempotency.attach(api as unknown as App);

        // Tier: public (no credential).
        await api.register(async (scope) => {
          for (const register of mount('public')) register(scope as unknown as App, ctx);
        });
        // Tier: session cookie; membership per org is the handler's first line.
        await api.register(async (scope) => {
          scope.addHook('onRequest', sessionAuthHook(auth, publicUrl, config.TENANT_DOMAIN, partnerKeys));
          for (const register of mount('session')) register(scope as unknown as App, ctx);
        });
        // Tier: CP admin bearer.
        await api.register(async (scope) => {
          scope.addHook('onRequest', adminAuthHook(auth, rateLimiter, config.ADMIN_AUTH_FAILURE_LIMIT, partnerKeys));
          for (const register of mount('admin')) register(scope as unknown as App, ctx);
        });
        // Tier: tenant admin token (the tenant callbacks).
        await api.register(async (scope) => {
          scope.addHook('onRequest', tenantAuthHook(auth, ctx.adminTokens));
          for (const register of mount('tenant')) register(scope as unknown as App, ctx);
        });
        // Tier: provision secret + tenant admin token. Unset secret: not mounted at all (fail closed, reference §3.3).
        if (config.PROVISION_SHARED_SECRET) {
          await api.register(async (scope) => {
            scope.addHook('onRequest', provisionAuthHook(auth, ctx.adminTokens));
            for (const register of mount('provision')) register(scope as unknown as App, ctx);
          });
        }
      },
      { prefix },
    );
  }

  // Browser pages outside the API prefixes; each authenticates itself.
  await app.register(async (scope) => {
    idempotency.attach(scope as unknown as App);
    for (const register of mount('pages')) register(scope as unknown as App, ctx);
  });
  // The account pages of the web console (issue 14); their API calls go to /api/v1 with the session cookie.
  registerConsole(app, { pages: ['/', '/signin', '/signup', '/terms', '/orgs', '/orgs/*', '/invitations/accept', '/device'], ...(oidc ? { oidcProvider: oidc.provider } : {}) });

  return app;
}
