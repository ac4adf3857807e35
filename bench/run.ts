import { printControlPlaneFigures, runControlPlaneBench } from './control-plane.js';
import { printProvisioningFigures, runProvisioningBench } from './provisioning.js';
import { printPartnerKeyFigures, runPartnerKeysBench } from './partner-keys.js';
import { printIdempotencyFigures, runIdempotencyBench } from './idempotency.js';
import { measureLifecycle } from './lifecycle.js';
import { printOrgImportFigures, runOrgImportBench } from './orgimport.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { mintCredential } from '../src/core/credentials/format.js';
import { parseLoadOutput, type LoadArgs, type LoadOutput, type LoadSummary } from './protocol.js';
import { seedLargeTable } from './seed.js';
import { fmt, interleavedRatio, median, rate, sum, type InterleavedRatio } from './stats.js';
import { freePort, spawnTenant, type TenantProcess } from './tenant-process.js';

/**
 * `npm run bench`: the tenant's hot read path under load, as the side-by-side ratios of one run (DESIGN.md §7).
 *
 * Two real tenant child processes run at once, each on its own fresh PostgreSQL database and with the same env:
 *   S — the small table: the 20 org keys minted for the benchmark;
 *   L — the large table: the same 20 keys (copied row for row) plus 100 000 revoked + 1 000 live seeded keys.
 * autocannon runs in a separate process (bench/load.ts) against one tenant at a time. Four scenarios:
 *   1. GET /health on S                         — the floor: HTTP, routing, hooks, no credential, no database
 *   2. GET /org/tokens?limit=20, org key, on S  — + org-key lookup (one indexed equality) + the list query
 *   3. the same with ADMIN_TOKEN, on S          — the same list without the org-key lookup
 *   4. scenario 2 on L
 * The two ratios (2 / 1 and 4 / 2) are what is worth comparing across runs, and a shared, noisy machine drifts by
 * more than the effect being measured within a minute. So 1, 2 and 4 are measured interleaved: ROUNDS rounds of one
 * short window each, in the order 4 2 1 then 1 2 4 (ABBA: linear drift cancels out of both ratios), one tenant under
 * load at a time. A ratio is the requests of its numerator over those of its denominator in equal time, summed over
 * the rounds; the per-round ratios show how noisy it was. Scenario 3 is one window, as it is in no ratio.
 * Then the workspace lifecycle, and, once the tenants are stopped, the control plane's own scenarios and ratios
 * (bench/control-plane.ts), in the same style; its figures go under `controlPlane` in latest.json. Last, the
 * platform (bench/provisioning.ts): org create → tenant ready on the embedded and the real PostgreSQL server, idle
 * tenant RSS, edge ÷ direct throughput; under `provisioning`. Then partner API keys (bench/partner-keys.ts): the same CP
 * route with a partner key ÷ with the CP admin bearer, and with its limit in Redis ÷ in memory; under `partnerKeys`.
 *
 * Then org import (bench/orgimport.ts): 100 workspaces imported → all online, and the re-import; under `orgImport`.
 * Last, Idempotency-Key (bench/idempotency.ts): the same POST with no key, a fresh key per request, and one key
 * replayed, as keyed ÷ plain and replay ÷ plain; under `idempotency`.
 *
 * BENCH_PARTS=tenant,cp,provisioning,orgimport,partnerkeys,idempotency (any of them, comma-separated) runs some parts only; their figures then go to
 * latest.<parts>.json, so a partial run never overwrites a full one.
 */

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TENANT_BIN = fileURLToPath(new URL('../src/bin/molecule-platform.js', import.meta.url));
const LOAD_SCRIPT = fileURLToPath(new URL('./load.js', import.meta.url));
const RESULTS_DIR = `${REPO_ROOT}bench/results`;

const HOST = '127.0.0.1';
const WARMUP_SECONDS = 2; // scenario 3's single window
const ROUNDS = 6; // interleaved rounds of scenarios 1, 2 and 4; even, so the ABBA order is balanced
const ROUND_WARMUP_SECONDS = 1; // before each interleaved window
const PRIME_SECONDS = 10; // per tenant
const LIST_LIMIT = 20;
const REVOKED_ROWS = 100_000;
const LIVE_ROWS = 1_000;
const POOL_SIZE = 10; // the tenant's default DATABASE_POOL_SIZE: measure what ships
const TARGETS = { orgKeyOverHealth: 0.5, largeOverSmall: 0.9 } as const;

/** The parts of the run, in the order they run; BENCH_PARTS (comma-separated) selects some, e.g. `provisioning`. */
const PARTS = ['tenant', 'cp', 'provisioning', 'orgimport', 'partnerkeys', 'idempotency'] as const;
type Part = (typeof PARTS)[number];

interface Config {
  parts: Set<Part>;
  durationSeconds: number;
  /** One interleaved window, whole seconds: each interleaved scenario gets ROUNDS × this ≈ 2 × durationSeconds. */
  windowSeconds: number;
  connections: number;
  adminDatabaseUrl: string;
  /** The Redis the partner-key part's second control plane shares its limits through (BENCH_REDIS_URL). */
  redisUrl: string;
}

function positiveNumberFromEnv(name: string, fallback: number, integer: boolean): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`${name} must be a positive ${integer ? 'integer' : 'number'}, got "${raw}"`);
  return n;
}

