import type { Logger } from 'pino';
import type { App } from '../core/http/app.js';
import { createLogger } from '../core/logger.js';
import { listenAndAnnounce } from '../core/http/serve.js';
import { createRateLimiter } from '../core/rate-limit.js';
import path from 'node:path';
import type { Kysely } from 'kysely';
import { ConfigError } from '../core/config.js';
import type { SecretCipher } from '../core/crypto/cipher.js';
import { buildControlPlaneApp, controlPlaneCipher, DEFAULT_EDGE_TENANT_DOMAIN } from './app.js';
import type { ControlPlaneSchema } from './db/schema.js';
import { TenantAdminTokens } from './provisioning/admin-tokens.js';
import { LocalProcessTenantProvisioner } from './provisioning/local-process.js';
import { loadControlPlaneConfig, type ControlPlaneConfig } from './config.js';
import { openControlPlaneDatabase } from './database.js';

export interface RunningControlPlane {
  app: App;
  /** The CP's own database and keyring (the launcher, `up`, reads the demo org's state through them). */
  db: Kysely<ControlPlaneSchema>;
  cipher: SecretCipher;
  url: string;
  config: ControlPlaneConfig;
  logger: Logger;
  stop(): Promise<void>;
}

/** TENANT_ENV_<NAME>=value in the CP's environment is passed to every tenant as <NAME>=value (operator tunables). */
export function tenantEnvFrom(source: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(source)) if (k.startsWith('TENANT_ENV_') && k.length > 11 && v !== undefined) out[k.slice(11)] = v;
  return out;
}

function localProcessProvisioner(
  config: ControlPlaneConfig,
  source: Record<string, string | undefined>,
  db: Kysely<ControlPlaneSchema>,
  cipher: SecretCipher,
  logger: Logger,
  controlPlaneUrl: () => string,
): LocalProcessTenantProvisioner {
  if (config.MOLECULE_DATA_DIR.startsWith('memory://')) {
    throw new ConfigError(['MOLECULE_DATA_DIR: TENANT_PROVISIONER=local-process keeps each tenant’s files under it; it must be a directory, not memory://']);
  }
  return new LocalProcessTenantProvisioner({
    db,
    cipher,
    adminTokens: new TenantAdminTokens(db, cipher),
    log: logger.child({ component: 'tenant-provisioner' }),
    dataDir: path.resolve(config.MOLECULE_DATA_DIR),
    serverAdminUrl: (config.TENANT_DATABASE_URL ?? config.DATABASE_URL)!,
    controlPlaneUrl,
    tenantHost: config.TENANT_HOST,
    readyTimeoutMs: config.TENANT_READY_TIMEOUT_SECONDS * 1000,
    shutdown: config.TENANT_SHUTDOWN,
    agentUidBase: config.TENANT_AGENT_UID_BASE,
    agentUidCount: config.TENANT_AGENT_UID_COUNT,
    tenantEnv: { MOLECULE_ENV: config.MOLECULE_ENV, LOG_LEVEL: config.LOG_LEVEL, TENANT_DOMAIN: config.TENANT_DOMAIN ?? DEFAULT_EDGE_TENANT_DOMAIN },
    extraTenantEnv: tenantEnvFrom(source),
  });
}

/** Boots the control plane from an environment: config, its own database + migrations, app, listen. */
export async function startControlPlane(source: Record<string, string | undefined> = process.env): Promise<RunningControlPlane> {
  const config = loadControlPlaneConfig(source);
  const logger = createLogger({ name: 'molecule-cp', level: config.LOG_LEVEL });
  const database = await openControlPlaneDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MOLECULE_DATA_DIR, poolSize: config.DATABASE_POOL_SIZE, log: logger });
  logger.info({ database: database.kind, location: database.location }, 'database ready');
  if (!config.CP_ADMIN_API_TOKEN) logger.warn('CP_ADMIN_API_TOKEN is not set: every /api/v1/admin/* route answers 401.');
  const rateLimiter = await createRateLimiter(config.REDIS_URL);
  const cipher = controlPlaneCipher(config, logger);
  let loopbackUrl = '';
  const provisioner = config.TENANT_PROVISIONER === 'local-process' ? localProcessProvisioner(config, source, database.db, cipher, logger, () => loopbackUrl) : undefined;
  const app = await buildControlPlaneApp({ config, db: database.db, logger, rateLimiter, cipher, ...(provisioner ? { provisioner } : {}) });
  const url = await listenAndAnnounce(app, logger, { port: config.PORT, host: config.HOST, logLevel: config.LOG_LEVEL });
  // Tenants call back on loopback, whatever interface the CP was bound to for users.
  const bound = new URL(url);
  if (bound.hostname === '0.0.0.0' || bound.hostname === '[::]') bound.hostname = '127.0.0.1';
  loopbackUrl = bound.origin;
  // Adopt the tenants a previous CP left running, restart the ones that should run, resume interrupted provisioning.
  await provisioner?.start();
  return {
    app,
    db: database.db,
    cipher,
    url,
    config,
    logger,
    // In-flight requests finish and buffered audit rows are flushed (onClose) before the database goes away.
    async stop() {
      // Tenants first, while the CP still answers: their last audit anchor and `stopping` event reach it.
      await provisioner?.close();
      await app.close();
      await rateLimiter.close();
      await database.close();
    },
  };
}
