import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createBenchDatabase } from './database.js';
import { printScenarioTable, runInterleavedRounds, type InterleavedLoadContext, type RoundWindow } from './interleaved.js';
import type { LoadSummary } from './protocol.js';
import { fmt, interleavedRatio, rate, type InterleavedRatio } from './stats.js';
import { freePort, spawnControlPlane, type ServerProcess } from './tenant-process.js';

/**
 * Partner API keys' part of `npm run bench` (BENCH_PARTS=partnerkeys; issue 12 item 9): what a partner key costs on a
 * control-plane route, and what sharing its limit through Redis costs. Two real `molecule-platform cp` processes on one
 * fresh PostgreSQL database — one with REDIS_URL (limits in Redis, as replicas share them), one without (in-memory) —
 * and the same route on both, one that takes either credential:
 *
 *   GET /api/v1/admin/partner-keys?partner_id=<p>&limit=20   (the partner's 20 keys, the same body every time)
 *   1. with the CP admin bearer, on the in-memory CP        — a constant-time compare, no lookup, no limit
 *   2. with a partner key (admin:keys), on the in-memory CP — checksum, one indexed lookup, its own limit (memory)
 *   3. with the same partner key, on the Redis CP           — … its limit counted in Redis (one MULTI round trip)
 *
 * Measured interleaved in rounds ordered 1 2 3 then 3 2 1 (ABBA): ratios 2 / 1 (target ≥ 0.9) and 3 / 2 (target
 * ≥ 0.8). The key's rate_limit is the maximum (100,000 a minute): a 429 would fail the run, not flatter a ratio.
 */

export interface PartnerKeysBenchContext extends InterleavedLoadContext {
  bin: string;
  host: string;
  adminDatabaseUrl: string;
  redisUrl: string;
  cleanup: { add(name: string, fn: () => Promise<void>): void };
}

export const PARTNER_KEY_TARGETS = { partnerOverAdmin: 0.9, redisOverMemory: 0.8 } as const;

const KEYS_OF_PARTNER = 20;
const PRIME_SECONDS = 3;

export interface PartnerKeyScenario {
  id: number;
  name: string;
  request: string;
  credential: 'cp-admin' | 'partner-key';
  limiter: 'memory' | 'redis' | 'none';
  responseBodyBytes: number;
  measured: LoadSummary;
  windows: RoundWindow[];
}

export interface PartnerKeyFigures {
  database: string;
  rounds: number;
  windowSeconds: number;
  roundOrder: number[][];
  scenarios: PartnerKeyScenario[];
  ratios: Array<InterleavedRatio & { target: number; meetsTarget: boolean }>;
  warnings: string[];
  notes: string[];
}

async function request(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  return { status: res.status, text: await res.text() };
}

