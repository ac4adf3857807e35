import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Where a bench part registers what to undo (bench/run.ts `Cleanup`, or a part's own steps). */
export interface CleanupSteps {
  add(name: string, fn: () => Promise<void>): void;
}

async function withAdmin<T>(adminDatabaseUrl: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/**
 * A fresh database for one bench part on the server `adminDatabaseUrl` names (`molecule_bench_<random>_<tag>`),
 * dropped at cleanup; returns its URL.
 */
export async function createBenchDatabase(adminDatabaseUrl: string, tag: string, cleanup: CleanupSteps): Promise<string> {
  const dbName = `molecule_bench_${randomBytes(6).toString('hex')}_${tag}`;
  await withAdmin(adminDatabaseUrl, (c) => c.query(`create database ${dbName}`));
  cleanup.add(`drop database ${dbName}`, async () => {
    await withAdmin(adminDatabaseUrl, (c) => c.query(`drop database if exists ${dbName} with (force)`));
  });
  const url = new URL(adminDatabaseUrl);
  url.pathname = `/${dbName}`;
  return url.toString();
}
