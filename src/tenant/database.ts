import type { Database } from '../core/db/index.js';
import { openMigratedDatabase, type BootLog } from '../core/db/migrate.js';
import type { TenantSchema } from './db/schema.js';
import { tenantMigrations } from './db/migrations.js';

/** Opens the tenant's own database (PostgreSQL or the embedded PGlite) and brings its schema up to date. */
export function openTenantDatabase(opts: { databaseUrl?: string | undefined; dataDir: string; poolSize?: number; log?: BootLog | undefined }): Promise<Database<TenantSchema>> {
  return openMigratedDatabase<TenantSchema>(opts, { subdir: 'tenant', scope: 'tenant', migrations: tenantMigrations });
}