export async function runPartnerKeysBench(ctx: PartnerKeysBenchContext): Promise<PartnerKeyFigures> {
  const dbUrl = new URL(await createBenchDatabase(ctx.adminDatabaseUrl, 'pk', ctx.cleanup));
  const dbName = dbUrl.pathname.slice(1);
  const adminToken = `cp-admin-${randomBytes(24).toString('base64url')}`;
  // Production refuses to boot without a keyring; both replicas share one, as replicas do.
  const secretsKey = randomBytes(32).toString('base64');
  // Their data directory (agent homes): a temporary one, never the caller's working directory.
  const dataDir = mkdtempSync(join(os.tmpdir(), 'molecule-bench-pk-'));
  // Walkable (not listable) by other users, so the CP keeps its agent homes inside it instead of moving them out.
  chmodSync(dataDir, 0o711);
  ctx.cleanup.add('remove the control planes\' data directory', async () => rmSync(dataDir, { recursive: true, force: true }));

  const start = async (label: string, redis: boolean): Promise<{ cp: ServerProcess; url: string }> => {
    const port = await freePort(ctx.host);
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '',
      HOST: ctx.host,
      PORT: String(port),
      DATABASE_URL: dbUrl.toString(),
      MOLECULE_ENV: 'production',
      LOG_LEVEL: 'warn',
      CP_ADMIN_API_TOKEN: adminToken,
      SECRETS_ENCRYPTION_KEY: secretsKey,
      MOLECULE_DATA_DIR: dataDir,
      ...(redis ? { REDIS_URL: ctx.redisUrl } : {}),
    };
    const cp = spawnControlPlane({ bin: ctx.bin, host: ctx.host, port, readyTimeoutMs: 60_000, env });
    ctx.cleanup.add(`stop the ${label} control plane`, async () => {
      const { code, signal } = await cp.stop();
      if (code !== 0) throw new Error(`the ${label} control plane exited with code ${code} (signal ${signal}) on SIGTERM:\n${cp.tail()}`);
    });
    return { cp, url: await cp.ready };
  };
  // One after the other: the first migrates the fresh database.
  const memory = await start('in-memory', false);
  const redis = await start('Redis', true);

  console.log('\nMolecule Platform partner-key benchmark');
  console.log(`  processes  molecule-platform cp ×2 on database ${dbName} (fresh, dropped at the end): ${memory.url} (in-memory limits), ${redis.url} (REDIS_URL)`);

  const partnerId = `bench-${randomBytes(3).toString('hex')}`;
  const adminHeaders = { authorization: `Bearer ${adminToken}` };
  let key = '';
  for (let i = 0; i < KEYS_OF_PARTNER; i++) {
    const res = await request('POST', `${memory.url}/api/v1/admin/partner-keys`, adminHeaders, { name: `bench key ${i}`, partner_id: partnerId, scopes: ['admin:keys', 'orgs:read'], rate_limit: 100_000 });
    if (res.status !== 201) throw new Error(`minting bench key ${i}: ${res.status} ${res.text.slice(0, 300)}`);
    if (i === 0) key = (JSON.parse(res.text) as { key: string }).key;
  }
  const keyHeaders = { authorization: `Bearer ${key}` };
  const path = `/api/v1/admin/partner-keys?partner_id=${partnerId}&limit=${KEYS_OF_PARTNER}`;

  // Each scenario answers once, with the same body: the comparison isolates the credential and the limiter.
  const prepare = async (meta: Omit<PartnerKeyScenario, 'responseBodyBytes' | 'measured' | 'windows'>, base: string, headers: Record<string, string>) => {
    const res = await request('GET', `${base}${path}`, headers);
    const ids = res.status === 200 ? (JSON.parse(res.text) as Array<{ id: string }>).map((k) => k.id) : [];
    if (ids.length !== KEYS_OF_PARTNER) throw new Error(`preflight ${meta.name}: ${res.status}, ${ids.length} keys: ${res.text.slice(0, 300)}`);
    return { meta, url: `${base}${path}`, headers, body: res.text };
  };
  const s1 = await prepare({ id: 1, name: 'CP admin bearer, in-memory CP', request: `GET ${path}`, credential: 'cp-admin', limiter: 'none' }, memory.url, adminHeaders);
  const s2 = await prepare({ id: 2, name: 'partner key, in-memory limits', request: `GET ${path}`, credential: 'partner-key', limiter: 'memory' }, memory.url, keyHeaders);
  const s3 = await prepare({ id: 3, name: 'partner key, limits in Redis', request: `GET ${path}`, credential: 'partner-key', limiter: 'redis' }, redis.url, keyHeaders);
  // The same body but for the presented key's last_used_at, which its own use sets (written behind, at any moment).
  const sameWork = (body: string) => body.replace(/"last_used_at":(null|"[^"]*")/g, '"last_used_at":…');
  for (const s of [s2, s3]) if (sameWork(s.body) !== sameWork(s1.body)) throw new Error(`${s.meta.name} answers a different body than the admin bearer`);

  for (const s of [s1, s3]) {
    process.stdout.write(`  priming    ${PRIME_SECONDS} s of ${s.meta.name}, not measured …`);
    const prime = await ctx.runLoad({ url: s.url, headers: s.headers, connections: ctx.connections, warmupSeconds: 0, durationSeconds: PRIME_SECONDS });
    ctx.assertClean(`priming ${s.meta.name}`, 'prime', prime.measured);
    process.stdout.write(` ${fmt(rate(prime.measured), 1)} req/s\n`);
  }

  const { windows, roundOrder } = await runInterleavedRounds(
    ctx,
    [s1, s2, s3].map((s) => ({ id: s.meta.id, name: s.meta.name, load: { url: s.url, headers: s.headers } })),
    (round) => (round % 2 === 1 ? [1, 2, 3] : [3, 2, 1]),
  );
  const scenarios: PartnerKeyScenario[] = [s1, s2, s3].map((s) => {
    const w = windows.get(s.meta.id)!;
    return { ...s.meta, responseBodyBytes: Buffer.byteLength(s.body), measured: ctx.aggregate(w.map((x) => x.measured)), windows: w };
  });
  const withTarget = (r: InterleavedRatio, target: number) => ({ ...r, target, meetsTarget: r.value >= target });
  const [r1, r2, r3] = scenarios as [PartnerKeyScenario, PartnerKeyScenario, PartnerKeyScenario];
  return {
    database: dbName,
    rounds: ctx.rounds,
    windowSeconds: ctx.windowSeconds,
    roundOrder,
    scenarios,
    ratios: [
      withTarget(interleavedRatio('partner key / CP admin', r2, r1), PARTNER_KEY_TARGETS.partnerOverAdmin),
      withTarget(interleavedRatio('Redis limits / in-memory', r3, r2), PARTNER_KEY_TARGETS.redisOverMemory),
    ],
    warnings: [...memory.cp.warnings, ...redis.cp.warnings],
    notes: [
      'Two molecule-platform cp processes on one fresh PostgreSQL database, production mode, LOG_LEVEL=warn; one with REDIS_URL, one without. Only one is under load at a time.',
      `The route is GET /api/v1/admin/partner-keys?partner_id=<p>&limit=${KEYS_OF_PARTNER}: the same ${KEYS_OF_PARTNER} keys (the same bytes, checked) for the CP admin bearer and for the partner's admin:keys key.`,
      "A partner key's request adds: the checksum, sha256, one indexed lookup over live keys, its rate-limit hit (memory or one Redis MULTI), marking last_used_at for the batched write, and the scope check.",
      `Interleaved in ${ctx.rounds} rounds of one ${ctx.windowSeconds} s window each (after a ${ctx.roundWarmupSeconds} s warm-up), order 1 2 3 then 3 2 1 (ABBA). Ratios: responses in equal time over all rounds; perRound holds each round's own.`,
      "The key's rate_limit is the maximum (100,000 a minute); any 429 (or other non-2xx) fails the run instead of flattering a ratio.",
    ],
  };
}

export function printPartnerKeyFigures(f: PartnerKeyFigures, printAligned: (header: string[], rows: string[][], leftColumns: number) => void) {
  console.log(`\nPartner-key results (measured windows only; all ${f.rounds} rounds summed)\n`);
  printScenarioTable(f.scenarios, printAligned);
  console.log('\nPartner-key ratios measured side by side in this run (figures, not tests)\n');
  for (const r of f.ratios) {
    console.log(
      `  ${r.name.padEnd(26)} ${fmt(r.value, 3)}  (target ≥ ${r.target}: ${r.meetsTarget ? 'met' : 'NOT met'})   per round: ${r.perRound.map((x) => fmt(x, 3)).join(' ')}`,
    );
  }
  if (f.warnings.length > 0) {
    console.log(`\nThe control planes logged ${f.warnings.length} warning/error line(s); the first ones:`);
    for (const w of f.warnings.slice(0, 10)) console.log(`  ${w}`);
  }
}
