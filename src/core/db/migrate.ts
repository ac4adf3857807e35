import path from 'node:path';
import { sql, type Kysely } from 'kysely';
import { openDatabase, type Database } from './index.js';
import { Backoff, isDatastoreOutage } from './outage.js';
import { crc32 } from '../credentials/format.js';

/**
 * A forward-only migration: an id that sorts by time (`YYYYMMDDHHMM_name`) and the statements to run, in one
 * transaction. Statements are idempotent DDL (`if not exists`) so a half-applied history can be re-run.
 */
export interface Migration {
  id: string;
  statements: string[];
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: number;
}

/**
 * Runs pending migrations under a session-level advisory lock, so replicas booting together never race: the
 * second waits for the first and then finds nothing to do. `scope` names the database family ("tenant", "cp").
 */
export async function migrate(db: Kysely<unknown>, scope: string, migrations: readonly Migration[]): Promise<MigrationReport> {
  const ids = migrations.map((m) => m.id);
  if (new Set(ids).size !== ids.length) throw new Error(`duplicate migration id in ${scope}`);
  if ([...ids].sort().join() !== ids.join()) throw new Error(`${scope} migrations must be listed in id order`);
  const lockKey = crc32(`molecule-migrations:${scope}`);
  return db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${lockKey})`.execute(conn);
    try {
      await sql`create table if not exists schema_migrations (
        id text primary key,
        scope text not null,
        applied_at timestamptz not null default now()
      )`.execute(conn);
      const done = await sql<{ id: string }>`select id from schema_migrations where scope = ${scope}`.execute(conn);
      const appliedIds = new Set(done.rows.map((r) => r.id));
      const applied: string[] = [];
      for (const m of migrations) {
        if (appliedIds.has(m.id)) continue;
        await conn.transaction().execute(async (trx) => {
          for (const statement of m.statements) await sql.raw(statement).execute(trx);
          await sql`insert into schema_migrations (id, scope) values (${m.id}, ${scope})`.execute(trx);
        });
        applied.push(m.id);
      }
      return { applied, alreadyApplied: appliedIds.size };
    } finally {
      await sql`select pg_advisory_unlock(${lockKey})`.execute(conn);
    }
  });
}

/** How long a booting service waits for its database to accept connections before it gives up. */
export const BOOT_WAIT_MS = 60_000;

export interface BootLog {
  warn(obj: unknown, msg: string): void;
}

/**
 * Opens a service's own database — PostgreSQL when `databaseUrl` is set, else PGlite in `<dataDir>/<subdir>` — and
 * brings its schema up to date. A database that is not up yet (or restarts while the migrations run: the advisory
 * lock dies with its session, and every migration is one transaction) is waited for with backoff, up to
 * `bootWaitMs`; then, or on any other failure, the database is closed again instead of leaked.
 */
export async function openMigratedDatabase<Schema>(
  opts: { databaseUrl?: string | undefined; dataDir: string; poolSize?: number; log?: BootLog | undefined; bootWaitMs?: number },
  service: { subdir: string; scope: string; migrations: readonly Migration[] },
): Promise<Database<Schema>> {
  const dataDir = opts.dataDir.startsWith('memory://') ? opts.dataDir : path.join(opts.dataDir, service.subdir);
  const database = await openDatabase<Schema>({ databaseUrl: opts.databaseUrl, dataDir, poolSize: opts.poolSize ?? 10, log: opts.log });
  const giveUpAt = Date.now() + (opts.bootWaitMs ?? BOOT_WAIT_MS);
  const backoff = new Backoff(200, 5000);
  try {
    for (let attempt = 1; ; attempt++) {
      try {
        await migrate(database.db as never, service.scope, service.migrations);
        break;
      } catch (err) {
        const delay = backoff.next();
        if (database.kind !== 'postgres' || !isDatastoreOutage(err) || Date.now() + delay > giveUpAt) throw err;
        opts.log?.warn({ err: { message: (err as Error).message }, attempt, location: database.location, retry_in_ms: delay }, 'database not reachable yet; waiting');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  } catch (err) {
    await database.close();
    throw err;
  }
  return database;
}
