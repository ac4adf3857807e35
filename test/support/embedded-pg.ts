/**
 * A PostgreSQL server of the test's own: the platform's embedded server (src/core/db/embedded-server.ts) on a data
 * directory in a temp folder, so a test may stop, restart and kill -9 it without touching the shared server every
 * other suite uses. `close()` stops it and removes the folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { EmbeddedPostgresServer, accepting } from '../../src/core/db/embedded-server.js';

export { accepting };

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

export async function startEmbeddedPg(): Promise<EmbeddedPg> {
  const root = mkdtempSync(path.join(tmpdir(), 'molecule-embedded-pg-'));
  let server: EmbeddedPostgresServer;
  try {
    server = await EmbeddedPostgresServer.start({ dataDir: root });
  } catch (err) {
    rmSync(root, { recursive: true, force: true });
    throw err;
  }
  // The port is pinned after the first start: a restart must come back where the clients point.
  const port = server.port;
  const url = (database: string) => server.url(database);

  async function waitUntilAccepting(deadlineMs = 60_000): Promise<number> {
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline) {
      if (await accepting(url('postgres'))) return Date.now();
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`embedded PostgreSQL not accepting connections within ${deadlineMs} ms`);
  }

  return {
    port,
    url,
    async createDatabase(name) {
      await server.ensureDatabase(name);
    },
    stop: () => server.stop(),
    start: () => server.start(),
    async kill9() {
      const pid = server.pid;
      if (pid === undefined) return;
      process.kill(pid, 'SIGKILL');
      const deadline = Date.now() + 60_000;
      while (server.pid !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
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
