/**
 * What counts as "the database cannot answer right now", and how background work waits for it to come back. Kept
 * free of driver imports so the launcher can recognise an outage without loading a database.
 */

/** Postgres SQLSTATE of a driver error, when there is one. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

const OUTAGE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03', '53300']);
// "is not queryable": node-postgres refuses a query on a client whose connection has died — what Kysely's ROLLBACK
// meets after the server went away mid-transaction, and what then replaces the original error.
const OUTAGE_MESSAGES =
  /driver has already been destroyed|Connection terminated|connection error|is not queryable|timeout exceeded when trying to connect|PGlite is closed|Cannot use a pool after calling end/i;

/**
 * True when an error means "the database cannot answer right now" rather than "this query is wrong": connection
 * failures (SQLSTATE class 08), server shutdown and overload (57P0x, 53300), socket errors, a dead or closed
 * connection, pool or embedded instance. Such errors are answered 503 so clients retry, never 500 or 401.
 */
export function isDatastoreOutage(err: unknown, depth = 0): boolean {
  const code = sqlState(err);
  if (code && (OUTAGE_CODES.has(code) || code.startsWith('08'))) return true;
  if (err instanceof Error && OUTAGE_MESSAGES.test(err.message)) return true;
  // Wrappers (DatastoreUnavailableError, "… due to connection timeout") keep the driver's error as their cause.
  const wrapped = err as { causeError?: unknown; cause?: unknown } | null;
  const cause = wrapped?.causeError ?? wrapped?.cause;
  return depth < 5 && cause !== undefined && cause !== err && isDatastoreOutage(cause, depth + 1);
}

/** Exponential backoff with jitter: 100 ms doubling to `maxMs`, reset after a success. */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly initialMs = 100,
    private readonly maxMs = 5000,
  ) {}

  /** The delay before the next try (and counts the failure). */
  next(): number {
    const base = Math.min(this.maxMs, this.initialMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    // ±20 % so replicas and loops that failed together do not retry in lockstep.
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  reset(): void {
    this.attempt = 0;
  }
}

export interface RetryOptions {
  log: { warn(obj: unknown, msg: string): void; error(obj: unknown, msg: string): void };
  /** What is being done, for the log. */
  what: string;
  /** Stop retrying (shutdown). */
  stopped?: () => boolean;
  /** Give up after this long (default: never). */
  deadlineMs?: number;
  backoff?: Backoff;
  /** Keep the process alive while waiting (boot, before anything else holds the event loop). Default: no. */
  keepAlive?: boolean;
}

/**
 * Runs background work until it succeeds, waiting out database outages with backoff. An error that is not an
 * outage is logged and not retried (retrying would fail the same way); the promise never rejects, so a caller may
 * fire and forget it. Resolves with the result, or undefined when it gave up.
 */
export async function retryThroughOutages<T>(fn: () => Promise<T>, opts: RetryOptions): Promise<T | undefined> {
  const backoff = opts.backoff ?? new Backoff();
  const giveUpAt = opts.deadlineMs === undefined ? Infinity : Date.now() + opts.deadlineMs;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isDatastoreOutage(err)) {
        opts.log.error({ err }, `${opts.what} failed`);
        return undefined;
      }
      const delay = backoff.next();
      if (opts.stopped?.() || Date.now() + delay > giveUpAt) {
        opts.log.error({ err: { message: (err as Error).message }, attempt }, `${opts.what}: database unavailable; giving up`);
        return undefined;
      }
      if (attempt === 1 || attempt % 10 === 0) {
        opts.log.warn({ err: { message: (err as Error).message }, attempt, retry_in_ms: delay }, `${opts.what}: database unavailable; retrying`);
      }
      await new Promise<void>((r) => {
        const timer = setTimeout(r, delay);
        if (!opts.keepAlive) timer.unref();
      });
    }
  }
}
