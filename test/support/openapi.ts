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
 * Runs `inspect` over a service's app as built for inspection. Route schemas and the OpenAPI document need no data,
 * so the app is built over a lazy PostgreSQL pool that is never asked a query (pg connects on first use).
 */
async function inspectApp<S, T>(build: (db: import('kysely').Kysely<S>) => Promise<App>, inspect: (app: App) => T): Promise<T> {
  const database = await openDatabase<S>({ databaseUrl: 'postgres://openapi@127.0.0.1:9/never-connected' });
  try {
    const app = await build(database.db);
    await app.ready();
    const result = inspect(app);
    await app.close();
    return result;
  } finally {
    await database.close();
  }
}

const logger = () => createLogger({ name: 'openapi', level: 'silent' });

export function inspectTenantApp<T>(inspect: (app: App) => T): Promise<T> {
  return inspectApp<TenantSchema, T>((db) => buildTenantApp({ config: loadTenantConfig({ ADMIN_TOKEN: 'x'.repeat(32), LOG_LEVEL: 'silent' }), db, logger: logger() }), inspect);
}

export function inspectControlPlaneApp<T>(inspect: (app: App) => T): Promise<T> {
  return inspectApp<ControlPlaneSchema, T>(
    (db) => buildControlPlaneApp({ config: loadControlPlaneConfig({ CP_ADMIN_API_TOKEN: 'x'.repeat(32), LOG_LEVEL: 'silent' }), db, logger: logger() }),
    inspect,
  );
}

const documentOf = (app: App): unknown => JSON.parse(JSON.stringify(app.swagger())) as unknown;

export function generateTenantOpenApi(): Promise<unknown> {
  return inspectTenantApp(documentOf);
}

export function generateControlPlaneOpenApi(): Promise<unknown> {
  return inspectControlPlaneApp(documentOf);
}

export function readSnapshot(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}
