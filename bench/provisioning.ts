import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createBenchDatabase } from './database.js';
import { EmbeddedPostgresServer } from '../src/core/db/embedded-server.js';
import { dropTenantDatabase } from '../src/core/db/tenant-databases.js';
import type { InterleavedLoadContext } from './interleaved.js';
import type { LoadSummary } from './protocol.js';
import { fmt, interleavedRatio, median, rate, type InterleavedRatio } from './stats.js';
import { freePort, spawnControlPlane, type ServerProcess } from './tenant-process.js';

/**
 * The platform's part of `npm run bench` (BENCH_PARTS=provisioning runs it alone): what issue 9 promises of
 * `TENANT_PROVISIONER=local-process`, measured on a real `molecule-platform cp` child process, once on the embedded
 * PostgreSQL server (started by the benchmark, as `npm start` starts it) and once on the real PostgreSQL server:
 *   1. org create → tenant ready: ORGS orgs created one at a time through POST /api/v1/admin/orgs, each timed from
 *      the request to the first GET /api/v1/orgs/:slug/instance (polled every POLL_MS) that says `running`;
 *   2. the RSS of each idle tenant process (VmRSS of org_instances.pid, checked to be that org's tenant), once when it
 *      is seen ready and again after IDLE_SECONDS with all ORGS tenants up;
 *   3. on PostgreSQL only: throughput through the edge (Host `<slug>.localhost:<cp port>`) over the same request sent
 *      straight to the tenant's port, for GET /workspaces (org key) and GET /health, in alternating windows (ABBA).
 * Then the orgs are deleted through the API (the tenants stopped, their databases dropped) and the CP stopped.
 * Targets are printed beside the figures; nothing here fails on a figure.
 */

export interface ProvisioningBenchContext extends InterleavedLoadContext {
  bin: string;
  host: string;
  adminDatabaseUrl: string;
  cleanup: { add(name: string, fn: () => Promise<void>): void };
}

export const PROVISIONING_TARGETS = { readyPostgresMs: 1000, readyEmbeddedMs: 1500, idleRssMiB: 80, edgeOverDirect: 0.8 } as const;

const ORGS = 10;
const POLL_MS = 20;
const IDLE_SECONDS = 5;
const READY_TIMEOUT_MS = 120_000;
const PRIME_SECONDS = 3;

type Backend = 'embedded' | 'postgres';

export interface OrgSample {
  slug: string;
  orgId: string;
  /** POST /admin/orgs sent → first lookup answering instance_status running. */
  readyMs: number;
  /** From the CP's own rows: org created_at → instance started_at (port, role, database, admin token, spawn). */
  prepareMs: number | null;
  /** started_at → the instance row marked running (the tenant boots, migrates, listens, calls back; /health). */
  bootMs: number | null;
  pid: number;
  rssReadyMiB: number;
  rssIdleMiB: number;
}

export interface BackendFigures {
  backend: Backend;
  server: string;
  /** Embedded: initdb + start of the server; postgres: null (already running). */
  serverStartMs: number | null;
  cpReadyMs: number;
  orgs: OrgSample[];
  readyMs: Stats;
  prepareMs: Stats | null;
  bootMs: Stats | null;
  rssReadyMiB: Stats;
  rssIdleMiB: Stats;
  deleteMs: Stats;
  warnings: string[];
}

export interface Stats {
  median: number;
  p90: number;
  min: number;
  max: number;
}

export interface EdgeWindow {
  round: number;
  position: number;
  measured: LoadSummary;
  warmup: LoadSummary | null;
}

export interface EdgeScenario {
  id: string;
  name: string;
  path: string;
  via: 'edge' | 'direct';
  responseBodyBytes: number;
  measured: LoadSummary;
  windows: EdgeWindow[];
}

export interface EdgeFigures {
  backend: Backend;
  slug: string;
  scenarios: EdgeScenario[];
  ratios: InterleavedRatio[];
  roundOrder: string[][];
  windowSeconds: number;
}

export interface ProvisioningFigures {
  orgsPerBackend: number;
  pollMs: number;
  idleSeconds: number;
  backends: BackendFigures[];
  edge: EdgeFigures | null;
  targets: typeof PROVISIONING_TARGETS;
  notes: string[];
}

function stats(xs: number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { median: median(s), p90: s[Math.min(s.length - 1, Math.ceil(s.length * 0.9) - 1)]!, min: s[0]!, max: s[s.length - 1]! };
}

