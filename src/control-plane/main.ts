import type { Logger } from 'pino';
import type { App } from '../core/http/app.js';
import { createLogger } from '../core/logger.js';
import { listenAndAnnounce } from '../core/http/serve.js';
import { createRateLimiter } from '../core/rate-limit.js';
import { buildControlPlaneApp } from './app.js';
import { loadControlPlaneConfig, type ControlPlaneConfig } from './config.js';
import { openControlPlaneDatabase } from './database.js';

export interface RunningControlPlane {
  app: App;
  url: string;
  config: ControlPlaneConfig;
  logger: Logger;
  stop(): Promise<void>;
}

/** Boots the control plane from an environment: config, its own database + migrations, app, listen. */
export async function startControlPlane(source: Record<string, string | undefined> = process.env): Promise<RunningControlPlane> {
  const config = loadControlPlaneConfig(source);
  const logger = createLogger({ name: 'molecule-cp', level: config.LOG_LEVEL });
  const database = await openControlPlaneDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.MOLECULE_DATA_DIR, poolSize: config.DATABASE_POOL_SIZE, log: logger });
  logger.info({ database: database.kind, location: database.location }, 'database ready');
  if (!config.CP_ADMIN_API_TOKEN) logger.warn('CP_ADMIN_API_TOKEN is not set: every /api/v1/admin/* route answers 401.');
  const rateLimiter = await createRateLimiter(config.REDIS_URL);
  const app = await buildControlPlaneApp({ config, db: database.db, logger, rateLimiter });
  const url = await listenAndAnnounce(app, logger, { port: config.PORT, host: config.HOST, logLevel: config.LOG_LEVEL });
  return {
    app,
    url,
    config,
    logger,
    // In-flight requests finish and buffered audit rows are flushed (onClose) before the database goes away.
    async stop() {
      await app.close();
      await rateLimiter.close();
      await database.close();
    },
  };
}
