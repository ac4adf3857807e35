import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { mintCredential } from '../src/core/credentials/format.js';
import { IDEMPOTENCY_HEADER, REPLAYED_HEADER } from '../src/core/http/idempotency.js';
import { createBenchDatabase } from './database.js';
import { printScenarioTable, runInterleavedRounds, type InterleavedLoadContext, type InterleavedScenario, type RoundWindow } from './interleaved.js';
import type { LoadSummary } from './protocol.js';
import { fmt, interleavedRatio, rate, type InterleavedRatio } from './stats.js';
import { freePort, spawnTenant } from './tenant-process.js';

/**
 * The cost of `Idempotency-Key` (BENCH_PARTS=idempotency): the SDK puts one on every POST, so every POST pays it. One
 * real tenant process on a fresh PostgreSQL database, one POST route that answers 200 every time it is repeated, with an
 * org key (admin role):
 *
 *   POST /settings/secrets {"key":"BENCH_SECRET","value":…}   (the same body in every scenario)
 *   1. no Idempotency-Key                                  — the route alone
 *   2. a fresh Idempotency-Key on every request (the SDK)  — + derive, claim a row, run, seal and store the response
 *   3. one Idempotency-Key, the same request every time    — every answer a replay: derive, find, open, send; no handler
 *
 * Measured interleaved in rounds ordered 2 1 3 then 3 1 2 (ABBA, the plain POST in the middle, next to both of its
 * ratios' numerators): keyed ÷ plain and replay ÷ plain, figures without targets. Any non-2xx fails the run.
 */

export interface IdempotencyBenchContext extends InterleavedLoadContext {
  bin: string;
  host: string;
  adminDatabaseUrl: string;
  cleanup: { add(name: string, fn: () => Promise<void>): void };
}

const PRIME_SECONDS = 3;
const ROUTE = '/settings/secrets';
const POOL_SIZE = 10; // the tenant's default DATABASE_POOL_SIZE: measure what ships

export interface IdempotencyScenario {
  id: number;
  name: string;
  request: string;
  idempotencyKey: 'none' | 'fresh per request' | 'one key, replayed';
  responseBodyBytes: number;
  measured: LoadSummary;
  windows: RoundWindow[];
}

export interface IdempotencyFigures {
  database: string;
  rounds: number;
  windowSeconds: number;
  roundOrder: number[][];
  scenarios: IdempotencyScenario[];
  ratios: InterleavedRatio[];
  /** idempotency_keys rows after the run, and the keyed (scenario 2) responses counted in all its runs. */
  storedRows: { total: number; done: number; keyedResponses: number };
  warnings: string[];
  notes: string[];
}

interface Answer {
  status: number;
  replayed: string | null;
  text: string;
}

async function post(url: string, headers: Record<string, string>, body: string): Promise<Answer> {
  const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, replayed: res.headers.get(REPLAYED_HEADER), text: await res.text() };
}

async function countStoredRows(dbUrl: string): Promise<{ total: number; done: number }> {
  const client = new pg.Client({ connectionString: dbUrl });
  await client.connect();
  try {
    const row = (await client.query<{ total: string; done: string }>(`select count(*) as total, count(*) filter (where state = 'done') as done from idempotency_keys`)).rows[0]!;
    return { total: Number(row.total), done: Number(row.done) };
  } finally {
    await client.end();
  }
}