/** Steps run once, in reverse order, whether the part ends normally or the whole run is cleaning up. */
class Steps {
  private readonly steps: { name: string; fn: () => Promise<void> }[] = [];
  private running: Promise<void> | null = null;
  add(name: string, fn: () => Promise<void>) {
    this.steps.push({ name, fn });
  }
  run(): Promise<void> {
    this.running ??= (async () => {
      const failures: string[] = [];
      for (const step of [...this.steps].reverse()) {
        try {
          await step.fn();
        } catch (err) {
          failures.push(`${step.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      if (failures.length > 0) throw new Error(failures.join('; '));
    })();
    return this.running;
  }
}

interface HttpResult {
  status: number;
  text: string;
  setCookie: string[];
}

async function http(method: string, url: string, headers: Record<string, string>, body?: unknown): Promise<HttpResult> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  return { status: res.status, text: await res.text(), setCookie: res.headers.getSetCookie() };
}

/** fetch() will not send a Host of our choosing; the edge is addressed by Host, so this goes through node:http. */
function hostRequest(method: string, url: string, host: string, headers: Record<string, string>, body?: unknown): Promise<HttpResult> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method, headers: { ...headers, host, ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}) }, timeout: 30_000 },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, setCookie: [] }));
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} (Host ${host}) timed out`)));
    req.end(payload);
  });
}

function json(what: string, expected: number, r: HttpResult): Record<string, unknown> {
  if (r.status !== expected) throw new Error(`${what} answered ${r.status}, expected ${expected}: ${r.text.slice(0, 300)}`);
  const body: unknown = JSON.parse(r.text);
  if (typeof body !== 'object' || body === null) throw new Error(`${what} answered a non-object: ${r.text.slice(0, 300)}`);
  return body as Record<string, unknown>;
}

/** VmRSS of `pid` in MiB, after checking from its environment that it is the tenant process of `orgId`. */
function tenantRssMiB(pid: number, orgId: string): number {
  const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  if (!environ.includes(`MOLECULE_TENANT_PROCESS=${orgId}`)) throw new Error(`pid ${pid} is not the tenant process of org ${orgId}`);
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmRSS:'));
  const kb = Number(/(\d+)\s*kB/.exec(line ?? '')?.[1]);
  if (!Number.isFinite(kb)) throw new Error(`no VmRSS for pid ${pid}`);
  return kb / 1024;
}

function stillTenant(pid: number, orgId: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`MOLECULE_TENANT_PROCESS=${orgId}`);
  } catch {
    return false;
  }
}

interface InstanceRow {
  pid: number | null;
  url: string | null;
  database_name: string | null;
  created_at: Date;
  started_at: Date | null;
  running_at: Date;
}

async function instanceRow(client: pg.Client, orgId: string): Promise<InstanceRow> {
  const row = (
    await client.query<InstanceRow>(
      `select i.pid, i.url, i.database_name, o.created_at, i.started_at, i.updated_at as running_at
         from org_instances i join organizations o on o.id = i.org_id where o.id = $1`,
      [orgId],
    )
  ).rows[0];
  if (!row) throw new Error(`org ${orgId} has no instance row`);
  return row;
}

// ---------------------------------------------------------------------------------------------------------------

interface RunningPlatform {
  backend: Backend;
  server: string;
  serverStartMs: number | null;
  cp: ServerProcess;
  cpReadyMs: number;
  baseUrl: string;
  port: number;
  adminToken: string;
  db: pg.Client;
  steps: Steps;
  /** Tenant pids and database names seen, for the cleanup should the API delete not happen. */
  seen: Map<string, { pid: number | null; database: string | null }>;
  tenantServerUrl: string;
}

