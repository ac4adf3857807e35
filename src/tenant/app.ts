import path from 'node:path';
import { EMBEDDED_SERVER_DIR } from '../core/db/embedded-server.js';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { auditEventFor } from '../core/audit/request.js';
import { AgentSandbox } from '../core/compute/agent-sandbox.js';
import { auditDb } from '../core/audit/schema.js';
import { AuditWriter } from '../core/audit/writer.js';
import { createBaseApp, type App } from '../core/http/app.js';
import { registerConsole } from '../core/http/console.js';
import { Idempotency, IDEMPOTENCY_DESCRIPTION } from '../core/http/idempotency.js';
import { idempotencyDb, KyselyIdempotencyStore } from '../core/http/idempotency-store.js';
import { LoopTicks } from '../core/liveness.js';
import { connectionLimitsOf } from '../core/http/connections.js';
import { MemoryRateLimiter, type RateLimiter } from '../core/rate-limit.js';
import { approvalRequiredDeleteHook, approvalRoutes } from './approvals/index.js';
import { auditRoutes } from './audit/index.js';
import { authRoutes } from './auth/index.js';
import { mcpRoutes } from './mcp/index.js';
import { TenantAuthenticator } from './auth/authenticator.js';
import { adminAuthHook, requirePermissionDeclared, workspaceAuthHook } from './auth/hooks.js';
import type { TenantOrigins } from './auth/origin.js';
import { SessionVerifier } from './auth/session-verifier.js';
import { budgetsRoutes } from './budgets/index.js';
import { bundleRoutes } from './bundles/index.js';
import { ChannelDelivery, channelRoutes, NetworkPolicy } from './channels/index.js';
import { catalogueRoutes } from './catalogue/index.js';
import { cpSharedSecretOf, type TenantConfig } from './config.js';
import type { TenantContext } from './context.js';
import type { TenantSchema } from './db/schema.js';
import { EventBus } from './events/bus.js';
import { EventStreamRegistry } from './events/stream-registry.js';
import { routeWebSocketUpgrades, webSocketEventsRoute } from './events/websocket.js';
import { SecretCipher } from '../core/crypto/cipher.js';
import { WorkspaceLifecycle } from './workspaces/lifecycle.js';
import { ControlPlaneWorkspaceProvisioner } from './workspaces/cp-provisioner.js';
import { LocalProcessProvisioner, type WorkspaceProvisioner } from './workspaces/provisioner.js';
import { eventsRoutes } from './events/index.js';
import { tenantGuard } from './guard.js';
import { TenantCallbacks } from './control-plane/callbacks.js';
import { ControlPlaneClient } from './control-plane/client.js';
import { registerControlPlaneProxy } from './control-plane/proxy.js';
import { orgImportRoutes } from './org-import/index.js';
import { orgTokenRoutes } from './org-tokens/index.js';
import { pluginCatalog, pluginRoutes } from './plugins/index.js';
import type { DomainRoutes, RouteRegistrar } from './routes.js';
import { registryRoutes } from './registry/index.js';
import { secretsRoutes } from './secrets/index.js';
import { BUILTIN_TEMPLATES_DIR, refreshTemplates, templateRoutes } from './templates/index.js';
import { upgradeLegacyValueHashes } from './secrets/value-hash.js';
import { workspaceTokenRoutes } from './workspace-tokens/index.js';
import { workspaceRoutes } from './workspaces/index.js';

/** Every domain of the tenant, in the order their routes are registered. */
const DOMAINS: DomainRoutes[] = [
  orgTokenRoutes,
  workspaceRoutes,
  templateRoutes,
  workspaceTokenRoutes,
  secretsRoutes,
  budgetsRoutes,
  bundleRoutes,
  eventsRoutes,
  auditRoutes,
  registryRoutes,
  orgImportRoutes,
  pluginRoutes,
  approvalRoutes,
  channelRoutes,
  catalogueRoutes,
  authRoutes,
  mcpRoutes,
];

export interface TenantDeps {
  config: TenantConfig;
  db: Kysely<TenantSchema>;
  logger: Logger;
  rateLimiter?: RateLimiter;
  sessionVerifier?: SessionVerifier | null;
  /** The tenant-callback client. Default: one when CP_UPSTREAM_URL, MOLECULE_ORG_ID and ADMIN_TOKEN are all set. */
  controlPlane?: ControlPlaneClient | null;
}

