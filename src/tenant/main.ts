import type { Logger } from 'pino';
import { createLogger } from '../core/logger.js';
import { listenAndAnnounce } from '../core/http/serve.js';
import { createRateLimiter } from '../core/rate-limit.js';
import type { App } from '../core/http/app.js';
import { buildTenantApp } from './app.js';
import { loadTenantConfig, type TenantConfig } from './config.js';
import { openTenantDatabase } from './database.js';
import { controlPlaneClientFromEnv, withControlPlaneConfig } from './control-plane/boot-config.js';
import { ControlPlaneClient, withRetries } from './control-plane/client.js';

export interface RunningTenant {
  app: App;
  url: string;
  config: TenantConfig;
  logger: Logger;
  stop(): Promise<void>;
}

/** Boots a tenant from an environment: config, database + migrations, app, listen. Owns nothing process-wide. */
export async function startTenant(source: Record<string, string | undefined> = process.env): Promise<RunningTenant> {
  // A CP-provisioned tenant first asks its control plane for the rest of its environment (allowlisted keys only;
  // what the operator set wins), then parses it. Until then it logs at the level it was given, if a valid one.
  const bootLevel = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(source['LOG_LEVEL'] ?? '') ? (source['LOG_LEVEL'] as string) : 'info';
  const bootLogger = createLogger({ name: 'molecule-tenant', level: bootLevel });
  const bootClient = controlPlaneClientFromEnv(source, bootLogger);
  const environment = await withControlPlaneConfig(source, bootClient, bootLogger);
  if (source === process.env) for (const [key, value] of Object.entries(environment)) if (process.env[key] === undefined && value !== undefined) process.env[key] = value;
  const config = loadTenantConfig(environment);
  const logger = createLogger({ name: 'molecule-tenant', level: config.LOG_LEVEL });
  if (config.MOLECULE_ENV === 'production' && !config.SECRETS_ENCRYPTION_KEY) {
    throw new Error('SECRETS_ENCRYPTION_KEY is required in production: set it to 32 random bytes, base64 (openssl rand -base64 32)');
  }
  // `booting`, before migrations (which can take a while): best effort, a few seconds at most.
  const controlPlane = ControlPlaneClient.fromConfig(config, logger);
  if (controlPlane) {
    await withRetries(() => controlPlane.call('POST', '/tenants/boot-event', { stage: 'booting' }, 2_000), 4_000).catch((err: unknown) =>
      logger.warn({ err }, 'boot event `booting` not delivered to the control plane'),
    );
  }
  const database = await openTenantDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MOLECULE_DATA_DIR, poolSize: config.DATABASE_POOL_SIZE, log: logger });
  logger.info({ database: database.kind, location: database.location }, 'database ready');
  if (!config.ADMIN_TOKEN) {
    logger.warn(
      'ADMIN_TOKEN is not set: until the first org API key is minted, admin routes are open to anyone who can reach this port (lazy bootstrap, tier 0). Set ADMIN_TOKEN or mint a key now.',
    );
  }
  const rateLimiter = await createRateLimiter(config.REDIS_URL);
  const app = await buildTenantApp({ config, db: database.db, logger, rateLimiter, controlPlane });
  const url = await listenAndAnnounce(app, logger, { port: config.PORT, host: config.HOST, logLevel: config.LOG_LEVEL });
  return {
    app,
    url,
    config,
    logger,
    // Order matters: stop accepting and let in-flight requests finish; the app's onClose flushes buffered audit
    // rows and last-used times; only then may the database go away.
    async stop() {
      await app.close();
      await rateLimiter.close();
      await database.close();
    },
  };
}
