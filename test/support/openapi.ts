import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/core/db/index.js';
import { createLogger } from '../../src/core/logger.js';
import { buildTenantApp } from '../../src/tenant/app.js';
import { loadTenantConfig } from '../../src/tenant/config.js';
import type { TenantSchema } from '../../src/tenant/db/schema.js';

export const TENANT_SNAPSHOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../openapi/tenant.json');

/**
 * The tenant's OpenAPI document as the running app generates it. The document depends only on route schemas, so
 * the app is built over a lazy PostgreSQL pool that is never asked a query (pg connects on first use).
 */
export async function generateTenantOpenApi(): Promise<unknown> {
  const database = await openDatabase<TenantSchema>({ databaseUrl: 'postgres://openapi@127.0.0.1:9/never-connected' });
  const app = await buildTenantApp({
    config: loadTenantConfig({ ADMIN_TOKEN: 'x'.repeat(32), LOG_LEVEL: 'silent' }),
    db: database.db,
    logger: createLogger({ name: 'openapi', level: 'silent' }),
  });
  await app.ready();
  const doc = app.swagger();
  await app.close();
  await database.close();
  return JSON.parse(JSON.stringify(doc)) as unknown;
}

export function readTenantSnapshot(): unknown {
  return JSON.parse(readFileSync(TENANT_SNAPSHOT, 'utf8')) as unknown;
}