async function startPlatform(ctx: ProvisioningBenchContext, backend: Backend): Promise<RunningPlatform> {
  const steps = new Steps();
  ctx.cleanup.add(`${backend}: platform cleanup`, () => steps.run());
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `molecule-bench-${backend}-`));
  steps.add(`remove ${dataDir}`, async () => rmSync(dataDir, { recursive: true, force: true }));
  let cpDatabaseUrl: string;
  let tenantServerUrl: string;
  let server: string;
  let serverStartMs: number | null = null;
  if (backend === 'embedded') {
    const t0 = performance.now();
    const embedded = await EmbeddedPostgresServer.start({ dataDir });
    serverStartMs = performance.now() - t0;
    steps.add('stop the embedded PostgreSQL server', () => embedded.stop());
    cpDatabaseUrl = await embedded.ensureDatabase('molecule_cp');
    tenantServerUrl = embedded.adminUrl;
    server = `embedded PostgreSQL (initdb + start ${fmt(serverStartMs, 0)} ms, port ${embedded.port})`;
  } else {
    cpDatabaseUrl = await createBenchDatabase(ctx.adminDatabaseUrl, 'prov', steps);
    tenantServerUrl = ctx.adminDatabaseUrl;
    const url = new URL(cpDatabaseUrl);
    server = `PostgreSQL at ${url.host} (CP database ${url.pathname.slice(1)})`;
  }

  // Whatever the API delete did not remove: tenant databases and roles, then any tenant process still alive.
  const seen = new Map<string, { pid: number | null; database: string | null }>();
  steps.add('drop leftover tenant databases', async () => {
    for (const { database } of seen.values()) if (database) await dropTenantDatabase(tenantServerUrl, database);
  });
  steps.add('stop leftover tenant processes', async () => {
    for (const [orgId, { pid }] of seen) {
      if (pid === null || !stillTenant(pid, orgId)) continue;
      process.kill(pid, 'SIGTERM');
      const deadline = Date.now() + 15_000;
      while (stillTenant(pid, orgId) && Date.now() < deadline) await sleep(50);
      if (stillTenant(pid, orgId)) process.kill(pid, 'SIGKILL');
    }
  });

  const port = await freePort(ctx.host);
  const adminToken = `cp-admin-${randomBytes(24).toString('base64url')}`;
  const t0 = performance.now();
  const cp = spawnControlPlane({
    bin: ctx.bin,
    host: ctx.host,
    port,
    readyTimeoutMs: 60_000,
    env: {
      PATH: process.env['PATH'] ?? '',
      ...(process.env['HOME'] ? { HOME: process.env['HOME'] } : {}),
      HOST: ctx.host,
      PORT: String(port),
      DATABASE_URL: cpDatabaseUrl,
      MOLECULE_DATA_DIR: dataDir,
      TENANT_PROVISIONER: 'local-process',
      TENANT_DATABASE_URL: tenantServerUrl,
      TENANT_SHUTDOWN: 'stop',
      CP_ADMIN_API_TOKEN: adminToken,
      SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      MOLECULE_ENV: 'production',
      LOG_LEVEL: 'warn',
      // The readiness poll is the public lookup, 50 times a second; its anti-enumeration limit is not measured here.
      INSTANCE_LOOKUP_LIMIT: '100000',
    },
  });
  steps.add('stop the control plane', async () => {
    const { code, signal } = await cp.stop();
    if (code !== 0) throw new Error(`the control plane exited with code ${code} (signal ${signal}) on SIGTERM:\n${cp.tail()}`);
  });
  const baseUrl = await cp.ready;
  const cpReadyMs = performance.now() - t0;
  const db = new pg.Client({ connectionString: cpDatabaseUrl });
  await db.connect();
  steps.add('close the CP database connection', () => db.end());
  return { backend, server, serverStartMs, cp, cpReadyMs, baseUrl, port, adminToken, db, steps, seen, tenantServerUrl };
}

async function untilRunning(baseUrl: string, slug: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const body = json(`GET /orgs/${slug}/instance`, 200, await http('GET', `${baseUrl}/api/v1/orgs/${slug}/instance`, {}));
    if (body['instance_status'] === 'running') return;
    if (body['instance_status'] === 'failed' || body['status'] === 'failed') throw new Error(`org ${slug}: provisioning failed: ${JSON.stringify(body)}`);
    if (Date.now() > deadline) throw new Error(`org ${slug} not running within ${READY_TIMEOUT_MS} ms: ${JSON.stringify(body)}`);
    await sleep(POLL_MS);
  }
}

interface Owner {
  userId: string;
  cookie: string;
}

async function signupOwner(baseUrl: string): Promise<Owner> {
  const email = `owner-${randomBytes(4).toString('hex')}@bench.example`;
  const r = await http('POST', `${baseUrl}/api/v1/auth/signup`, {}, { email, password: `bench-${randomBytes(12).toString('base64url')}`, name: 'Bench owner' });
  const body = json('signup', 201, r);
  const cookie = r.setCookie.find((c) => c.startsWith('mcp_session='))?.split(';')[0];
  if (typeof body['user_id'] !== 'string' || !cookie) throw new Error('signup returned no user id or no session cookie');
  return { userId: body['user_id'], cookie };
}

