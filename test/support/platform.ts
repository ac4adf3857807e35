/**
 * Helpers for the end-to-end tests of the whole platform (real `up` and `cp` binaries, real tenant processes):
 * finding processes through /proc (tenants are detached, so they are found by the identity in their environment,
 * not by parentage), waiting on conditions with deadlines, HTTP with an explicit Host header (the edge routes
 * `<slug>.localhost:<port>`, which the resolver need not know), and a query on a PostgreSQL database.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import pg from 'pg';

export interface Proc {
  pid: number;
  /** The start time in clock ticks since boot (/proc/<pid>/stat field 22): a reused pid is another process. */
  start: string;
  cmd: string;
}

function stat(pid: number): { ppid: number; start: string } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), start: fields[19]! };
  } catch {
    return null;
  }
}

/** The process with this pid now, or null. */
export function procOf(pid: number): Proc | null {
  const s = stat(pid);
  if (!s) return null;
  try {
    return { pid, start: s.start, cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() };
  } catch {
    return null;
  }
}

function pids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

/** True while this very process (same pid AND same start time) runs; a zombie counts as gone. */
export function stillRunning(p: Proc): boolean {
  const s = stat(p.pid);
  if (!s || s.start !== p.start) return false;
  try {
    return !/^State:\s*Z/m.test(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Every live process below the given ones (ppid chain). */
export function descendants(...roots: number[]): Proc[] {
  const parent = new Map<number, number>();
  for (const pid of pids()) {
    const s = stat(pid);
    if (s) parent.set(pid, s.ppid);
  }
  const rootSet = new Set(roots);
  const found: Proc[] = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p !== undefined && p > 1; p = parent.get(p)) {
      if (rootSet.has(p)) {
        const info = procOf(pid);
        if (info) found.push(info);
        break;
      }
    }
  }
  return found;
}

/**
 * The tenant server processes of an org: `molecule-platform tenant` with `MOLECULE_TENANT_PROCESS=<org id>` in its
 * environment (what the local-process provisioner gives each one). Processes it starts (workspace runtimes) are not
 * counted, even if they inherited the variable.
 */
export function tenantProcesses(orgId: string): Proc[] {
  const entry = `MOLECULE_TENANT_PROCESS=${orgId}`;
  const found: Proc[] = [];
  for (const pid of pids()) {
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(entry)) continue;
    } catch {
      continue;
    }
    const info = procOf(pid);
    if (info && /molecule-platform\.js tenant$/.test(info.cmd) && stillRunning(info)) found.push(info);
  }
  return found;
}

/** SIGKILL to the org's tenant processes and everything below them; waits until they are gone. Never throws. */
export async function killTenants(orgIds: Iterable<string>): Promise<void> {
  const victims: Proc[] = [];
  for (const orgId of orgIds) {
    for (const t of tenantProcesses(orgId)) victims.push(t, ...descendants(t.pid));
  }
  await killAll(victims);
}

/** SIGKILL to each (still the same) process; waits up to 30 s until all are gone. Never throws. */
export async function killAll(victims: Proc[]): Promise<void> {
  for (const v of victims) {
    if (!stillRunning(v)) continue;
    try {
      process.kill(v.pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + 30_000;
  while (victims.some(stillRunning) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
}

/** Polls `check` until it returns something other than undefined/false; fails with `what` (and the last value) at the deadline. */
export async function until<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 120_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000} s (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of many shapes; each assertion names the fields it reads
  json: any;
}

/**
 * One HTTP request on loopback. `host` sets the Host header (e.g. `acme.localhost:<port>`) while the connection goes
 * to `url`'s address, as curl does for *.localhost. A JSON `body` is sent with its content type.
 */
export function http(method: string, url: string, opts: { host?: string; headers?: Record<string, string>; body?: unknown; timeoutMs?: number } = {}): Promise<Reply> {
  const u = new URL(url);
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (opts.host) headers['host'] = opts.host;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, method, headers, timeout: opts.timeoutMs ?? 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let json: unknown = null;
        try {
          json = text ? JSON.parse(text) : null;
        } catch {
          json = null;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** One query on a fresh connection (the test never holds a pool open on a database it drops). */
export async function query<R extends Record<string, unknown> = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Drops every database and role whose name starts with `prefix` (tenant leftovers of a failed test). Never throws. */
export async function dropTenantLeftovers(adminUrl: string, prefix: string): Promise<void> {
  try {
    const like = `${prefix.replace(/_/g, '\\_')}%`;
    for (const { datname } of await query<{ datname: string }>(adminUrl, 'select datname from pg_database where datname like $1', [like])) {
      await query(adminUrl, `drop database if exists "${datname}" with (force)`);
    }
    for (const { rolname } of await query<{ rolname: string }>(adminUrl, 'select rolname from pg_roles where rolname like $1', [like])) {
      await query(adminUrl, `drop role if exists "${rolname}"`);
    }
  } catch {
    // best effort: the server may be gone already
  }
}

/** Waits for `promise` up to `ms`, without a timer that keeps the test process alive afterwards. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
