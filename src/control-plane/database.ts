import path from 'node:path';
import { openDatabase, type Database } from '../core/db/index.js';
import { migrate } from '../core/db/migrate.js';
import { controlPlaneMigrations } from './db/migrations.js';
import type { ControlPlaneSchema } from './db/schema.js';

/** Opens the control plane's own database (PostgreSQL or the embedded PGlite) and brings its schema up to date. */
export async function openControlPlaneDatabase(opts: { databaseUrl?: string | undefined; dataDir: string; poolSize?: number }): Promise<Database<ControlPlaneSchema>> {
  const dataDir = opts.dataDir.startsWith('memory://') ? opts.dataDir : path.join(opts.dataDir, 'cp');
  const database = await openDatabase<ControlPlaneSchema>({ databaseUrl: opts.databaseUrl, dataDir, poolSize: opts.poolSize ?? 10 });
  try {
    await migrate(database.db as never, 'cp', controlPlaneMigrations);
  } catch (err) {
    await database.close();
    throw err;
  }
  return database;
}
