import autocannon from 'autocannon';
import { randomBytes } from 'node:crypto';
import type { LoadArgs, LoadOutput, LoadSummary } from './protocol.js';

/**
 * The load generator, run by bench/run.ts as its own process (`node dist/bench/load.js '<json LoadArgs>'`): the
 * client's CPU is then not the server's event loop, and the orchestrator's own work (bulk inserts, pg client)
 * never runs while a measurement is in flight. Prints exactly one JSON line (LoadOutput) on stdout.
 */

function parseArgs(raw: string | undefined): LoadArgs {
  if (!raw) throw new Error('usage: node dist/bench/load.js \'{"url":…,"headers":{…},"connections":n,"warmupSeconds":n,"durationSeconds":n}\'');
  const value: unknown = JSON.parse(raw);
  if (typeof value !== 'object' || value === null) throw new Error('arguments must be a JSON object');
  const args = value as Partial<LoadArgs>;
  if (typeof args.url !== 'string') throw new Error('url must be a string');
  if (typeof args.connections !== 'number' || args.connections < 1) throw new Error('connections must be ≥ 1');
  if (typeof args.durationSeconds !== 'number' || args.durationSeconds <= 0) throw new Error('durationSeconds must be > 0');
  if (typeof args.warmupSeconds !== 'number' || args.warmupSeconds < 0) throw new Error('warmupSeconds must be ≥ 0');
  if (args.method !== undefined && args.method !== 'GET' && args.method !== 'POST') throw new Error('method must be GET or POST');
  if (args.body !== undefined && typeof args.body !== 'string') throw new Error('body must be a string');
  if (args.uniqueHeader !== undefined && (typeof args.uniqueHeader !== 'string' || !/^[a-z0-9-]+$/i.test(args.uniqueHeader))) throw new Error('uniqueHeader must be a header name');
  return {
    url: args.url,
    method: args.method ?? 'GET',
    ...(args.body !== undefined ? { body: args.body } : {}),
    headers: args.headers ?? {},
    ...(args.uniqueHeader !== undefined ? { uniqueHeader: args.uniqueHeader } : {}),
    connections: args.connections,
    warmupSeconds: args.warmupSeconds,
    durationSeconds: args.durationSeconds,
  };
}

function summarize(result: autocannon.Result): LoadSummary {
  const responses = Object.values(result.statusCodeStats).reduce((sum, s) => sum + s.count, 0);
  return {
    requestsPerSecMean: result.requests.mean,
    requestsPerSecStddev: result.requests.stddev,
    requestsTotal: result.requests.total ?? responses,
    durationSeconds: result.duration,
    latencyMs: { mean: result.latency.mean, p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    resets: result.resets,
    statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
    bytesPerResponse: responses > 0 ? Math.round((result.throughput.total ?? 0) / responses) : 0,
  };
}

/**
 * autocannon ends a run at the first one-second sample tick after `duration` has passed, so asking for exactly N
 * seconds ends after N or N + 1 samples depending on timer jitter (a "10 s" window measured 10 or 11 s). Asking for
 * N − 0.5 ends it at tick N: every window lasts exactly N whole seconds (N = the requested seconds rounded up), and
 * windows of the same length compare on equal time.
 */
function autocannonDuration(seconds: number): number {
  return Math.max(1, Math.ceil(seconds)) - 0.5;
}

/**
 * For `uniqueHeader`: autocannon's per-request hook, which rebuilds each request with the header set to the next value.
 * The prefix is random per load process and the counter runs across its warm-up and measured window, so no two
 * requests of a run share a value, whichever window or process sent them.
 */
const uniquePrefix = randomBytes(9).toString('base64url');
let uniqueCounter = 0;
function uniqueRequests(header: string): autocannon.RequestSpec[] {
  return [
    {
      setupRequest: (req) => {
        req.headers = { ...req.headers, [header]: `bench-${uniquePrefix}-${++uniqueCounter}` };
        return req;
      },
    },
  ];
}

async function run(args: LoadArgs): Promise<LoadSummary> {
  // A 10 s request timeout: any request that slow is a failure worth seeing, not a latency sample.
  return summarize(
    await autocannon({
      url: args.url,
      method: args.method ?? 'GET',
      ...(args.body !== undefined ? { body: args.body } : {}),
      headers: args.headers,
      ...(args.uniqueHeader !== undefined ? { requests: uniqueRequests(args.uniqueHeader) } : {}),
      connections: args.connections,
      duration: autocannonDuration(args.durationSeconds),
      timeout: 10,
    }),
  );
}

async function main() {
  const args = parseArgs(process.argv[2]);
  // The warm-up uses the same connections and request so JIT, connection pools and caches on both sides are in
  // their steady state when the measured window opens; its figures are returned only to check for failures.
  const warmup = args.warmupSeconds > 0 ? await run({ ...args, durationSeconds: args.warmupSeconds }) : null;
  const measured = await run(args);
  const out: LoadOutput = { warmup, measured };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`load: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
