import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AnchorLookup } from '../../core/audit/anchor.js';
import type { AuditSchema } from '../../core/audit/schema.js';
import { ControlPlaneCallError, withRetries, type ControlPlaneClient } from './client.js';

/** How long the CP gets to take `listening` (the readiness signal it waits for): it must arrive. */
export const LISTENING_BUDGET_MS = 30_000;
/** What shutdown may spend on the CP, per call (`stopping`, then the last anchor): never more than this. */
export const SHUTDOWN_CALL_MS = 1_000;
const CALL_TIMEOUT_MS = 5_000;
const VERIFY_LOOKUP_MS = 3_000;

interface AnchorResponse {
  count: number;
  head_hash: string;
  reported_at: string;
}

type Head = { count: number; hash: string };

/**
 * What a CP-provisioned tenant tells its control plane (reference §2.6): boot events (`booting`, `listening` with
 * the URL it really listens on, `stopping`) and its audit chain head — the anchor kept outside this tenant's database
 * that `GET /audit/verify` compares the chain with (SECURITY.md, "Audit anchor"). Everything is best effort except
 * `listening`, which is retried for LISTENING_BUDGET_MS; nothing here can hold shutdown for more than a couple of seconds.
 */
export class TenantCallbacks {
  private readonly stop = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private lastReported: Head | null = null;
  /** The newest head the CP took (201/200): what a later, longer chain must still contain. */
  private lastAccepted: Head | null = null;
  private readonly background = new Set<Promise<void>>();
  /** Set once listening: a tenant that never served (an in-process test app) never tells the CP it stops. */
  private started = false;

  constructor(
    readonly client: ControlPlaneClient,
    private readonly db: Kysely<AuditSchema>,
    private readonly log: Logger,
    private readonly anchorIntervalMs: number,
  ) {}

  /** One boot event; resolves (never rejects) once it was taken, refused, or `budgetMs` ran out. */
  async bootEvent(event: { stage: string; detail?: string; url?: string }, budgetMs: number): Promise<boolean> {
    try {
      await withRetries(() => this.client.call('POST', '/tenants/boot-event', event, Math.min(CALL_TIMEOUT_MS, budgetMs), this.stop.signal), budgetMs, this.stop.signal);
      this.log.info({ stage: event.stage }, 'boot event sent to the control plane');
      return true;
    } catch (err) {
      this.log.warn({ err, stage: event.stage }, 'boot event not delivered to the control plane');
      return false;
    }
  }

  /** Listening: tell the CP where (retried), report the chain head (`boot`), and from now on every interval when it changed. */
  listening(url: string): void {
    this.started = true;
    this.track(this.bootEvent({ stage: 'listening', url }, LISTENING_BUDGET_MS).then(() => undefined));
    this.track(this.report('boot'));
    this.timer = setInterval(() => {
      if (!this.inFlight) void this.report('periodic');
    }, this.anchorIntervalMs);
    this.timer.unref();
  }

  /** Graceful shutdown begins: stop retrying, stop the interval, say `stopping` (one try, bounded). */
  async stopping(): Promise<void> {
    if (!this.started) return;
    this.stop.abort();
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.bootEventOnce({ stage: 'stopping' });
    await Promise.allSettled([...this.background]);
  }

  /** After the audit writer flushed: the final chain head (`shutdown`), one try, bounded. */
  async shutdownReport(): Promise<void> {
    if (!this.started) return;
    if (this.inFlight) await this.inFlight;
    await this.report('shutdown', SHUTDOWN_CALL_MS);
  }

  /** The anchor this tenant's chain is held to, for GET /audit/verify; never throws. */
  async lookupAnchor(): Promise<AnchorLookup> {
    try {
      const { body } = await this.client.call<AnchorResponse>('GET', '/tenants/audit-anchor', undefined, VERIFY_LOOKUP_MS);
      return { checked: true, count: body.count, head_hash: body.head_hash, reported_at: body.reported_at };
    } catch (err) {
      if (err instanceof ControlPlaneCallError && err.code === 'AUDIT_ANCHOR_NOT_FOUND') return { checked: false, reason: 'the control plane holds no anchor for this org yet' };
      return { checked: false, reason: err instanceof Error ? err.message : String(err) };
    }
  }

