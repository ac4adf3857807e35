import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildControlPlaneApp } from '../../src/control-plane/app.js';
import { loadControlPlaneConfig } from '../../src/control-plane/config.js';
import type { ControlPlaneSchema } from '../../src/control-plane/db/schema.js';
import { openDatabase } from '../../src/core/db/index.js';
import type { App } from '../../src/core/http/app.js';
import { createLogger } from '../../src/core/logger.js';
import { buildTenantApp } from '../../src/tenant/app.js';
import { loadTenantConfig } from '../../src/tenant/config.js';
import type { TenantSchema } from '../../src/tenant/db/schema.js';

const SNAPSHOT_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../openapi');
export const TENANT_SNAPSHOT = path.join(SNAPSHOT_DIR, 'tenant.json');
export const CONTROL_PLANE_SNAPSHOT = path.join(SNAPSHOT_DIR, 'control-plane.json');

/**
 * A service's OpenAPI document as the running app generates it. The document depends only on route schemas, so the
 * app is built over a lazy PostgreSQL pool that is never asked a query (pg connects on first use).
 */
async function documentOf<S>(build: (db: import('kysely').Kysely<S>) => Promise<App>): Promise<unknown> {
  const database = await openDatabase<S>({ databaseUrl: 'postgres://openapi@127.0.0.1:9/never-connected' });
  const app = await build(database.db);
  await app.ready();
  const doc = app.swagger();
  await app.close();
  await database.close();
  return JSON.parse(JSON.stringify(doc)) as unknown;
}

const logger = () => createLogger({ name: 'openapi', level: 'silent' });

export function generateTenantOpenApi(): Promise<unknown> {
  return documentOf<TenantSchema>((db) => buildTenantApp({ config: loadTenantConfig({ ADMIN_TOKEN: 'x'.repeat(32), LOG_LEVEL: 'silent' }), db, logger: logger() }));
}

export function generateControlPlaneOpenApi(): Promise<unknown> {
  return documentOf<ControlPlaneSchema>((db) =>
    buildControlPlaneApp({ config: loadControlPlaneConfig({ CP_ADMIN_API_TOKEN: 'x'.repeat(32), LOG_LEVEL: 'silent' }), db, logger: logger() }),
  );
}

export function readSnapshot(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}