function partsFromEnv(): Set<Part> {
  const raw = process.env['BENCH_PARTS'];
  if (raw === undefined || raw.trim() === '') return new Set(PARTS);
  const named = raw.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const unknown = named.filter((p) => !(PARTS as readonly string[]).includes(p));
  if (unknown.length > 0 || named.length === 0) throw new Error(`BENCH_PARTS must list some of ${PARTS.join(', ')}; got "${raw}"`);
  // Always in the run's own order, whatever order they were named in.
  return new Set(PARTS.filter((p) => named.includes(p)));
}

interface Machine {
  node: string;
  cpuCount: number;
  availableParallelism: number;
  cpuModel: string;
  totalMemGiB: number;
  platform: string;
  loadAverageAtStart: number[];
  postgres: string;
}

function printMachine(machine: Machine) {
  console.log(`  machine    node ${machine.node}, ${machine.cpuCount} CPUs (${machine.cpuModel}), ${machine.totalMemGiB} GiB, ${machine.platform}`);
  console.log(`             load average at start ${machine.loadAverageAtStart.join(' / ')}; PostgreSQL ${machine.postgres}`);
}

function readConfig(): Config {
  const durationSeconds = positiveNumberFromEnv('BENCH_DURATION', 10, false);
  return {
    parts: partsFromEnv(),
    durationSeconds,
    windowSeconds: Math.max(1, Math.round((2 * durationSeconds) / ROUNDS)),
    connections: positiveNumberFromEnv('BENCH_CONNECTIONS', 50, true),
    adminDatabaseUrl: process.env['BENCH_PG_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: process.env['BENCH_REDIS_URL'] || 'redis://127.0.0.1:6379',
  };
}

/** Cleanup steps, run once in reverse order of registration, whether the run succeeded, failed or was interrupted. */
class Cleanup {
  private readonly steps: { name: string; fn: () => Promise<void> }[] = [];
  private running: Promise<string[]> | null = null;

  add(name: string, fn: () => Promise<void>) {
    this.steps.push({ name, fn });
  }

  /** Runs every step even when one fails; returns the failures. */
  run(): Promise<string[]> {
    this.running ??= (async () => {
      const failures: string[] = [];
      for (const step of [...this.steps].reverse()) {
        try {
          await step.fn();
        } catch (err) {
          failures.push(`${step.name}: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      return failures;
    })();
    return this.running;
  }
}

interface HttpResult {
  status: number;
  text: string;
}

async function http(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: unknown): Promise<HttpResult> {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, text: await res.text() };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Mints one org API key through the API, as an operator would; returns the plaintext. */
async function mintOrgKey(baseUrl: string, adminHeaders: Record<string, string>, name: string): Promise<string> {
  const res = await http('POST', `${baseUrl}/org/tokens`, adminHeaders, { name });
  const body: unknown = res.status === 200 ? JSON.parse(res.text) : null;
  if (!isRecord(body) || typeof body['auth_token'] !== 'string') throw new Error(`minting an org key failed: ${res.status} ${res.text}`);
  return body['auth_token'];
}

/** One request before the load: the scenario must answer 200, and a list must be a full page of LIST_LIMIT keys. */
async function preflight(url: string, headers: Record<string, string>, expectList: boolean): Promise<{ bodyBytes: number; ids: string[] }> {
  const res = await http('GET', url, headers);
  if (res.status !== 200) throw new Error(`preflight GET ${url} answered ${res.status}: ${res.text.slice(0, 300)}`);
  if (!expectList) return { bodyBytes: Buffer.byteLength(res.text), ids: [] };
  const body: unknown = JSON.parse(res.text);
  const tokens = isRecord(body) ? body['tokens'] : undefined;
  if (!Array.isArray(tokens) || tokens.length !== LIST_LIMIT) throw new Error(`preflight GET ${url}: expected a page of ${LIST_LIMIT} keys, got: ${res.text.slice(0, 300)}`);
  const ids = tokens.map((t: unknown) => (isRecord(t) && typeof t['id'] === 'string' ? t['id'] : ''));
  return { bodyBytes: Buffer.byteLength(res.text), ids };
}

const activeLoads = new Set<ChildProcess>();

/** Runs one window in the load-generator process and returns its parsed figures. */
async function runLoad(args: LoadArgs): Promise<LoadOutput> {
  const child = spawn(process.execPath, [LOAD_SCRIPT, JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'pipe'] });
  activeLoads.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (c) => resolve(c));
  });
  activeLoads.delete(child);
  if (code !== 0) throw new Error(`the load generator exited with ${code}:\n${stderr}`);
  return parseLoadOutput(stdout.trim());
}

/** A window with any non-2xx answer, error or timeout measured something other than what it claims. */
function assertClean(scenario: string, phase: string, s: LoadSummary) {
  if (s.non2xx !== 0 || s.errors !== 0 || s.timeouts !== 0 || s.requestsTotal === 0) {
    throw new Error(
      `scenario "${scenario}" (${phase}) FAILED: ${s.non2xx} non-2xx, ${s.errors} errors, ${s.timeouts} timeouts, ` +
        `${s.requestsTotal} responses; status codes ${JSON.stringify(s.statusCodes)}`,
    );
  }
}

type TenantLabel = 'S' | 'L';

interface WindowResult {
  /** 1-based round. */
  round: number;
  /** 1-based position of this window within its round. */
  position: number;
  measured: LoadSummary;
  warmup: LoadSummary | null;
}

interface ScenarioResult {
  id: number;
  name: string;
  /** S: the small table (the minted keys only); L: the same keys plus the seeded rows. */
  tenant: TenantLabel;
  request: string;
  credential: 'none' | 'org-key' | 'admin-token';
  responseBodyBytes: number;
  /** For an interleaved scenario: all its windows together (see aggregate()). */
  measured: LoadSummary;
  /** Scenario 3 only; the interleaved scenarios' warm-ups are in their windows. */
  warmup: LoadSummary | null;
  /** Interleaved scenarios: one window per round, in round order. */
  windows: WindowResult[] | null;
}

interface Ratio extends InterleavedRatio {
  target: number;
  meetsTarget: boolean;
}

/**
 * One scenario's interleaved windows as one summary. Counts and seconds are summed, so the rate is all responses over
 * all measured seconds; the ± sd is that of all the one-second samples pooled; latency mean is weighted by responses.
 * Percentiles cannot be merged from summaries: p50, p90 and p99 are the median of the windows' own, max is the max.
 */
function aggregate(windows: LoadSummary[]): LoadSummary {
  const requestsTotal = sum(windows.map((w) => w.requestsTotal));
  const durationSeconds = sum(windows.map((w) => w.durationSeconds));
  const n = windows.map((w) => Math.max(1, Math.round(w.durationSeconds)));
  const pooledMean = sum(windows.map((w, i) => w.requestsPerSecMean * n[i]!)) / sum(n);
  const pooledVariance = sum(windows.map((w, i) => n[i]! * (w.requestsPerSecStddev ** 2 + (w.requestsPerSecMean - pooledMean) ** 2))) / sum(n);
  const statusCodes: Record<string, number> = {};
  for (const w of windows) for (const [code, count] of Object.entries(w.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
  const weighted = (f: (w: LoadSummary) => number) => (requestsTotal > 0 ? sum(windows.map((w) => f(w) * w.requestsTotal)) / requestsTotal : 0);
  return {
    requestsPerSecMean: requestsTotal / durationSeconds,
    requestsPerSecStddev: Math.sqrt(pooledVariance),
    requestsTotal,
    durationSeconds,
    latencyMs: {
      mean: weighted((w) => w.latencyMs.mean),
      p50: median(windows.map((w) => w.latencyMs.p50)),
      p90: median(windows.map((w) => w.latencyMs.p90)),
      p99: median(windows.map((w) => w.latencyMs.p99)),
      max: Math.max(...windows.map((w) => w.latencyMs.max)),
    },
    non2xx: sum(windows.map((w) => w.non2xx)),
    errors: sum(windows.map((w) => w.errors)),
    timeouts: sum(windows.map((w) => w.timeouts)),
    resets: sum(windows.map((w) => w.resets)),
    statusCodes,
    bytesPerResponse: Math.round(weighted((w) => w.bytesPerResponse)),
  };
}

function targetRatio(name: string, num: ScenarioResult, den: ScenarioResult, target: number): Ratio {
  const ratio = interleavedRatio(name, num, den);
  return { ...ratio, target, meetsTarget: ratio.value >= target };
}

function printAligned(header: string[], rows: string[][], leftColumns: number) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}

function printTable(results: ScenarioResult[]) {
  const header = ['#', 'tenant', 'scenario', 'req/s (mean)', '± sd (1 s samples)', 'p50 ms', 'p99 ms', 'non-2xx', 'responses', 'seconds'];
  const rows = results.map((r) => [
    String(r.id),
    r.tenant,
    r.name,
    fmt(r.measured.requestsPerSecMean, 1),
    fmt(r.measured.requestsPerSecStddev, 1),
    fmt(r.measured.latencyMs.p50, 0),
    fmt(r.measured.latencyMs.p99, 0),
    String(r.measured.non2xx),
    fmt(r.measured.requestsTotal, 0),
    fmt(r.measured.durationSeconds, 0),
  ]);
  printAligned(header, rows, 3);
}

interface RoundPlan {
  round: number;
  /** Scenario ids in the order measured. */
  order: number[];
}

function printRounds(plan: RoundPlan[], health: ScenarioResult, small: ScenarioResult, large: ScenarioResult) {
  const header = ['round', 'order', '#1 req/s', '#2 req/s', '#4 req/s', '#2 / #1', '#4 / #2'];
  const rows = plan.map(({ round, order }) => {
    const h = health.windows![round - 1]!.measured;
    const s = small.windows![round - 1]!.measured;
    const l = large.windows![round - 1]!.measured;
    return [String(round), order.join(' '), fmt(rate(h), 1), fmt(rate(s), 1), fmt(rate(l), 1), fmt(rate(s) / rate(h), 3), fmt(rate(l) / rate(s), 3)];
  });
  printAligned(header, rows, 2);
}

interface Tenant {
  label: TenantLabel;
  dbName: string;
  dbUrl: string;
  process: TenantProcess;
  baseUrl: string;
}

/** A pg client to a bench database that closes once, whether setup closes it or the cleanup does. */
async function openClient(url: string, cleanup: Cleanup, name: string): Promise<{ client: pg.Client; close: () => Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  let closing: Promise<void> | null = null;
  const close = () => (closing ??= client.end());
  cleanup.add(`close the ${name} connection`, close);
  return { client, close };
}

/** The tenant's scenarios and the workspace lifecycle (part `tenant`); returns its figures for latest.json. */
async function runTenantBench(config: Config, cleanup: Cleanup, machine: Machine): Promise<Record<string, unknown>> {
  // A fresh database per tenant and run: nothing left over from a previous run or another suite can skew the
  // figures, and the two tables differ only in the seeded rows.
  const suffix = randomBytes(6).toString('hex');
  const dbNames: Record<TenantLabel, string> = { S: `molecule_bench_${suffix}_s`, L: `molecule_bench_${suffix}_l` };
  const dropDatabase = (dbName: string) => async () => {
    const c = new pg.Client({ connectionString: config.adminDatabaseUrl });
    await c.connect();
    try {
      // with (force): a connection still open after a failure must not leave the database behind.
      await c.query(`drop database if exists ${dbName} with (force)`);
    } finally {
      await c.end();
    }
  };
  const admin = new pg.Client({ connectionString: config.adminDatabaseUrl });
  await admin.connect();
  try {
    for (const dbName of Object.values(dbNames)) {
      await admin.query(`create database ${dbName}`);
      cleanup.add(`drop database ${dbName}`, dropDatabase(dbName));
    }
  } finally {
    await admin.end();
  }
  const dbUrlOf = (dbName: string) => {
    const url = new URL(config.adminDatabaseUrl);
    url.pathname = `/${dbName}`;
    return url.toString();
  };

  const interleavedSeconds = ROUNDS * config.windowSeconds;
  console.log('Molecule Platform tenant benchmark');
  printMachine(machine);
  console.log(`  settings   scenarios 1, 2, 4: ${ROUNDS} interleaved rounds of one ${config.windowSeconds} s window each (+ ${ROUND_WARMUP_SECONDS} s warm-up per window),`);
  console.log(`             ${interleavedSeconds} s measured per scenario; scenario 3: ${fmt(Math.max(1, Math.ceil(config.durationSeconds)), 0)} s + ${WARMUP_SECONDS} s warm-up;` +
    ` ${config.connections} connections`);
  console.log(`             (BENCH_DURATION=${config.durationSeconds}: window = 2 × BENCH_DURATION / ${ROUNDS} rounded, ≥ 1 s; BENCH_CONNECTIONS);`);
  console.log(`             one ${PRIME_SECONDS} s priming run per tenant first; both tenants DATABASE_POOL_SIZE=${POOL_SIZE}, LOG_LEVEL=warn`);
  console.log('  method     two tenant processes side by side, each on its own fresh database: S holds the 20 minted keys,');
  console.log(`             L the same keys + ${fmt(REVOKED_ROWS, 0)} revoked + ${fmt(LIVE_ROWS, 0)} live. Scenarios 1 and 2 run on S, 4 on L, in alternating`);
  console.log('             rounds (order 4 2 1, then 1 2 4: ABBA), one tenant under load at a time, so drift on this shared,');
  console.log('             noisy machine hits both sides of each ratio alike. A ratio = requests of one side / requests of');
  console.log('             the other in equal time over all rounds; the per-round ratios show the noise. Absolute figures');
  console.log('             move between runs. The tenants, PostgreSQL and the load generator share the same CPUs.');
  console.log(`  databases  ${dbNames.S} (S), ${dbNames.L} (L) (fresh, dropped at the end)\n`);

  // Both tenants get the very same env but for their port and database.
  const orgId = randomUUID();
  const adminToken = mintCredential('tenantAdminToken').plaintext;
  const commonEnv = {
    // A clean environment: a REDIS_URL or CP_UPSTREAM_URL in the caller's shell must not change what is measured.
    PATH: process.env['PATH'] ?? '',
    HOST,
    ADMIN_TOKEN: adminToken,
    MOLECULE_ORG_ID: orgId,
    MOLECULE_ORG_SLUG: 'bench-org',
    MOLECULE_ENV: 'production',
    SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    LOG_LEVEL: 'warn',
    // Setup mints a few keys through the API; the mint limit must not be what the setup measures.
    ORG_TOKEN_MINT_LIMIT: '100000',
    DATABASE_POOL_SIZE: String(POOL_SIZE),
  };
  const startTenant = async (label: TenantLabel) => {
    const port = await freePort(HOST);
    const dbUrl = dbUrlOf(dbNames[label]);
    const running = spawnTenant({ bin: TENANT_BIN, host: HOST, port, readyTimeoutMs: 60_000, env: { ...commonEnv, PORT: String(port), DATABASE_URL: dbUrl } });
    cleanup.add(`stop tenant ${label}`, async () => {
      const { code, signal } = await running.stop();
      if (code !== 0) throw new Error(`tenant ${label} exited with code ${code} (signal ${signal}) on SIGTERM:\n${running.tail()}`);
    });
    return { label, dbName: dbNames[label], dbUrl, process: running, ready: running.ready };
  };
  const startS = await startTenant('S');
  const startL = await startTenant('L');
  const [baseUrlS, baseUrlL] = await Promise.all([startS.ready, startL.ready]);
  const tenantS: Tenant = { ...startS, baseUrl: baseUrlS };
  const tenantL: Tenant = { ...startL, baseUrl: baseUrlL };

  const adminHeaders = { authorization: `Bearer ${adminToken}`, 'x-molecule-org-id': orgId };
  // The benchmark's key plus 19 more, so the small table already fills a page of LIST_LIMIT: both org-key
  // scenarios then return the same 20 rows and differ only in the table the credential is looked up in.
  const orgKey = await mintOrgKey(tenantS.baseUrl, adminHeaders, 'bench org key');
  for (let i = 1; i < LIST_LIMIT; i++) await mintOrgKey(tenantS.baseUrl, adminHeaders, `bench filler ${String(i).padStart(2, '0')}`);
  const orgKeyHeaders = { authorization: `Bearer ${orgKey}`, 'x-molecule-org-id': orgId };
  const listPath = `/org/tokens?limit=${LIST_LIMIT}`;

  // The same minted keys in L: copied row for row (ids, hashes, timestamps), so the org key authenticates on both
  // tenants and both list the very same page.
  const dbS = await openClient(tenantS.dbUrl, cleanup, 'S setup');
  const dbL = await openClient(tenantL.dbUrl, cleanup, 'L setup');
  const minted = await dbS.client.query<Record<string, unknown>>('select * from org_api_tokens order by id');
  if (minted.rows.length !== LIST_LIMIT) throw new Error(`tenant S holds ${minted.rows.length} org keys after minting ${LIST_LIMIT}`);
  const columns = minted.fields.map((f) => f.name);
  const insertMinted = `insert into org_api_tokens (${columns.map((c) => `"${c}"`).join(', ')}) values (${columns.map((_, i) => `$${i + 1}`).join(', ')})`;
  for (const row of minted.rows) await dbL.client.query(insertMinted, columns.map((c) => row[c]));

  // The large table: straight into L's PostgreSQL, as years of minting and revoking would have left it.
  process.stdout.write(`  seeding L: ${fmt(REVOKED_ROWS, 0)} revoked + ${fmt(LIVE_ROWS, 0)} live keys …`);
  const seeded = await seedLargeTable(dbL.client, { orgId, revoked: REVOKED_ROWS, live: LIVE_ROWS, before: new Date(Date.now() - 60_000), batchSize: 5_000 });
  const tableStats = async (client: pg.Client) =>
    (
      await client.query<{ live: string; revoked: string; bytes: string }>(
        `select count(*) filter (where revoked_at is null) as live, count(*) filter (where revoked_at is not null) as revoked,
                pg_total_relation_size('org_api_tokens') as bytes from org_api_tokens`,
      )
    ).rows[0]!;
  const countsS = await tableStats(dbS.client);
  const counts = await tableStats(dbL.client);
  const expectedLive = LIVE_ROWS + LIST_LIMIT;
  if (Number(countsS.live) !== LIST_LIMIT || Number(countsS.revoked) !== 0) {
    throw new Error(`S: org_api_tokens holds ${countsS.live} live and ${countsS.revoked} revoked rows; expected ${LIST_LIMIT} and 0`);
  }
  if (Number(counts.live) !== expectedLive || Number(counts.revoked) !== REVOKED_ROWS) {
    throw new Error(`L: org_api_tokens holds ${counts.live} live and ${counts.revoked} revoked rows; expected ${expectedLive} and ${REVOKED_ROWS}`);
  }
  process.stdout.write(
    ` ${fmt(seeded.insertMs / 1000, 1)} s; table + indexes ${fmt(Number(counts.bytes) / 2 ** 20, 1)} MiB (S: ${fmt(Number(countsS.bytes) / 2 ** 10, 0)} KiB)\n`,
  );
  // Setup is done with the databases: no idle setup connection stays open while anything is measured.
  await dbS.close();
  await dbL.close();

  // Prove the seeded rows are what they claim: sampled live keys authenticate on L, sampled revoked keys do not.
  const liveSample = [0, 1, 2, 3, 4].map(() => seeded.livePlaintexts[Math.floor(Math.random() * seeded.livePlaintexts.length)]!);
  for (const key of liveSample) {
    const res = await http('GET', `${tenantL.baseUrl}/org/tokens?limit=1`, { authorization: `Bearer ${key}`, 'x-molecule-org-id': orgId });
    if (res.status !== 200) throw new Error(`a seeded live key was not accepted: ${res.status} ${res.text.slice(0, 300)}`);
  }
  for (const key of seeded.revokedSample) {
    const res = await http('GET', `${tenantL.baseUrl}/org/tokens?limit=1`, { authorization: `Bearer ${key}`, 'x-molecule-org-id': orgId });
    if (res.status !== 401) throw new Error(`a seeded revoked key answered ${res.status}, expected 401`);
  }

  // Each scenario answers once before any load: 200, and a full page for a list.
  const prepare = async (id: number, name: string, tenant: Tenant, path: string, credential: ScenarioResult['credential'], headers: Record<string, string>, expectList: boolean) => {
    const pre = await preflight(`${tenant.baseUrl}${path}`, headers, expectList);
    const meta = { id, name, tenant: tenant.label, request: `GET ${path}`, credential, responseBodyBytes: pre.bodyBytes };
    return { meta, ids: pre.ids, url: `${tenant.baseUrl}${path}`, headers };
  };
  const adminList = await prepare(3, `GET ${listPath}, ADMIN_TOKEN`, tenantS, listPath, 'admin-token', adminHeaders, true);
  const health = await prepare(1, 'GET /health', tenantS, '/health', 'none', {}, false);
  const small = await prepare(2, `GET ${listPath}, org key, ${LIST_LIMIT} keys in table`, tenantS, listPath, 'org-key', orgKeyHeaders, true);
  const large = await prepare(4, `GET ${listPath}, org key, +${fmt(REVOKED_ROWS, 0)} revoked +${fmt(LIVE_ROWS, 0)} live`, tenantL, listPath, 'org-key', orgKeyHeaders, true);
  // Seeded rows are all older than the minted ones, so L's page must be the very same 20 keys as S's.
  if (large.ids.join(',') !== small.ids.join(',')) throw new Error('tenants S and L returned different pages; the comparison would not isolate the credential lookup');

  const phaseStarted = performance.now();
  // Once per tenant, before any scenario: the first seconds of database traffic on a fresh process run several
  // times slower (V8 compiling the query, auth and serialization paths; the pool's PostgreSQL backends filling
  // their caches) and take ~10 s to settle here — far longer than a window's warm-up. Without this, the first
  // rounds would measure a process still warming up. Order: prime S, scenario 3 on S, prime L, then the rounds
  // open on L — so neither tenant starts the rounds after half a minute idle (in a trial run that opened them on
  // L after ~35 s idle, that first window was about a quarter below L's others).
  const primes: Partial<Record<TenantLabel, LoadSummary>> = {};
  const primeTenant = async (tenant: Tenant) => {
    process.stdout.write(`  priming tenant ${tenant.label}: ${PRIME_SECONDS} s of GET ${listPath} with the org key, not measured …`);
    const prime = await runLoad({ url: `${tenant.baseUrl}${listPath}`, headers: orgKeyHeaders, connections: config.connections, warmupSeconds: 0, durationSeconds: PRIME_SECONDS });
    assertClean(`priming ${tenant.label}`, 'prime', prime.measured);
    primes[tenant.label] = prime.measured;
    process.stdout.write(` ${fmt(prime.measured.requestsPerSecMean, 1)} req/s\n`);
  };
  await primeTenant(tenantS);

  // Scenario 3 is in no ratio: one window, as before.
  process.stdout.write(`  running 3. ${adminList.meta.name} (S) …`);
  const admin3 = await runLoad({ url: adminList.url, headers: adminList.headers, connections: config.connections, warmupSeconds: WARMUP_SECONDS, durationSeconds: config.durationSeconds });
  if (admin3.warmup) assertClean(adminList.meta.name, 'warm-up', admin3.warmup);
  assertClean(adminList.meta.name, 'measured', admin3.measured);
  process.stdout.write(` ${fmt(admin3.measured.requestsPerSecMean, 1)} req/s\n`);

  await primeTenant(tenantL);

  // Scenarios 1, 2 and 4 interleaved: order 4 2 1 in odd rounds, 1 2 4 in even ones. Each pair of a ratio is
  // adjacent in every round and swaps order every round (4 2 2 4 4 2 …, 2 1 1 2 2 1 …), so a linear drift over
  // two rounds adds as much to one side as to the other, and so does any effect of a window's place in its round.
  const interleaved = [health, small, large];
  const windows = new Map<number, WindowResult[]>(interleaved.map((s) => [s.meta.id, []]));
  const plan: RoundPlan[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 === 1 ? [...interleaved].reverse() : interleaved;
    plan.push({ round, order: order.map((s) => s.meta.id) });
    process.stdout.write(`  round ${round}/${ROUNDS}:`);
    for (const [index, scenario] of order.entries()) {
      const out = await runLoad({ url: scenario.url, headers: scenario.headers, connections: config.connections, warmupSeconds: ROUND_WARMUP_SECONDS, durationSeconds: config.windowSeconds });
      const phase = `round ${round}`;
      if (out.warmup) assertClean(scenario.meta.name, `${phase} warm-up`, out.warmup);
      assertClean(scenario.meta.name, phase, out.measured);
      windows.get(scenario.meta.id)!.push({ round, position: index + 1, measured: out.measured, warmup: out.warmup });
      process.stdout.write(`  #${scenario.meta.id} ${fmt(rate(out.measured), 1)}`);
    }
    process.stdout.write(' req/s\n');
  }
  const phaseSeconds = (performance.now() - phaseStarted) / 1000;
  const interleavedResult = (s: (typeof interleaved)[number]): ScenarioResult => {
    const w = windows.get(s.meta.id)!;
    return { ...s.meta, measured: aggregate(w.map((x) => x.measured)), warmup: null, windows: w };
  };
  const healthResult = interleavedResult(health);
  const smallResult = interleavedResult(small);
  const largeResult = interleavedResult(large);
  const adminResult: ScenarioResult = { ...adminList.meta, measured: admin3.measured, warmup: admin3.warmup, windows: null };
  const results = [healthResult, smallResult, adminResult, largeResult];
  // Windows that ran long (or short) would still compare by rate, but they are worth a line.
  const oddWindows = [healthResult, smallResult, largeResult].flatMap((r) =>
    r.windows!.filter((w) => Math.abs(w.measured.durationSeconds - config.windowSeconds) > 0.25).map((w) => `#${r.id} round ${w.round}: ${w.measured.durationSeconds} s`),
  );
  const ratios = [
    targetRatio('org-key / health', smallResult, healthResult, TARGETS.orgKeyOverHealth),
    targetRatio('large-table / small-table', largeResult, smallResult, TARGETS.largeOverSmall),
  ];

  console.log(`\nResults (measured windows only; 1, 2, 4: all ${ROUNDS} rounds summed; latency as recorded by autocannon, 1 ms resolution)\n`);
  printTable(results);
  console.log(`\n  note  scenarios 2 (tenant S) and 4 (tenant L) both request ?limit=${LIST_LIMIT} and return the same ${LIST_LIMIT} keys`);
  console.log('        (checked), so the response size is identical and their difference isolates the credential lookup in a');
  console.log('        large table. For 1, 2, 4: req/s = responses / seconds over all rounds; ± sd over all 1 s samples; p50 and');
  console.log("        p99 = the median of the windows' own. Response bodies: " + results.map((r) => `#${r.id} ${r.responseBodyBytes} B`).join(', ') + '.');
  if (oddWindows.length > 0) console.log(`        Windows not ${config.windowSeconds} s long (compared by rate): ${oddWindows.join('; ')}.`);
  console.log(`\nRounds (req/s per ${config.windowSeconds} s window, each after a ${ROUND_WARMUP_SECONDS} s warm-up; one tenant under load at a time)\n`);
  printRounds(plan, healthResult, smallResult, largeResult);
  console.log('\nRatios measured side by side in this run (figures, not tests; requests in equal time, all rounds)\n');
  for (const r of ratios) {
    console.log(
      `  ${r.name.padEnd(27)} ${fmt(r.value, 3)}   target ≥ ${r.target}   ${(r.meetsTarget ? 'meets target' : 'below target').padEnd(12)}` +
        `   per round: min ${fmt(r.perRoundMin, 3)}, median ${fmt(r.perRoundMedian, 3)}, max ${fmt(r.perRoundMax, 3)}`,
    );
  }
  console.log(`\n  measuring took ${fmt(phaseSeconds, 0)} s (priming both tenants, scenario 3, ${ROUNDS} rounds)`);
  for (const tenant of [tenantS, tenantL]) {
    const warnings = tenant.process.warnings;
    if (warnings.length === 0) continue;
    console.log(`\nTenant ${tenant.label} logged ${warnings.length} warning/error line(s); the first ones:`);
    for (const w of warnings.slice(0, 10)) console.log(`  ${w}`);
  }

  // Workspace lifecycle on real runtime processes (issue: workspaces that really run), on tenant S.
  process.stdout.write('\nWorkspace lifecycle (tenant S; real runtime processes, registering over HTTP) …');
  const lifecycle = await measureLifecycle(tenantS.baseUrl, orgKeyHeaders);
  console.log(' done\n');
  console.log(`  POST /workspaces → online, one at a time   median ${fmt(lifecycle.sequential.medianMs, 0)} ms, p90 ${fmt(lifecycle.sequential.p90Ms, 0)} ms, max ${fmt(lifecycle.sequential.maxMs, 0)} ms (${lifecycle.sequential.count} workspaces)`);
  console.log(`  ${lifecycle.concurrent.count} created concurrently → all online        ${fmt(lifecycle.concurrent.wallMs, 0)} ms wall time`);
  console.log(`  RSS of one idle runtime process           median ${fmt(lifecycle.idleRuntimeRssMiB.median, 1)} MiB (${lifecycle.idleRuntimeRssMiB.samples} processes)`);

  // The tenants and their runtimes stop here, so later parts have the machine to themselves (the cleanup still checks
  // their exit codes).
  await Promise.all([tenantS, tenantL].map((t) => t.process.stop()));
  return {
    settings: {
      durationSeconds: config.durationSeconds,
      warmupSeconds: WARMUP_SECONDS,
      primeSeconds: PRIME_SECONDS,
      rounds: ROUNDS,
      windowSeconds: config.windowSeconds,
      roundWarmupSeconds: ROUND_WARMUP_SECONDS,
      roundOrder: plan.map((p) => p.order),
      connections: config.connections,
      databasePoolSize: POOL_SIZE,
      logLevel: 'warn',
      listLimit: LIST_LIMIT,
    },
    tenants: {
      S: { database: tenantS.dbName, orgKeysLive: Number(countsS.live), orgKeysRevoked: Number(countsS.revoked), tableBytes: Number(countsS.bytes) },
      L: { database: tenantL.dbName, orgKeysLive: Number(counts.live), orgKeysRevoked: Number(counts.revoked), tableBytes: Number(counts.bytes) },
    },
    seed: { tenant: 'L', revoked: REVOKED_ROWS, live: LIVE_ROWS, liveIncludingMinted: expectedLive, insertSeconds: seeded.insertMs / 1000, tableBytes: Number(counts.bytes) },
    prime: {
      seconds: PRIME_SECONDS,
      request: `GET ${listPath}`,
      credential: 'org-key',
      requestsPerSecMean: { S: primes.S?.requestsPerSecMean ?? null, L: primes.L?.requestsPerSecMean ?? null },
    },
    measuringSeconds: phaseSeconds, // priming both tenants, scenario 3 and the rounds
    scenarios: results,
    ratios,
    lifecycle,
    tenantWarnings: { S: tenantS.process.warnings, L: tenantL.process.warnings },
    notes: [
      'Shared, noisy machines: compare ratios measured in one run, not absolute figures across runs.',
      `Two tenant processes run side by side with the same env, each on its own fresh database: S holds the ${LIST_LIMIT} keys minted through its API; L holds the same rows (copied) plus ${REVOKED_ROWS} revoked and ${LIVE_ROWS} live seeded keys. Scenarios 1, 2 and 3 run on S, scenario 4 on L.`,
      `Scenarios 1, 2 and 4 are measured interleaved in ${ROUNDS} rounds of one ${config.windowSeconds} s window each (after a ${ROUND_WARMUP_SECONDS} s warm-up), order 4 2 1 then 1 2 4 (ABBA), one tenant under load at a time, so machine drift hits both sides of each ratio alike and linear drift cancels.`,
      'A ratio is the numerator\'s responses over the denominator\'s in equal time (responses / measured seconds, summed over all rounds); perRound holds each round\'s own ratio, and its spread shows the noise left.',
      'Windows last whole seconds (autocannon stops on its one-second sample tick); durationSeconds is the measured length.',
      'An interleaved scenario\'s "measured" sums its windows: rate = responses / seconds; ± sd over all 1 s samples; latency p50/p90/p99 = the median of the windows\' own, max = max; each window is in "windows".',
      `Scenarios 2 and 4 request ?limit=${LIST_LIMIT} and return the same keys (checked), so the response size is identical and the comparison isolates the credential lookup.`,
      'Ratios are figures, not tests: a ratio below its target does not fail the run; any non-2xx, error or timeout in any window does.',
      `A ${PRIME_SECONDS} s priming run per tenant precedes its scenarios so that the first rounds do not measure a process still warming up (a fresh process's first database traffic is several times slower for ~10 s). Order: prime S, scenario 3 on S, prime L, rounds (opening on L).`,
      'Scenario 3 (ADMIN_TOKEN) is in no ratio and is measured in one window; the workspace lifecycle runs on tenant S after the scenarios.',
      'The control plane\'s figures are under "controlPlane" (its own scenarios, ratios and notes), measured after the tenants were stopped.',
    ],
  };
}

async function main(): Promise<number> {
  let config: Config;
  try {
    config = readConfig();
  } catch (err) {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const cleanup = new Cleanup();
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\nbench: ${signal}: cleaning up`);
    for (const load of activeLoads) load.kill('SIGTERM');
    void cleanup.run().then((failures) => {
      for (const f of failures) console.error(`bench: cleanup failed: ${f}`);
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const cpus = os.cpus();
  const machine: Machine = {
    node: process.version,
    cpuCount: cpus.length,
    availableParallelism: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    postgres: 'unknown',
  };

  let failure: unknown = null;
  try {
    const admin = new pg.Client({ connectionString: config.adminDatabaseUrl });
    await admin.connect();
    try {
      machine.postgres = (await admin.query<{ server_version: string }>('show server_version')).rows[0]?.server_version ?? 'unknown';
    } finally {
      await admin.end();
    }
    console.log(`bench parts: ${[...config.parts].join(', ')} (BENCH_PARTS=${PARTS.join(',')} selects; default all)`);

    const tenant = config.parts.has('tenant') ? await runTenantBench(config, cleanup, machine) : null;

    // What the later parts share: their server binary and host, the PostgreSQL server, and the interleaved windows.
    const part = {
      bin: TENANT_BIN,
      host: HOST,
      adminDatabaseUrl: config.adminDatabaseUrl,
      connections: config.connections,
      windowSeconds: config.windowSeconds,
      rounds: ROUNDS,
      roundWarmupSeconds: ROUND_WARMUP_SECONDS,
      cleanup,
      runLoad,
      assertClean,
      aggregate,
    };

    // The control plane (bench/control-plane.ts), alone on the machine: the tenants are stopped by now.
    let controlPlane: Awaited<ReturnType<typeof runControlPlaneBench>> | null = null;
    if (config.parts.has('cp')) {
      controlPlane = await runControlPlaneBench({ ...part, durationSeconds: config.durationSeconds });
      printControlPlaneFigures(controlPlane, printAligned);
    }

    // The platform (bench/provisioning.ts): org create → tenant ready, idle tenant RSS, edge ÷ direct.
    let provisioning: Awaited<ReturnType<typeof runProvisioningBench>> | null = null;
    if (config.parts.has('provisioning')) {
      if (!config.parts.has('tenant')) printMachine(machine);
      provisioning = await runProvisioningBench(part);
      printProvisioningFigures(provisioning, printAligned);
    }

    // Org import (bench/orgimport.ts): 100 workspaces → all online, then the re-import (all skipped).
    let orgImport: Awaited<ReturnType<typeof runOrgImportBench>> | null = null;
    if (config.parts.has('orgimport')) {
      if (!config.parts.has('tenant') && !config.parts.has('provisioning')) printMachine(machine);
      orgImport = await runOrgImportBench(part);
      printOrgImportFigures(orgImport);
    }

    // Partner API keys (bench/partner-keys.ts): partner key ÷ CP admin bearer, Redis limits ÷ in-memory.
    let partnerKeys: Awaited<ReturnType<typeof runPartnerKeysBench>> | null = null;
    if (config.parts.has('partnerkeys')) {
      if (!config.parts.has('tenant') && !config.parts.has('provisioning') && !config.parts.has('orgimport')) printMachine(machine);
      partnerKeys = await runPartnerKeysBench({ ...part, redisUrl: config.redisUrl });
      printPartnerKeyFigures(partnerKeys, printAligned);
    }

    // Idempotency-Key (bench/idempotency.ts): a fresh key per POST ÷ no key, one key replayed ÷ no key.
    let idempotency: Awaited<ReturnType<typeof runIdempotencyBench>> | null = null;
    if (config.parts.has('idempotency')) {
      const printedMachine: Part[] = ['tenant', 'provisioning', 'orgimport', 'partnerkeys'];
      if (!printedMachine.some((p) => config.parts.has(p))) printMachine(machine);
      idempotency = await runIdempotencyBench(part);
      printIdempotencyFigures(idempotency, printAligned);
    }

    mkdirSync(RESULTS_DIR, { recursive: true });
    // A run of some parts only does not overwrite the full run's file.
    const all = PARTS.every((p) => config.parts.has(p));
    const resultsFile = `${RESULTS_DIR}/${all ? 'latest' : `latest.${[...config.parts].join('+')}`}.json`;
    writeFileSync(
      resultsFile,
      JSON.stringify({ generatedAt: new Date().toISOString(), machine, parts: [...config.parts], ...(tenant ?? {}), controlPlane, provisioning, orgImport, partnerKeys, idempotency }, null, 2) + '\n',
    );
    console.log(`\nWritten: ${resultsFile}`);
  } catch (err) {
    failure = err;
  }

  const cleanupFailures = await cleanup.run();
  if (interrupted) return 130;
  if (failure) console.error(`\nbench FAILED: ${failure instanceof Error ? failure.message : String(failure)}`);
  for (const f of cleanupFailures) console.error(`bench: cleanup failed: ${f}`);
  return failure || cleanupFailures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