async function measureBackend(p: RunningPlatform, owner: Owner, label: string): Promise<OrgSample[]> {
  const admin = { authorization: `Bearer ${p.adminToken}` };
  const samples: OrgSample[] = [];
  const suffix = randomBytes(3).toString('hex');
  process.stdout.write(`  ${label.padEnd(9)}  org create → ready, ${ORGS} orgs one at a time (ms):`);
  for (let i = 1; i <= ORGS; i++) {
    const slug = `bench-${p.backend === 'embedded' ? 'e' : 'p'}${suffix}-${i}`;
    const t0 = performance.now();
    const created = json('POST /admin/orgs', 201, await http('POST', `${p.baseUrl}/api/v1/admin/orgs`, admin, { slug, name: `Bench ${i}`, owner_user_id: owner.userId }));
    const orgId = String(created['id']);
    p.seen.set(orgId, { pid: null, database: null });
    await untilRunning(p.baseUrl, slug);
    const readyMs = performance.now() - t0;
    const row = await instanceRow(p.db, orgId);
    p.seen.set(orgId, { pid: row.pid, database: row.database_name });
    if (row.pid === null) throw new Error(`org ${slug} runs without a pid on record`);
    const rssReadyMiB = tenantRssMiB(row.pid, orgId);
    samples.push({
      slug,
      orgId,
      readyMs,
      prepareMs: row.started_at ? row.started_at.getTime() - row.created_at.getTime() : null,
      bootMs: row.started_at ? row.running_at.getTime() - row.started_at.getTime() : null,
      pid: row.pid,
      rssReadyMiB,
      rssIdleMiB: NaN,
    });
    process.stdout.write(` ${fmt(readyMs, 0)}`);
  }
  process.stdout.write('\n');
  process.stdout.write(`             idle ${IDLE_SECONDS} s with all ${ORGS} tenants up, then their RSS …`);
  await sleep(IDLE_SECONDS * 1000);
  for (const s of samples) s.rssIdleMiB = tenantRssMiB(s.pid, s.orgId);
  process.stdout.write(` median ${fmt(median(samples.map((s) => s.rssIdleMiB)), 1)} MiB\n`);
  return samples;
}

async function deleteOrgs(p: RunningPlatform, owner: Owner, samples: OrgSample[]): Promise<number[]> {
  const times: number[] = [];
  for (const s of samples) {
    const t0 = performance.now();
    const r = await http('DELETE', `${p.baseUrl}/api/v1/orgs/${s.slug}`, { cookie: owner.cookie });
    if (r.status !== 204) throw new Error(`DELETE /orgs/${s.slug} answered ${r.status}: ${r.text.slice(0, 300)}`);
    times.push(performance.now() - t0);
    if (stillTenant(s.pid, s.orgId)) throw new Error(`org ${s.slug} was deleted but its tenant process ${s.pid} still runs`);
  }
  return times;
}

// ---------------------------------------------------------------------------------------------------------------
// Edge ÷ direct

