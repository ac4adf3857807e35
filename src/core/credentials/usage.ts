import type { Logger } from 'pino';
import { Backoff } from '../db/outage.js';

/**
 * `last_used_at` without slowing the request (the reference updates it synchronously on every call, §10.18):
 * uses are remembered in memory and written in one statement per table at most once a second, and at shutdown.
 * A write that fails (the database is down) puts its uses back and waits with backoff (1 s doubling to 10 s)
 * before the next try.
 */
export class UsageTracker {
  private pending = new Map<string, Date>();
  private readonly timer: NodeJS.Timeout;
  private flushing: Promise<void> | null = null;
  private readonly backoff = new Backoff(1000, 10_000);
  private notBefore = 0;

  constructor(
    private readonly write: (uses: Map<string, Date>) => Promise<void>,
    private readonly log: Logger,
    intervalMs = 1000,
    /** Called once per pass of the loop (GET /admin/liveness). */
    onTick: () => void = () => undefined,
  ) {
    this.timer = setInterval(() => {
      onTick();
      if (Date.now() >= this.notBefore) void this.flush();
    }, intervalMs);
    this.timer.unref();
  }

  markUsed(credentialId: string, at = new Date()): void {
    this.pending.set(credentialId, at);
  }

  flush(): Promise<void> {
    if (this.flushing) return this.flushing;
    if (this.pending.size === 0) return Promise.resolve();
    const batch = this.pending;
    this.pending = new Map();
    this.flushing = this.write(batch)
      .then(() => {
        this.backoff.reset();
        this.notBefore = 0;
      })
      .catch((err: unknown) => {
        const delay = this.backoff.next();
        this.notBefore = Date.now() + delay;
        this.log.warn({ err: { message: (err as Error).message }, count: batch.size, retry_in_ms: delay }, 'last_used_at flush failed; will retry');
        for (const [id, at] of batch) if (!this.pending.has(id)) this.pending.set(id, at);
      })
      .finally(() => {
        this.flushing = null;
      });
    return this.flushing;
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush();
  }
}
