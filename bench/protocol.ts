/**
 * What bench/run.ts sends to bench/load.ts (one JSON argument) and what load.ts prints back (one JSON line on
 * stdout). Shared so both sides of the process boundary agree on one shape.
 */

export interface LoadArgs {
  url: string;
  /** GET unless said otherwise (the control plane's login scenario POSTs a JSON body). */
  method?: 'GET' | 'POST';
  body?: string;
  headers: Record<string, string>;
  /**
   * A header set to a new value on every request (a random per-process prefix and a counter): the idempotency part's
   * fresh `Idempotency-Key` per POST, as the SDK sends it. Absent: every request is the same bytes.
   */
  uniqueHeader?: string;
  connections: number;
  warmupSeconds: number;
  /** Measured seconds, rounded up to whole seconds: the window ends on autocannon's one-second sample tick. */
  durationSeconds: number;
}

export interface LoadSummary {
  /** Mean of autocannon's one-second samples. */
  requestsPerSecMean: number;
  /** Standard deviation of those samples: how much the rate moved within the window. */
  requestsPerSecStddev: number;
  requestsTotal: number;
  durationSeconds: number;
  latencyMs: { mean: number; p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  resets: number;
  statusCodes: Record<string, number>;
  /** Bytes received per response, headers included (throughput total / responses). */
  bytesPerResponse: number;
}

export interface LoadOutput {
  warmup: LoadSummary | null;
  measured: LoadSummary;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isSummary(value: unknown): value is LoadSummary {
  if (!isRecord(value)) return false;
  const latency = value['latencyMs'];
  return (
    typeof value['requestsPerSecMean'] === 'number' &&
    typeof value['requestsPerSecStddev'] === 'number' &&
    typeof value['requestsTotal'] === 'number' &&
    typeof value['non2xx'] === 'number' &&
    typeof value['errors'] === 'number' &&
    typeof value['timeouts'] === 'number' &&
    isRecord(value['statusCodes']) &&
    isRecord(latency) &&
    typeof latency['p50'] === 'number' &&
    typeof latency['p99'] === 'number'
  );
}

/** Parses the load process's stdout; a malformed line is a failure, not a zero. */
export function parseLoadOutput(text: string): LoadOutput {
  const value: unknown = JSON.parse(text);
  if (!isRecord(value) || !isSummary(value['measured']) || !(value['warmup'] === null || isSummary(value['warmup']))) {
    throw new Error(`the load generator printed an unexpected result: ${text.slice(0, 500)}`);
  }
  return { warmup: value['warmup'], measured: value['measured'] };
}
