import path from 'node:path';
import { openDatabase, type Database } from '../core/db/index.js';
import { migrate } from '../core/db/migrate.js';
import type { TenantSchema } from './db/schema.js';
import { tenantMigrations } from './db/migrations.js';

/** Opens the tenant's own database (PostgreSQL or the embedded PGlite) and brings its schema up to date. */
export async function openTenantDatabase(opts: { databaseUrl?: string | undefined; dataDir: string; poolSize?: number }): Promise<Database<TenantSchema>> {
  const dataDir = opts.dataDir.startsWith('memory://') ? opts.dataDir : path.join(opts.dataDir, 'tenant');
  const database = await openDatabase<TenantSchema>({ databaseUrl: opts.databaseUrl, dataDir, poolSize: opts.poolSize ?? 10 });
  try {
    await migrate(database.db as never, 'tenant', tenantMigrations);
  } catch (err) {
    await database.close();
    throw err;
  }
  return database;
}
