import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { Backoff, isDatastoreOutage } from '../db/outage.js';
import { appendAuditEvents, type AuditEventInput } from './chain.js';
import type { AuditSchema } from './schema.js';

export interface AuditWriterOptions {
  /** Flush once this many events are waiting. */
  maxBatch?: number;
  /** Flush at least this often while events are waiting. */
  flushIntervalMs?: number;
  /** Memory bound: past this many waiting events, `enqueue` waits for a flush (back-pressure, not loss). */
  maxBuffered?: number;
  /** Called after every completed write pass (GET /admin/liveness). */
  onTick?: () => void;
}

/**
 * Write-behind for the audit events of reads and failed requests (mutations write theirs in their own
 * transaction). Batches amortise the chain-head lock; the buffer is bounded; `close()` flushes everything, and
 * a flush that fails (the database is down or restarting) keeps its events and retries with backoff — 100 ms
 * doubling to 5 s — rather than dropping them, so the trail is complete once the database is back.
 */
export class AuditWriter {
  private buffer: AuditEventInput[] = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly retry = new Backoff(100, 5000);
  private retrying = false;
  private readonly maxBatch: number;
  private readonly flushIntervalMs: number;
  private readonly maxBuffered: number;
  private readonly onTick: () => void;

  private readonly db: Kysely<AuditSchema>;

  constructor(
    database: Kysely<AuditSchema>,
    private readonly log: Logger,
    opts: AuditWriterOptions = {},
  ) {
    this.db = database;
    this.maxBatch = opts.maxBatch ?? 500;
    this.flushIntervalMs = opts.flushIntervalMs ?? 200;
    this.maxBuffered = opts.maxBuffered ?? 20_000;
    this.onTick = opts.onTick ?? (() => undefined);
  }

  get pending(): number {
    return this.buffer.length;
  }

  async enqueue(event: AuditEventInput): Promise<void> {
    this.buffer.push(event);
    if (this.buffer.length >= this.maxBuffered) {
      await this.flush();
      return;
    }
    // While a failed flush waits for its retry, a full batch waits with it rather than hammering a database that is down.
    if (this.buffer.length >= this.maxBatch && !this.retrying) void this.flush();
    else if (!this.timer && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.flush();
      }, this.flushIntervalMs);
      this.timer.unref();
    }
  }

  /** Writes everything waiting now. Concurrent callers share one flush loop. */
  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.buffer.length === 0) return Promise.resolve();
    // `.finally` always runs in a later microtask, so `flushing` is set before it is cleared.
    this.flushing = this.drain().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  private async drain(): Promise<void> {
    while (this.buffer.length > 0) {
      const batch = this.buffer.slice(0, this.maxBatch);
      try {
        await this.db.transaction().execute((trx) => appendAuditEvents(trx, batch));
      } catch (err) {
        if (!isDatastoreOutage(err) && (await this.writeOneByOne(batch.length))) {
          // A batch the database refused for its content (a bug): written event by event, the bad ones logged
          // and dropped, so one malformed event never blocks the trail behind it.
          continue;
        }
        const delay = this.retry.next();
        this.retrying = true;
        this.log.error({ err, pending: this.buffer.length, retry_in_ms: delay }, 'audit flush failed; events kept for retry');
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        if (!this.closed) {
          this.timer = setTimeout(() => {
            this.timer = null;
            void this.flush();
          }, delay);
          this.timer.unref();
        }
        return;
      }
      this.retry.reset();
      this.retrying = false;
      this.buffer.splice(0, batch.length);
    }
    this.onTick();
  }

  /**
   * Writes each event of a refused batch alone; the ones the database still refuses are logged (without secrets:
   * the event holds none) and dropped. False when the datastore went away meanwhile: the batch is retried whole.
   */
  private async writeOneByOne(count: number): Promise<boolean> {
    for (let i = 0; i < count && this.buffer.length > 0; i++) {
      const event = this.buffer[0]!;
      try {
        await this.db.transaction().execute((trx) => appendAuditEvents(trx, [event]));
      } catch (err) {
        if (isDatastoreOutage(err)) return false;
        this.log.error({ err, event }, 'audit event refused by the database; dropped (a bug: the event is malformed)');
      }
      // Written or dropped: either way it leaves the buffer now, so a later retry never writes it twice.
      this.buffer.shift();
    }
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
    if (this.buffer.length > 0) this.log.error({ lost: this.buffer.length }, 'audit events could not be written at shutdown');
  }
}