import { TENANT_VERSION } from './version.js';
export { TENANT_VERSION };

export const TENANT_SECURITY_SCHEMES = {
  orgApiKey: { type: 'http', scheme: 'bearer', description: 'Org API key (`mola_…`), minted at POST /org/tokens.' },
  adminToken: { type: 'http', scheme: 'bearer', description: 'The tenant ADMIN_TOKEN (break-glass).' },
  workspaceToken: { type: 'http', scheme: 'bearer', description: 'Workspace token (`molw_…`), valid for its own workspace only.' },
  session: { type: 'apiKey', in: 'cookie', name: 'mcp_session', description: 'Control-plane session of an org member.' },
};

/**
 * The tenant server's composition root. Order matters and reads top to bottom: shared plumbing, TenantGuard for
 * every request, audit on every authenticated response, then one encapsulated scope per auth tier.
 */
/** Where and as whom agent commands run; also makes the data directory private to the tenant. */
function agentSandboxFor(config: TenantConfig, logger: TenantDeps['logger']): AgentSandbox {
  const inMemory = config.MOLECULE_DATA_DIR.startsWith('memory://');
  const sandbox = new AgentSandbox({
    mode: config.AGENT_ISOLATION,
    homeRoot: config.AGENT_HOME_DIR ?? (inMemory ? 'memory://' : path.join(config.MOLECULE_DATA_DIR, 'agents')),
    homeRootIsDefault: config.AGENT_HOME_DIR === undefined,
    uidBase: config.AGENT_UID_BASE,
    uidCount: config.AGENT_UID_COUNT,
    log: logger,
    privateDataDir: inMemory ? undefined : config.MOLECULE_DATA_DIR,
    selfGuardedEntries: [EMBEDDED_SERVER_DIR],
  });
  logger.info({ agent_isolation: sandbox.mode, agent_home_dir: sandbox.homeRoot }, 'agent commands isolated');
  return sandbox;
}

