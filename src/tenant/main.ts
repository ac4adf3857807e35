import type { Logger } from 'pino';
import { createLogger } from '../core/logger.js';
import { listenAndAnnounce } from '../core/http/serve.js';
import { createRateLimiter } from '../core/rate-limit.js';
import type { App } from '../core/http/app.js';
import { buildTenantApp } from './app.js';
import { loadTenantConfig, type TenantConfig } from './config.js';
import { openTenantDatabase } from './database.js';

export interface RunningTenant {
  app: App;
  url: string;
  config: TenantConfig;
  logger: Logger;
  stop(): Promise<void>;
}

/** Boots a tenant from an environment: config, database + migrations, app, listen. Owns nothing process-wide. */
export async function startTenant(source: Record<string, string | undefined> = process.env): Promise<RunningTenant> {
  const config = loadTenantConfig(source);
  const logger = createLogger({ name: 'molecule-tenant', level: config.LOG_LEVEL });
  if (config.MOLECULE_ENV === 'production' && !config.SECRETS_ENCRYPTION_KEY) {
    throw new Error('SECRETS_ENCRYPTION_KEY is required in production: set it to 32 random bytes, base64 (openssl rand -base64 32)');
  }
  const database = await openTenantDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MOLECULE_DATA_DIR, poolSize: config.DATABASE_POOL_SIZE, log: logger });
  logger.info({ database: database.kind, location: database.location }, 'database ready');
  if (!config.ADMIN_TOKEN) {
    logger.warn(
      'ADMIN_TOKEN is not set: until the first org API key is minted, admin routes are open to anyone who can reach this port (lazy bootstrap, tier 0). Set ADMIN_TOKEN or mint a key now.',
    );
  }
  const rateLimiter = await createRateLimiter(config.REDIS_URL);
  const app = await buildTenantApp({ config, db: database.db, logger, rateLimiter });
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