  private async bootEventOnce(event: { stage: string }): Promise<void> {
    try {
      await this.client.call('POST', '/tenants/boot-event', event, SHUTDOWN_CALL_MS);
    } catch (err) {
      this.log.warn({ err, stage: event.stage }, 'boot event not delivered to the control plane');
    }
  }

  private track(p: Promise<void>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /** The CP's anchor for this org, as a head; null when there is none or the CP cannot say. */
  private async anchorAtCp(): Promise<Head | null> {
    const a = await this.lookupAnchor();
    return a.checked ? { count: a.count, hash: a.head_hash } : null;
  }

  /** Whether the chain's row at the anchored position still has the anchored hash. */
  private async holds(anchor: Head): Promise<boolean> {
    if (anchor.count === 0) return true;
    const row = await this.db.selectFrom('audit_events').select('hash').where('seq', '=', anchor.count).executeTakeFirst();
    return row?.hash === anchor.hash;
  }

  private async head(): Promise<Head> {
    const row = await this.db.selectFrom('audit_head').select(['seq', 'hash']).where('id', '=', 1).executeTakeFirstOrThrow();
    return { count: Number(row.seq), hash: row.hash };
  }

  /** Reports the chain head; `periodic` only when it moved since the last report the CP took. */
  private report(reason: 'boot' | 'periodic' | 'shutdown', timeoutMs = CALL_TIMEOUT_MS): Promise<void> {
    // The last report is sent after `stop` fired; the others end the moment it does.
    const stop = reason === 'shutdown' ? undefined : this.stop.signal;
    const run = (async () => {
      let head: Head;
      try {
        head = await this.head();
      } catch (err) {
        this.log.warn({ err }, 'audit anchor: could not read the chain head');
        return;
      }
      if (reason === 'periodic' && this.lastReported?.count === head.count && this.lastReported.hash === head.hash) return;
      // A longer chain must still hold the anchored row. If it does not, the rows up to the anchor were rewritten here
      // (in the database, not through this process): reporting would make the CP anchor the rewritten chain. Say so
      // and keep the old anchor, which GET /audit/verify then names (`diverged from anchor`).
      // Until the CP took a report from this process, the reference is the CP's own anchor (asked each time until then).
      const reference = this.lastAccepted ?? (reason !== 'shutdown' ? await this.anchorAtCp() : null);
      if (reference && head.count > reference.count && !(await this.holds(reference))) {
        if (this.lastReported?.count !== head.count || this.lastReported.hash !== head.hash) {
          this.log.error({ anchored_count: reference.count, count: head.count }, 'audit anchor: the chain no longer holds its anchored row — rewritten; not reported');
        }
        this.lastReported = head;
        return;
      }
      try {
        await this.client.call('POST', '/tenants/audit-anchor', { count: head.count, head_hash: head.hash, reason }, timeoutMs, stop);
        this.lastReported = head;
        this.lastAccepted = head;
      } catch (err) {
        if (err instanceof ControlPlaneCallError && err.code === 'AUDIT_ANCHOR_REGRESSION') {
          // Recorded by the CP all the same; said once per head, not every interval.
          this.lastReported = head;
          this.log.error({ count: head.count, head_hash: head.hash }, 'audit anchor: the control plane has seen a longer (or different) chain than this one — the audit trail was rewound or rewritten');
          return;
        }
        this.log.warn({ err, reason }, 'audit anchor not delivered to the control plane; retried at the next interval');
      }
    })().catch((err: unknown) => this.log.warn({ err, reason }, 'audit anchor: report failed'));
    this.inFlight = run;
    void run.finally(() => {
      if (this.inFlight === run) this.inFlight = null;
    });
    return run;
  }
}