async function measureEdge(ctx: ProvisioningBenchContext, p: RunningPlatform, owner: Owner, org: OrgSample): Promise<EdgeFigures> {
  const row = await instanceRow(p.db, org.orgId);
  if (!row.url) throw new Error(`org ${org.slug} has no tenant URL`);
  const direct = row.url.replace(/\/$/, '');
  const edgeUrl = `http://${ctx.host}:${p.port}`;
  const edgeHost = `${org.slug}.localhost:${p.port}`;
  // The owner's CP session, presented to the tenant through the edge, mints the org key (the tenant asks the CP
  // whether the session is a member of its org).
  const minted = json('POST /org/tokens (owner session, through the edge)', 200, await hostRequest('POST', `${edgeUrl}/org/tokens`, edgeHost, { cookie: owner.cookie }, { name: 'bench edge key' }));
  const key = String(minted['auth_token']);
  const headers = { authorization: `Bearer ${key}`, 'x-molecule-org-id': org.orgId };

  const scenarios: { id: string; name: string; path: string; via: 'edge' | 'direct'; url: string; headers: Record<string, string>; bytes: number }[] = [];
  for (const [id, route] of [['W', '/workspaces'], ['H', '/health']] as const) {
    const viaDirect = await http('GET', `${direct}${route}`, route === '/health' ? {} : headers);
    const viaEdge = await hostRequest('GET', `${edgeUrl}${route}`, edgeHost, route === '/health' ? {} : headers);
    if (viaDirect.status !== 200 || viaEdge.status !== 200) throw new Error(`preflight GET ${route}: direct ${viaDirect.status}, edge ${viaEdge.status}: ${viaEdge.text.slice(0, 300)}`);
    if (route === '/workspaces' && viaDirect.text !== viaEdge.text) throw new Error('GET /workspaces answered differently through the edge and directly');
    const h = route === '/health' ? {} : headers;
    scenarios.push({ id: `${id}e`, name: `GET ${route}${route === '/health' ? '' : ', org key'}, through the edge`, path: route, via: 'edge', url: `${edgeUrl}${route}`, headers: { ...h, host: edgeHost }, bytes: Buffer.byteLength(viaEdge.text) });
    scenarios.push({ id: `${id}d`, name: `GET ${route}${route === '/health' ? '' : ', org key'}, direct to the tenant`, path: route, via: 'direct', url: `${direct}${route}`, headers: h, bytes: Buffer.byteLength(viaDirect.text) });
  }
  const byId = new Map(scenarios.map((s) => [s.id, s]));
  for (const id of ['We', 'Wd']) {
    const s = byId.get(id)!;
    process.stdout.write(`  priming    ${PRIME_SECONDS} s of ${s.name}, not measured …`);
    const prime = await ctx.runLoad({ url: s.url, headers: s.headers, connections: ctx.connections, warmupSeconds: 0, durationSeconds: PRIME_SECONDS });
    ctx.assertClean(`priming ${s.name}`, 'prime', prime.measured);
    process.stdout.write(` ${fmt(prime.measured.requestsPerSecMean, 1)} req/s\n`);
  }
  // Odd rounds We Wd Hd He, even rounds He Hd Wd We: each ratio's pair is adjacent and swaps order every round.
  const windows = new Map<string, EdgeWindow[]>(scenarios.map((s) => [s.id, []]));
  const roundOrder: string[][] = [];
  for (let round = 1; round <= ctx.rounds; round++) {
    const order = round % 2 === 1 ? ['We', 'Wd', 'Hd', 'He'] : ['He', 'Hd', 'Wd', 'We'];
    roundOrder.push(order);
    process.stdout.write(`  round ${round}/${ctx.rounds}:`);
    for (const [index, id] of order.entries()) {
      const s = byId.get(id)!;
      const out = await ctx.runLoad({ url: s.url, headers: s.headers, connections: ctx.connections, warmupSeconds: ctx.roundWarmupSeconds, durationSeconds: ctx.windowSeconds });
      if (out.warmup) ctx.assertClean(s.name, `round ${round} warm-up`, out.warmup);
      ctx.assertClean(s.name, `round ${round}`, out.measured);
      windows.get(id)!.push({ round, position: index + 1, measured: out.measured, warmup: out.warmup });
      process.stdout.write(`  ${id} ${fmt(rate(out.measured), 1)}`);
    }
    process.stdout.write(' req/s\n');
  }
  const results = new Map(
    scenarios.map((s) => {
      const w = windows.get(s.id)!;
      const result: EdgeScenario = { id: s.id, name: s.name, path: s.path, via: s.via, responseBodyBytes: s.bytes, measured: ctx.aggregate(w.map((x) => x.measured)), windows: w };
      return [s.id, result];
    }),
  );
  return {
    backend: p.backend,
    slug: org.slug,
    scenarios: [...results.values()],
    ratios: [
      interleavedRatio('edge / direct, GET /workspaces', results.get('We')!, results.get('Wd')!),
      interleavedRatio('edge / direct, GET /health', results.get('He')!, results.get('Hd')!),
    ],
    roundOrder,
    windowSeconds: ctx.windowSeconds,
  };
}

// ---------------------------------------------------------------------------------------------------------------

