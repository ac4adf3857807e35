import type { Database } from '../core/db/index.js';
import { openMigratedDatabase, type BootLog } from '../core/db/migrate.js';
import { controlPlaneMigrations } from './db/migrations.js';
import type { ControlPlaneSchema } from './db/schema.js';

/** Opens the control plane's own database (PostgreSQL or the embedded PGlite) and brings its schema up to date. */
export function openControlPlaneDatabase(opts: { databaseUrl?: string | undefined; dataDir: string; poolSize?: number; log?: BootLog | undefined }): Promise<Database<ControlPlaneSchema>> {
  return openMigratedDatabase<ControlPlaneSchema>(opts, { subdir: 'cp', scope: 'cp', migrations: controlPlaneMigrations });
}