export async function runIdempotencyBench(ctx: IdempotencyBenchContext): Promise<IdempotencyFigures> {
  const dbUrl = await createBenchDatabase(ctx.adminDatabaseUrl, 'idem', ctx.cleanup);
  const dbName = new URL(dbUrl).pathname.slice(1);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'molecule-bench-idem-'));
  ctx.cleanup.add('remove the idempotency tenant\'s data directory', async () => rmSync(dataDir, { recursive: true, force: true }));

  const orgId = randomUUID();
  const adminToken = mintCredential('tenantAdminToken').plaintext;
  const port = await freePort(ctx.host);
  const tenant = spawnTenant({
    bin: ctx.bin,
    host: ctx.host,
    port,
    readyTimeoutMs: 60_000,
    env: {
      PATH: process.env['PATH'] ?? '',
      HOST: ctx.host,
      PORT: String(port),
      DATABASE_URL: dbUrl,
      MOLECULE_DATA_DIR: dataDir,
      ADMIN_TOKEN: adminToken,
      MOLECULE_ORG_ID: orgId,
      MOLECULE_ORG_SLUG: 'bench-idempotency',
      MOLECULE_ENV: 'production',
      SECRETS_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      LOG_LEVEL: 'warn',
      DATABASE_POOL_SIZE: String(POOL_SIZE),
    },
  });
  ctx.cleanup.add('stop the idempotency tenant', async () => {
    const { code, signal } = await tenant.stop();
    if (code !== 0) throw new Error(`the idempotency tenant exited with code ${code} (signal ${signal}) on SIGTERM:\n${tenant.tail()}`);
  });
  const baseUrl = await tenant.ready;

  console.log('\nMolecule Platform Idempotency-Key benchmark');
  console.log(`  process    molecule-platform tenant on database ${dbName} (fresh, dropped at the end): ${baseUrl}`);

  // An org key, minted through the API as an operator would (the default role, admin, may set org-wide secrets).
  const adminHeaders = { authorization: `Bearer ${adminToken}`, 'x-molecule-org-id': orgId, 'content-type': 'application/json' };
  const minted = await post(`${baseUrl}/org/tokens`, adminHeaders, JSON.stringify({ name: 'bench idempotency key' }));
  const orgKey = minted.status === 200 ? (JSON.parse(minted.text) as { auth_token?: unknown }).auth_token : undefined;
  if (typeof orgKey !== 'string') throw new Error(`minting an org key failed: ${minted.status} ${minted.text.slice(0, 300)}`);

  const url = `${baseUrl}${ROUTE}`;
  const body = JSON.stringify({ key: 'BENCH_SECRET', value: `bench-${randomBytes(12).toString('base64url')}` });
  const headers = { authorization: `Bearer ${orgKey}`, 'x-molecule-org-id': orgId, 'content-type': 'application/json' };
  const replayKey = `bench-replay-${randomBytes(12).toString('base64url')}`;
  const replayHeaders = { ...headers, [IDEMPOTENCY_HEADER]: replayKey };

  // Preflight: every scenario answers 200 with the same body; only the replayed one says it is a replay.
  const ok = (what: string, a: Answer, replayed: boolean) => {
    if (a.status !== 200) throw new Error(`preflight ${what} answered ${a.status}: ${a.text.slice(0, 300)}`);
    if ((a.replayed === 'true') !== replayed) throw new Error(`preflight ${what}: ${REPLAYED_HEADER} is ${a.replayed ?? 'absent'}, expected ${replayed ? 'true' : 'absent'}`);
    return a;
  };
  const plain = ok('plain POST', await post(url, headers, body), false);
  for (let i = 1; i <= 2; i++) {
    const keyed = ok(`POST with fresh key ${i}`, await post(url, { ...headers, [IDEMPOTENCY_HEADER]: `bench-preflight-${randomBytes(12).toString('base64url')}` }, body), false);
    if (keyed.text !== plain.text) throw new Error(`a keyed POST answers another body than the plain one: ${keyed.text.slice(0, 300)}`);
  }
  // The replayed key's first request runs the handler; from its second on, every answer is the stored one.
  const first = ok('first POST of the replayed key', await post(url, replayHeaders, body), false);
  const replay = ok('second POST of the replayed key', await post(url, replayHeaders, body), true);
  if (first.text !== plain.text || replay.text !== first.text) throw new Error(`the replayed key answers another body: ${first.text.slice(0, 200)} / ${replay.text.slice(0, 200)}`);

  const request = `POST ${ROUTE}`;
  const metas: Array<Pick<IdempotencyScenario, 'id' | 'name' | 'request' | 'idempotencyKey'>> = [
    { id: 1, name: 'POST, no Idempotency-Key', request, idempotencyKey: 'none' },
    { id: 2, name: 'POST, fresh key per request', request, idempotencyKey: 'fresh per request' },
    { id: 3, name: 'POST, one key replayed', request, idempotencyKey: 'one key, replayed' },
  ];
  const loads: InterleavedScenario[] = [
    { id: 1, name: metas[0]!.name, load: { url, method: 'POST', body, headers } },
    { id: 2, name: metas[1]!.name, load: { url, method: 'POST', body, headers, uniqueHeader: IDEMPOTENCY_HEADER } },
    { id: 3, name: metas[2]!.name, load: { url, method: 'POST', body, headers: replayHeaders } },
  ];
  // Scenario 2's responses in every run (priming, warm-ups, windows): each stored one row, which is checked at the end.
  let keyedResponses = 0;
  const countKeyed = (id: number, ...summaries: Array<LoadSummary | null>) => {
    if (id === 2) for (const s of summaries) keyedResponses += s?.requestsTotal ?? 0;
  };

  for (const s of loads) {
    process.stdout.write(`  priming    ${PRIME_SECONDS} s of ${s.name}, not measured …`);
    const prime = await ctx.runLoad({ ...s.load, connections: ctx.connections, warmupSeconds: 0, durationSeconds: PRIME_SECONDS });
    ctx.assertClean(`priming ${s.name}`, 'prime', prime.measured);
    countKeyed(s.id, prime.measured);
    process.stdout.write(` ${fmt(rate(prime.measured), 1)} req/s\n`);
  }

  const { windows, roundOrder } = await runInterleavedRounds(ctx, loads, (round) => (round % 2 === 1 ? [2, 1, 3] : [3, 1, 2]), (id, out) =>
    countKeyed(id, out.warmup, out.measured),
  );

  // Afterwards: the replayed key still replays (so its windows measured replays), and scenario 2 really sent a new
  // key each time — one stored row per keyed response at least (plus the preflight's and the replayed key's).
  ok('a later POST of the replayed key', await post(url, replayHeaders, body), true);
  const rows = await countStoredRows(dbUrl);
  if (rows.total < keyedResponses + 3) throw new Error(`idempotency_keys holds ${rows.total} rows after ${keyedResponses} keyed responses: the keys were not fresh`);

  const scenarios: IdempotencyScenario[] = metas.map((meta) => {
    const w = windows.get(meta.id)!;
    return { ...meta, responseBodyBytes: Buffer.byteLength(plain.text), measured: ctx.aggregate(w.map((x) => x.measured)), windows: w };
  });
  const [r1, r2, r3] = scenarios as [IdempotencyScenario, IdempotencyScenario, IdempotencyScenario];
  return {
    database: dbName,
    rounds: ctx.rounds,
    windowSeconds: ctx.windowSeconds,
    roundOrder,
    scenarios,
    ratios: [interleavedRatio('fresh key / no key', r2, r1), interleavedRatio('replay / no key', r3, r1)],
    storedRows: { ...rows, keyedResponses },
    warnings: tenant.warnings,
    notes: [
      `One molecule-platform tenant process on a fresh PostgreSQL database, production mode, LOG_LEVEL=warn, DATABASE_POOL_SIZE=${POOL_SIZE}; an org key (admin role) minted through POST /org/tokens.`,
      `The route is POST ${ROUTE} with the same body in all three scenarios (checked: the same 200 answer). It upserts one encrypted row and appends one audit event (the audit chain's head row is locked per write), so concurrent POSTs queue on those locks; a replay takes neither.`,
      'Scenario 2 sets a new Idempotency-Key on every request (autocannon rebuilds each request: a random per-process prefix and a counter), as the SDK does; each claims a row, runs the handler and stores its sealed response. storedRows checks there is at least one row per keyed response.',
      `Scenario 3 sends one key with the same request every time: its first request ran in the preflight, and every answer under load is the stored one (${REPLAYED_HEADER}: true, checked before and after the rounds) — derive, one lookup, open, send; no handler, no audit.`,
      `Interleaved in ${ctx.rounds} rounds of one ${ctx.windowSeconds} s window each (after a ${ctx.roundWarmupSeconds} s warm-up), order 2 1 3 then 3 1 2 (ABBA). Ratios: responses in equal time over all rounds; perRound holds each round's own. Figures, not targets.`,
      'Any non-2xx (a 409 IDEMPOTENCY_KEY_IN_USE, a 422 IDEMPOTENCY_KEY_REUSED, …), error or timeout fails the run instead of flattering a ratio.',
    ],
  };
}

export function printIdempotencyFigures(f: IdempotencyFigures, printAligned: (header: string[], rows: string[][], leftColumns: number) => void) {
  console.log(`\nIdempotency-Key results (measured windows only; all ${f.rounds} rounds summed)\n`);
  printScenarioTable(f.scenarios, printAligned);
  console.log(`\n  stored     idempotency_keys: ${fmt(f.storedRows.total, 0)} rows (${fmt(f.storedRows.done, 0)} done) after ${fmt(f.storedRows.keyedResponses, 0)} fresh-key responses`);
  console.log('\nIdempotency-Key ratios measured side by side in this run (figures, not tests)\n');
  for (const r of f.ratios) {
    console.log(`  ${r.name.padEnd(26)} ${fmt(r.value, 3)}   per round: ${r.perRound.map((x) => fmt(x, 3)).join(' ')}`);
  }
  if (f.warnings.length > 0) {
    console.log(`\nThe tenant logged ${f.warnings.length} warning/error line(s); the first ones:`);
    for (const w of f.warnings.slice(0, 10)) console.log(`  ${w}`);
  }
}