export async function runProvisioningBench(ctx: ProvisioningBenchContext): Promise<ProvisioningFigures> {
  console.log('\nMolecule Platform provisioning benchmark (TENANT_PROVISIONER=local-process)');
  console.log(`  method     a molecule-platform cp child per server; ${ORGS} orgs created one at a time through POST /api/v1/admin/orgs`);
  console.log(`             (CP admin bearer, owner = a signed-up user); ready = the first GET /api/v1/orgs/:slug/instance, polled every`);
  console.log(`             ${POLL_MS} ms, that says running; RSS = VmRSS of org_instances.pid (checked: MOLECULE_TENANT_PROCESS=<org id>)`);
  console.log(`             when seen ready and after ${IDLE_SECONDS} s idle with all ${ORGS} up. CP and tenants at LOG_LEVEL=warn, MOLECULE_ENV=production.`);
  const backends: BackendFigures[] = [];
  let edge: EdgeFigures | null = null;
  for (const backend of ['embedded', 'postgres'] as const) {
    const label = backend === 'embedded' ? 'embedded' : 'PostgreSQL';
    const p = await startPlatform(ctx, backend);
    console.log(`  ${label.padEnd(9)}  ${p.server}; CP ready in ${fmt(p.cpReadyMs, 0)} ms`);
    const owner = await signupOwner(p.baseUrl);
    const orgs = await measureBackend(p, owner, label);
    if (backend === 'postgres') {
      console.log(`  edge       GET /workspaces and /health through the edge (Host <slug>.localhost:<cp port>) and direct to the tenant`);
      edge = await measureEdge(ctx, p, owner, orgs[0]!);
    }
    process.stdout.write(`  ${label.padEnd(9)}  deleting the ${ORGS} orgs through DELETE /api/v1/orgs/:slug (owner session) …`);
    const deleteMs = await deleteOrgs(p, owner, orgs);
    process.stdout.write(` median ${fmt(median(deleteMs), 0)} ms each\n`);
    const warnings = p.cp.warnings.slice();
    await p.steps.run();
    const nonNull = (xs: (number | null)[]) => xs.filter((x): x is number => x !== null);
    const prepare = nonNull(orgs.map((o) => o.prepareMs));
    const boot = nonNull(orgs.map((o) => o.bootMs));
    backends.push({
      backend,
      server: p.server,
      serverStartMs: p.serverStartMs,
      cpReadyMs: p.cpReadyMs,
      orgs,
      readyMs: stats(orgs.map((o) => o.readyMs)),
      prepareMs: prepare.length ? stats(prepare) : null,
      bootMs: boot.length ? stats(boot) : null,
      rssReadyMiB: stats(orgs.map((o) => o.rssReadyMiB)),
      rssIdleMiB: stats(orgs.map((o) => o.rssIdleMiB)),
      deleteMs: stats(deleteMs),
      warnings,
    });
  }
  return {
    orgsPerBackend: ORGS,
    pollMs: POLL_MS,
    idleSeconds: IDLE_SECONDS,
    backends,
    edge,
    targets: PROVISIONING_TARGETS,
    notes: [
      `Per server: one molecule-platform cp child (TENANT_PROVISIONER=local-process, TENANT_SHUTDOWN=stop, MOLECULE_ENV=production, LOG_LEVEL=warn, INSTANCE_LOOKUP_LIMIT raised for the readiness poll), ${ORGS} orgs created one at a time; earlier tenants stay up (idle) while later ones start.`,
      `readyMs: POST /api/v1/admin/orgs sent → the first GET /api/v1/orgs/:slug/instance (polled every ${POLL_MS} ms) answering instance_status running. prepareMs and bootMs split it from the CP's own rows: organizations.created_at → org_instances.started_at (port, role + database, admin token, spawn) and started_at → the row marked running (node start, migrations, listen, callback, /health).`,
      `RSS: VmRSS of org_instances.pid (its environment checked for MOLECULE_TENANT_PROCESS=<org id>), when first seen ready and after ${IDLE_SECONDS} s idle with all tenants up. MiB.`,
      'Edge ÷ direct: on PostgreSQL, the first org; the same request (org key + X-Molecule-Org-Id; /health without) sent through the CP edge by Host <slug>.localhost:<cp port> and straight to the tenant port, windows interleaved (ABBA) like the other ratios. The edge resolves the slug in the CP database on every request and proxies with @fastify/reply-from.',
      'The embedded server is started by the benchmark in a temp directory, as `npm start` starts it; its initdb + start time is reported, not included in any ready time.',
      'Targets are printed beside the figures; none fails the run.',
    ],
  };
}

// ---------------------------------------------------------------------------------------------------------------