/** The URL this app listens on: its bound port; a wildcard bind is reached on loopback. */
function listeningUrl(app: App, host: string): string {
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const bound = typeof address === 'object' && address ? address.address : host;
  const reachable = bound === '0.0.0.0' || bound === '::' || bound === '' ? '127.0.0.1' : bound;
  return `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
}

/** The workspace backend WORKSPACE_PROVISIONER names (config has checked what `cp` needs). */
function workspaceProvisionerFor(config: TenantConfig, logger: TenantDeps['logger']): WorkspaceProvisioner | null {
  if (config.WORKSPACE_PROVISIONER === 'local') return new LocalProcessProvisioner(agentSandboxFor(config, logger), logger, config.MOLECULE_ORG_ID);
  if (config.WORKSPACE_PROVISIONER === 'cp') {
    const secret = cpSharedSecretOf(config);
    if (!config.CP_UPSTREAM_URL || !config.ADMIN_TOKEN || !secret || !config.MOLECULE_ORG_ID) throw new Error('WORKSPACE_PROVISIONER=cp needs CP_UPSTREAM_URL, MOLECULE_ORG_ID, ADMIN_TOKEN and MOLECULE_CP_SHARED_SECRET');
    return new ControlPlaneWorkspaceProvisioner({
      cpUrl: config.CP_UPSTREAM_URL,
      secret,
      adminToken: config.ADMIN_TOKEN,
      orgId: config.MOLECULE_ORG_ID,
      pollIntervalMs: config.HEARTBEAT_INTERVAL_SECONDS * 1000,
      log: logger,
    });
  }
  return null;
}

export async function buildTenantApp(deps: TenantDeps): Promise<App> {
  const { config, db, logger } = deps;
  const { app } = await createBaseApp({
    logger,
    title: 'Molecule tenant server',
    description: 'One org: workspaces, org API keys, workspace tokens and the audit trail.' + IDEMPOTENCY_DESCRIPTION,
    version: TENANT_VERSION,
    securitySchemes: TENANT_SECURITY_SCHEMES,
    trustProxy: config.TRUST_PROXY,
    connections: connectionLimitsOf(config),
  });

  // Tier 1 asks the CP about this org by id; config refuses CP_UPSTREAM_URL without MOLECULE_ORG_ID.
  const sessionVerifier =
    deps.sessionVerifier !== undefined
      ? deps.sessionVerifier
      : config.CP_UPSTREAM_URL && config.MOLECULE_ORG_ID
        ? new SessionVerifier({ cpUpstreamUrl: config.CP_UPSTREAM_URL, orgId: config.MOLECULE_ORG_ID, log: logger })
        : null;
  const origins: TenantOrigins = { slug: config.MOLECULE_ORG_SLUG, tenantDomain: config.TENANT_DOMAIN, cpPublicUrl: config.CP_PUBLIC_URL };
  // Every background loop ticks here (GET /admin/liveness).
  const ticks = new LoopTicks();
  const auth = new TenantAuthenticator({ db, log: logger, adminToken: config.ADMIN_TOKEN, orgId: config.MOLECULE_ORG_ID, sessionVerifier, ticks });
  const auditWriter = new AuditWriter(auditDb(db), logger, { onTick: ticks.register('audit_writer') });
  const rateLimiter = deps.rateLimiter ?? new MemoryRateLimiter();
  const events = new EventBus(db, logger);
  const cipher = SecretCipher.fromConfig(config, logger);
  const provisioner = workspaceProvisionerFor(config, logger);
  const lifecycle = new WorkspaceLifecycle({
    db,
    log: logger,
    config,
    events,
    cipher,
    provisioner,
    ticks,
    // Runtimes are children on this machine: they reach the tenant on loopback at the port it listens on.
    platformUrl: () => {
      if (config.PLATFORM_URL) return config.PLATFORM_URL;
      const address = app.server.address();
      return typeof address === 'object' && address ? `http://127.0.0.1:${address.port}` : null;
    },
  });
  const streams = new EventStreamRegistry({
    db,
    log: logger,
    auth,
    sessionVerifier,
    ticks,
    limits: {
      maxTotal: config.EVENT_STREAMS_MAX,
      maxPerCredential: config.EVENT_STREAMS_PER_CREDENTIAL_MAX,
      maxPendingBytes: config.EVENT_STREAM_BUFFER_BYTES,
    },
  });
  // Built-in and MOLECULE_TEMPLATES_DIR templates into the database before anything is served or provisioned
  // (idempotent upserts: replicas booting together load each once). A failure is logged, never fatal: the database
  // keeps the set loaded before, and POST /admin/templates/refresh retries.
  try {
    const report = await refreshTemplates(db, { builtin: BUILTIN_TEMPLATES_DIR, extra: config.MOLECULE_TEMPLATES_DIR });
    if (report.skipped.length > 0) logger.warn({ skipped: report.skipped }, 'some templates could not be loaded');
    logger.info({ loaded: report.loaded, updated: report.updated }, 'templates loaded');
  } catch (err) {
    logger.error({ err }, 'templates could not be loaded at boot; POST /admin/templates/refresh retries');
  }
  // The plugin catalog (built-ins + MOLECULE_PLUGINS_DIR) is read once, here; a bad plugin is logged and skipped.
  pluginCatalog(config, logger);
  const controlPlane = deps.controlPlane !== undefined ? deps.controlPlane : ControlPlaneClient.fromConfig(config, logger);
  const callbacks = controlPlane ? new TenantCallbacks(controlPlane, auditDb(db), logger, config.AUDIT_ANCHOR_INTERVAL_SECONDS * 1000) : null;
  const channels = new ChannelDelivery({
    db,
    cipher,
    log: logger.child({ component: 'channels' }),
    events,
    policy: new NetworkPolicy(config.CHANNEL_ALLOWED_NETWORKS),
    pollMs: config.CHANNEL_DELIVERY_POLL_MS,
    timeoutMs: config.CHANNEL_DELIVERY_TIMEOUT_MS,
    maxAttempts: config.CHANNEL_DELIVERY_MAX_ATTEMPTS,
    backoffMs: config.CHANNEL_DELIVERY_BACKOFF_MS,
  });
  const ctx: TenantContext = { config, db, log: logger, auth, rateLimiter, auditWriter, events, streams, cipher, lifecycle, channels, callbacks, ticks };

  // The /cp/* proxy to the control plane sees its requests before TenantGuard: the CP authenticates them itself
  // (its session cookie), so they need no org header; only its allowlisted prefixes leave this process (README).
  if (config.CP_UPSTREAM_URL) await registerControlPlaneProxy(app, { upstream: config.CP_UPSTREAM_URL, log: logger });
  app.addHook('onRequest', tenantGuard(config.MOLECULE_ORG_ID, config.MOLECULE_ORG_SLUG));
  app.addHook('onResponse', async (request, reply) => {
    if (request.principal && !request.auditWritten) await auditWriter.enqueue(auditEventFor(request, reply.statusCode, reply.elapsedTime));
  });
  // Once listening, workspaces that were running before a restart are provisioned again.
  app.addHook('onListen', async () => {
    // The CP's readiness signal names the URL this process really listens on (PORT=0 included); sent in the background.
    if (callbacks) callbacks.listening(listeningUrl(app, config.HOST));
    await lifecycle.start();
    channels.start();
    // Stored events from before keyed value hashes get theirs (secrets/value-hash.ts). Never served meanwhile: the
    // bus drops the moved-aside hash from every payload it reads. A failure is retried at the next boot.
    await upgradeLegacyValueHashes(db, cipher, logger).catch((err: unknown) => logger.warn({ err }, 'could not upgrade stored secret value hashes; retried at the next start'));
  });
  // A stream never ends by itself, and `server.close()` waits for every open response: end them first.
  app.addHook('preClose', async () => {
    streams.shutdown();
    // `stopping`: one bounded try; it never holds shutdown for more than a second.
    await callbacks?.stopping();
  });
  app.addHook('onClose', async () => {
    // First: a send in flight records its result while the database is still open.
    await channels.close();
    await streams.close();
    await lifecycle.close();
    events.close();
    await auditWriter.close();
    // The final chain head, once every buffered audit row is written.
    await callbacks?.shutdownReport();
    await auth.close();
    if (!deps.rateLimiter) await rateLimiter.close();
  });

  const mount = (tier: keyof DomainRoutes) => DOMAINS.flatMap((d) => d[tier] ?? []) as RouteRegistrar[];
  // Idempotency-Key on every POST (issue 13): attached in each tier, after its authentication, before its handlers.
  const idempotency = new Idempotency({ store: new KyselyIdempotencyStore(idempotencyDb(db)), log: logger });

  // Tier: admin chain (org-wide routes and collections).
  await app.register(async (scope) => {
    idempotency.attach(scope as unknown as App);
    scope.addHook('onRoute', requirePermissionDeclared);
    scope.addHook('onRequest', adminAuthHook(auth, origins));
    // An approval-required key's DELETEs wait for a human, on every route of the tier (approvals/gate.ts).
    scope.addHook('preHandler', approvalRequiredDeleteHook(ctx));
    for (const register of mount('admin')) register(scope as unknown as App, ctx);
  });

  // Tier: admin chain bound to the :id workspace (a key confined elsewhere gets 404; workspace tokens only via tier 3).
  await app.register(async (scope) => {
    idempotency.attach(scope as unknown as App);
    scope.addHook('onRoute', requirePermissionDeclared);
    scope.addHook('onRequest', adminAuthHook(auth, origins, { bindToParam: 'id' }));
    // An approval-required key's DELETEs wait for a human, on every route of the tier (approvals/gate.ts).
    scope.addHook('preHandler', approvalRequiredDeleteHook(ctx));
    for (const register of mount('adminBound')) register(scope as unknown as App, ctx);
  });

  // Tier: workspace routes — the admin chain or that workspace's own token.
  await app.register(async (scope) => {
    idempotency.attach(scope as unknown as App);
    scope.addHook('onRoute', requirePermissionDeclared);
    scope.addHook('onRequest', workspaceAuthHook(auth, origins));
    // An approval-required key's DELETEs wait for a human, on every route of the tier (approvals/gate.ts).
    scope.addHook('preHandler', approvalRequiredDeleteHook(ctx));
    for (const register of mount('workspace')) register(scope as unknown as App, ctx);
  });

  // Tier: the runtime's own calls (TenantGuard-allowlisted); each handler checks the workspace's token itself.
  await app.register(async (scope) => {
    idempotency.attach(scope as unknown as App);
    for (const register of mount('runtime')) register(scope as unknown as App, ctx);
    // GET /ws authenticates in its handler (the admin chain, or a workspace's own token with X-Workspace-ID).
    webSocketEventsRoute(origins)(scope as unknown as App, ctx);
  });
  routeWebSocketUpgrades(app);

  // The org's web console (issue 14): `/` → `/app/`, its pages under /app, assets under /_console/.
  registerConsole(app, { pages: ['/app', '/app/*'], redirects: { '/': '/app/' }, ...(config.MOLECULE_ORG_SLUG ? { orgSlug: config.MOLECULE_ORG_SLUG } : {}) });

  return app;
}