export function printProvisioningFigures(f: ProvisioningFigures, printAligned: (header: string[], rows: string[][], leftColumns: number) => void) {
  const t = f.targets;
  const meets = (ok: boolean) => (ok ? 'meets target' : 'above target');
  for (const b of f.backends) {
    const label = b.backend === 'embedded' ? 'embedded PostgreSQL server' : 'PostgreSQL';
    console.log(`\nProvisioning on ${label}: per org (ms; MiB), in creation order\n`);
    printAligned(
      ['#', 'org', 'ready ms', 'prepare ms', 'boot ms', 'RSS ready', 'RSS idle'],
      b.orgs.map((o, i) => [String(i + 1), o.slug, fmt(o.readyMs, 0), o.prepareMs === null ? '-' : fmt(o.prepareMs, 0), o.bootMs === null ? '-' : fmt(o.bootMs, 0), fmt(o.rssReadyMiB, 1), fmt(o.rssIdleMiB, 1)]),
      2,
    );
  }
  console.log('\nProvisioning figures (not tests; targets beside them)\n');
  const rows: string[][] = [];
  for (const b of f.backends) {
    const readyTarget = b.backend === 'embedded' ? t.readyEmbeddedMs : t.readyPostgresMs;
    const s = (x: Stats, d: number) => [fmt(x.median, d), fmt(x.p90, d), fmt(x.min, d), fmt(x.max, d)];
    rows.push([b.backend, 'org create → ready (ms)', ...s(b.readyMs, 0), `≤ ${fmt(readyTarget, 0)}`, meets(b.readyMs.median <= readyTarget)]);
    if (b.prepareMs) rows.push([b.backend, '  of which created → spawned', ...s(b.prepareMs, 0), '', '']);
    if (b.bootMs) rows.push([b.backend, '  of which spawned → running', ...s(b.bootMs, 0), '', '']);
    rows.push([b.backend, 'tenant RSS when ready (MiB)', ...s(b.rssReadyMiB, 1), '', '']);
    rows.push([b.backend, `tenant RSS after ${f.idleSeconds} s idle (MiB)`, ...s(b.rssIdleMiB, 1), `≤ ${t.idleRssMiB}`, meets(b.rssIdleMiB.median <= t.idleRssMiB)]);
    rows.push([b.backend, 'DELETE /orgs/:slug (ms)', ...s(b.deleteMs, 0), '', '']);
  }
  printAligned(['server', 'figure', 'median', 'p90', 'min', 'max', 'target', ''], rows, 2);
  for (const b of f.backends) {
    if (b.warnings.length === 0) continue;
    console.log(`\nThe control plane (${b.backend}) logged ${b.warnings.length} warning/error line(s); the first ones:`);
    for (const w of b.warnings.slice(0, 10)) console.log(`  ${w}`);
  }
  const e = f.edge;
  if (!e) return;
  console.log(`\nEdge ÷ direct (${e.backend}, org ${e.slug}; req/s per ${e.windowSeconds} s window, one scenario under load at a time)\n`);
  const ids = ['We', 'Wd', 'He', 'Hd'];
  const by = new Map(e.scenarios.map((s) => [s.id, s]));
  printAligned(
    ['id', 'scenario', 'req/s', 'p50 ms', 'p99 ms', 'responses', 'seconds'],
    ids.map((id) => {
      const s = by.get(id)!;
      return [id, s.name, fmt(rate(s.measured), 1), fmt(s.measured.latencyMs.p50, 0), fmt(s.measured.latencyMs.p99, 0), fmt(s.measured.requestsTotal, 0), fmt(s.measured.durationSeconds, 0)];
    }),
    2,
  );
  console.log('');
  printAligned(
    ['round', 'order', ...ids.map((id) => `${id} req/s`), 'We / Wd', 'He / Hd'],
    e.roundOrder.map((order, i) => {
      const r = (id: string) => rate(by.get(id)!.windows[i]!.measured);
      return [String(i + 1), order.join(' '), ...ids.map((id) => fmt(r(id), 1)), fmt(r('We') / r('Wd'), 3), fmt(r('He') / r('Hd'), 3)];
    }),
    2,
  );
  console.log('');
  for (const r of e.ratios) {
    console.log(
      `  ${r.name.padEnd(32)} ${fmt(r.value, 3)}   target ≥ ${t.edgeOverDirect}   ${(r.value >= t.edgeOverDirect ? 'meets target' : 'below target').padEnd(12)}` +
        `   per round: min ${fmt(r.perRoundMin, 3)}, median ${fmt(r.perRoundMedian, 3)}, max ${fmt(r.perRoundMax, 3)}`,
    );
  }
}
